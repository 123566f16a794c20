"""Columnar COCO annotations: ground truth and detections as arrays, and their loaders.

``load_ground_truth`` reads a COCO ground-truth file (path, bytes or dict);
``load_results`` reads a results file or list with the behaviour of pycocotools'
``COCO.loadRes`` (bbox results get ``area = w * h``; segm results that carry ``bbox`` take
the bbox branch; keypoint results get the keypoints' bounding box). Every check names the
file, the field, the annotation id (or the index in the results list) and what arrived.
"""

from __future__ import annotations

import contextlib
import gc
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from visionbench.metrics.detection.coco_segm_checks import (
    check_annotation_columns,
    check_box,
    check_result_fields,
    check_segmentation,
    check_segmentations,
)
from visionbench.metrics.errors import MetricInputError

__all__ = [
    "AnnTable",
    "GroundTruthTable",
    "RleColumn",
    "load_ground_truth",
    "load_results",
    "read_json",
]


@dataclass
class AnnTable:
    """Annotations (ground truth) or detections (results), one row each.

    Attributes:
        image_id: [N] int64. category_id: [N] int64.
        bbox: [N, 4] float64, xywh, pixels. area: [N] float64, pixels².
        iscrowd: [N] bool (False for detections). ann_id: [N] int64 (results: index + 1).
        score: [N] float64 (detections only; None for ground truth).
        segm: N segmentations (polygon lists or RLE dicts, or a :class:`RleColumn`) or None.
        keypoints: [N, 3k] float64 or None. num_keypoints: [N] int64 or None.
    """

    image_id: np.ndarray
    category_id: np.ndarray
    bbox: np.ndarray
    area: np.ndarray
    iscrowd: np.ndarray
    ann_id: np.ndarray
    score: np.ndarray | None = None
    segm: list[Any] | None = None
    keypoints: np.ndarray | None = None
    num_keypoints: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.image_id)

    @staticmethod
    def concat(tables: list[AnnTable]) -> AnnTable:
        """Rows of all ``tables``, in order (optional fields kept when every table has them)."""
        if len(tables) == 1:
            return tables[0]

        def cat(name: str) -> Any:
            xs = [getattr(t, name) for t in tables]
            if any(x is None for x in xs):
                return None
            if any(isinstance(x, RleColumn) for x in xs):
                return RleColumn.concat(xs)
            if isinstance(xs[0], list):
                return [v for x in xs for v in x]
            if xs[0].ndim == 2:
                width = max(x.shape[1] for x in xs)
                xs = [x if len(x) else np.zeros((0, width), x.dtype) for x in xs]
            return np.concatenate(xs)

        return AnnTable(*(cat(f) for f in AnnTable.__dataclass_fields__))

    def take(self, idx: np.ndarray) -> AnnTable:
        """Rows ``idx`` as a new table."""

        def t(x: Any) -> Any:
            if x is None:
                return None
            if isinstance(x, list):
                return [x[i] for i in idx]
            if isinstance(x, RleColumn):
                return x.take(idx)
            return x[idx]

        return AnnTable(
            t(self.image_id), t(self.category_id), t(self.bbox), t(self.area), t(self.iscrowd),
            t(self.ann_id), t(self.score), t(self.segm), t(self.keypoints), t(self.num_keypoints),
        )  # fmt: skip


