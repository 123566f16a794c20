"""``bench``: the command line. Thin: parses, prints, calls engine / leaderboard.

User errors (bad data, unknown names, missing files) print one line and exit with code 2;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

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
        console.print(ctx.get_help())


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
    tag: Annotated[
        str | None,
        typer.Option(help="label of this run (e.g. a checkpoint); its own leaderboard row"),
    ] = None,
) -> None:
    """Score a model on a dataset and write a run record.

    With neither --model nor --dataset: the built-in demo (small trained models on the mini
    datasets in their official formats, offline)."""
    from visionbench.errors import RunError

    options = dict(
        batch_size=batch_size, device=device, workers=workers, limit=limit, results=results,
        resume=resume, fresh=fresh, amp=amp, channels_last=channels_last, seed=seed, sg_mode=sg_mode,
        tag=tag,
    )  # fmt: skip
    if model is None and dataset is None:
        if not quiet:
            err_console.print(
                "[bold]visionbench demo[/]: " + ", ".join(f"{m} on {d}" for m, d in DEMO_SUITE)
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

    ds = _build_dataset(dataset, data_root, split, lenient=lenient)
    mdl = _build_model(model, weights)
    if profile:
        from visionbench.models.profiling import profile_model

        device = str(select_device(options["device"]))
        mdl.profile_info = profile_model(
            mdl, batch_size=min(options["batch_size"], 8), device=device
        )
    opts = RunOptions(**options, progress=not quiet, command=["bench", *sys.argv[1:]])
    if not quiet:
        n, limit = len(ds), options.get("limit")
        count = (
            f"{min(n, limit):,} of {n:,} samples, --limit"
            if limit and limit < n
            else f"{n:,} samples"
        )
        err_console.print(
            f"[bold]{escape(mdl.name)}[/] on [bold]{escape(ds.name)}[/] ({escape(str(ds.split))}, {count})",
            soft_wrap=True,
        )
    record, path = run_engine(mdl, ds, opts)
    if path is None:  # not rank 0
        return
    _print_metrics(record)
    console.print(f"run record: {path}", soft_wrap=True, highlight=False)


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
    """The run's numbers, each with its unit (one decimals count per unit), the
    signatures, and both throughputs, labelled."""
    from visionbench.leaderboard.units import (
        DECIMALS,
        UNIT_LABEL,
        format_ci,
        format_number,
        metric_unit,
    )

    ds = record["dataset"]
    table = Table(title=Text(f"{record['model']['name']} on {ds['name']} ({ds['split']})"))
    table.add_column("metric", overflow="fold")
    table.add_column("value", justify="right", overflow="fold")
    table.add_column("unit", overflow="fold")
    for k, m in record["metrics"].items():
        unit = metric_unit(k, m, record.get("task"))
        dec = DECIMALS.get(unit or "", 4)
        text = format_number(m["value"], dec) + format_ci(m.get("ci"), dec)
        table.add_row(Text(k), text, UNIT_LABEL.get(unit or "", "?"))
    console.print(table)
    sigs = sorted({m["signature"] for m in record["metrics"].values()})
    for s in sigs:
        console.print(Text(f"signature: {s}", style="dim"), soft_wrap=True)
    notes = []
    if ds.get("subset"):
        total = ds.get("total_samples")
        notes.append(
            f"subset: {ds.get('num_samples'):,} of {total:,} samples (ranked apart on the leaderboard)"
            if total
            else "subset of the samples (ranked apart on the leaderboard)"
        )
    if record["model"].get("weights_id") == "random":
        notes.append("random weights (ranked apart on the leaderboard)")
    for note in notes:
        console.print(Text(f"note: {note}", style="yellow"), soft_wrap=True)
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
        console.print(Text("throughput: " + "; ".join(parts), style="dim"), soft_wrap=True)


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
    console.print(f"run record: {path}", soft_wrap=True, highlight=False)


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
    from visionbench.errors import WeightsError
    from visionbench.models.profiling import profile_model

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
        mdl = _build_model(model, "random")
    dev = select_device(device)
    prof = profile_model(mdl, batch_size=batch_size, device=str(dev), warmup=warmup, iters=iters)
    table = Table(title=f"profile: {mdl.name} on {dev}")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for k, v in prof.items():
        table.add_row(k, f"{v:,.4g}" if isinstance(v, float) else str(v))
    console.print(table)


# ---------------------------------------------------------------------------------------
# bench list


@app.command("list")
def list_(
    kind: Annotated[str, typer.Argument(help="models, datasets or metrics")] = "models",
    format: Annotated[str, typer.Option("--format", "-f", help="table, json or csv")] = "table",
) -> None:
    """List registered models, datasets or metrics."""
    from visionbench import registry
    from visionbench.errors import RegistryError

    regs = {"models": registry.models, "datasets": registry.datasets, "metrics": registry.metrics}
    if kind not in regs:
        raise RegistryError(f"unknown kind {kind!r}; use one of: {', '.join(regs)}")
    cols = ["name", "task"] + (["label_space"] if kind != "metrics" else [])
    cols += ["description", "origin"]
    rows = []
    for e in regs[kind]:
        row = {"name": e.name, "task": str(e.info.get("task", ""))}
        if kind != "metrics":
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
        console.print("[dim]also: tv:<any torchvision model name>, pkg.module:factory[/]")


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
    console.print(f"wrote {name} to {path}")


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
) -> None:
    """The leaderboard: one table per (dataset, split, task), full runs ranked."""
    from visionbench.leaderboard import table as lb

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
        from visionbench.engine.records import atomic_write_bytes

        atomic_write_bytes(output, text.encode())
        console.print(Text(f"wrote {output}"), soft_wrap=True)


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
) -> None:
    """Write a report: one self-contained HTML page (tables, plots; no network), CSV or
    Markdown, into the results directory unless -o says where."""
    from visionbench.leaderboard.report import write_report

    path = write_report(
        format, output, results=results, dataset=dataset, task=task, model=model, all_runs=all_runs
    )
    console.print(Text(f"wrote {path}"), soft_wrap=True)


# ---------------------------------------------------------------------------------------
# entry point


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: user errors -> one line on stderr, exit code 2."""
    import warnings

    from visionbench.errors import USER_ERRORS

    # warnings are for users here: one line, no source line of ours
    warnings.formatwarning = lambda message, category, *a, **k: f"warning: {message}\n"

    debug = "--debug" in (argv if argv is not None else sys.argv[1:]) or bool(
        os.environ.get("VISIONBENCH_DEBUG")
    )
    try:
        rc = app(args=argv, standalone_mode=False)
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except USER_ERRORS as e:
        if debug:
            raise
        err_console.print(f"[red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except Exception as e:  # click usage errors
        import click

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        raise


if __name__ == "__main__":
    main()
