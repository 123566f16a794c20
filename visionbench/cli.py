"""``bench``: the command line. Thin: parses, prints, calls engine / leaderboard.

User errors (bad data, unknown names, missing files) print one line and exit with code 2;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

_APP_SETTINGS: dict[str, Any] = dict(
    help="visionbench: exact metrics for vision models on real dataset formats.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app = typer.Typer(**_APP_SETTINGS)
data_app = typer.Typer(help="Mini datasets and dataset checks.", no_args_is_help=True)
app.add_typer(data_app, name="data")


class _LazyConsole:
    """rich's ``Console``, made on first use. ``is_plain``: the stream is not a terminal
    (and no ``FORCE_COLOR``), where rich would print plain text anyway: lines and the
    metrics table are then written without importing rich (~35 ms of every piped
    ``bench eval``)."""

    def __init__(self, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Any = None

    @property
    def is_plain(self) -> bool:
        if (
            self._console is not None
            or os.environ.get("FORCE_COLOR")
            or os.environ.get("TTY_COMPATIBLE")
        ):
            return False
        isatty = getattr(self.stream, "isatty", None)
        return not (callable(isatty) and isatty())

    @property
    def stream(self) -> Any:
        return sys.stderr if self._stderr else sys.stdout

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr)
        return getattr(self._console, name)


def Text(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 - rich's class, imported late
    from rich.text import Text as _Text

    return _Text(*args, **kwargs)


def Table(*args: Any, **kwargs: Any) -> Any:  # noqa: N802
    from rich.table import Table as _Table

    return _Table(*args, **kwargs)


def escape(s: str) -> str:
    from rich.markup import escape as _escape

    return _escape(s)


console: Any = _LazyConsole()
err_console: Any = _LazyConsole(stderr=True)

_DEBUG = False

DEMO_MODEL = "demo-cnn"
#: ``bench run`` with no --model/--dataset: small trained models on the mini datasets, one per
#: task: (model, dataset, split (None: the dataset's default), protocol options (-M) for it).
DEMO_SUITE: tuple[tuple[str, str, str | None, dict[str, Any]], ...] = (
    ("demo-cnn", "imagenet-mini", None, {}),
    ("demo-detector", "coco-mini", None, {}),
    ("demo-segnet", "cityscapes-mini", None, {}),
    ("demo-freq", "vg-mini", "test", {"mode": "predcls"}),
    # BLEU-4 and CIDEr-D (and the rest of the pure-Python COCO-caption metrics); METEOR's JVM
    # would cost the demo ~10 s
    ("demo-captioner", "coco-mini-captions", None,
     {"meteor": "false", "spice": "false"}),
)  # fmt: skip
#: The synthetic dataset each demo dataset is generated from.
_DEMO_SYNTH = {"coco-mini-captions": "coco-mini"}


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks")] = False,
) -> None:
    global _DEBUG
    _DEBUG = debug
    if ctx.invoked_subcommand is None:
        console.print(ctx.get_help(), markup=False, highlight=False)


def _text(con: Any, *parts: str | tuple[str, str]) -> None:
    """Print ``parts`` (strings, or ``(string, style)``) as plain text: user strings (paths,
    names) are never parsed as Rich markup."""
    from visionbench.cli_errors import print_line

    print_line(con, *parts)


def _plain(s: object) -> Any:
    """A table cell / title as text, not markup."""
    return Text(str(s))


# -- KEY=VALUE options ------------------------------------------------------------------

_DatasetOpt = Annotated[
    list[str] | None,
    typer.Option("--dataset-option", "-D",
                 help="KEY=VALUE option of the dataset (repeatable; bench describe NAME)"),
]  # fmt: skip
_MetricOpt = Annotated[
    list[str] | None,
    typer.Option("--metric-option", "-M",
                 help="KEY=VALUE option of the dataset's protocol (repeatable; bench describe NAME)"),
]  # fmt: skip
_BootstrapOpt = Annotated[
    int | None,
    typer.Option("--bootstrap", min=0, metavar="B",
                 help="bootstrap replicates of the confidence intervals (default 1000, or "
                      "$VISIONBENCH_BOOTSTRAP_B; 0: none, per-sample statistics still stored)"),
]  # fmt: skip

_PairedOpt = Annotated[
    int | None,
    typer.Option("--paired-tests", min=0,
                 help="resamples / trials of the paired tests behind the rank groups (default "
                      "$VISIONBENCH_PAIRED_B or 1000, as bench compare; 0: no rank groups)"),
]  # fmt: skip


# ---------------------------------------------------------------------------------------
# bench run


@app.command()
def run(
    model: Annotated[
        str | None,
        typer.Option(help="registered name, tv:<torchvision name>, or pkg.module:factory"),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="registered dataset name (bench list datasets)")
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="dataset split (default: the dataset's evaluation split)")
    ] = None,
    data_root: Annotated[Path | None, typer.Option(help="dataset root folder")] = None,
    weights: Annotated[str | None, typer.Option(help="weights file, cache name or URL")] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 32,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1, mps")] = "auto",
    workers: Annotated[int | None, typer.Option(min=0, help="DataLoader workers")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="score only the first N samples")] = None,
    results: Annotated[Path | None, typer.Option(help="results directory")] = None,
    resume: Annotated[
        bool, typer.Option(help="continue a killed run from its prediction cache")
    ] = False,
    fresh: Annotated[bool, typer.Option(help="discard a previous run's prediction cache")] = False,
    amp: Annotated[bool, typer.Option(help="mixed precision on CUDA")] = False,
    channels_last: Annotated[bool, typer.Option(help="NHWC memory format")] = False,
    seed: Annotated[int, typer.Option()] = 0,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="no progress bar, only the result")
    ] = False,
    profile: Annotated[
        bool, typer.Option(help="profile the model (GFLOPs, latency) into the record")
    ] = False,
    sg_mode: Annotated[
        str | None, typer.Option(help="scene graphs: predcls, sgcls or sgdet (= -M mode=...)")
    ] = None,
    lenient: Annotated[
        bool,
        typer.Option(
            "--lenient",
            help="drop dangling annotations / unpaired files with a warning instead of stopping",
        ),
    ] = False,
    dataset_option: _DatasetOpt = None,
    metric_option: _MetricOpt = None,
    model_option: Annotated[
        list[str] | None,
        typer.Option("--model-option", help="KEY=VALUE option of the model factory (repeatable)"),
    ] = None,
    tag: Annotated[
        str | None,
        typer.Option(help="label of this run (e.g. a checkpoint); its own leaderboard row"),
    ] = None,
    bootstrap: _BootstrapOpt = None,
) -> None:
    """Score a model on a dataset and write a run record.

    With neither --model nor --dataset: the built-in demo (small trained models on the mini
    datasets in their official formats, offline)."""
    from visionbench.errors import RunError

    options = dict(
        batch_size=batch_size, device=device, workers=workers, limit=limit, results=results,
        resume=resume, fresh=fresh, amp=amp, channels_last=channels_last, seed=seed,
        tag=tag, bootstrap=bootstrap,
    )  # fmt: skip
    metric_opts = _metric_options(metric_option, sg_mode=sg_mode)
    if model is None and dataset is None:
        _run_demo(quiet=quiet, profile=profile, options=options, results=results)
        return
    if model is None or dataset is None:
        raise RunError("pass both --model and --dataset (or neither, for the built-in demo)")
    _run_one(model, dataset, split, data_root, weights, quiet=quiet, profile=profile,
             options=options, lenient=lenient, dataset_options=_kv(dataset_option, "--dataset-option"),
             metric_options=metric_opts, model_options=_kv(model_option, "--model-option"))  # fmt: skip


def _run_one(
    model: str,
    dataset: str,
    split: str | None,
    data_root: Path | None,
    weights: str | None,
    *,
    quiet: bool,
    profile: bool,
    options: dict[str, Any],
    lenient: bool = False,
    dataset_options: dict[str, str] | None = None,
    metric_options: dict[str, Any] | None = None,
    model_options: dict[str, str] | None = None,
    summary: str = "full",
) -> dict[str, Any] | None:
    """Run one model on one dataset; print its metrics (``summary="full"``), one line
    (``"line"``) or nothing (``"none"``); return the record (None off rank 0)."""
    from visionbench.engine.devices import select_device
    from visionbench.engine.run import RunOptions
    from visionbench.engine.run import run as run_engine

    select_device(options["device"])  # a device this machine lacks: one line, before any work
    ds = _build_dataset(dataset, data_root, split, lenient=lenient, options=dataset_options,
                        metric_options=metric_options)  # fmt: skip
    mdl = _build_model(model, weights, model_options)
    if profile:
        from visionbench.models.profiling import profile_model

        device = str(select_device(options["device"]))
        mdl.profile_info = profile_model(
            mdl, batch_size=min(options["batch_size"], 8), device=device
        )
    opts = RunOptions(
        **options, metric_options=dict(metric_options or {}),
        progress=not quiet, command=["bench", *sys.argv[1:]], lenient=lenient,
    )  # fmt: skip
    if not quiet:
        n, limit = len(ds), options.get("limit")
        count = (
            f"{min(n, limit):,} of {n:,} samples, --limit"
            if limit and limit < n
            else f"{n:,} samples"
        )
        _text(
            err_console,
            (str(mdl.name), "bold"),
            " on ",
            (str(ds.name), "bold"),
            f" ({ds.split}, {count})",
        )
    from visionbench.errors import RunInterrupted

    try:
        record, path = run_engine(mdl, ds, opts)
    except RunInterrupted as e:
        from visionbench.cli_errors import report_interrupt

        report_interrupt(e.saved, e.where)
        raise typer.Exit(130) from None
    if path is None:  # not rank 0
        return None
    with _written(path):
        if summary == "line":
            _print_summary(record, path)
        elif summary == "full":
            _print_metrics(record)
            _text(console, f"run record: {path}")
    return record


@contextlib.contextmanager
def _written(path: Any) -> Any:
    """Ctrl-C while printing a run whose record is written: say so (exit 130), not
    "nothing was saved"."""
    try:
        yield
    except KeyboardInterrupt:
        from visionbench.cli_errors import report_written

        report_written(path)
        raise typer.Exit(130) from None


def _run_demo(*, quiet: bool, profile: bool, options: dict[str, Any], results: Path | None) -> None:
    """The built-in demo: generate the mini datasets (saying what and where), run the five
    demo models, print the leaderboard of these runs and write the HTML report."""
    import time

    from visionbench import synth
    from visionbench.paths import records_dir, results_dir

    say = (lambda *a, **k: None) if quiet else err_console.print
    t0 = time.perf_counter()
    say(
        "[bold]visionbench demo[/]: "
        + ", ".join(f"{m} on {d}" + (f" ({s})" if s else "") for m, d, s, _ in DEMO_SUITE)
    )
    names = list(dict.fromkeys(_DEMO_SYNTH.get(d, d) for _, d, _, _ in DEMO_SUITE))
    for name in names:
        target = synth.cached_path(name)
        if target.is_dir() and any(target.iterdir()):
            say(
                f"[dim]data: {name} (cached) {escape(str(target))}[/]",
                soft_wrap=True,
                highlight=False,
            )
            continue
        t = time.perf_counter()
        say(
            f"data: generating {name} into {escape(str(target))} ...",
            soft_wrap=True,
            highlight=False,
        )
        synth.ensure(name)
        say(f"[dim]      done in {time.perf_counter() - t:.1f} s[/]")
    run_ids = []
    for i, (m, d, split, extra) in enumerate(DEMO_SUITE, start=1):
        say(f"[bold][{i}/{len(DEMO_SUITE)}][/] {m} on {d}", highlight=False)
        record = _run_one(m, d, split, None, None, quiet=True, profile=profile,
                          options=options, metric_options=extra, summary="none" if quiet else "line")  # fmt: skip
        if record is not None:
            run_ids.append(record["run_id"])
    if not run_ids:  # not rank 0
        return
    from visionbench.leaderboard import table as lb
    from visionbench.leaderboard.report import write_report

    df = lb.load_long(results)
    df = df[df["run_id"].isin(run_ids)]
    from visionbench.leaderboard.views import rich_tables

    for part in rich_tables(df, width=console.width):
        console.print(part)
    report = write_report("html", results_dir(results) / "report.html", results=results)
    _text(
        console,
        f"leaderboard: bench leaderboard{f' --results {results}' if results else ''}  "
        f"(records in {records_dir(results)})",
    )
    _text(console, f"report: {report}")
    say(f"[dim]demo done in {time.perf_counter() - t0:.1f} s[/]")


def _print_summary(record: dict[str, Any], path: Path) -> None:
    """One line per run: the protocol's first two headline metrics, time, record path."""
    headline = (record.get("protocol") or {}).get("headline") or list(record["metrics"])
    shown = [k for k in headline if k in record["metrics"]][:2]
    values = ", ".join(
        f"{k} {record['metrics'][k]['value']:.4g}"
        for k in shown
        if record["metrics"].get(k, {}).get("value") is not None
    )
    wall = record.get("timings", {}).get("wall_s")
    _text(
        err_console,
        f"      {values}" + (f"  ({wall:.1f} s)" if wall else "") + "  ",
        (str(path), "dim"),
    )


