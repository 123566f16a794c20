"""VG-150 (Xu et al. 2017): the scene-graph split of Visual Genome used by SGG papers.

Files in ``root`` (Scene-Graph-Benchmark's ``datasets/vg/`` layout):
``VG-SGG-with-attri.h5``, ``VG-SGG-dicts-with-attri.json``, ``image_data.json`` and the
images in ``VG_100K/<image_id>.jpg``.

The h5 (REFERENCE.md §5) has one row per image of ``image_data.json`` *minus* the four
broken images 1592, 1722, 4616 and 4617 (108,073 rows): the h5 was built without them, so
the loader drops them from ``image_data.json`` and then aligns row i with image i,
refusing a length mismatch. Per image: ``img_to_first_box``/``img_to_last_box`` (inclusive,
-1 = none) into ``labels`` [N_box, 1] (1..150), ``boxes_1024`` [N_box, 4] **cx, cy, w, h**
with the image's longest side scaled to 1024, ``attributes`` [N_box, 10] (0 = none);
``img_to_first_rel``/``img_to_last_rel`` into ``relationships`` [N_rel, 2] (global box
indices) and ``predicates`` [N_rel, 1] (1..50); ``split`` 0 = train, 2 = test.

Standard filtering (Scene-Graph-Benchmark ``VGDataset``/``load_graphs``): a split takes
the rows with ``split == 0`` (train, val) or ``2`` (test) that have at least one box and
(``filter_empty_rels``, default) at least one relationship; ``val`` is the first
``num_val_im = 5000`` of those train rows, ``train`` the rest. Test ground truth is not
de-duplicated; ``filter_duplicate_rels`` (train only) keeps one predicate per
(subject, object) pair, chosen with a seeded generator. ``filter_non_overlap`` (a train-time
SGDet option) is not applied.

Boxes: ``xyxy = (cx - w/2, cy - h/2, cx + w/2, cy + h/2) * max(W, H) / 1024`` with W, H
from ``image_data.json`` (pixels of the original image), as Scene-Graph-Benchmark does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import AnnotationError, DatasetNotFoundError
from visionbench.label_spaces import get_label_space
from visionbench.tasks import GroundTruth
from visionbench.types import ImageRef, Sample, SceneGraphTarget, Task

__all__ = ["VG150", "vg150", "write_vg150_h5", "VG150_SKIPPED_IMAGE_IDS", "BOX_SCALE"]

#: Images absent from the h5 (broken image files in the VG release).
VG150_SKIPPED_IMAGE_IDS: tuple[int, ...] = (1592, 1722, 4616, 4617)
#: The box scale of ``boxes_1024``.
BOX_SCALE = 1024
_SPLITS = {"train": 0, "val": 0, "test": 2}
_PUBLISHED = "https://github.com/KaihuaTang/Scene-Graph-Benchmark.pytorch/blob/master/DATASET.md"


class VG150:
    """The VG-150 scene-graph split (task ``scene_graph``, label space ``vg150``).

    Args:
        root: directory with the h5, the dicts JSON, ``image_data.json`` and ``VG_100K/``.
        split: ``"train"``, ``"val"`` or ``"test"``.
        num_val_im: val size, taken from the head of the train rows.
        filter_empty_rels: drop images without relationships (all splits, as standard).
        filter_duplicate_rels: train only; one predicate per pair, drawn with ``seed``.
        h5_file, dict_file, image_file: file names inside ``root``.
        image_dir: images folder, default ``root/VG_100K``.
    """

    task = Task.SCENE_GRAPH

    def __init__(
        self,
        root: str | Path,
        split: str = "test",
        *,
        name: str = "vg150",
        num_val_im: int = 5000,
        filter_empty_rels: bool = True,
        filter_duplicate_rels: bool = False,
        seed: int = 0,
        h5_file: str = "VG-SGG-with-attri.h5",
        dict_file: str = "VG-SGG-dicts-with-attri.json",
        image_file: str = "image_data.json",
        image_dir: str | Path | None = None,
    ) -> None:
        if split not in _SPLITS:
            raise DatasetNotFoundError(
                f"{name}: unknown split {split!r}; VG-150 splits: train, val, test"
            )
        if filter_duplicate_rels and split != "train":
            raise ValueError(
                "filter_duplicate_rels applies to the train split only (test gt is not de-duplicated)"
            )
        self.root, self.split, self.name = str(root), split, name
        self.label_space = get_label_space("vg150")
        self.predicate_space = get_label_space("vg150_predicates")
        root = Path(root)
        paths = {
            k: root / f for k, f in (("h5", h5_file), ("dicts", dict_file), ("images", image_file))
        }
        for p in paths.values():
            if not p.is_file():
                raise DatasetNotFoundError(
                    f"VG-150 not found: {p} is missing. Expected {root}/{h5_file}, {root}/{dict_file}, "
                    f"{root}/{image_file} and {root}/VG_100K/<image_id>.jpg; the files are published at "
                    f"{_PUBLISHED} and https://homes.cs.washington.edu/~ranjay/visualgenome/ (fetch by hand)"
                )
        self._h5_path = str(paths["h5"])
        _check_dicts(paths["dicts"], self.label_space.names, self.predicate_space.names)
        h5 = _read_h5(paths["h5"])
        images = _aligned_images(paths["images"], len(h5["split"]), self._h5_path)
        rows = _split_rows(h5, split, num_val_im, filter_empty_rels)
        self._h5, self._rows = h5, rows
        self._image_ids = images["image_id"][rows]
        self._wh = np.stack([images["width"][rows], images["height"][rows]], 1)
        self._image_dir = Path(image_dir) if image_dir is not None else root / "VG_100K"
        self._dedup_rng = np.random.default_rng(seed) if filter_duplicate_rels else None

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i: int) -> Sample:
        image_id = int(self._image_ids[i])
        w, h = (int(v) for v in self._wh[i])
        ref = ImageRef(path=str(self._image_dir / f"{image_id}.jpg"), width=w, height=h)
        return Sample(image_id, ref, self._target(i), meta={"h5_row": int(self._rows[i])})

    def ground_truth(self) -> GroundTruth:
        return GroundTruth(
            self.task,
            self.label_space,
            [int(i) for i in self._image_ids],
            [self._target(i) for i in range(len(self))],
            files={"h5": self._h5_path},
        )

    def _target(self, i: int) -> SceneGraphTarget:
        h5, row = self._h5, int(self._rows[i])
        image_id = int(self._image_ids[i])
        b0, b1 = int(h5["img_to_first_box"][row]), int(h5["img_to_last_box"][row])
        cxcywh = h5["boxes_1024"][b0 : b1 + 1].astype(np.float64)
        boxes = cxcywh_to_xyxy(cxcywh) * (float(self._wh[i].max()) / BOX_SCALE)
        labels = h5["labels"][b0 : b1 + 1, 0].astype(np.int64)
        r0, r1 = int(h5["img_to_first_rel"][row]), int(h5["img_to_last_rel"][row])
        if r0 >= 0:
            pairs = h5["relationships"][r0 : r1 + 1].astype(np.int64) - b0
            if pairs.size and (pairs.min() < 0 or pairs.max() > b1 - b0):
                raise AnnotationError(
                    f"relationships point outside the image's boxes {b0}..{b1}",
                    path=self._h5_path,
                    field="relationships",
                    id=image_id,
                )
            rels = np.column_stack([pairs, h5["predicates"][r0 : r1 + 1, 0].astype(np.int64)])
        else:
            rels = np.zeros((0, 3), np.int64)
        if self._dedup_rng is not None and len(rels):
            rels = _dedup(rels, self._dedup_rng)
        attrs = h5["attributes"][b0 : b1 + 1].astype(np.int64) if "attributes" in h5 else None
        return SceneGraphTarget(boxes, labels, rels, attributes=attrs, sample_id=image_id)


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """[N, 4] (cx, cy, w, h) -> [N, 4] (cx - w/2, cy - h/2, cx + w/2, cy + h/2)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    half = b[:, 2:] / 2
    return np.concatenate([b[:, :2] - half, b[:, :2] + half], 1)