class RleColumn:
    """Compressed-RLE masks left in the bytes of the JSON file they came from.

    What the columnar reader gives for ``segmentation`` RLE dicts: no Python object per
    mask; the C kernels decode each counts string when they need it. Indexing with an int
    gives the pycocotools RLE dict (``{"size": [h, w], "counts": bytes}``); with an index
    array (or :meth:`take`), a view of those rows.

    Attributes:
        buf: [B] uint8, the file's bytes. spans: [N, 2] int64, mask j's counts string is
            ``buf[spans[j, 0]:spans[j, 1]]`` as written in JSON (``\\\\`` for a
            backslash; validated by the reader). all_sizes: [N, 2] int64 (height, width).
        index: [n] int64: row i of this column is mask ``index[i]``.
        boxes: [N, 4] float64, each mask's ``pycocotools.mask.toBbox`` (the reader's, so
            that the IoU kernel decodes only masks whose box meets a gt's), or None.
    """

    def __init__(
        self,
        buf: np.ndarray,
        spans: np.ndarray,
        sizes: np.ndarray,
        index: np.ndarray | None = None,
        boxes: np.ndarray | None = None,
    ) -> None:
        self.buf, self.spans = buf, spans.reshape(-1, 2)
        self.all_sizes = sizes.reshape(-1, 2)
        self.boxes = None if boxes is None else boxes.reshape(-1, 4)
        self.index = np.arange(len(self.spans), dtype=np.int64) if index is None else index

    @property
    def sizes(self) -> np.ndarray:
        """[n, 2] (height, width) of the rows."""
        return self.all_sizes[self.index]

    def __len__(self) -> int:
        return len(self.index)

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self)))

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, (int, np.integer)):
            j = int(self.index[i])
            s, e = (int(v) for v in self.spans[j])
            counts = bytes(self.buf[s:e]).replace(b"\\\\", b"\\")
            return {"size": [int(v) for v in self.all_sizes[j]], "counts": counts}
        return self.take(np.asarray(i, dtype=np.int64))

    def take(self, idx: np.ndarray) -> RleColumn:
        """Rows ``idx`` (a view: the bytes are shared)."""
        return RleColumn(self.buf, self.spans, self.all_sizes, self.index[idx], self.boxes)

    @staticmethod
    def concat(cols: list[Any]) -> Any:
        """The rows of all columns (of one file: a column; else a list of RLE dicts)."""
        if all(isinstance(c, RleColumn) and c.buf is cols[0].buf for c in cols):
            return RleColumn(
                cols[0].buf,
                cols[0].spans,
                cols[0].all_sizes,
                np.concatenate([c.index for c in cols]),
                cols[0].boxes,
            )
        return [r for c in cols for r in c]


@dataclass
class GroundTruthTable:
    """A COCO ground-truth file as arrays.

    Attributes:
        image_ids: [I] int64 ids of the listed images (file order). heights, widths: [I].
        cat_ids: [K] int64 ids of the listed categories (file order). cat_names: [K].
        anns: the annotations.
        source: file name or "<dict>", for messages.
    """

    image_ids: np.ndarray
    heights: np.ndarray
    widths: np.ndarray
    cat_ids: np.ndarray
    cat_names: list[str]
    anns: AnnTable
    source: str = "<dict>"
    image_index: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.image_index = {int(i): n for n, i in enumerate(self.image_ids.tolist())}

    def image_size(self, image_id: int) -> tuple[int, int]:
        """(height, width) of an image, pixels."""
        n = self.image_index[int(image_id)]
        return int(self.heights[n]), int(self.widths[n])


def unique_ints(a: Any) -> np.ndarray:
    """``np.unique`` of integer ids (1-D, sorted) without numpy's first-use import of
    ``numpy.ma`` (``np.unique`` asks whether its input is a masked array: ~20 ms of CPU,
    a tenth of a whole segm evaluation)."""
    s = np.sort(np.asarray(a).reshape(-1))
    return s[np.concatenate(([True], s[1:] != s[:-1]))] if len(s) else s


def member_of(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """``np.isin(values, pool)`` for integer ids by binary search (millions of detection
    ids against thousands of image ids: no hash table of the detections)."""
    pool = unique_ints(pool)
    if len(pool) == 0:
        return np.zeros(len(values), dtype=bool)
    pos = np.searchsorted(pool, values)
    np.minimum(pos, len(pool) - 1, out=pos)
    return pool[pos] == values


def read_json(obj: Any) -> tuple[Any, str]:
    """Parse ``obj`` (path, bytes, or an already-parsed object) -> (object, source name)."""
    if isinstance(obj, (str, os.PathLike)):
        path = os.fspath(obj)
        try:
            with open(path, "rb") as f:
                return _loads(f.read(), path), path
        except FileNotFoundError:
            raise MetricInputError(f"{path}: file not found") from None
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return _loads(bytes(obj), "<bytes>"), "<bytes>"
    return obj, "<dict>" if isinstance(obj, dict) else "<list>"


def _loads(raw: bytes, src: str) -> Any:
    import orjson

    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        import json

        try:  # Python's json (what pycocotools uses) also reads NaN / Infinity
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise MetricInputError(f"{src}: not valid JSON ({e})") from None


def _raw_bytes(obj: Any) -> tuple[bytes, str] | None:
    """The bytes of a path / bytes input (None for parsed objects)."""
    if isinstance(obj, (str, os.PathLike)):
        path = os.fspath(obj)
        try:
            with open(path, "rb") as f:
                return f.read(), path
        except FileNotFoundError:
            raise MetricInputError(f"{path}: file not found") from None
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj), "<bytes>"
    return None