def _build_dataset(
    name: str,
    root: Path | None,
    split: str | None,
    *,
    lenient: bool = False,
    options: dict[str, Any] | None = None,
    metric_options: dict[str, Any] | None = None,
) -> Any:
    """The dataset from the registry with its validated ``-D`` options. ``lenient``: ask
    the loader to collect problems (dangling annotations, unpaired files) instead of
    stopping at the first; the protocol's needs (COCO segm: masks) are applied."""
    from visionbench.loaders.build import build_dataset
    from visionbench.protocols import protocol_requirements

    needs = protocol_requirements(name, metric_options) if metric_options is not None else {}
    return build_dataset(name, root, split, options=options, lenient=lenient, requirements=needs)


def _build_model(name: str, weights: str | None, options: dict[str, str] | None = None) -> Any:
    """The model ``name`` (registered, ``tv:`` / ``timm:``, or ``pkg.module:factory``),
    checked against the :class:`~visionbench.tasks.Model` protocol."""
    from visionbench import registry
    from visionbench.models.resolve import build_model

    built = build_model(name, weights=weights, **_model_kwargs(name, options or {}))
    return registry.models.check(built, name)


def _model_kwargs(name: str, given: dict[str, str]) -> dict[str, Any]:
    """``--model-option`` values typed by the factory's signature; unknown keys refused."""
    if not given:
        return {}
    import inspect

    from visionbench import registry
    from visionbench.loaders.build import signature_options
    from visionbench.options import parse_given

    if name.startswith("tv:"):
        from visionbench.models.torchvision_zoo import build_torchvision as factory
    elif name in registry.models:
        factory = registry.models.get(name)
    else:
        return dict(given)  # user factories: their own errors
    declared = [o for o in signature_options(factory) if o.name not in ("name", "weights")]
    params = inspect.signature(factory).parameters.values()
    if any(p.kind == p.VAR_KEYWORD for p in params) and not declared:
        return dict(given)
    return parse_given(declared, given, where=f"model option of {name!r}")