def vg150(root: str | Path | None = None, split: str = "test", **options: Any) -> VG150:
    """Catalog factory: ``--data-root`` or ``$VISIONBENCH_DATA/vg150``."""
    from visionbench.loaders.roots import find_root

    return VG150(find_root("vg150", root), split, **options)


def write_vg150_h5(
    path: str | Path, images: Sequence[Mapping[str, Any]], *, num_attributes: int = 10
) -> Path:
    """Write a small ``VG-SGG-with-attri.h5`` in the released file's layout (for tests).

    Args:
        path: output file.
        images: one mapping per h5 row with ``boxes_1024`` [N, 4] (cx, cy, w, h at scale
            1024), ``labels`` [N] (1..150), ``relations`` [R, 3] (subject, object: indices
            into this image's boxes; predicate 1..50), ``split`` (0 train, 2 test) and
            optionally ``attributes`` [N, <= num_attributes] (0-padded).
        num_attributes: width of the ``attributes`` dataset.

    Datasets and dtypes: ``labels`` [N_box, 1] int64, ``boxes_1024`` and ``boxes_512``
    [N_box, 4] int32 (``boxes_512 = round(boxes_1024 / 2)``), ``attributes`` [N_box, A]
    int64, ``active_object_mask`` [N_box, 1] bool, ``img_to_first_box``,
    ``img_to_last_box``, ``img_to_first_rel``, ``img_to_last_rel`` [N_img] int32
    (inclusive, -1 when none), ``relationships`` [N_rel, 2] int32 (global box indices),
    ``predicates`` [N_rel, 1] int64, ``split`` [N_img] int32.
    """
    import h5py

    labels, boxes, attrs, rels, preds, split = [], [], [], [], [], []
    first_box, last_box, first_rel, last_rel = [], [], [], []
    n_box = n_rel = 0
    for img in images:
        b = np.asarray(img.get("boxes_1024", np.zeros((0, 4))), np.int64).reshape(-1, 4)
        lab = np.asarray(img.get("labels", []), np.int64).reshape(-1)
        r = np.asarray(img.get("relations", np.zeros((0, 3))), np.int64).reshape(-1, 3)
        a = np.zeros((len(b), num_attributes), np.int64)
        if img.get("attributes") is not None:
            for k, row in enumerate(img["attributes"]):
                a[k, : len(row)] = row
        if len(lab) != len(b):
            raise ValueError(f"image {len(split)}: {len(b)} boxes but {len(lab)} labels")
        first_box.append(n_box if len(b) else -1)
        last_box.append(n_box + len(b) - 1 if len(b) else -1)
        first_rel.append(n_rel if len(r) else -1)
        last_rel.append(n_rel + len(r) - 1 if len(r) else -1)
        labels.append(lab)
        boxes.append(b)
        attrs.append(a)
        rels.append(r[:, :2] + n_box)
        preds.append(r[:, 2])
        split.append(int(img.get("split", 0)))
        n_box += len(b)
        n_rel += len(r)
    boxes_1024 = np.concatenate(boxes).reshape(-1, 4) if boxes else np.zeros((0, 4))
    path = Path(path)
    with h5py.File(path, "w") as f:
        f.create_dataset(
            "labels", data=np.concatenate(labels or [np.zeros(0)]).astype(np.int64)[:, None]
        )
        f.create_dataset("boxes_1024", data=boxes_1024.astype(np.int32))
        f.create_dataset("boxes_512", data=np.round(boxes_1024 / 2).astype(np.int32))
        f.create_dataset(
            "attributes", data=np.concatenate(attrs).reshape(-1, num_attributes).astype(np.int64)
        )
        f.create_dataset("active_object_mask", data=np.ones((n_box, 1), bool))
        for key, vals in (
            ("img_to_first_box", first_box),
            ("img_to_last_box", last_box),
            ("img_to_first_rel", first_rel),
            ("img_to_last_rel", last_rel),
            ("split", split),
        ):
            f.create_dataset(key, data=np.asarray(vals, np.int32))
        f.create_dataset(
            "relationships",
            data=np.concatenate(rels or [np.zeros((0, 2))]).reshape(-1, 2).astype(np.int32),
        )
        f.create_dataset(
            "predicates", data=np.concatenate(preds or [np.zeros(0)]).astype(np.int64)[:, None]
        )
    return path


