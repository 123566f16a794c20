"""The Java parts of the COCO-caption evaluation, run exactly as pycocoevalcap runs them.

Three tools of pycocoevalcap are Java programs shipped as jars inside the ``pycocoevalcap``
package; nothing here imports pycocoevalcap (its location is found with
:func:`importlib.util.find_spec`, which does not execute it) and nothing starts a JVM at
import time.

* **PTB tokenizer** (:func:`ptb_tokenize_java`): Stanford CoreNLP 3.4.1's
  ``edu.stanford.nlp.process.PTBTokenizer -preserveLines -lowerCase`` over a file of one
  caption per line, then pycocoevalcap's punctuation filter; one call for all references
  and one for all hypotheses, as pycocoevalcap (the batch matters, see the function).
* **METEOR 1.5** (:func:`meteor_scores`): ``java -jar -Xmx2G meteor-1.5.jar - - -stdio -l en
  -norm`` in the jar's folder; per caption a ``SCORE ||| ref1 ||| ... ||| hyp`` line gives its
  statistics, one ``EVAL ||| stats ||| ...`` line gives the per-caption scores and the corpus
  score (METEOR's corpus score is computed from the summed statistics, not a mean).
* **SPICE 1.0** (:func:`spice_scores`): ``edu.anu.spice.SpiceScorer`` needs, besides the
  jar and its ``lib/`` (both in pycocoevalcap), Stanford CoreNLP 3.6.0 and its models
  (``stanford-corenlp-3.6.0.jar``, ``stanford-corenlp-3.6.0-models.jar``, from
  ``stanford-corenlp-full-2015-12-09.zip``), which pycocoevalcap downloads on first use.
  Here they are looked for in :func:`spice_home` ``/lib`` (the user's cache) and in
  pycocoevalcap's ``spice/lib``; when absent, :class:`MetricUnavailableError` says so.
  Nothing is downloaded.

A missing Java runtime or jar raises :class:`MetricUnavailableError` with one line saying
what is missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from visionbench.metrics.captioning.meteor import METEOR_STATS_WIDTH, parse_meteor_statistics
from visionbench.metrics.errors import MetricUnavailableError

__all__ = [
    "PTB_JAR",
    "METEOR_JAR",
    "SPICE_JAR",
    "SPICE_CORENLP_JARS",
    "java_executable",
    "pycocoevalcap_dir",
    "java_ptb_missing",
    "meteor_missing",
    "spice_missing",
    "spice_home",
    "ptb_tokenize_java",
    "meteor_scores",
    "spice_scores",
]

PTB_JAR = "tokenizer/stanford-corenlp-3.4.1.jar"
METEOR_JAR = "meteor/meteor-1.5.jar"
SPICE_JAR = "spice/spice-1.0.jar"
SPICE_CORENLP_JARS = ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar")

#: pycocoevalcap's ``PUNCTUATIONS`` (``tokenizer/ptbtokenizer.py``), removed after tokenising.
_PUNCTUATIONS = frozenset(
    ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-",
     "--", "...", ";"]
)  # fmt: skip


def java_executable() -> str | None:
    """``$JAVA_HOME/bin/java`` if it exists, else ``java`` on the PATH, else None."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / ("java.exe" if os.name == "nt" else "java")
        if candidate.is_file():
            return str(candidate)
    return shutil.which("java")


def pycocoevalcap_dir() -> Path | None:
    """The installed pycocoevalcap package folder (found without importing it), or None."""
    try:
        spec = importlib.util.find_spec("pycocoevalcap")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def java_ptb_missing() -> str | None:
    """Why the Java PTB tokenizer cannot run here (one line), or None when it can."""
    return _missing(PTB_JAR, "the Java PTB tokenizer")


def meteor_missing() -> str | None:
    """Why METEOR cannot run here (one line), or None when it can."""
    return _missing(METEOR_JAR, "METEOR")


def spice_home() -> Path:
    """Where SPICE's extra files live: ``$VISIONBENCH_HOME/spice`` or ``~/.cache/visionbench/spice``."""
    env = os.environ.get("VISIONBENCH_HOME")
    base = Path(env).expanduser() if env else Path.home() / ".cache" / "visionbench"
    return base / "spice"


def spice_missing() -> str | None:
    """Why SPICE cannot run here (one line), or None when it can."""
    reason = _missing(SPICE_JAR, "SPICE")
    if reason:
        return reason
    if not _corenlp_jars():
        lib = spice_home() / "lib"
        return (
            f"SPICE needs Stanford CoreNLP 3.6.0: put {' and '.join(SPICE_CORENLP_JARS)} "
            f"(from stanford-corenlp-full-2015-12-09.zip) into {lib}/ (nothing is downloaded)"
        )
    return None