def _kv(items: list[str] | None, flag: str) -> dict[str, str]:
    from visionbench.options import parse_key_values

    return parse_key_values(items, flag=flag)


def _metric_options(items: list[str] | None, **aliases: str | None) -> dict[str, str]:
    """``-M`` options plus the alias flags (``--sg-mode`` = ``-M mode=``, ``--iou-type`` =
    ``-M iou_type=``); an alias and its ``-M`` key together must agree."""
    from visionbench.options import OptionError

    opts = _kv(items, "--metric-option")
    keys = {"sg_mode": "mode", "iou_type": "iou_type"}
    for flag, value in aliases.items():
        if value is None:
            continue
        key = keys[flag]
        if key in opts and opts[key] != value:
            raise OptionError(
                f"--{flag.replace('_', '-')} {value} contradicts --metric-option {key}={opts[key]}"
            )
        opts[key] = value
    return opts


def _print_metrics(record: dict[str, Any]) -> None:
    """The run's numbers, each with its unit (one decimals count per unit), the
    signatures, and both throughputs, labelled."""
    from visionbench.leaderboard.units import (
        DECIMALS,
        UNIT_LABEL,
        format_ci,
        format_number,
        metric_unit,
    )

    if record.get("no_ground_truth"):
        console.print(
            Text(
                f"{record['dataset']['name']} ({record['dataset']['split']}) has no ground "
                f"truth: no metrics; submission file: {record.get('submission', '-')}"
            ),
            soft_wrap=True,
        )
        return
    ds = record["dataset"]
    title = f"{record['model']['name']} on {ds['name']} ({ds['split']})"
    rows = []
    for k, m in record["metrics"].items():
        unit = metric_unit(k, m, record.get("task"))
        dec = DECIMALS.get(unit or "", 4)
        text = format_number(m["value"], dec) + format_ci(m.get("ci"), dec)
        rows.append((k, text, UNIT_LABEL.get(unit or "", "?")))
    if getattr(console, "is_plain", False):  # piped: aligned plain columns, no rich
        rows = [("metric", "value", "unit"), *rows]
        w = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [title] + [f"{a:<{w[0]}}  {b:>{w[1]}}  {c}" for a, b, c in rows]
        print("\n".join(lines), file=console.stream)
    else:
        _metrics_table(title, rows)
    note = _interval_note(record["metrics"])
    if note:
        _text(console, note)
    _print_signatures(record)