def load_ground_truth(gt: Any, *, iou_type: str = "bbox", compat: bool = False) -> GroundTruthTable:
    """Read a COCO ground-truth file (path, bytes or dict) into a :class:`GroundTruthTable`.

    Strict mode (``compat=False``) refuses what pycocotools accepts silently: annotation id
    0 (pycocotools uses ids as its "unmatched" sentinel), duplicate ids, annotations whose
    image or category is not listed. ``compat=True`` keeps pycocotools' behaviour (id 0 is
    kept and never counts as a match; dangling annotations are dropped) with a warning.
    Duplicate ids are refused in both modes (pycocotools silently replaces them).

    Raises:
        MetricInputError: naming the source, the field, the annotation id and the value.
    """
    # the parsed file is tens of thousands of fresh containers, none of them cyclic:
    # the cyclic collector would run dozens of times over them (~10 ms of a segm run)
    with _gc_paused():
        return _load_ground_truth(gt, iou_type=iou_type, compat=compat)


@contextlib.contextmanager
def _gc_paused() -> Any:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _load_ground_truth(gt: Any, *, iou_type: str, compat: bool) -> GroundTruthTable:
    raw = _raw_bytes(gt)
    if raw is not None:
        if iou_type == "bbox" or (iou_type == "keypoints" and _native()):
            from visionbench.metrics.detection.coco_json import fast_ground_truth

            fast = fast_ground_truth(*raw, iou_type=iou_type)
            if fast is not None:
                _check_finite(fast.anns, fast.source, "annotation id")
                _check_ground_truth(fast, compat=compat, need_size=False)
                return fast
        gt = _loads(*raw)
        data, src = gt, raw[1]
    else:
        data, src = read_json(gt)
    if not isinstance(data, dict):
        raise MetricInputError(
            f"{src}: expected a COCO ground-truth object (dict), got {type(data).__name__}"
        )
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise MetricInputError(
                f"{src}: expected a list under '{key}', got {type(data.get(key)).__name__}"
            )
    images = data["images"]
    try:
        image_ids = np.array([im["id"] for im in images], dtype=np.int64)
    except (KeyError, TypeError):
        raise MetricInputError(f"{src}: every entry of 'images' needs an integer 'id'") from None
    need_size = iou_type == "segm"
    heights = np.array([im.get("height", -1) for im in images], dtype=np.int64)
    widths = np.array([im.get("width", -1) for im in images], dtype=np.int64)
    cats = data["categories"]
    try:
        cat_ids = np.array([c["id"] for c in cats], dtype=np.int64)
    except (KeyError, TypeError):
        raise MetricInputError(
            f"{src}: every entry of 'categories' needs an integer 'id'"
        ) from None
    cat_names = [str(c.get("name", c["id"])) for c in cats]
    anns = data["annotations"]
    n = len(anns)
    cols: dict[str, list[Any]] = {
        k: [None] * n for k in ("image_id", "category_id", "id", "area", "iscrowd")
    }
    bbox = np.zeros((n, 4), dtype=np.float64)
    need_bbox = iou_type in ("bbox", "keypoints")
    segm: list[Any] | None = [None] * n if iou_type == "segm" else None
    kps: list[Any] | None = [None] * n if iou_type == "keypoints" else None
    nkp = np.zeros(n, dtype=np.int64) if iou_type == "keypoints" else None
    for i, a in enumerate(anns):
        if not isinstance(a, dict):
            raise MetricInputError(
                f"{src}: annotations[{i}]: expected an object, got {type(a).__name__}"
            )
        aid = a.get("id", f"<index {i}>")
        for k in cols:
            if k not in a:
                raise MetricInputError(f"{src}: annotation id {aid}: missing field '{k}'")
            cols[k][i] = a[k]
        if need_bbox or "bbox" in a:
            bbox[i] = check_box(a.get("bbox"), src, f"annotation id {aid}")
        if segm is not None:
            if "segmentation" not in a:
                raise MetricInputError(f"{src}: annotation id {aid}: missing field 'segmentation'")
            segm[i] = a["segmentation"]
        if kps is not None:
            if "keypoints" not in a or "num_keypoints" not in a:
                raise MetricInputError(
                    f"{src}: annotation id {aid}: missing field 'keypoints'/'num_keypoints'"
                )
            kps[i] = a["keypoints"]
            nkp[i] = a["num_keypoints"]
    check_annotation_columns(cols, src)
    try:
        table = AnnTable(
            image_id=np.array(cols["image_id"], dtype=np.int64),
            category_id=np.array(cols["category_id"], dtype=np.int64),
            bbox=bbox,
            area=np.array(cols["area"], dtype=np.float64).reshape(n),
            iscrowd=np.array(cols["iscrowd"], dtype=np.int64).reshape(n) != 0,
            ann_id=np.array(cols["id"], dtype=np.int64).reshape(n),
            segm=segm,
            keypoints=_keypoint_array(kps, src) if kps is not None else None,
            num_keypoints=nkp,
        )
    except (TypeError, ValueError) as e:
        raise MetricInputError(
            f"{src}: annotations: a field has a non-numeric value ({e})"
        ) from None
    _check_finite(table, src, "annotation id")
    gtt = GroundTruthTable(image_ids, heights, widths, cat_ids, cat_names, table, source=src)
    _check_ground_truth(gtt, compat=compat, need_size=need_size)
    if segm is not None:  # before any mask operation (pycocotools trusts RLE sizes)
        h, w = _ann_image_sizes(gtt, table.image_id)
        check_segmentations(segm, h, w, table.ann_id, src=src)
    return gtt