def ptb_tokenize_java(*batches: Sequence[str]) -> list[list[str]]:
    """Tokenise raw captions with CoreNLP's PTBTokenizer, as pycocoevalcap's ``PTBTokenizer``.

    Each batch is one call of the tokenizer over a file of one caption per line, exactly as
    pycocoevalcap makes one call for all references and one for all hypotheses. The batch
    matters: CoreNLP looks past the end of a line to decide whether a final period is an
    abbreviation's (``"j."`` followed by a capitalised line), so a caption's tokens can
    depend on the caption after it. Batches run in parallel JVMs.

    Args:
        batches: lists of raw captions; line breaks inside a caption become spaces.

    Returns:
        Per batch, one tokenised caption per input (lower-cased, punctuation tokens removed,
        tokens joined by single spaces).

    Raises:
        MetricUnavailableError: no Java runtime or no jar; the tokenizer failed.
    """
    reason = java_ptb_missing()
    if reason:
        raise MetricUnavailableError(reason)
    jar = _pycocoevalcap_file(PTB_JAR)
    with tempfile.TemporaryDirectory(prefix="visionbench-ptb-") as tmp:
        procs = []
        for b, captions in enumerate(batches):
            if not captions:
                procs.append(None)
                continue
            # pycocoevalcap replaces '\n' only; a '\r' would split a line in Java and shift
            # every later caption, so it becomes a space as well.
            text = "\n".join(c.replace("\r", " ").replace("\n", " ") for c in captions)
            path = Path(tmp) / f"captions-{b}.txt"
            path.write_bytes(text.encode())
            cmd = [java_executable(), "-cp", str(jar), "edu.stanford.nlp.process.PTBTokenizer",
                   "-preserveLines", "-lowerCase", str(path)]  # fmt: skip
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        outputs = [(p.communicate() + (p.returncode,)) if p else None for p in procs]
    result = []
    for captions, out in zip(batches, outputs, strict=True):
        if out is None:
            result.append([])
            continue
        stdout, stderr, rc = out
        if rc != 0:
            raise MetricUnavailableError(
                f"the Java PTB tokenizer failed (exit {rc}): {_first_line(stderr)}"
            )
        lines = stdout.decode().split("\n")
        if len(lines) < len(captions):
            raise MetricUnavailableError(
                f"the Java PTB tokenizer returned {len(lines)} lines for {len(captions)} captions"
            )
        result.append([
            " ".join(w for w in line.rstrip().split(" ") if w not in _PUNCTUATIONS)
            for line in lines[: len(captions)]
        ])  # fmt: skip
    return result