def _interval_note(metrics: dict[str, Any]) -> str | None:
    """One line when some bootstrap interval lies wholly on one side of its estimate:
    the replicates are biased (interpolated AP is, upward, under resampling), and a reader
    should not take the interval for an error of the number."""
    from visionbench.leaderboard.units import beside_interval

    out = []
    for k, m in metrics.items():
        ci, v = m.get("ci") or {}, m.get("value")
        if not beside_interval(v, ci.get("low"), ci.get("high")):
            continue
        mean = ci.get("mean")  # absent in records written before it was kept
        out.append(k if mean is None or mean != mean else f"{k} ({mean - v:+.4f})")
    if not out:
        return None
    return (
        "note: the bootstrap interval lies beside the estimate for "
        + ", ".join(out)
        + " (the replicates' mean minus the estimate): the metric is biased under "
        "resampling (AP: its precision envelope is the max of a noisier curve); the "
        "interval shows the replicates' spread"
    )


def _metrics_table(title: str, rows: list[tuple[str, str, str]]) -> None:
    table = Table(title=Text(title))
    table.add_column("metric", overflow="fold")
    table.add_column("value", justify="right", overflow="fold")
    table.add_column("unit", overflow="fold")
    for k, text, unit in rows:
        table.add_row(Text(k), text, unit)
    console.print(table)


def _print_signatures(record: dict[str, Any]) -> None:
    """Signatures, notes and throughputs under the metrics table."""
    ds = record["dataset"]
    sigs = sorted({m["signature"] for m in record["metrics"].values()})
    for s in sigs:
        _text(console, (f"signature: {s}", "dim"))
    notes = []
    if ds.get("subset"):
        total = ds.get("total_samples")
        notes.append(
            f"subset: {ds.get('num_samples'):,} of {total:,} samples (ranked apart on the leaderboard)"
            if total
            else "subset of the samples (ranked apart on the leaderboard)"
        )
    from visionbench.types import RANDOM_WEIGHTS

    if record["model"].get("weights_id") == RANDOM_WEIGHTS:
        notes.append("random weights (ranked apart on the leaderboard)")
    for note in notes:
        _text(console, (f"note: {note}", "yellow"))
    t = record.get("timings", {})
    parts = []
    if t.get("end_to_end_img_s"):
        parts.append(
            f"end-to-end {t['end_to_end_img_s']:,.1f} img/s ({t.get('samples', 0):,} samples "
            f"in {t['wall_s']:.2f} s wall, data loading included)"
        )
    if t.get("throughput_img_s"):
        parts.append(
            f"model steady-state {t['throughput_img_s']:,.1f} img/s "
            f"({t.get('warmup_batches', 0)} warm-up batch(es) excluded)"
        )
    elif t.get("end_to_end_img_s"):
        parts.append("model steady-state: - (every batch was warm-up)")
    if parts:
        _text(console, ("throughput: " + "; ".join(parts), "dim"))


# ---------------------------------------------------------------------------------------
# bench eval