# ---------------------------------------------------------------------------------------
# Helpers

_REQUIRED = (
    "labels",
    "boxes_1024",
    "img_to_first_box",
    "img_to_last_box",
    "relationships",
    "predicates",
    "img_to_first_rel",
    "img_to_last_rel",
    "split",
)


def _read_h5(path: Path) -> dict[str, np.ndarray]:
    import h5py

    with h5py.File(path, "r") as f:
        missing = [k for k in _REQUIRED if k not in f]
        if missing:
            raise AnnotationError(
                f"missing datasets {missing}; present: {sorted(f.keys())}", path=str(path)
            )
        out = {k: f[k][()] for k in (*_REQUIRED, "attributes") if k in f}
    n_img = len(out["split"])
    for k in ("img_to_first_box", "img_to_last_box", "img_to_first_rel", "img_to_last_rel"):
        if len(out[k]) != n_img:
            raise AnnotationError(
                f"has {len(out[k])} rows, `split` has {n_img}", path=str(path), field=k
            )
    if out["boxes_1024"].ndim != 2 or out["boxes_1024"].shape[1] != 4:
        raise AnnotationError(
            f"expected [N, 4], got {list(out['boxes_1024'].shape)}",
            path=str(path),
            field="boxes_1024",
        )
    _check_h5_cross_lengths(out, path)
    if (out["boxes_1024"][:, 2:] <= 0).any():
        bad = int(np.argmax((out["boxes_1024"][:, 2:] <= 0).any(1)))
        raise AnnotationError(
            f"box {bad} has w or h <= 0: {out['boxes_1024'][bad].tolist()}",
            path=str(path),
            field="boxes_1024",
            id=f"box {bad}",
        )
    return out