def meteor_scores(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    statistics: bool = False,
) -> tuple[float, np.ndarray] | tuple[float, np.ndarray, np.ndarray]:
    """METEOR 1.5 of tokenised captions, as pycocoevalcap's ``Meteor().compute_score``.

    Args:
        statistics: also return the [N, 23] per-caption statistics the jar answered to each
            ``SCORE`` line (float64 integer counts; see :mod:`.meteor`): the corpus score is
            :func:`~visionbench.metrics.captioning.meteor.meteor_from_statistics` of their sum.

    Returns:
        ``(score, per_caption)``: METEOR's corpus score (from the summed statistics) and the
        [N] per-caption scores, 0-1; with ``statistics``, ``(score, per_caption, stats)``.

    Raises:
        MetricUnavailableError: no Java runtime, no jar, or METEOR failed.
    """
    reason = meteor_missing()
    if reason:
        raise MetricUnavailableError(reason)
    if not hypotheses:
        empty = (float("nan"), np.zeros(0, dtype=np.float64))
        return (*empty, np.zeros((0, METEOR_STATS_WIDTH))) if statistics else empty
    jar = _pycocoevalcap_file(METEOR_JAR)
    cmd = [java_executable(), "-jar", "-Xmx2G", jar.name, "-", "-", "-stdio", "-l", "en", "-norm"]
    proc = subprocess.Popen(
        cmd, cwd=jar.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        eval_line = "EVAL"
        stats = []
        for hyp, refs in zip(hypotheses, references, strict=True):
            hyp = hyp.replace("|||", "").replace("  ", " ")
            score_line = " ||| ".join(("SCORE", " ||| ".join(refs), hyp))
            stats.append(_roundtrip(proc, score_line).decode().strip())
            eval_line += f" ||| {stats[-1]}"
        proc.stdin.write(f"{eval_line}\n".encode())
        proc.stdin.flush()
        per_caption = [float(_read(proc).strip()) for _ in range(len(hypotheses))]
        score = float(_read(proc).strip())
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.kill()
        proc.wait()
    if statistics:
        try:
            table = np.stack([parse_meteor_statistics(line) for line in stats])
        except ValueError as e:
            raise MetricUnavailableError(f"METEOR answered unexpectedly: {e}") from None
        return score, np.array(per_caption, dtype=np.float64), table
    return score, np.array(per_caption, dtype=np.float64)


def spice_scores(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
) -> tuple[float, np.ndarray]:
    """SPICE 1.0 F-scores of tokenised captions, as pycocoevalcap's ``Spice().compute_score``.

    Returns:
        ``(score, per_caption)``: the mean of the per-caption "All" F-scores (NaN-free
        captions) and the [N] per-caption scores (NaN where SPICE gives none), 0-1.

    Raises:
        MetricUnavailableError: no Java, jar or CoreNLP models (the message says where to
            put them), or SPICE failed.
    """
    reason = spice_missing()
    if reason:
        raise MetricUnavailableError(reason)
    if not hypotheses:
        return float("nan"), np.zeros(0, dtype=np.float64)
    base = _pycocoevalcap_file(SPICE_JAR).parent
    classpath = [str(base / "spice-1.0.jar"), *sorted(str(p) for p in (base / "lib").glob("*.jar"))]
    classpath += [str(p) for p in _corenlp_jars()]
    data = [
        {"image_id": i, "test": h, "refs": list(r)}
        for i, (h, r) in enumerate(zip(hypotheses, references, strict=True))
    ]
    cache = spice_home() / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="visionbench-spice-") as tmp:
        in_file, out_file = Path(tmp) / "in.json", Path(tmp) / "out.json"
        in_file.write_text(json.dumps(data, indent=2))
        cmd = [java_executable(), "-Xmx8G", "-cp", os.pathsep.join(classpath),
               "edu.anu.spice.SpiceScorer", str(in_file), "-cache", str(cache),
               "-out", str(out_file), "-subset", "-silent"]  # fmt: skip
        proc = subprocess.run(cmd, cwd=base, capture_output=True, check=False)
        if proc.returncode != 0 or not out_file.is_file():
            raise MetricUnavailableError(
                f"SPICE failed (exit {proc.returncode}): {_first_line(proc.stderr)}"
            )
        results = json.loads(out_file.read_text())
    # pycocoevalcap: the mean over SPICE's output rows, per-image scores by image id
    corpus = np.array([_float(item["scores"]["All"]["f"]) for item in results])
    by_id = {item["image_id"]: item["scores"]["All"]["f"] for item in results}
    per_caption = np.array([_float(by_id.get(i)) for i in range(len(data))], dtype=np.float64)
    return float(np.mean(corpus)), per_caption


# ---------------------------------------------------------------------------------------


def _missing(relative_jar: str, what: str) -> str | None:
    if java_executable() is None:
        return f"{what} needs a Java runtime (java on the PATH or $JAVA_HOME); none was found"
    base = pycocoevalcap_dir()
    if base is None:
        return f"{what} needs the jar shipped in pycocoevalcap: pip install pycocoevalcap"
    if not (base / relative_jar).is_file():
        return f"{what} needs {base / relative_jar}, which is missing (reinstall pycocoevalcap)"
    return None


def _pycocoevalcap_file(relative: str) -> Path:
    base = pycocoevalcap_dir()
    assert base is not None  # checked by _missing
    return base / relative


def _corenlp_jars() -> list[Path]:
    """The two CoreNLP 3.6.0 jars, from the user's cache or pycocoevalcap's spice/lib."""
    places = [spice_home() / "lib"]
    base = pycocoevalcap_dir()
    if base is not None:
        places.append(base / "spice" / "lib")
    for place in places:
        jars = [place / name for name in SPICE_CORENLP_JARS]
        if all(j.is_file() for j in jars):
            return jars
    return []


def _roundtrip(proc: subprocess.Popen, line: str) -> bytes:
    proc.stdin.write(f"{line}\n".encode())
    proc.stdin.flush()
    return _read(proc)


def _read(proc: subprocess.Popen) -> bytes:
    out = proc.stdout.readline()
    if not out:
        proc.kill()
        err = proc.stderr.read() if proc.stderr else b""
        raise MetricUnavailableError(f"METEOR stopped unexpectedly: {_first_line(err)}")
    return out


def _first_line(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode(errors="replace").splitlines() if ln.strip()]
    return lines[0] if lines else "no message"


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")