@app.command("eval")
def eval_(
    predictions: Annotated[
        Path,
        typer.Option(
            help="COCO results JSON, folder of result PNGs, CSV/JSON of top-k ids, captions JSON"
        ),
    ],
    dataset: Annotated[
        str | None, typer.Option(help="registered dataset name (default with --gt: coco)")
    ] = None,
    split: Annotated[str | None, typer.Option(help="dataset split")] = None,
    data_root: Annotated[Path | None, typer.Option(help="dataset root folder")] = None,
    name: Annotated[
        str | None, typer.Option(help="model name for the leaderboard (default: file name)")
    ] = None,
    results: Annotated[Path | None, typer.Option(help="results directory")] = None,
    iou_type: Annotated[
        str | None, typer.Option(help="COCO: bbox, segm or keypoints (= -M iou_type=...)")
    ] = None,
    sg_mode: Annotated[
        str | None, typer.Option(help="scene graphs: predcls, sgcls or sgdet (= -M mode=...)")
    ] = None,
    gt: Annotated[
        Path | None,
        typer.Option("--gt", help="any COCO-format ground-truth JSON (no dataset root needed)"),
    ] = None,
    lenient: Annotated[
        bool,
        typer.Option(
            "--lenient",
            help="drop dangling annotations / unpaired files with a warning instead of stopping",
        ),
    ] = False,
    dataset_option: _DatasetOpt = None,
    metric_option: _MetricOpt = None,
    tag: Annotated[
        str | None,
        typer.Option(help="label of this run (e.g. a checkpoint); its own leaderboard row"),
    ] = None,
    bootstrap: _BootstrapOpt = None,
) -> None:
    """Score predictions made elsewhere (no model is run) and write a run record."""
    from visionbench.engine.offline import evaluate_predictions

    metric_opts = _metric_options(metric_option, sg_mode=sg_mode, iou_type=iou_type)
    protocol = None
    if gt is not None:
        ds, protocol = _gt_file_source(gt, dataset, split, metric_opts)
    else:
        if dataset is None:
            from visionbench.errors import RunError

            raise RunError("pass --dataset NAME (bench list datasets), or --gt FILE.json")
        ds = _build_dataset(dataset, data_root, split, lenient=lenient,
                            options=_kv(dataset_option, "--dataset-option"),
                            metric_options=metric_opts)  # fmt: skip
    record, path = evaluate_predictions(
        ds,
        predictions,
        name=name,
        results=results,
        metric_options=metric_opts,
        protocol=protocol,
        command=["bench", *sys.argv[1:]],
        tag=tag,
        bootstrap=bootstrap,
    )
    with _written(path):
        _print_metrics(record)
        _text(console, f"run record: {path}")


def _gt_file_source(
    gt: Path, dataset: str | None, split: str | None, metric_opts: dict[str, str]
) -> tuple[Any, Any]:
    """``--gt FILE.json``: the file as the ground truth, scored by the COCO protocol (with
    the option defaults of ``--dataset``'s catalog entry, e.g. coco-keypoints)."""
    from visionbench.protocols import get_protocol
    from visionbench.protocols.coco import CocoGroundTruthFile
    from visionbench.registry import datasets

    name = dataset or "coco"
    info = datasets.entry(name).info if dataset else {}
    if info.get("protocol", "coco") != "coco":
        from visionbench.errors import RunError

        raise RunError(
            f"--gt reads COCO-format detection ground truth; {name!r} is not COCO detection"
        )
    from visionbench.label_spaces import LabelSpace

    src = CocoGroundTruthFile(gt, name=name, split=split)
    # the file's categories are read with the file, by the evaluation itself; the
    # protocol's fast path needs only the space's name
    space = LabelSpace(f"file:{gt.name}", ())
    proto = get_protocol("coco", space, metric_opts, dataset=src,
                         defaults=info.get("protocol_options"))  # fmt: skip
    return src, proto


# ---------------------------------------------------------------------------------------
# bench export


@app.command()
def export(
    run_id: Annotated[str, typer.Argument(help="run id (or a unique prefix) of a bench run")],
    output: Annotated[Path, typer.Option("--output", "-o", help="file or folder to write")],
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="coco-json, cityscapes-png, png, topk-csv, "
            "coco-caption-json, scene-graph-json (default: the protocol's)",
        ),
    ] = None,
    results: Annotated[Path | None, typer.Option(help="results directory")] = None,
) -> None:
    """Write a run's cached predictions in the official submission format; `bench eval`
    on the export gives the run's numbers."""  # fmt: skip
    from visionbench.engine.export import export_run

    path = export_run(run_id, output, format=format, results=results)
    _text(console, f"wrote {path}")


# ---------------------------------------------------------------------------------------
# bench profile