def _ann_image_sizes(g: GroundTruthTable, image_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(height, width) of each annotation's image, -1 where the image is not listed."""
    idx = np.array([g.image_index.get(int(i), -1) for i in image_id.tolist()], np.int64)
    ok = idx >= 0
    h = np.where(ok, g.heights[np.maximum(idx, 0)] if len(g.heights) else -1, -1)
    w = np.where(ok, g.widths[np.maximum(idx, 0)] if len(g.widths) else -1, -1)
    return h, w


def _keypoint_array(kps: list[Any], src: str) -> np.ndarray:
    if not kps:
        return np.zeros((0, 0), dtype=np.float64)
    lens = {len(k) for k in kps}
    if len(lens) > 1:
        raise MetricInputError(f"{src}: 'keypoints' lists have different lengths {sorted(lens)}")
    return np.array(kps, dtype=np.float64).reshape(len(kps), -1)


def _check_finite(t: AnnTable, src: str, what: str) -> None:
    for name, arr in (("bbox", t.bbox), ("area", t.area), ("score", t.score)):
        if arr is None:
            continue
        bad = ~np.isfinite(arr) if arr.ndim == 1 else ~np.isfinite(arr).all(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise MetricInputError(
                f"{src}: {what} {_ident(t, i, what)}: field '{name}' must be finite, got {arr[i].tolist()}"
            )
    neg = (t.bbox[:, 2] < 0) | (t.bbox[:, 3] < 0)
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise MetricInputError(
            f"{src}: {what} {_ident(t, i, what)}: field 'bbox' needs width and height >= 0, got {t.bbox[i].tolist()}"
        )


def _ident(t: AnnTable, i: int, what: str) -> str:
    return str(int(t.ann_id[i])) if what == "annotation id" else str(i)


def _check_ground_truth(g: GroundTruthTable, *, compat: bool, need_size: bool) -> None:
    a = g.anns
    src = g.source
    uniq, counts = np.unique(a.ann_id, return_counts=True)
    if (counts > 1).any():
        dup = uniq[counts > 1][:10].tolist()
        raise MetricInputError(
            f"{src}: duplicate annotation ids {dup} (field 'id'); ids must be unique"
        )
    if len(unique_ints(g.image_ids)) != len(g.image_ids):
        raise MetricInputError(f"{src}: duplicate image ids in 'images'")
    if (a.ann_id == 0).any():
        msg = (
            f"{src}: annotation id 0 (field 'id'): pycocotools uses id 0 as its 'unmatched' "
            "sentinel, so a detection matched to it counts as unmatched"
        )
        if not compat:
            raise MetricInputError(msg + "; renumber the annotations (ids >= 1)")
        warnings.warn(msg + " (kept, as in pycocotools)", stacklevel=3)
    dangling = ~member_of(a.image_id, g.image_ids)
    if dangling.any():
        ids = np.unique(a.image_id[dangling])
        msg = f"{src}: {int(dangling.sum())} annotations refer to image ids not in 'images', e.g. {ids[:10].tolist()}"
        if not compat:
            raise MetricInputError(msg)
        warnings.warn(msg + "; they are ignored, as in pycocotools", stacklevel=3)
    bad_cat = ~member_of(a.category_id, g.cat_ids)
    if bad_cat.any():
        ids = np.unique(a.category_id[bad_cat])
        msg = f"{src}: {int(bad_cat.sum())} annotations have category ids not in 'categories': {ids[:10].tolist()}"
        if not compat:
            raise MetricInputError(msg)
        warnings.warn(msg + "; they are ignored, as in pycocotools", stacklevel=3)
    if need_size and ((g.heights <= 0) | (g.widths <= 0)).any():
        i = int(np.flatnonzero((g.heights <= 0) | (g.widths <= 0))[0])
        raise MetricInputError(
            f"{src}: image id {int(g.image_ids[i])}: segm needs 'height' and 'width' > 0"
        )


def load_results(
    results: Any, gt: GroundTruthTable, *, iou_type: str = "bbox", compat: bool = False
) -> AnnTable:
    """Read COCO results (path, bytes, list of dicts) like ``COCO.loadRes``.

    Differences from pycocotools, in both modes: an empty list gives an empty table with a
    warning (pycocotools crashes); a missing field or a non-finite number is an error naming
    the index in the list and the field. Results whose image id is not in the gt are an
    error (as pycocotools' assertion).
    """
    if isinstance(results, AnnTable):
        return results
    kp = gt.anns.keypoints
    kp_width = kp.shape[1] if kp is not None and kp.ndim == 2 else 0
    if iou_type != "segm" and isinstance(results, (str, os.PathLike)) and _native():
        # a file through the C scanner on a read-only mapping, its scanned pages dropped
        # as it goes (peak memory: the columns, not the file plus the columns)
        fast = _mapped(
            results,
            lambda mm, src: fast_results_(
                mm, src, iou_type=iou_type, kp_width=kp_width, release=True
            ),
        )
        if fast is not None:
            _check_results(fast, gt, os.fspath(results))
            return fast
        mapped_tried = True
    elif isinstance(results, (str, os.PathLike)) and _native():
        # segm: the RleColumn keeps spans into the file's bytes, so a private copy (a
        # mapping would see the file change under it); read into one numpy buffer, whose
        # huge pages fault in 2 MB at a time (f.read()'s bytes: 4 kB, ~2x the CPU)
        buf = _read_array(results)
        if buf is not None:
            fast = fast_results_(buf, os.fspath(results), iou_type=iou_type, kp_width=kp_width)
            if fast is not None:
                _check_results(fast, gt, os.fspath(results))
                return fast
        mapped_tried = True
    else:
        mapped_tried = False
    raw = _raw_bytes(results)
    if raw is not None:
        if (iou_type == "bbox" or _native()) and not mapped_tried:
            fast = fast_results_(*raw, iou_type=iou_type, kp_width=kp_width)
            if fast is not None:
                _check_results(fast, gt, raw[1])
                return fast
        results = _loads(*raw)
        data, src = results, raw[1]
    else:
        data, src = read_json(results)
    if not isinstance(data, list):
        raise MetricInputError(
            f"{src}: expected a list of result objects, got {type(data).__name__}"
        )
    n = len(data)
    if n == 0:
        warnings.warn(
            f"{src}: empty results list; every ground truth counts as missed", stacklevel=2
        )
        empty = _empty_results()
        if iou_type == "segm":
            empty.segm = []
        if iou_type == "keypoints":
            width = gt.anns.keypoints.shape[1] if gt.anns.keypoints is not None else 0
            empty.keypoints = np.zeros((0, width), dtype=np.float64)
        return empty
    first = data[0]
    if not isinstance(first, dict):
        raise MetricInputError(f"{src}: results[0]: expected an object, got {type(first).__name__}")
    if "caption" in first:
        raise MetricInputError(
            f"{src}: caption results cannot be scored with COCO detection metrics"
        )
    if "bbox" in first and first["bbox"] != []:
        branch = "bbox"
    elif "segmentation" in first:
        branch = "segm"
    elif "keypoints" in first:
        branch = "keypoints"
    else:
        raise MetricInputError(
            f"{src}: results[0]: expected a 'bbox', 'segmentation' or 'keypoints' field"
        )
    image_id = np.empty(n, dtype=np.int64)
    category_id = np.empty(n, dtype=np.int64)
    score = np.empty(n, dtype=np.float64)
    bbox = np.zeros((n, 4), dtype=np.float64)
    area = np.empty(n, dtype=np.float64)
    segm: list[Any] | None = [None] * n if iou_type == "segm" or branch == "segm" else None
    kps: list[Any] | None = [None] * n if iou_type == "keypoints" else None
    try:
        for i, r in enumerate(data):
            check_result_fields(r, i, src)
            image_id[i] = r["image_id"]
            category_id[i] = r["category_id"]
            score[i] = r["score"]
            if branch == "bbox":
                b = check_box(r["bbox"], src, f"results[{i}]")
                bbox[i] = b
                area[i] = b[2] * b[3]
                if segm is not None:
                    s = r.get("segmentation")
                    if s is None:
                        x1, x2, y1, y2 = b[0], b[0] + b[2], b[1], b[1] + b[3]
                        s = [[x1, y1, x1, y2, x2, y2, x2, y1]]
                    segm[i] = s
            elif branch == "segm":
                segm[i] = r["segmentation"]
                if "bbox" in r:
                    bbox[i] = check_box(r["bbox"], src, f"results[{i}]")
            if kps is not None or branch == "keypoints":
                if kps is not None:
                    kps[i] = r["keypoints"]
                if branch == "keypoints":
                    s = r["keypoints"]
                    x, y = s[0::3], s[1::3]
                    x0, x1, y0, y1 = np.min(x), np.max(x), np.min(y), np.max(y)
                    area[i] = (x1 - x0) * (y1 - y0)
                    bbox[i] = [x0, y0, x1 - x0, y1 - y0]
    except MetricInputError:
        raise
    except KeyError as e:
        raise MetricInputError(f"{src}: results[{i}]: missing field {e}") from None
    except (TypeError, ValueError) as e:
        raise MetricInputError(f"{src}: results[{i}]: malformed value ({e})") from None
    if branch == "segm":
        from visionbench.metrics.detection import coco_kernels as coco_native

        rles = _results_rles(segm, src)
        for i, r in enumerate(rles):  # before any mask operation: sizes and run lengths
            size = gt.image_size(image_id[i]) if int(image_id[i]) in gt.image_index else (-1, -1)
            check_segmentation(r, *size, src=src, ident=f"results[{i}]")
        if coco_native.NATIVE is not None:
            area[:], rle_box = coco_native.rle_area_bbox(rles)
            no_box = np.array(["bbox" not in r for r in data], dtype=bool)
            bbox[no_box] = rle_box[no_box]
        else:
            from pycocotools import mask as mask_utils

            # one call per result, as loadRes (pycocotools' batched area() overflows on
            # long lists)
            area[:] = [mask_utils.area(r) for r in rles]
            for i, r in enumerate(data):
                if "bbox" not in r:
                    bbox[i] = mask_utils.toBbox(rles[i])
    table = AnnTable(
        image_id=image_id,
        category_id=category_id,
        bbox=bbox,
        area=area,
        iscrowd=np.zeros(n, dtype=bool),
        ann_id=np.arange(1, n + 1, dtype=np.int64),
        score=score,
        segm=segm,
        keypoints=_keypoint_array(kps, src) if kps is not None else None,
    )
    _check_results(table, gt, src)
    return table


def fast_results_(raw: Any, src: str, **kw: Any) -> AnnTable | None:
    from visionbench.metrics.detection.coco_json import fast_results

    return fast_results(raw, src, **kw)


def _mapped(path: Any, fn: Any) -> Any:
    """fn(read-only mmap of the file, path) (None for an empty or unreadable file: the
    caller's ordinary path then reads it and reports what is wrong)."""
    import mmap

    p = os.fspath(path)
    try:
        with open(p, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                return None
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    try:
        return fn(mm, p)
    finally:
        try:
            mm.close()
        except BufferError:  # a view is still alive (it holds the mapping open)
            pass


def _read_array(path: Any) -> np.ndarray | None:
    """The file's bytes as a uint8 array (None for an empty or unreadable file: the
    caller's ordinary path then reads it and reports what is wrong)."""
    p = os.fspath(path)
    try:
        with open(p, "rb", buffering=0) as f:
            n = os.fstat(f.fileno()).st_size
            if n == 0:
                return None
            buf = np.empty(n, dtype=np.uint8)
            got = f.readinto(buf)
    except (OSError, ValueError):
        return None
    return buf if got == n else None


def _native() -> bool:
    """The C kernels are there (the columnar readers of segm / keypoints files need them)."""
    from visionbench.metrics.detection import coco_kernels as coco_native

    return coco_native.NATIVE is not None


def _results_rles(segm: list[Any], src: str) -> list[dict[str, Any]]:
    for i, s in enumerate(segm):
        if not isinstance(s, dict) or "counts" not in s or "size" not in s:
            raise MetricInputError(
                f"{src}: results[{i}]: field 'segmentation' must be a compressed RLE dict "
                "(as pycocotools' loadRes requires), got a polygon or other value"
            )
    return segm


def _empty_results() -> AnnTable:
    z = np.zeros(0, dtype=np.int64)
    return AnnTable(
        z, z.copy(), np.zeros((0, 4)), np.zeros(0), np.zeros(0, bool), z.copy(), np.zeros(0)
    )


def _sorted(a: np.ndarray) -> bool:
    return len(a) < 2 or bool((np.diff(a) > 0).all())


def _check_results(t: AnnTable, gt: GroundTruthTable, src: str) -> None:
    _check_finite(t, src, "results index")
    unknown = ~member_of(t.image_id, gt.image_ids)
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise MetricInputError(
            f"{src}: results[{i}]: field 'image_id' = {int(t.image_id[i])} is not an image of the ground "
            f"truth {gt.source} ({int(unknown.sum())} results affected)"
        )
    if isinstance(t.segm, RleColumn) and len(t.image_id):
        # the C reader checked each RLE's runs against its own 'size'; here 'size' against
        # the image's height/width (as check_segmentation does on the full parser's path)
        pos = np.searchsorted(gt.image_ids, t.image_id) if _sorted(gt.image_ids) else None
        if pos is None:
            pos = np.array([gt.image_index[int(i)] for i in t.image_id.tolist()], np.int64)
        want = np.stack([np.asarray(gt.heights)[pos], np.asarray(gt.widths)[pos]], axis=1)
        sizes = t.segm.sizes
        bad = (want > 0).all(axis=1) & (sizes != want).any(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise MetricInputError(
                f"{src}: results[{i}]: field 'segmentation.size' = {sizes[i].tolist()} but image "
                f"{int(t.image_id[i])} is {want[i].tolist()} (height, width) in the ground truth "
                f"{gt.source} ({int(bad.sum())} results affected)"
            )
