"""``bench``: the command line. Thin: parses, prints, calls engine / leaderboard.

User errors (bad data, unknown names, missing files) print one line and exit with code 2;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="visionbench: exact metrics for vision models on real dataset formats.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Mini datasets and dataset checks.", no_args_is_help=True)
app.add_typer(data_app, name="data")

console = Console()
err_console = Console(stderr=True)

_DEBUG = False

DEMO_MODEL = "demo-cnn"
#: ``bench run`` with no --model/--dataset: small trained models on the mini datasets.
DEMO_SUITE = (
    ("demo-cnn", "imagenet-mini"),
    ("demo-detector", "coco-mini"),
    ("demo-segnet", "cityscapes-mini"),
)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks")] = False,
) -> None:
    global _DEBUG
    _DEBUG = debug
    if ctx.invoked_subcommand is None:
        console.print(ctx.get_help(), markup=False, highlight=False)


def _text(con: Console, *parts: str | tuple[str, str]) -> None:
    """Print ``parts`` (strings, or ``(string, style)``) as plain text: user strings (paths,
    names) are never parsed as Rich markup."""
    from visionbench.cli_errors import print_line

    print_line(con, *parts)


def _plain(s: object) -> Any:
    """A table cell / title as text, not markup."""
    from rich.text import Text

    return Text(str(s))


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
    sg_mode: Annotated[str, typer.Option(help="scene graphs: predcls, sgcls or sgdet")] = "sgdet",
    lenient: Annotated[
        bool,
        typer.Option(
            "--lenient",
            help="drop dangling annotations / unpaired files with a warning instead of stopping",
        ),
    ] = False,
) -> None:
    """Score a model on a dataset and write a run record.

    With neither --model nor --dataset: the built-in demo (small trained models on the mini
    datasets in their official formats, offline)."""
    from visionbench.errors import RunError

    options = dict(
        batch_size=batch_size, device=device, workers=workers, limit=limit, results=results,
        resume=resume, fresh=fresh, amp=amp, channels_last=channels_last, seed=seed, sg_mode=sg_mode,
    )  # fmt: skip
    if model is None and dataset is None:
        if not quiet:
            _text(
                err_console,
                ("visionbench demo", "bold"),
                ": " + ", ".join(f"{m} on {d}" for m, d in DEMO_SUITE),
            )
        for m, d in DEMO_SUITE:
            _run_one(m, d, None, None, None, quiet=quiet, profile=profile, options=options)
        return
    if model is None or dataset is None:
        raise RunError("pass both --model and --dataset (or neither, for the built-in demo)")
    _run_one(model, dataset, split, data_root, weights, quiet=quiet, profile=profile,
             options=options, lenient=lenient)  # fmt: skip


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
) -> None:
    from visionbench.engine.run import RunOptions, select_device
    from visionbench.engine.run import run as run_engine

    select_device(options["device"])  # a device this machine lacks: one line, before any work
    ds = _build_dataset(dataset, data_root, split, lenient=lenient)
    mdl = _build_model(model, weights)
    if profile:
        from visionbench.models.profiling import profile_model

        device = str(select_device(options["device"]))
        mdl.profile_info = profile_model(
            mdl, batch_size=min(options["batch_size"], 8), device=device
        )
    opts = RunOptions(
        **options, progress=not quiet and sys.stderr.isatty(), command=["bench", *sys.argv[1:]],
        lenient=lenient,
    )  # fmt: skip
    if not quiet:
        _text(
            err_console,
            (str(mdl.name), "bold"),
            " on ",
            (str(ds.name), "bold"),
            f" ({ds.split}, {len(ds)} samples)",
        )
    from visionbench.errors import RunInterrupted

    try:
        record, path = run_engine(mdl, ds, opts)
    except RunInterrupted as e:
        from visionbench.cli_errors import report_interrupt

        report_interrupt(e.saved, e.where)
        raise typer.Exit(130) from None
    if path is None:  # not rank 0
        return
    _print_metrics(record)
    _text(console, f"run record: {path}")


def _build_dataset(
    name: str, root: Path | None, split: str | None, *, lenient: bool = False
) -> Any:
    """The dataset from the registry. ``lenient``: ask the loader to collect problems
    (dangling annotations, unpaired files) instead of stopping at the first."""
    import inspect

    from visionbench.registry import datasets

    factory = datasets.get(name)
    default_split = datasets.entry(name).info.get("split", "val")
    kw: dict[str, Any] = {}
    if lenient:
        params = inspect.signature(factory).parameters
        kw = {k: True for k in ("drop_dangling", "drop_unpaired") if k in params}
    return factory(root=None if root is None else str(root), split=split or default_split, **kw)


def _build_model(name: str, weights: str | None) -> Any:
    try:
        from visionbench.models.resolve import build_model
    except ImportError:  # resolve lands with the model zoo
        from visionbench.registry import models

        return models.get(name)(weights=weights)
    return build_model(name, weights=weights)


def _print_metrics(record: dict[str, Any]) -> None:
    table = Table(
        title=_plain(
            f"{record['model']['name']} on {record['dataset']['name']} ({record['dataset']['split']})"
        )
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, m in record["metrics"].items():
        v = m["value"]
        table.add_row(_plain(k), "nan" if v is None else f"{v:.4f}")
    console.print(table)
    sigs = sorted({m["signature"] for m in record["metrics"].values()})
    for s in sigs:
        _text(console, (f"signature: {s}", "dim"))
    t = record.get("timings", {})
    if t.get("throughput_img_s"):
        _text(
            console,
            (f"throughput {t['throughput_img_s']:.1f} img/s, wall {t['wall_s']:.2f} s", "dim"),
        )


# ---------------------------------------------------------------------------------------
# bench eval


@app.command("eval")
def eval_(
    dataset: Annotated[str, typer.Option(help="registered dataset name")],
    predictions: Annotated[
        Path,
        typer.Option(
            help="COCO results JSON, folder of result PNGs, CSV/JSON of top-k ids, captions JSON"
        ),
    ],
    split: Annotated[str | None, typer.Option(help="dataset split")] = None,
    data_root: Annotated[Path | None, typer.Option(help="dataset root folder")] = None,
    name: Annotated[
        str | None, typer.Option(help="model name for the leaderboard (default: file name)")
    ] = None,
    results: Annotated[Path | None, typer.Option(help="results directory")] = None,
    iou_type: Annotated[str | None, typer.Option(help="detection: bbox or segm")] = None,
    lenient: Annotated[
        bool,
        typer.Option(
            "--lenient",
            help="drop dangling annotations / unpaired files with a warning instead of stopping",
        ),
    ] = False,
) -> None:
    """Score predictions made elsewhere (no model is run) and write a run record."""
    from visionbench.engine.offline import evaluate_predictions

    ds = _build_dataset(dataset, data_root, split, lenient=lenient)
    opts = {"iou_type": iou_type} if iou_type else {}
    record, path = evaluate_predictions(
        ds,
        predictions,
        name=name,
        results=results,
        scorer_options=opts,
        command=["bench", *sys.argv[1:]],
    )
    _print_metrics(record)
    _text(console, f"run record: {path}")


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
    from visionbench.engine.run import select_device
    from visionbench.models.profiling import profile_model

    mdl = _build_model(model, weights)
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
    kind: Annotated[str, typer.Argument(help="models, datasets or metrics")] = "models",
) -> None:
    """List registered models, datasets or metrics."""
    from visionbench import registry
    from visionbench.errors import RegistryError

    regs = {"models": registry.models, "datasets": registry.datasets, "metrics": registry.metrics}
    if kind not in regs:
        raise RegistryError(f"unknown kind {kind!r}; use one of: {', '.join(regs)}")
    table = Table(title=f"visionbench {kind}")
    table.add_column("name", style="bold")
    table.add_column("task")
    if kind != "metrics":
        table.add_column("label space")
    table.add_column("description")
    table.add_column("origin", style="dim")
    for e in regs[kind]:
        row = [e.name, str(e.info.get("task", ""))]
        if kind != "metrics":
            row.append(str(e.info.get("label_space", "")))
        row += [str(e.info.get("description", "")), e.origin]
        table.add_row(*(_plain(c) for c in row))
    console.print(table)
    if kind == "models":
        console.print("[dim]also: tv:<any torchvision model name>, pkg.module:factory[/]")


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
) -> None:
    """Check a dataset and report every problem (missing or unreadable images, size mismatches,
    dangling references). Exit code 1 when problems are found."""
    from visionbench.loaders.verify import verify_dataset

    ds = _build_dataset(name, data_root, split, lenient=True)
    problems = verify_dataset(ds, decode=decode)
    if not problems:
        _text(console, ("ok", "green"), f": {ds.name} ({ds.split}), {len(ds)} samples, no problems")
        return
    table = Table(title=_plain(f"{len(problems)} problems in {ds.name} ({ds.split})"))
    for c in ("kind", "sample", "file", "message"):
        table.add_column(c)
    for p in problems:
        table.add_row(
            _plain(p.kind),
            _plain(str(p.sample_id if p.sample_id is not None else "")),
            _plain(str(p.path or "")),
            _plain(p.message),
        )
    console.print(table)
    raise typer.Exit(1)


# ---------------------------------------------------------------------------------------
# bench leaderboard


@app.command()
def leaderboard(
    results: Annotated[Path | None, typer.Option(help="results directory")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table, csv, md or html")] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write to this file")
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="only this dataset")] = None,
    task: Annotated[str | None, typer.Option(help="only this task")] = None,
    model: Annotated[str | None, typer.Option(help="only models matching this glob")] = None,
) -> None:
    """The leaderboard of all run records."""
    from visionbench.leaderboard import table as lb

    df = lb.load_long(results, dataset=dataset, task=task, model=model)
    if format == "table":
        console.print(lb.rich_table(df))
        return
    text = lb.export(df, format, results=results)
    if output is None:
        sys.stdout.write(text)
    else:
        from visionbench.engine.records import atomic_write_bytes

        atomic_write_bytes(output, text.encode())
        _text(console, f"wrote {output}")


@app.command()
def report(
    format: Annotated[
        str, typer.Option("--format", "-f", help="html, csv, wide-csv, md or timm-csv")
    ] = "html",
    output: Annotated[Path, typer.Option("--output", "-o", help="the report file")] = Path(
        "visionbench-report.html"
    ),
    results: Annotated[Path | None, typer.Option(help="results directory")] = None,
    dataset: Annotated[str | None, typer.Option(help="only this dataset")] = None,
    task: Annotated[str | None, typer.Option(help="only this task")] = None,
    model: Annotated[str | None, typer.Option(help="only models matching this glob")] = None,
) -> None:
    """Write a report: one self-contained HTML page (tables, plots; no network), CSV or Markdown."""
    from visionbench.leaderboard.report import write_report

    path = write_report(format, output, results=results, dataset=dataset, task=task, model=model)
    _text(console, f"wrote {path}")


# ---------------------------------------------------------------------------------------
# entry point


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: user errors -> one line on stderr, exit code 2; Ctrl-C ->
    what was saved and the ``--resume`` command, exit code 130 (see :mod:`visionbench.cli_errors`)."""
    from visionbench.cli_errors import run_app

    rc = run_app(app, argv)
    if rc:
        sys.exit(rc)


if __name__ == "__main__":
    main()