@app.command()
def profile(
    model: Annotated[
        str, typer.Option(help="registered name, tv:<name>, or pkg.module:factory")
    ] = DEMO_MODEL,
    weights: Annotated[str | None, typer.Option(help="weights file")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="batch size for throughput")] = 8,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda")] = "auto",
    iters: Annotated[int, typer.Option(min=1)] = 10,
    warmup: Annotated[int, typer.Option(min=0)] = 3,
) -> None:
    """Parameters, GFLOPs, latency at batch 1 and throughput at batch N, peak memory."""
    from visionbench.engine.devices import select_device
    from visionbench.errors import WeightsError
    from visionbench.models.profiling import profile_model
    from visionbench.types import RANDOM_WEIGHTS

    try:
        mdl = _build_model(model, weights)
    except WeightsError:
        if weights is not None:
            raise
        # params, GFLOPs and latency do not depend on the weights' values
        err_console.print(
            Text(f"note: {model} has no default weights here; profiling a random init"),
            soft_wrap=True,
        )
        mdl = _build_model(model, RANDOM_WEIGHTS)
    dev = select_device(device)
    prof = profile_model(mdl, batch_size=batch_size, device=str(dev), warmup=warmup, iters=iters)
    table = Table(title=_plain(f"profile: {mdl.name} on {dev}"))
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for k, v in prof.items():
        table.add_row(_plain(k), _plain(f"{v:,.4g}" if isinstance(v, float) else str(v)))
    console.print(table)


# ---------------------------------------------------------------------------------------
# bench list


@app.command("list")
def list_(
    kind: Annotated[str, typer.Argument(help="models, datasets, metrics or protocols")] = "models",
    name: Annotated[
        str | None, typer.Argument(help="datasets: one dataset's options (= bench describe)")
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table, json or csv")] = "table",
    timm: Annotated[
        str | None,
        typer.Option("--timm", help="models: list timm models matching a glob (use as timm:NAME)"),
    ] = None,
) -> None:
    """List registered models, datasets, metrics or protocols."""
    from visionbench import registry
    from visionbench.errors import RegistryError
    from visionbench.protocols import protocols

    if timm is not None:
        from visionbench.models.timm_zoo import list_timm_models

        names = list_timm_models(timm)
        for n in names:
            console.print(f"timm:{n}", highlight=False)
        if not names:
            raise RegistryError(f"no timm model matches {timm!r}")
        return

    regs = {"models": registry.models, "datasets": registry.datasets, "metrics": registry.metrics,
            "protocols": protocols}  # fmt: skip
    if kind not in regs:
        raise RegistryError(f"unknown kind {kind!r}; use one of: {', '.join(regs)}")
    if name is not None:
        if kind != "datasets":
            raise RegistryError(f"bench list {kind} takes no name (bench list datasets NAME)")
        describe(name)
        return
    spaces = kind not in ("metrics", "protocols")
    cols = ["name", "task"] + (["label_space"] if spaces else [])
    cols += ["description", "origin"]
    rows = []
    for e in regs[kind]:
        row = {"name": e.name, "task": str(e.info.get("task", ""))}
        if spaces:
            row["label_space"] = str(e.info.get("label_space", ""))
        row |= {"description": str(e.info.get("description", "")), "origin": e.origin}
        rows.append(row)
    if _emit_rows(rows, cols, format):
        return
    ids = [c for c in cols if c != "description"]
    longest = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in cols}
    if sum(longest[c] + 3 for c in ids) + 30 <= console.width:
        table = Table(title=f"visionbench {kind}")
        for c in cols:  # identifiers at their full width; the description wraps
            fixed = None if c == "description" else longest[c]
            style = {"name": "bold", "origin": "dim"}.get(c, "")
            table.add_column(c.replace("_", " "), style=style, width=fixed, overflow="fold")
        for r in rows:
            table.add_row(*[Text(r[c]) for c in cols])
        console.print(table)
    else:  # narrow terminal or pipe: one entry per line, the description below it
        console.print(Text(f"visionbench {kind} ({', '.join(ids)}):", style="bold"))
        for r in rows:
            line = "  ".join(r[c].ljust(longest[c]) for c in ids).rstrip()
            console.print(Text(line), soft_wrap=True)
            if r["description"]:
                console.print(Text("    " + r["description"], style="dim"), soft_wrap=True)
    if kind == "models":
        console.print(
            "[dim]also: tv:<any torchvision model name>, timm:<name> (bench list models "
            "--timm PATTERN), pkg.module:factory[/]"
        )


