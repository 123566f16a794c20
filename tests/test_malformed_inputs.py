"""Malformed inputs through the installed ``bench`` console script, one subprocess per case.

Each case damages a copy of a mini dataset (``visionbench.synth``) or a predictions /
weights / records file one way, runs one command, and asserts what a user sees: the exit
code (2 for a user error; 0 with a warning where the reference's number is given), one
``error:`` line on stderr naming the file / field / id, no traceback, no Rich markup
crash, and an end within a time bound (adversarial RLE, huge claimed sizes and deeply
nested JSON included: no input may make a command spin).

The cases run concurrently (a thread pool of subprocesses) in one session fixture; each
test then checks its own outcome. ``-k`` selects cases as usual (only those run).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

#: seconds one case may take (the hangs this guards against ran > 10 minutes); generous
#: because the cases share the CPU with each other and with the rest of CI
TIME_BOUND_S = 240.0
WORKERS = 4


def _bench_cmd() -> list[str]:
    script = Path(sys.executable).with_name("bench")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "visionbench"]


@dataclass
class Ctx:
    """What a case's setup may use: pristine mini datasets (read-only) and its own folder."""

    mini: dict[str, Path]
    dir: Path

    def copy(self, name: str, *, link_images: bool = True) -> Path:
        """A copy of a mini dataset in the case folder; its image folders symlinked unless
        ``link_images`` is False (then copied, so that they can be damaged)."""
        src, dst = self.mini[name], self.dir / name
        if not link_images:
            shutil.copytree(src, dst)
            return dst
        dst.mkdir()
        for p in src.iterdir():
            if p.is_dir() and p.name in _IMAGE_DIRS:
                os.symlink(p, dst / p.name)
            elif p.is_dir():
                shutil.copytree(p, dst / p.name)
            else:
                shutil.copy(p, dst / p.name)
        return dst


_IMAGE_DIRS = {"val2017", "train2017", "leftImg8bit", "images", "train", "val"}


@dataclass
class Case:
    id: str
    setup: Callable[[Ctx], list[str]]
    rc: int = 2
    says: tuple[str, ...] = ()  # substrings of stderr (file / field / id); "a|b": either
    warns: tuple[str, ...] = ()  # substrings of a 'warning:' line
    must_not: tuple[str, ...] = ()  # substrings stderr must not contain
    env: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------
# damage helpers


def _coco_json(root: Path) -> Path:
    return root / "annotations" / "instances_val2017.json"


def _edit_json(path: Path, fn: Callable[[object], object | None]) -> None:
    """Rewrite a JSON file with ``fn(data)`` (its return value, or ``data`` mutated)."""
    data = json.loads(Path(path).read_text())
    out = fn(data)
    Path(path).write_text(json.dumps(data if out is None else out))


def _coco_case(mutate: Callable[[dict], None]) -> Callable[[Ctx], list[str]]:
    def setup(c: Ctx) -> list[str]:
        root = c.copy("coco-mini")
        _edit_json(_coco_json(root), mutate)
        return ["data", "verify", "coco", "--data-root", str(root), "--no-decode"]

    return setup


def _crowd(d: dict) -> dict:
    return next(a for a in d["annotations"] if a["iscrowd"])


def _results(
    c: Ctx, mutate: Callable[[list], object | None], *, iou: str | None = None
) -> list[str]:
    gt = json.loads(_coco_json(c.mini["coco-mini"]).read_text())
    res = [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "bbox": a["bbox"],
            "score": 0.9,
        }
        for a in gt["annotations"]
        if not a["iscrowd"]
    ]
    out = mutate(res)
    p = c.dir / "results.json"
    p.write_text(out if isinstance(out, str) else json.dumps(res if out is None else out))
    args = ["eval", "--dataset", "coco", "--data-root", str(c.mini["coco-mini"])]
    args += ["--predictions", str(p), "--results", str(c.dir / "res")]
    return args + (["--iou-type", iou] if iou else [])


def _image_of(c: Ctx, image_id: int) -> dict:
    gt = json.loads(_coco_json(c.mini["coco-mini"]).read_text())
    return next(im for im in gt["images"] if im["id"] == image_id)


