"""A leaderboard that cannot show a wrong number (issue 11), end to end through ``bench``.

One results directory holds four real runs of ``demo-detector`` on ``coco-mini``: a full
run, a ``--limit 3`` run (a higher AP on 3 images), a ``--weights random`` run and a
second checkpoint with ``--tag ckpt2``. In every view (terminal piped at 80 columns, long
CSV, wide CSV, JSON, Markdown, HTML) the full run keeps its own number (read from its
record) and its rank among the full real-weight runs; the subset and random-weight runs
are not shown by default, and with ``--all`` they are marked and unranked, below the
ranked rows. Every metric header carries its unit.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest
import torch

BENCH = shutil.which("bench") or str(Path(sys.executable).parent / "bench")
UNIT = re.compile(r"\((%|0-1|0-100)\)$")


def bench(args, home, *, columns=80, check=True):
    env = dict(os.environ, VISIONBENCH_HOME=str(home), COLUMNS=str(columns))
    env.pop("FORCE_COLOR", None)
    p = subprocess.run([BENCH, *args], capture_output=True, text=True, env=env, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"bench {args} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """(results dir, home, {kind: record}, {kind: stderr of its run})."""
    home = tmp_path_factory.mktemp("home")
    res = home / "results"
    from visionbench.models.demo_detection import _WEIGHTS
    from visionbench.models.weights import load_state_dict_file

    shipped = Path(__file__).resolve().parents[2] / "visionbench" / "models" / "weights" / _WEIGHTS
    sd = load_state_dict_file(shipped)
    g = torch.Generator().manual_seed(0)
    noisy = {
        k: v + 0.15 * v.std() * torch.randn(v.shape, generator=g)
        if v.is_floating_point() and v.numel() > 1 else v
        for k, v in sd.items()
    }  # fmt: skip
    torch.save(noisy, home / "ckpt2.pt")
    base = ["run", "--model", "demo-detector", "--dataset", "coco-mini", "--results", str(res)]
    runs = {
        "full": [],
        "limit": ["--limit", "3"],
        "random": ["--weights", "random"],
        "ckpt2": ["--weights", str(home / "ckpt2.pt"), "--tag", "ckpt2"],
    }
    err, recs = {}, {}
    for kind, extra in runs.items():
        p = bench(base + extra, home)
        err[kind] = p.stderr
        path = re.search(r"run record: (\S+\.json)", p.stdout).group(1)
        recs[kind] = json.loads(Path(path).read_text())
    return res, home, recs, err


def _cell(rec, metric="AP"):
    """The terminal / Markdown text of a fraction metric of a record, with its CI."""
    m = rec["metrics"][metric]
    ci = m.get("ci")
    return f"{m['value']:.4f}" + (f" [{ci['low']:.4f}, {ci['high']:.4f}]" if ci else "")


def _expected(recs):
    """The AP and rank of each full real-weight run, computed from the records alone."""
    ranked = sorted(("full", "ckpt2"), key=lambda k: -recs[k]["metrics"]["AP"]["value"])
    return {k: (recs[k]["metrics"]["AP"]["value"], ranked.index(k) + 1) for k in ranked}


def test_records_carry_the_run_identity(results):
    _, _, recs, err = results
    full, limit, rnd, ck = (recs[k] for k in ("full", "limit", "random", "ckpt2"))
    assert full["dataset"]["subset"] is None and full["dataset"]["num_samples"] == 24
    assert limit["dataset"]["num_samples"] == 3 and limit["dataset"]["total_samples"] == 24
    assert limit["dataset"]["subset"] and limit["dataset"]["subset"] != "unknown"
    assert rnd["model"]["weights_id"] == "random"
    from visionbench.models.weights import sha256_file

    assert full["model"]["weights_id"] == sha256_file(full["model"]["weights"]["path"])
    assert ck["model"]["weights_id"] != full["model"]["weights_id"] and ck["tag"] == "ckpt2"
    # the premise of the test: the subset run scores higher than the full run
    assert limit["metrics"]["AP"]["value"] > full["metrics"]["AP"]["value"]
    # banner counts what is evaluated; progress ends with a line on stderr
    assert "3 of 24 samples, --limit" in err["limit"]
    assert "(val2017, 24 samples)" in err["full"]
    assert re.search(r"3/3 samples \(100%\), [\d.,]+ img/s, done in", err["limit"])


def _rich_tables(text):
    """Parse rich tables printed to a pipe: [(title, headers, rows)], a row a list of
    cells (a folded cell's lines joined), continuation tables merged into their first."""
    out, title, lines = [], None, text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("┏"):
            heads: list[list[str]] = []
            i += 1
            while not lines[i].startswith("┡"):
                cells = [c.strip() for c in lines[i].strip("┃").split("┃")]
                heads = heads or [[] for _ in cells]
                for h, c in zip(heads, cells):
                    if c:
                        h.append(c)
                i += 1
            rows: list[list[list[str]]] = []
            i += 1
            while not lines[i].startswith("└"):
                cells = [c.strip() for c in lines[i].strip("│").split("│")]
                if cells[0]:  # the rank cell opens a row
                    rows.append([[c] if c else [] for c in cells])
                else:
                    for r, c in zip(rows[-1], cells):
                        if c:
                            r.append(c)
                i += 1
            table = ([" ".join(h) for h in heads], [[" ".join(c) for c in r] for r in rows])
            if "(continued" in title:
                prev = out[-1]
                prev[1].extend(table[0][2:])
                for a, b in zip(prev[2], table[1]):
                    a.extend(b[2:])
            else:
                out.append((title, *table))
        elif line.strip() and not line.startswith(("│", "└")):
            title = line.strip()
        i += 1
    return out


def _det_rows(text):
    tables = [t for t in _rich_tables(text) if "detection" in t[0]]
    assert len(tables) == 1, text
    _, heads, rows = tables[0]
    return heads, [dict(zip(heads, r)) for r in rows]


def test_terminal_piped_at_80_columns(results):
    res, home, recs, _ = results
    exp = _expected(recs)
    text = bench(["leaderboard", "--results", str(res)], home).stdout
    assert "…" not in text and max(len(ln) for ln in text.splitlines()) <= 80
    heads, rows = _det_rows(text)
    metric_heads = [h for h in heads if h.startswith(("AP", "AR"))]
    assert metric_heads and all(UNIT.search(h) for h in metric_heads), heads
    assert len(rows) == 2  # only the full real-weight runs
    for kind, (_ap, rank) in exp.items():
        row = next(r for r in rows if r["tag"] == ("ckpt2" if kind == "ckpt2" else ""))
        assert row["rank"] == str(rank) and row["AP (0-1)"] == _cell(recs[kind])
        assert row["samples"] == "24" and row["model"] == "demo-detector"
        wid = recs[kind]["model"]["weights_id"]
        assert row["weights"] == wid[:12] and wid in text.replace("\n", "")
    assert "2 subset or random-weight runs not ranked and not shown (--all shows them)" in text

    text = bench(["leaderboard", "--results", str(res), "--all", "--task", "det"], home).stdout
    _, rows = _det_rows(text)
    assert [r["rank"] for r in rows] == ["1", "2", "-", "-"]
    by_mark = {r["mark"].replace(" ", ""): r for r in rows}
    full = next(r for r in rows if r["rank"] == str(exp["full"][1]))
    assert full["AP (0-1)"] == _cell(recs["full"]) and full["tag"] == ""
    lim = by_mark["subset"]
    assert lim["samples"].replace(" ", "") == "3of24"
    assert lim["AP (0-1)"] == _cell(recs["limit"])
    assert by_mark["randomweights"]["weights"] == "random"


def test_csv_json_markdown_html(results):
    res, home, recs, _ = results
    exp = _expected(recs)
    ids = {k: r["run_id"] for k, r in recs.items()}
    # long CSV: numbers exact, one unit per row, only full runs by default
    rows = list(csv.DictReader(io.StringIO(
        bench(["leaderboard", "--results", str(res), "-f", "csv"], home).stdout)))  # fmt: skip
    assert {r["run_id"] for r in rows} == {ids["full"], ids["ckpt2"]}
    assert all(r["unit"] == "fraction" for r in rows)
    ap = next(r for r in rows if r["run_id"] == ids["full"] and r["metric"] == "AP")
    assert float(ap["value"]) == exp["full"][0] and ap["status"] == "full"
    rows = list(csv.DictReader(io.StringIO(
        bench(["leaderboard", "--results", str(res), "-f", "csv", "--all"], home).stdout)))  # fmt: skip
    status = {r["run_id"]: r["status"] for r in rows}
    assert status == {ids["full"]: "full", ids["ckpt2"]: "full", ids["limit"]: "subset",
                      ids["random"]: "random weights"}  # fmt: skip
    # wide CSV: rank column, unit in the metric headers
    wide = list(csv.DictReader(io.StringIO(bench(
        ["leaderboard", "--results", str(res), "-f", "wide-csv", "--all"], home).stdout)))  # fmt: skip
    rank = {r["run_id"]: r["rank"] for r in wide}
    assert rank == {ids["full"]: str(exp["full"][1]), ids["ckpt2"]: str(exp["ckpt2"][1]),
                    ids["limit"]: "", ids["random"]: ""}  # fmt: skip
    assert float(next(r for r in wide if r["run_id"] == ids["full"])["AP (0-1)"]) == exp["full"][0]
    metric_cols = [c for c in wide[0] if c.startswith(("AP", "AR"))]
    assert metric_cols and all(UNIT.search(c) for c in metric_cols)
    # JSON
    data = json.loads(bench(["leaderboard", "--results", str(res), "-f", "json", "--all"],
                            home).stdout)  # fmt: skip
    (group,) = data["groups"]
    by_id = {r["run_id"]: r for r in group["rows"]}
    assert by_id[ids["full"]]["rank"] == exp["full"][1]
    assert by_id[ids["full"]]["metrics"]["AP"]["value"] == exp["full"][0]
    assert by_id[ids["limit"]]["rank"] is None and by_id[ids["limit"]]["status"] == "subset"
    assert all(c["unit"] == "fraction" for c in group["columns"])
    # Markdown
    md = bench(["leaderboard", "--results", str(res), "-f", "md", "--all"], home).stdout
    head = next(ln for ln in md.splitlines() if ln.startswith("| rank"))
    cells = [c.strip() for c in head.strip("|").split("|")]
    assert all(UNIT.search(c) for c in cells if c.startswith(("AP", "AR")))
    body = [ln for ln in md.splitlines() if ln.startswith("| ") and "demo-detector" in ln]
    ranks = [ln.strip("|").split("|")[0].strip() for ln in body]
    assert ranks == ["1", "2", "-", "-"]
    full_line = body[exp["full"][1] - 1]
    full_cell = _cell(recs["full"])
    assert f"**{full_cell}**" in full_line or f"| {full_cell} |" in full_line
    assert "| subset |" in md and "| random weights |" in md
    # HTML (bench report, into the results directory by default)
    p = bench(["report", "--results", str(res), "--all"], home)
    assert p.stdout.strip() == f"wrote {res / 'report.html'}"
    html = (res / "report.html").read_text()
    (lb,) = re.findall(r'<table class="lb">.*?</table>', html, flags=re.S)
    trs = re.findall(r"<tr data-model=\"demo-detector\"([^>]*)>(.*?)</tr>", lb, flags=re.S)
    assert len(trs) == 4
    assert [("unranked" in attrs) for attrs, _ in trs] == [False, False, True, True]
    first = trs[exp["full"][1] - 1][1]
    assert f'data-v="{exp["full"][0]!r}"' in first and f">{exp['full'][1]}</td>" in first
    badges = [unescape(b) for b in re.findall(r'<span class="badge">([^<]*)</span>', html)]
    assert sorted(badges) == ["random weights", "subset"]
    ths = [unescape(t) for t in re.findall(r'data-num="1"[^>]*>([^<]*)</th>', lb)]
    assert all(UNIT.search(t) for t in ths if t.startswith(("AP", "AR"))), ths