def _emit_rows(rows: list[dict[str, Any]], cols: list[str], fmt: str) -> bool:
    """Write ``rows`` as JSON or CSV to stdout (True), or do nothing for ``table``."""
    from visionbench.errors import VisionbenchError

    if fmt == "table":
        return False
    if fmt == "json":
        import json

        sys.stdout.write(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
        return True
    if fmt == "csv":
        import csv

        w = csv.DictWriter(sys.stdout, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return True
    raise VisionbenchError(f"unknown format {fmt!r}; use table, json or csv")


@app.command()
def describe(
    name: Annotated[str, typer.Argument(help="registered dataset name")],
) -> None:
    """A dataset's options (-D KEY=VALUE) and its protocol's options (-M KEY=VALUE)."""
    from visionbench.loaders.build import dataset_options
    from visionbench.protocols import get_protocol_class
    from visionbench.protocols.catalog import DEFAULT_BY_TASK
    from visionbench.registry import datasets

    e = datasets.entry(name)
    info = e.info
    out = [f"dataset {name}: {info.get('description', '')}".rstrip(": "),
           f"  task {info.get('task', '?')}, label space {info.get('label_space', '?')}, "
           f"default split {info.get('split', 'val')}"]  # fmt: skip
    opts = dataset_options(name)
    out += [f"  -D {o.describe()}" for o in opts] or ["  (no dataset options)"]
    pname = info.get("protocol") or DEFAULT_BY_TASK.get(str(info.get("task")))
    if pname:
        cls = get_protocol_class(str(pname))
        out += cls.describe()
        for k, v in (info.get("protocol_options") or {}).items():
            out.append(f"  (this dataset sets -M {k}={v})")
    for line in out:
        console.print(line, highlight=False, soft_wrap=True, markup=False)


# ---------------------------------------------------------------------------------------
# bench data


@data_app.command("synth")
def data_synth(
    name: Annotated[
        str, typer.Argument(help="coco-mini, imagenet-mini, cityscapes-mini or vg-mini")
    ],
    out: Annotated[Path, typer.Option(help="output folder (must not exist)")],
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Write a mini dataset in its official on-disk format."""
    from visionbench import synth

    path = synth.generate(name, out, seed=seed)
    _text(console, f"wrote {name} to {path}")


@data_app.command("verify")
def data_verify(
    name: Annotated[str, typer.Argument(help="registered dataset name")],
    split: Annotated[str | None, typer.Option(help="dataset split")] = None,
    data_root: Annotated[Path | None, typer.Option(help="dataset root folder")] = None,
    decode: Annotated[
        bool, typer.Option(help="fully decode every image (slower, catches truncation)")
    ] = True,
    format: Annotated[str, typer.Option("--format", "-f", help="table, json or csv")] = "table",
) -> None:
    """Check a dataset and report every problem (missing or unreadable images, size mismatches,
    dangling references). Exit code 1 when problems are found."""
    from visionbench.loaders.verify import verify_dataset

    ds = _build_dataset(name, data_root, split, lenient=True)
    problems = verify_dataset(ds, decode=decode)
    cols = ["kind", "sample", "file", "message"]
    rows = [
        {
            "kind": p.kind,
            "sample": str(p.sample_id if p.sample_id is not None else ""),
            "file": str(p.path or ""),
            "message": p.message,
        }
        for p in problems
    ]
    if _emit_rows(rows, cols, format):
        if problems:
            raise typer.Exit(1)
        return
    if not problems:
        console.print(
            Text(f"ok: {ds.name} ({ds.split}), {len(ds):,} samples, no problems"), soft_wrap=True
        )
        return
    # one problem per line, never folded or cut: the file can be copied as printed
    console.print(Text(f"{len(problems)} problems in {ds.name} ({ds.split}):", style="bold"))
    width = max(len(r["kind"]) for r in rows)
    for r in rows:
        where = f"sample {r['sample']}" if r["sample"] else ""
        where += (": " if where and r["file"] else "") + r["file"]
        console.print(Text(f"{r['kind']:<{width}}  {where}"), soft_wrap=True)
        console.print(Text(f"{'':<{width}}  {r['message']}", style="dim"), soft_wrap=True)
    raise typer.Exit(1)


# ---------------------------------------------------------------------------------------
# bench leaderboard


@app.command()
def leaderboard(
    results: Annotated[Path | None, typer.Option(help="results directory")] = None,
    format: Annotated[
        str, typer.Option("--format", "-f", help="table, csv, wide-csv, json, md or html")
    ] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write to this file")
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="only this dataset")] = None,
    task: Annotated[
        str | None, typer.Option(help="only this task (name or short form: cls, det, seg, sg, cap)")
    ] = None,
    model: Annotated[str | None, typer.Option(help="only models matching this glob")] = None,
    all_runs: Annotated[
        bool,
        typer.Option("--all", help="also show subset (--limit) and random-weight runs, unranked"),
    ] = False,
    paired_tests: _PairedOpt = None,
) -> None:
    """The leaderboard: one table per (dataset, split, task), full runs ranked."""
    from visionbench.leaderboard import table as lb

    _paired_setting(paired_tests)

    df = lb.load_long(results, dataset=dataset, task=task, model=model)
    if format == "table" and output is None:
        from visionbench.leaderboard.views import rich_tables

        for part in rich_tables(df, all_runs=all_runs, width=console.width):
            console.print(part)
        return
    if format == "table":
        format = "md"
    text = lb.export(df, format, results=results, all_runs=all_runs)
    if output is None:
        sys.stdout.write(text)
    else:
        from visionbench.records import atomic_write_bytes

        atomic_write_bytes(output, text.encode())
        console.print(Text(f"wrote {output}"), soft_wrap=True)


def _paired_setting(n: int | None) -> None:
    """``--paired-tests N``: the views read it as ``VISIONBENCH_PAIRED_B`` (this process)."""
    if n is not None:
        os.environ["VISIONBENCH_PAIRED_B"] = str(n)


@app.command()
def compare(
    runs: Annotated[
        list[str], typer.Argument(help="run ids or record paths; the first is the baseline")
    ],
    results: Annotated[Path | None, typer.Option(help="results directory")] = None,
    metric: Annotated[
        list[str] | None, typer.Option(help="metric to test (repeatable; default: headline)")
    ] = None,
    samples: Annotated[int, typer.Option("--B", min=1, help="paired bootstrap resamples")] = 1000,
    trials: Annotated[
        int, typer.Option(min=0, help="approximate-randomisation trials (0: skip)")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="RNG seed (12345 = sacreBLEU's default)")] = 12345,
    json_out: Annotated[bool, typer.Option("--json", help="print JSON rows")] = False,
) -> None:
    """Paired bootstrap and approximate-randomisation tests of runs against the first."""
    import json as _json

    from visionbench.leaderboard.compare import compare_runs, format_comparison, load_run

    records = [load_run(r, results) for r in runs]
    rows = compare_runs(records, metrics=metric or None, B=samples, trials=trials, seed=seed)
    if json_out:
        console.print_json(_json.dumps(rows))
        return
    t = Table(
        title=f"baseline {records[0]['run_id']}: paired bootstrap (B={samples}) and "
        f"approximate randomisation ({trials} trials), seed {seed}, on {rows[0]['samples']} samples"
    )
    for col in ("run", "metric", "baseline", "value", "difference [95% CI]", "p (bs)", "p (ar)"):
        t.add_column(col)
    for cells in format_comparison(rows):
        t.add_row(*cells)
    console.print(t)


@app.command()
def report(
    format: Annotated[
        str, typer.Option("--format", "-f", help="html, csv, wide-csv, json, md or timm-csv")
    ] = "html",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="the report file (default: report.<ext> in the results directory)",
        ),
    ] = None,
    results: Annotated[Path | None, typer.Option(help="results directory")] = None,
    dataset: Annotated[str | None, typer.Option(help="only this dataset")] = None,
    task: Annotated[str | None, typer.Option(help="only this task (name or short form)")] = None,
    model: Annotated[str | None, typer.Option(help="only models matching this glob")] = None,
    all_runs: Annotated[
        bool,
        typer.Option("--all", help="also show subset (--limit) and random-weight runs, unranked"),
    ] = False,
    paired_tests: _PairedOpt = None,
) -> None:
    """Write a report: one self-contained HTML page (tables, plots; no network), CSV or
    Markdown, into the results directory unless -o says where."""
    from visionbench.leaderboard.report import write_report

    _paired_setting(paired_tests)

    path = write_report(
        format, output, results=results, dataset=dataset, task=task, model=model, all_runs=all_runs
    )
    console.print(Text(f"wrote {path}"), soft_wrap=True)


# ---------------------------------------------------------------------------------------
# entry point


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: user errors -> one line on stderr, exit code 2; Ctrl-C ->
    what was saved and the ``--resume`` command, exit code 130 (see :mod:`visionbench.cli_errors`)."""
    from visionbench.cli_errors import run_app

    args = list(sys.argv[1:] if argv is None else argv)
    rc = run_app(_app_for(args), args)
    if rc:
        sys.exit(rc)


def entry() -> None:
    """The ``bench`` console script and ``python -m visionbench``: :func:`main`, then an
    exit without the interpreter's teardown.

    Tearing down a process that imported torch takes 2-3 s (its ~2,000 modules and its
    C++ statics: ``python -c "import torch"`` alone spends ~0.9 s there), after the
    results were printed and written, and a Ctrl-C in that window killed the process
    without a word. So, as the interpreter would: the threading shutdown (executors'
    workers, non-daemon threads joined), the atexit handlers (logging, multiprocessing's
    children, weakref finalizers, temporary folders), the standard streams flushed; then
    ``os._exit``. ``VISIONBENCH_FAST_EXIT=0``: the ordinary exit."""
    try:
        main()
        rc: Any = 0
    except SystemExit as e:
        rc = e.code
    if os.environ.get("VISIONBENCH_FAST_EXIT", "1").strip() in ("0", "false", "no", "off"):
        sys.exit(rc)
    if rc is None:
        rc = 0
    elif not isinstance(rc, int):  # sys.exit("message"): printed, status 1
        print(rc, file=sys.stderr)
        rc = 1
    _fast_exit(rc)


def _fast_exit(rc: int) -> None:
    import atexit
    import signal
    import threading

    def now(*_: Any) -> None:  # Ctrl-C here: the command is done, end with its status
        _flush_std()
        os._exit(rc)

    try:
        signal.signal(signal.SIGINT, now)
    except ValueError:  # not the main thread
        pass
    shutdown = getattr(threading, "_shutdown", None)  # what Py_Finalize calls first
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()
    _flush_std()
    os._exit(rc)


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`bench ... | head`)
            pass


def _app_for(args: list[str]) -> Any:
    """The app with only the command that ``args`` invoke, else the whole app.

    typer builds the click command of every registered command on each call (their
    parameters' type hints evaluated, their help texts cleaned: ~0.05 s CPU, a twentieth of
    a ``bench eval``); one command's call needs only its own. Its parsing, help and errors
    are the whole app's (``tests/test_cli_dispatch.py``). The root's help, sub-apps
    (``bench data``) and unknown names (did-you-mean) take the whole app."""
    name = next((a for a in args if not a.startswith("-")), None)
    if name is None:
        return app
    from typer.main import get_command_name

    infos = [c for c in app.registered_commands
             if (c.name or get_command_name(c.callback.__name__)) == name]  # fmt: skip
    if len(infos) != 1:
        return app
    one = typer.Typer(**_APP_SETTINGS)
    one.registered_callback = app.registered_callback
    one.registered_commands = infos
    return one


if __name__ == "__main__":
    entry()