def _segm_results(c: Ctx, rle_of: Callable[[int, int], dict]) -> list[str]:
    """segm results (each the mask of its box, at its image's size); the first damaged."""
    from pycocotools import mask as mask_utils

    def mutate(res: list) -> None:
        for r in res:
            im = _image_of(c, r["image_id"])
            box = np.array([r.pop("bbox")], np.float64)
            rle = mask_utils.frPyObjects(box, im["height"], im["width"])[0]
            r["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode()}
        im = _image_of(c, res[0]["image_id"])
        res[0]["segmentation"] = rle_of(im["height"], im["width"])

    return _results(c, mutate, iou="segm")


def _rle(counts: list[int], h: int, w: int) -> dict:
    from pycocotools import mask as mask_utils

    r = mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
    return {"size": [h, w], "counts": r["counts"].decode()}


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _imagenet_devkit(c: Ctx, gt_lines: Callable[[list[str]], list[str]] | None = None) -> Path:
    """The mini ImageNet as the devkit layout: flat val/ + ILSVRC2012_devkit_t12/data/."""
    src = c.mini["imagenet-mini"]
    root = c.dir / "imagenet"
    (root / "val").mkdir(parents=True)
    for f in (src / "val").glob("*/*.JPEG"):
        os.symlink(f, root / "val" / f.name)
    shutil.copytree(src / "ILSVRC2012_devkit_t12", root / "ILSVRC2012_devkit_t12")
    if gt_lines is not None:
        p = root / "ILSVRC2012_devkit_t12" / "data" / "ILSVRC2012_validation_ground_truth.txt"
        p.write_text("\n".join(gt_lines(p.read_text().splitlines())) + "\n")
    return root


def _imagenet_kaggle(c: Ctx, rows: Callable[[list[str]], list[str]]) -> Path:
    src = c.mini["imagenet-mini"]
    root = c.dir / "imagenet"
    (root / "val").mkdir(parents=True)
    for f in (src / "val").glob("*/*.JPEG"):
        os.symlink(f, root / "val" / f.name)
    lines = (src / "LOC_val_solution.csv").read_text().splitlines()
    (root / "LOC_val_solution.csv").write_text("\n".join(rows(lines)) + "\n")
    shutil.copy(src / "LOC_synset_mapping.txt", root / "LOC_synset_mapping.txt")
    return root


def _verify(name: str, root: Path) -> list[str]:
    return ["data", "verify", name, "--data-root", str(root), "--no-decode"]


def _first_jpeg(root: Path) -> Path:
    return sorted(root.glob("val/*/*.JPEG"))[0]


def _imagenet_image_case(damage: Callable[[Path], None]) -> Callable[[Ctx], list[str]]:
    """bench run on a copy whose first image (in sample order) is damaged."""

    def setup(c: Ctx) -> list[str]:
        root = c.copy("imagenet-mini", link_images=False)
        victim = sorted(root.glob("val/*/*.JPEG"))
        for v in victim:
            damage(v)
        return _run_args(c, "demo-cnn", "imagenet", root) + ["--limit", "4"]

    return setup


def _run_args(c: Ctx, model: str, dataset: str, root: Path | None, *extra: str) -> list[str]:
    args = ["run", "--model", model, "--dataset", dataset, "-q", "--workers", "0"]
    if root is not None:
        args += ["--data-root", str(root)]
    return args + ["--results", str(c.dir / "res"), *extra]


def _cityscapes_preds(c: Ctx, damage: Callable[[list[Path]], None]) -> list[str]:
    """bench eval on the mini Cityscapes with its own labelIds as predictions, damaged."""
    src = c.mini["cityscapes-mini"]
    preds = c.dir / "preds"
    preds.mkdir()
    for f in sorted((src / "gtFine" / "val").glob("*/*_gtFine_labelIds.png")):
        shutil.copy(f, preds / f.name.replace("_gtFine_labelIds", ""))
    damage(sorted(preds.glob("*.png")))
    return ["eval", "--dataset", "cityscapes", "--data-root", str(src), "--predictions",
            str(preds), "--results", str(c.dir / "res")]  # fmt: skip


def _png(path: Path, arr: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(arr).save(path)


def _vg_case(fname: str, fn: Callable[[list], object]) -> Callable[[Ctx], list[str]]:
    def setup(c: Ctx) -> list[str]:
        root = c.copy("vg-mini")
        _edit_json(root / fname, fn)
        return _verify("vg", root)

    return setup


def _weights_case(
    model: str, write: Callable[[Path], None], cmd: str = "run"
) -> Callable[[Ctx], list[str]]:
    def setup(c: Ctx) -> list[str]:
        w = c.dir / "weights.pt"
        write(w)
        if cmd == "profile":
            return [
                "profile",
                "--model",
                model,
                "--weights",
                str(w),
                "--iters",
                "1",
                "--warmup",
                "0",
            ]
        return _run_args(c, model, "imagenet-mini", None, "--weights", str(w), "--limit", "2")

    return setup


class _Evil:
    def __reduce__(self):  # what torch.load(weights_only=False) would execute
        return (os.system, ("echo pwned",))


def _torch_save_evil(p: Path) -> None:
    import torch

    torch.save({"weight": _Evil()}, p)


def _plain_pickle(p: Path) -> None:
    import pickle

    p.write_bytes(pickle.dumps({"weight": _Evil()}))


def _truncated_weights(p: Path) -> None:
    import torch

    torch.save({"w": torch.zeros(1000)}, p)
    p.write_bytes(p.read_bytes()[:300])


def _records(c: Ctx, write: Callable[[Path], None]) -> Path:
    res = c.dir / "res"
    (res / "records").mkdir(parents=True)
    write(res / "records")
    return res


def _a_file(c: Ctx) -> Path:
    p = c.dir / "a-file"
    p.write_text("x")
    return p


def _no_gpu() -> bool:
    try:
        import torch

        return not torch.cuda.is_available()
    except Exception:
        return True


# ---------------------------------------------------------------------------------------
# the table

MARKUP = "x[/]y[bold]z"

CASES: list[Case] = [
    # --- usage errors (typer's vendored click) ---------------------------------------
    Case(
        "usage-unknown-option",
        lambda c: ["run", "--modle", "x"],
        says=("--modle", "bench run --help"),
    ),
    Case("usage-unknown-command", lambda c: ["rnu"], says=("rnu", "Did you mean 'run'")),
    Case(
        "usage-eval-missing-predictions",
        lambda c: ["eval", "--dataset", "coco-mini"],
        says=("--predictions",),
    ),
    Case("usage-batch-size-0", lambda c: ["run", "--batch-size", "0"], says=("--batch-size",)),
    Case("usage-limit-negative", lambda c: ["run", "--limit", "-5"], says=("--limit",)),
    Case("usage-workers-negative", lambda c: ["run", "--workers", "-1"], says=("--workers",)),
    Case(
        "usage-batch-size-text", lambda c: ["run", "--batch-size", "many"], says=("--batch-size",)
    ),
    Case(
        "usage-list-unknown-kind", lambda c: ["list", "modelz"], says=("modelz", "models, datasets")
    ),
    Case("usage-synth-missing-out", lambda c: ["data", "synth", "coco-mini"], says=("--out",)),
    Case("usage-verify-missing-name", lambda c: ["data", "verify"], says=("'name'",)),
    Case("usage-profile-iters-0", lambda c: ["profile", "--iters", "0"], says=("--iters",)),
    Case(
        "usage-leaderboard-format",
        lambda c: ["leaderboard", "--format", "xml", "--results", str(_records(c, lambda d: None))],
        says=("xml",),
    ),
    Case(
        "usage-report-format",
        lambda c: [
            "report",
            "--format",
            "pdf",
            "-o",
            str(c.dir / "r.pdf"),
            "--results",
            str(_records(c, lambda d: None)),
        ],
        says=("pdf",),
    ),
    Case("usage-run-model-only", lambda c: ["run", "--model", "demo-cnn"], says=("--dataset",)),
    Case(
        "usage-eval-bad-iou-type", lambda c: _results(c, lambda r: None, iou="mask"), says=("mask",)
    ),
    # --- names, markup ------------------------------------------------------------------
    Case(
        "markup-model-name",
        lambda c: _run_args(c, MARKUP, "imagenet-mini", None),
        says=(MARKUP,),
        must_not=("MarkupError",),
    ),
    Case(
        "markup-data-root",
        lambda c: _run_args(c, "demo-cnn", "imagenet", c.dir / MARKUP),
        says=(MARKUP, "does not exist", "[data]"),
    ),
    Case("markup-dataset-name", lambda c: ["data", "verify", MARKUP], says=(MARKUP,)),
    Case(
        "unknown-model",
        lambda c: _run_args(c, "demo-cn", "imagenet-mini", None),
        says=("'demo-cn'", "did you mean 'demo-cnn'"),
    ),
    Case(
        "unknown-synth",
        lambda c: ["data", "synth", "nope-mini", "--out", str(c.dir / "o")],
        says=("nope-mini",),
    ),
    Case(
        "synth-out-exists",
        lambda c: ["data", "synth", "coco-mini", "--out", str(c.mini["coco-mini"])],
        says=("coco-mini", "exists"),
    ),
    Case(
        "synth-out-is-file",
        lambda c: ["data", "synth", "coco-mini", "--out", str(_a_file(c))],
        says=("a-file",),
    ),
    # --- OS and device errors -----------------------------------------------------------
    Case(
        "results-is-a-file",
        lambda c: (
            _run_args(c, "demo-cnn", "imagenet-mini", None, "--limit", "2")[:-2]
            + ["--results", str(_a_file(c))]
        ),
        says=("a-file",),
    ),
    Case(
        "leaderboard-results-typo",
        lambda c: ["leaderboard", "--results", str(c.dir / "TYPO")],
        says=("TYPO", "does not exist"),
    ),
    Case(
        "leaderboard-results-file",
        lambda c: ["leaderboard", "--results", str(_a_file(c))],
        says=("a-file", "is a file"),
    ),
    Case(
        "report-results-typo",
        lambda c: ["report", "--results", str(c.dir / "TYPO"), "-o", str(c.dir / "r.html")],
        says=("TYPO", "does not exist"),
    ),
    Case(
        "leaderboard-output-under-file",
        lambda c: [
            "leaderboard",
            "--format",
            "csv",
            "-o",
            str(_a_file(c) / "x.csv"),
            "--results",
            str(_records(c, lambda d: None)),
        ],
        says=("a-file",),
    ),
    Case(
        "device-gibberish",
        lambda c: _run_args(c, "demo-cnn", "imagenet-mini", None, "--device", "gpu"),
        says=("--device 'gpu'",),
    ),
    Case(
        "device-cuda-index",
        lambda c: _run_args(c, "demo-cnn", "imagenet-mini", None, "--device", "cuda:99"),
        says=("cuda:99",),
    ),
    # --- run records --------------------------------------------------------------------
    Case(
        "record-corrupt-json",
        lambda c: [
            "leaderboard",
            "--results",
            str(_records(c, lambda d: (d / "r1.json").write_text("{not json"))),
        ],
        rc=0,
        warns=("r1.json",),
    ),
    Case(
        "record-not-an-object",
        lambda c: [
            "leaderboard",
            "--results",
            str(_records(c, lambda d: (d / "r2.json").write_text("[1, 2]"))),
        ],
        rc=0,
        warns=("r2.json",),
    ),
    Case(
        "record-deeply-nested",
        lambda c: [
            "report",
            "--format",
            "csv",
            "-o",
            str(c.dir / "r.csv"),
            "--results",
            str(_records(c, lambda d: (d / "r3.json").write_text(_nested(200000)))),
        ],
        rc=0,
        warns=("r3.json",),
    ),
    # --- COCO ground truth --------------------------------------------------------------
    Case(
        "coco-bbox-strings",
        _coco_case(lambda d: d["annotations"][0].update(bbox=["a", "b", "c", "d"])),
        says=("instances_val2017.json", "annotations.bbox", "id=1", "['a', 'b', 'c', 'd']"),
    ),
    Case(
        "coco-bbox-numeric-strings",
        _coco_case(lambda d: d["annotations"][1].update(bbox=["1", "2", "3", "4"])),
        says=("annotations.bbox", "id=2"),
    ),
    Case(
        "coco-bbox-three-numbers",
        _coco_case(lambda d: d["annotations"][2].update(bbox=[1, 2, 3])),
        says=("annotations.bbox", "id=3"),
    ),
    Case(
        "coco-bbox-negative-width",
        _coco_case(lambda d: d["annotations"][0].update(bbox=[1, 2, -3, 4])),
        says=("annotations.bbox", "w >= 0"),
    ),
    Case(
        "coco-iscrowd-2",
        _coco_case(lambda d: d["annotations"][3].update(iscrowd=2)),
        says=("annotations.iscrowd", "id=4", "0 or 1"),
    ),
    Case(
        "coco-area-string",
        _coco_case(lambda d: d["annotations"][0].update(area="big")),
        says=("annotations.area", "id=1"),
    ),
    Case(
        "coco-area-negative",
        _coco_case(lambda d: d["annotations"][0].update(area=-5.0)),
        says=("annotations.area", "id=1"),
    ),
    Case(
        "coco-image-id-string",
        _coco_case(lambda d: d["annotations"][0].update(image_id="x")),
        says=("image_id",),
    ),
    Case(
        "coco-category-unknown",
        _coco_case(lambda d: d["annotations"][0].update(category_id=9999)),
        says=("category_id", "9999"),
    ),
    Case(
        "coco-duplicate-ann-ids",
        _coco_case(lambda d: d["annotations"][1].update(id=d["annotations"][0]["id"])),
        says=("duplicate", "annotations.id"),
    ),
    Case(
        "coco-ann-id-0",
        _coco_case(lambda d: d["annotations"][0].update(id=0)),
        says=("annotations.id",),
    ),
    Case(
        "coco-no-annotations-key", _coco_case(lambda d: d.pop("annotations")), says=("annotations",)
    ),
    Case(
        "coco-image-width-negative",
        _coco_case(lambda d: d["images"][0].update(width=-3)),
        says=("images.width",),
    ),
    Case(
        "coco-dangling-image",
        _coco_case(lambda d: d["annotations"][0].update(image_id=123456789)),
        rc=1,
        warns=("123456789",),
    ),
    Case(
        "coco-rle-runs-overflow",
        _coco_case(lambda d: _crowd(d)["segmentation"]["counts"].__setitem__(0, 10**9)),
        says=("annotations.segmentation", "add up to"),
    ),
    Case(
        "coco-rle-huge-size",
        _coco_case(lambda d: _crowd(d)["segmentation"].update(size=[40000, 40000])),
        says=("annotations.segmentation", "[40000, 40000]"),
    ),
    Case(
        "coco-rle-bad-characters",
        _coco_case(lambda d: _crowd(d).update(segmentation={"size": [10, 10], "counts": "~~~~"})),
        says=("annotations.segmentation",),
    ),
    Case(
        "coco-rle-counts-wrong-type",
        _coco_case(lambda d: _crowd(d)["segmentation"].update(counts=12)),
        says=("annotations.segmentation", "counts"),
    ),
    Case(
        "coco-polygon-huge-coordinates",
        _coco_case(lambda d: d["annotations"][0].update(segmentation=[[0, 0, 1e9, 0, 1e9, 1e9]])),
        says=("annotations.segmentation", "id=1", "outside"),
    ),
    Case(
        "coco-polygon-not-numbers",
        _coco_case(lambda d: d["annotations"][0].update(segmentation=[[0, 0, "x", 1, 2, 2]])),
        says=("annotations.segmentation", "id=1"),
    ),
    Case(
        "coco-segmentation-wrong-type",
        _coco_case(lambda d: d["annotations"][0].update(segmentation=5)),
        says=("annotations.segmentation", "id=1"),
    ),
    Case(
        "coco-not-json",
        lambda c: _verify(
            "coco", _write(c.copy("coco-mini"), "annotations/instances_val2017.json", "{oops")
        ),
        says=("instances_val2017.json", "not valid JSON"),
    ),
    Case(
        "coco-empty-file",
        lambda c: _verify(
            "coco", _write(c.copy("coco-mini"), "annotations/instances_val2017.json", "")
        ),
        says=("instances_val2017.json",),
    ),
    Case(
        "coco-top-level-list",
        lambda c: _verify(
            "coco", _write(c.copy("coco-mini"), "annotations/instances_val2017.json", "[]")
        ),
        says=("instances_val2017.json", "object"),
    ),
    Case(
        "coco-deeply-nested",
        lambda c: _verify(
            "coco",
            _write(
                c.copy("coco-mini"),
                "annotations/instances_val2017.json",
                '{"images": ' + _nested(200000) + "}",
            ),
        ),
        says=("instances_val2017.json",),
    ),
    Case(
        "coco-not-utf8",
        lambda c: _verify(
            "coco",
            _write(
                c.copy("coco-mini"), "annotations/instances_val2017.json", b'{"images": "\xff\xfe"}'
            ),
        ),
        says=("instances_val2017.json",),
    ),
    Case(
        "coco-missing-file",
        lambda c: _verify(
            "coco", _unlink(c.copy("coco-mini"), "annotations/instances_val2017.json")
        ),
        says=("instances_val2017.json", "not found"),
    ),
    # image pixels vs the JSON's width/height, at load time in bench run; --lenient skips
    Case(
        "coco-image-size-mismatch-run",
        lambda c: _run_args(c, "demo-detector", "coco", _doubled(c)),
        says=("width/height", "000000", "--lenient"),
    ),
    Case(
        "coco-image-size-mismatch-lenient",
        lambda c: _run_args(c, "demo-detector", "coco", _doubled(c), "--lenient"),
        rc=0,
        warns=("skipped (--lenient)", "width/height"),
    ),
    Case(
        "coco-image-size-mismatch-verify",
        lambda c: ["data", "verify", "coco", "--data-root", str(_doubled(c))],
        rc=1,
    ),
    # --- COCO results (bench eval) ------------------------------------------------------
    Case(
        "results-category-id-strings",
        lambda c: _results(
            c, lambda r: [x.update(category_id=str(x["category_id"])) for x in r] and None
        ),
        says=("results.json", "results[0]", "category_id", "pycocotools"),
    ),
    Case(
        "results-image-id-string",
        lambda c: _results(c, lambda r: r[3].update(image_id=str(r[3]["image_id"]))),
        says=("results[3]", "image_id"),
    ),
    Case(
        "results-score-string",
        lambda c: _results(c, lambda r: r[1].update(score="high")),
        says=("results[1]", "score"),
    ),
    Case(
        "results-score-nan",
        lambda c: _results(c, lambda r: json.dumps(r).replace('"score": 0.9', '"score": NaN', 1)),
        says=("results[0]|results index 0", "'score'"),
        must_not=("'bbox'",),
    ),
    Case(
        "results-bbox-strings",
        lambda c: _results(c, lambda r: r[2].update(bbox=["a", "b", "c", "d"])),
        says=("results[2]", "bbox"),
    ),
    Case(
        "results-bbox-three",
        lambda c: _results(c, lambda r: r[2].update(bbox=[1, 2, 3])),
        says=("results[2]", "bbox"),
    ),
    Case(
        "results-bbox-negative",
        lambda c: _results(c, lambda r: r[2].update(bbox=[1, 2, -3, 4])),
        says=("results[2]|results index 2", "bbox"),
    ),
    Case(
        "results-missing-score",
        lambda c: _results(c, lambda r: r[0].pop("score") and None),
        says=("results[0]", "score"),
    ),
    Case(
        "results-unknown-image",
        lambda c: _results(c, lambda r: r[0].update(image_id=987654321)),
        says=("987654321",),
    ),
    Case(
        "results-not-a-list",
        lambda c: _results(c, lambda r: {"detections": r}),
        says=("results.json",),
    ),
    Case(
        "results-entry-not-object", lambda c: _results(c, lambda r: [5] + r), says=("results[0]",)
    ),
    Case(
        "results-deeply-nested",
        lambda c: _results(c, lambda r: _nested(200000)),
        says=("results.json",),
    ),
    Case("results-empty-list", lambda c: _results(c, lambda r: []), rc=0, warns=("empty results",)),
    Case(
        "results-missing-file",
        lambda c: [
            "eval",
            "--dataset",
            "coco",
            "--data-root",
            str(c.mini["coco-mini"]),
            "--predictions",
            str(c.dir / "nope.json"),
        ],
        says=("nope.json", "not found"),
    ),
    Case(
        "results-segm-rle-overflow",
        lambda c: _segm_results(c, lambda h, w: _rle([h * w * 1000, 5, 3], h, w)),
        says=("results[0]", "add up to"),
    ),
    Case(
        "results-segm-rle-huge-size",
        lambda c: _segm_results(c, lambda h, w: _rle([40000 * 40000], 40000, 40000)),
        says=("results[0]", "[40000, 40000]"),
    ),
    Case(
        "results-segm-rle-truncated",
        lambda c: _segm_results(c, lambda h, w: {"size": [h, w], "counts": "0a"}),
        says=("results[0]",),
    ),
    # --- ImageNet -------------------------------------------------------------------------
    Case(
        "imagenet-devkit-short-ground-truth",
        lambda c: _verify("imagenet", _imagenet_devkit(c, lambda ls: ls[: len(ls) // 2])),
        says=("ILSVRC2012_validation_ground_truth.txt", "ILSVRC2012_val_"),
    ),
    Case(
        "imagenet-devkit-short-ground-truth-run",
        lambda c: _run_args(
            c, "demo-cnn", "imagenet", _imagenet_devkit(c, lambda ls: ls[: len(ls) // 2])
        ),
        says=("ILSVRC2012_validation_ground_truth.txt", "lines"),
    ),
    Case(
        "imagenet-devkit-blank-line",
        lambda c: _verify("imagenet", _imagenet_devkit(c, lambda ls: ls[:3] + [""] + ls[3:])),
        says=("ILSVRC2012_validation_ground_truth.txt", "line 4"),
    ),
    Case(
        "imagenet-devkit-not-integer",
        lambda c: _verify("imagenet", _imagenet_devkit(c, lambda ls: ["tench"] + ls[1:])),
        says=("ILSVRC2012_validation_ground_truth.txt", "line 1", "'tench'"),
    ),
    Case(
        "imagenet-devkit-unknown-id",
        lambda c: _verify("imagenet", _imagenet_devkit(c, lambda ls: ["99999"] + ls[1:])),
        says=("ILSVRC2012_validation_ground_truth.txt", "99999"),
    ),
    Case(
        "imagenet-devkit-meta-corrupt",
        lambda c: _verify(
            "imagenet",
            _write(_imagenet_devkit(c), "ILSVRC2012_devkit_t12/data/meta.mat", b"garbage"),
        ),
        says=("meta.mat",),
    ),
    Case(
        "imagenet-kaggle-short-solution",
        lambda c: _verify("imagenet", _imagenet_kaggle(c, lambda ls: ls[: len(ls) // 2])),
        says=("LOC_val_solution.csv", "no row"),
    ),
    Case(
        "imagenet-kaggle-bad-wnid",
        lambda c: _verify(
            "imagenet",
            _imagenet_kaggle(
                c, lambda ls: [ls[0], "ILSVRC2012_val_00000002,n99999999 1 2 3 4"] + ls[2:]
            ),
        ),
        says=("LOC_val_solution.csv",),
    ),
    Case(
        "imagenet-image-empty-file",
        _imagenet_image_case(lambda p: p.write_bytes(b"")),
        says=("JPEG",),
        must_not=(".cpp", "/__w/"),
    ),
    Case(
        "imagenet-image-garbage",
        _imagenet_image_case(lambda p: p.write_bytes(b"not an image at all")),
        says=("JPEG",),
        must_not=(".cpp", "/__w/"),
    ),
    Case(
        "imagenet-eval-csv-bad-label",
        lambda c: _imagenet_csv(c, lambda rows: rows[1].__setitem__(1, "dog")),
        says=("top5.csv",),
    ),
    Case(
        "imagenet-eval-csv-unknown-sample",
        lambda c: _imagenet_csv(c, lambda rows: rows[1].__setitem__(0, "ILSVRC2012_val_99999999")),
        says=("top5.csv",),
    ),
    # --- Cityscapes -------------------------------------------------------------------
    Case(
        "cityscapes-pred-wrong-size",
        lambda c: _cityscapes_preds(c, lambda ps: _png(ps[0], np.zeros((7, 9), np.uint8))),
        says=("frankfurt_000000_000019",),
    ),
    Case(
        "cityscapes-pred-missing-frame",
        lambda c: _cityscapes_preds(c, lambda ps: ps[0].unlink()),
        says=("frankfurt_000000_000019",),
    ),
    Case(
        "cityscapes-pred-corrupt-png",
        lambda c: _cityscapes_preds(c, lambda ps: ps[0].write_bytes(b"\x89PNG garbage")),
        says=("frankfurt_000000_000019",),
    ),
    Case(
        "cityscapes-pred-rgb",
        lambda c: _cityscapes_preds(
            c, lambda ps: _png(ps[0], np.zeros((*_png_shape(ps[0]), 3), np.uint8))
        ),
        says=("frankfurt_000000_000019",),
    ),
    Case(
        "cityscapes-pred-not-folder",
        lambda c: [
            "eval",
            "--dataset",
            "cityscapes",
            "--data-root",
            str(c.mini["cityscapes-mini"]),
            "--predictions",
            str(_a_file(c)),
        ],
        says=("a-file", "folder"),
    ),
    Case("cityscapes-gt-corrupt", lambda c: _cityscapes_gt_corrupt(c), rc=1),
    # --- Visual Genome ----------------------------------------------------------------
    Case(
        "vg-objects-shorter",
        _vg_case("objects.json", lambda d: d[: len(d) // 2]),
        says=("objects.json", "image_data.json", "image_id"),
    ),
    Case(
        "vg-relationships-shorter",
        _vg_case("relationships.json", lambda d: d[:-1]),
        says=("relationships.json", "image_id"),
    ),
    Case(
        "vg-objects-not-json",
        lambda c: _verify("vg", _write(c.copy("vg-mini"), "objects.json", "[{")),
        says=("objects.json",),
    ),
    Case("vg150-h5-corrupt", lambda c: _verify("vg150", _vg150_garbage(c)), says=("VG-SGG",)),
    # --- weights ------------------------------------------------------------------------
    Case(
        "weights-pickled-code",
        _weights_case("demo-cnn", _torch_save_evil),
        says=("weights.pt", "pickled", "posix.system"),
        must_not=("truncated",),
    ),
    Case(
        "weights-plain-pickle",
        _weights_case("demo-cnn", _plain_pickle),
        says=("weights.pt", "plain pickle"),
        must_not=("truncated",),
    ),
    Case("weights-truncated", _weights_case("demo-cnn", _truncated_weights), says=("weights.pt",)),
    Case(
        "weights-missing",
        lambda c: _run_args(
            c, "demo-cnn", "imagenet-mini", None, "--weights", str(c.dir / "nope.pt")
        ),
        says=("nope.pt",),
    ),
    Case(
        "weights-pickled-code-profile",
        _weights_case("demo-cnn", _torch_save_evil, cmd="profile"),
        says=("weights.pt", "pickled"),
    ),
    # --- captions -------------------------------------------------------------------------
    Case(
        "captions-results-not-list",
        lambda c: _captions_eval(c, lambda r: {"a": r}),
        says=("captions.json",),
    ),
    Case(
        "captions-results-caption-number",
        lambda c: _captions_eval(c, lambda r: r[0].update(caption=5)),
        says=("captions.json",),
    ),
]

if _no_gpu():
    CASES += [
        Case(
            "device-cuda-without-gpu",
            lambda c: _run_args(c, "demo-cnn", "imagenet-mini", None, "--device", "cuda"),
            says=("--device cuda", "no CUDA GPU"),
        ),
        Case(
            "device-cuda-without-gpu-profile",
            lambda c: ["profile", "--device", "cuda"],
            says=("--device cuda",),
        ),
    ]


def _write(root: Path, rel: str, content: str | bytes) -> Path:
    p = root / rel
    if p.is_symlink():
        p.unlink()
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def _unlink(root: Path, rel: str) -> Path:
    (root / rel).unlink()
    return root


def _doubled(c: Ctx) -> Path:
    """coco-mini whose first image's JSON width/height are twice its pixels."""
    root = c.copy("coco-mini")

    def m(d: dict) -> None:
        im = min(d["images"], key=lambda im: im["id"])
        im["width"] *= 2
        im["height"] *= 2

    _edit_json(_coco_json(root), m)
    return root


def _png_shape(p: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(p) as im:
        return im.size[1], im.size[0]


def _cityscapes_gt_corrupt(c: Ctx) -> list[str]:
    root = c.copy("cityscapes-mini", link_images=False)
    victim = sorted((root / "gtFine" / "val").glob("*/*_gtFine_labelIds.png"))[0]
    victim.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return ["data", "verify", "cityscapes", "--data-root", str(root)]


def _imagenet_csv(c: Ctx, damage: Callable[[list[list[str]]], None]) -> list[str]:
    sol = (c.mini["imagenet-mini"] / "LOC_val_solution.csv").read_text().splitlines()[1:]
    rows = [["sample_id", "top1", "top2", "top3", "top4", "top5"]]
    for line in sol:
        sid = line.split(",")[0]
        rows.append([sid, "0", "1", "2", "3", "4"])
    damage(rows)
    p = c.dir / "top5.csv"
    with open(p, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return [
        "eval",
        "--dataset",
        "imagenet-mini",
        "--predictions",
        str(p),
        "--results",
        str(c.dir / "res"),
    ]


def _captions_eval(c: Ctx, damage: Callable[[list], object | None]) -> list[str]:
    root = c.mini["coco-mini"]
    gt = json.loads((root / "annotations" / "captions_val2017.json").read_text())
    res = [{"image_id": im["id"], "caption": "a thing on a table"} for im in gt["images"]]
    out = damage(res)
    p = c.dir / "captions.json"
    p.write_text(json.dumps(res if out is None else out))
    return ["eval", "--dataset", "coco-captions", "--data-root", str(root), "--predictions",
            str(p), "--results", str(c.dir / "res")]  # fmt: skip


def _vg150_garbage(c: Ctx) -> Path:
    root = c.dir / "vg150"
    root.mkdir()
    (root / "VG-SGG-with-attri.h5").write_bytes(b"this is not HDF5")
    (root / "VG-SGG-dicts-with-attri.json").write_text(
        json.dumps(
            {"label_to_idx": {}, "predicate_to_idx": {}, "idx_to_label": {}, "idx_to_predicate": {}}
        )
    )
    shutil.copy(c.mini["vg-mini"] / "image_data.json", root / "image_data.json")
    return root


# ---------------------------------------------------------------------------------------
# running


@dataclass
class Outcome:
    args: list[str]
    rc: int
    stdout: str
    stderr: str
    wall_s: float


@pytest.fixture(scope="session")
def mini_datasets(tmp_path_factory) -> dict[str, Path]:
    """The mini datasets, generated once into the cases' VISIONBENCH_HOME (where the
    built-in names find them); cases read them and damage copies."""
    from visionbench import synth

    home = tmp_path_factory.mktemp("home")
    old = os.environ.get("VISIONBENCH_HOME")
    os.environ["VISIONBENCH_HOME"] = str(home)
    try:
        out = {
            n: synth.ensure(n) for n in ("coco-mini", "imagenet-mini", "cityscapes-mini", "vg-mini")
        }
    finally:
        os.environ["VISIONBENCH_HOME"] = old if old is not None else ""
        if old is None:
            del os.environ["VISIONBENCH_HOME"]
    out["home"] = home
    return out


@pytest.fixture(scope="session")
def outcomes(request, mini_datasets, tmp_path_factory) -> dict[str, Outcome]:
    selected = {
        item.callspec.params["case"].id
        for item in request.session.items
        if item.originalname == "test_malformed_input" and hasattr(item, "callspec")
    }
    home = mini_datasets["home"]
    base = tmp_path_factory.mktemp("cases")
    env = dict(os.environ, VISIONBENCH_HOME=str(home), COLUMNS="250", PYTHONWARNINGS="")
    env.pop("VISIONBENCH_DEBUG", None)
    jobs: list[tuple[str, list[str], dict[str, str]]] = []
    for case in CASES:
        if case.id not in selected:
            continue
        d = base / case.id
        d.mkdir()
        args = case.setup(Ctx(mini_datasets, d))
        jobs.append((case.id, args, dict(env, **case.env)))

    def run(job: tuple[str, list[str], dict[str, str]]) -> tuple[str, Outcome]:
        cid, args, e = job
        t0 = time.perf_counter()
        try:
            p = subprocess.run(
                _bench_cmd() + args, capture_output=True, text=True, env=e, timeout=TIME_BOUND_S * 2
            )
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as ex:
            rc, out, err = -999, str(ex.stdout or ""), f"TIMEOUT {ex}"
        return cid, Outcome(args, rc, out, err, time.perf_counter() - t0)

    with ThreadPoolExecutor(WORKERS) as pool:
        done = dict(pool.map(run, jobs))
    dump = os.environ.get("VISIONBENCH_MALFORMED_TIMES")
    if dump:  # for tuning the suite: each case's wall time and exit code
        rows = {k: {"wall_s": round(o.wall_s, 2), "rc": o.rc} for k, o in done.items()}
        Path(dump).write_text(json.dumps(rows, indent=1))
    return done


def test_table_is_large_and_covers_every_command():
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_input(case: Case, outcomes: dict[str, Outcome]) -> None:
    o = outcomes[case.id]
    where = f"bench {' '.join(o.args)}\nrc={o.rc}\nstderr:\n{o.stderr}\nstdout:\n{o.stdout[-2000:]}"
    assert o.wall_s < TIME_BOUND_S, f"took {o.wall_s:.1f} s\n{where}"
    assert o.rc == case.rc, where
    for bad in ("Traceback", "MarkupError", "internal error", *case.must_not):
        assert bad not in o.stderr, f"{bad!r} in stderr\n{where}"
    lines = [ln for ln in o.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if not ln.startswith("warning:")]
    if case.rc == 2:
        assert len(errors) == 1 and errors[0].startswith("error: "), f"not one error line\n{where}"
    else:
        assert not [ln for ln in errors if ln.startswith("error")], where
    for s in case.says:  # "a|b": either
        assert any(alt in o.stderr for alt in s.split("|")), f"{s!r} not in the message\n{where}"
    for s in case.warns:
        assert any(s in ln for ln in lines if ln.startswith("warning:")) or s in o.stdout, (
            f"no warning naming {s!r}\n{where}"
        )