def _check_h5_cross_lengths(out: dict[str, np.ndarray], path: Path) -> None:
    """Per-box and per-relation datasets of one length; every image's first/last index
    within them (-1 for none) and first <= last; labels in 1..150, predicates in 1..50."""
    n_box, n_rel = len(out["boxes_1024"]), len(out["relationships"])
    for k, n, of in (("labels", n_box, "boxes_1024"), ("attributes", n_box, "boxes_1024"),
                     ("predicates", n_rel, "relationships")):  # fmt: skip
        if k in out and len(out[k]) != n:
            raise AnnotationError(
                f"has {len(out[k])} rows, `{of}` has {n}", path=str(path), field=k
            )
    for first, last, n in (
        ("img_to_first_box", "img_to_last_box", n_box),
        ("img_to_first_rel", "img_to_last_rel", n_rel),
    ):
        a, b = out[first].astype(np.int64).reshape(-1), out[last].astype(np.int64).reshape(-1)
        bad = (a < -1) | (a >= n) | (b < -1) | (b >= n) | (b < a) | ((a == -1) != (b == -1))
        if bad.any():
            i = int(np.argmax(bad))
            raise AnnotationError(
                f"image row {i}: [{int(a[i])}, {int(b[i])}] is not a range of the {n} rows "
                f"(expected -1 for none, or 0 <= first <= last < {n})",
                path=str(path), field=f"{first}/{last}", id=f"row {i}",
            )  # fmt: skip
    for k, hi in (("labels", 150), ("predicates", 50)):
        v = np.asarray(out[k]).reshape(-1)
        if v.size and (v.min() < 1 or v.max() > hi):
            i = int(np.argmax((v < 1) | (v > hi)))
            raise AnnotationError(
                f"row {i}: {int(v[i])} is not a VG-150 id (expected 1..{hi})",
                path=str(path), field=k, id=f"row {i}",
            )  # fmt: skip


def _check_dicts(path: Path, objects: Sequence[str], predicates: Sequence[str]) -> None:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        got_o = [d["idx_to_label"][str(i + 1)] for i in range(len(d["idx_to_label"]))]
        got_p = [d["idx_to_predicate"][str(i + 1)] for i in range(len(d["idx_to_predicate"]))]
    except (ValueError, KeyError) as e:
        raise AnnotationError(f"not a VG-SGG dicts file: {e!r}", path=str(path)) from None
    for field, got, want in (
        ("idx_to_label", got_o, objects),
        ("idx_to_predicate", got_p, predicates),
    ):
        if tuple(got) != tuple(want):
            diff = next(
                (i + 1 for i, (a, b) in enumerate(zip(got, want)) if a != b),
                min(len(got), len(want)) + 1,
            )
            raise AnnotationError(
                f"vocabulary differs from the VG-150 label space at index {diff} "
                f"({len(got)} names, expected {len(want)})",
                path=str(path),
                field=field,
            )


def _aligned_images(path: Path, n_rows: int, h5_path: str) -> dict[str, np.ndarray]:
    import orjson

    data = orjson.loads(path.read_bytes())
    try:
        ids = np.array([e.get("image_id", e.get("id")) for e in data], np.int64)
        w = np.array([e["width"] for e in data], np.int64)
        h = np.array([e["height"] for e in data], np.int64)
    except (KeyError, TypeError, AttributeError) as e:
        raise AnnotationError(
            f"every image needs image_id, width and height: {e!r}", path=str(path)
        ) from None
    keep = ~np.isin(ids, VG150_SKIPPED_IMAGE_IDS)
    if int(keep.sum()) != n_rows:
        raise AnnotationError(
            f"{int(keep.sum())} images after dropping {list(VG150_SKIPPED_IMAGE_IDS)}, but the h5 "
            f"{h5_path} has {n_rows} rows: they must be the same images in the same order",
            path=str(path),
            field="image_id",
        )
    return {"image_id": ids[keep], "width": w[keep], "height": h[keep]}


def _split_rows(
    h5: dict[str, np.ndarray], split: str, num_val_im: int, filter_empty_rels: bool
) -> np.ndarray:
    mask = (h5["split"] == _SPLITS[split]) & (h5["img_to_first_box"] >= 0)
    if filter_empty_rels:
        mask &= h5["img_to_first_rel"] >= 0
    rows = np.flatnonzero(mask)
    if num_val_im > 0 and split == "val":
        rows = rows[:num_val_im]
    elif num_val_im > 0 and split == "train":
        rows = rows[num_val_im:]
    return rows


def _dedup(rels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One predicate per (subject, object) pair, drawn uniformly among its duplicates."""
    groups: dict[tuple[int, int], list[int]] = {}
    for s, o, p in rels.tolist():
        groups.setdefault((s, o), []).append(p)
    return np.array(
        [(s, o, int(rng.choice(ps))) for (s, o), ps in groups.items()], np.int64
    ).reshape(-1, 3)
