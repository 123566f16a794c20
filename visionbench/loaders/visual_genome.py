"""Visual Genome (v1.0, v1.2, v1.4): scene graphs and region descriptions.

A VG directory holds the release files side by side (``image_data.json``,
``objects.json``, ``relationships.json``, ``attributes.json``,
``region_descriptions.json``, ``region_graphs.json``, ``scene_graphs.json``,
``question_answers.json``, ``synsets.json``, ``*_synsets.json``,
``qa_to_region_mapping.json``, ``object_alias.txt``, ``relationship_alias.txt``) and the
images in ``VG_100K/``, ``VG_100K_2/`` (as in the ``url`` field) or ``images/<id>.jpg``.
Each JSON file is parsed once (:mod:`visual_genome_schema`) into the Arrow cache
(:mod:`arrow_cache`) and memory-mapped afterwards.

Datasets:

- :class:`VisualGenome` -- one scene-graph sample per image: ``sample_id`` = VG image id,
  boxes ``xyxy = (x, y, x + w, y + h)`` in pixels, object labels and predicates mapped to a
  vocabulary (default the VG-150 label spaces ``vg150`` / ``vg150_predicates``: names
  stripped, lower-cased, optionally through the alias files; objects outside the
  vocabulary are dropped with their relations).
- :class:`VisualGenomeRegions` -- one captioning sample per region description:
  ``sample_id`` = region id, ``meta["image_id"]``, ``meta["box"]`` (xyxy pixels).

Nodes of a graph built from ``relationships.json`` are the image's objects
(``objects.json``) plus relationship endpoints not among them (by ``object_id``, or
through a v1.4 object's ``merged_object_ids``); from ``scene_graphs.json`` they are its own
objects. Raw VG has no official split (``split="all"``; VG-150 is in :mod:`vg150`).
Images 1592, 1722, 4616 and 4617 are skipped by default, as SGG loaders do (their image
files are broken): 108,073 of 108,077 images remain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from visionbench.errors import AnnotationError, DatasetNotFoundError
from visionbench.label_spaces import LabelSpace, get_label_space
from visionbench.loaders.visual_genome_files import (
    VisualGenomeFiles,
    load_json,
)
from visionbench.tasks import GroundTruth
from visionbench.types import CaptionTarget, ImageRef, Sample, SceneGraphTarget, Task

__all__ = [
    "VG_BROKEN_IMAGE_IDS",
    "VisualGenomeFiles",
    "VisualGenome",
    "VisualGenomeRegions",
    "visual_genome",
    "vg_mini",
    "load_json",
]

#: Images whose files are broken in the VG release; SGG loaders skip them.
VG_BROKEN_IMAGE_IDS: tuple[int, ...] = (1592, 1722, 4616, 4617)

_IMAGE_DIRS = ("VG_100K", "VG_100K_2", "images")


class VisualGenome:
    """Scene graphs of Visual Genome images (task ``scene_graph``).

    Args:
        root: directory with the release files (see module docstring).
        split: ``"all"`` (raw VG has no official split).
        name: dataset name in run records.
        source: ``"relationships"`` (objects.json + relationships.json + optional
            attributes) or ``"scene_graphs"`` (scene_graphs.json).
        vocabulary: ``"vg150"`` (label spaces ``vg150`` and ``vg150_predicates``) or None
            for every name found (alphabetical, ids from 1).
        aliases: map names through ``object_alias.txt`` / ``relationship_alias.txt``.
        skip_image_ids: images left out (default :data:`VG_BROKEN_IMAGE_IDS`).
        image_dir: where the images are, default found under ``root``.
        cache, cache_dir: see :class:`VisualGenomeFiles`.
    """

    task = Task.SCENE_GRAPH

    def __init__(
        self,
        root: str | Path,
        split: str = "all",
        *,
        name: str = "vg",
        source: str = "relationships",
        vocabulary: str | None = "vg150",
        aliases: bool = False,
        skip_image_ids: Sequence[int] = VG_BROKEN_IMAGE_IDS,
        image_dir: str | Path | None = None,
        cache: bool = True,
        cache_dir: str | Path | None = None,
    ) -> None:
        if split != "all":
            raise DatasetNotFoundError(
                f"{name}: Visual Genome has no official split {split!r}; use split='all', "
                "or the VG-150 split (dataset 'vg150') for train/val/test"
            )
        if source not in ("relationships", "scene_graphs"):
            raise ValueError(f"source must be 'relationships' or 'scene_graphs', got {source!r}")
        self.root, self.split, self.name, self.source = str(root), split, name, source
        self.files = VisualGenomeFiles(root, cache=cache, cache_dir=cache_dir)
        obj_alias = self.files.aliases("object") if aliases else {}
        rel_alias = self.files.aliases("relationship") if aliases else {}
        self._graphs = _GraphColumns.load(self.files, source)
        if vocabulary == "vg150":
            self.label_space = get_label_space("vg150")
            self.predicate_space = get_label_space("vg150_predicates")
        elif vocabulary is None:
            self.label_space = _derived_space(
                f"{name}-objects", self._graphs.object_names(), obj_alias
            )
            self.predicate_space = _derived_space(
                f"{name}-predicates", self._graphs.predicate_names(), rel_alias
            )
        else:
            raise ValueError(f"vocabulary must be 'vg150' or None, got {vocabulary!r}")
        self._graphs.set_labels(
            _lookup(self.label_space, obj_alias), _lookup(self.predicate_space, rel_alias)
        )
        self._images = _ImageTable(
            self.files, image_dir, order_from=self._graphs.index_file, skip=set(skip_image_ids)
        )
        _check_same_images(self.files, self._graphs, source)

    def __len__(self) -> int:
        return len(self._images)

    def __getitem__(self, i: int) -> Sample:
        image_id, ref = self._images.ref(i)
        return Sample(image_id, ref, self._target(image_id))

    def ground_truth(self) -> GroundTruth:
        ids = self._images.ids
        return GroundTruth(
            self.task,
            self.label_space,
            [int(i) for i in ids],
            [self._target(int(i)) for i in ids],
            files={"root": self.root},
        )

    def _target(self, image_id: int) -> SceneGraphTarget:
        boxes, labels, rels = self._graphs.graph(image_id)
        return SceneGraphTarget(boxes, labels, rels, sample_id=image_id)


class VisualGenomeRegions:
    """Region descriptions as captioning samples, one per region.

    ``sample_id`` is the region id; ``meta`` holds ``image_id`` and ``box`` (xyxy px).
    Arguments as :class:`VisualGenome` (``split="all"``).
    """

    task = Task.CAPTIONING

    def __init__(
        self,
        root: str | Path,
        split: str = "all",
        *,
        name: str = "vg-regions",
        skip_image_ids: Sequence[int] = VG_BROKEN_IMAGE_IDS,
        image_dir: str | Path | None = None,
        cache: bool = True,
        cache_dir: str | Path | None = None,
    ) -> None:
        if split != "all":
            raise DatasetNotFoundError(
                f"{name}: Visual Genome has no official split {split!r}; use 'all'"
            )
        self.root, self.split, self.name = str(root), split, name
        self.label_space = LabelSpace("text", ())  # as COCO captions: no classes
        self.files = VisualGenomeFiles(root, cache=cache, cache_dir=cache_dir)
        t = self.files.table("region_descriptions.json", "regions")
        self._images = _ImageTable(
            self.files, image_dir, order_from="region_descriptions.json", skip=set(skip_image_ids)
        )
        image_ids = t.column("image_id").to_numpy()
        keep = np.isin(image_ids, self._images.ids)
        self._rows = np.flatnonzero(keep)
        self._image_id = image_ids
        self._region_id = t.column("region_id").to_numpy()
        self._phrase = t.column("phrase")
        self._xywh = _Boxes(t)

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i: int) -> Sample:
        r = int(self._rows[i])
        image_id = int(self._image_id[r])
        _, ref = self._images.ref(self._images.position(image_id))
        x, y, w, h = self._xywh[r].tolist()
        rid = int(self._region_id[r])
        return Sample(
            rid,
            ref,
            CaptionTarget((self._phrase[r].as_py(),), sample_id=rid),
            meta={"image_id": image_id, "box": (x, y, x + w, y + h)},
        )

    def ground_truth(self) -> GroundTruth:
        rows = self._rows
        phrases = self._phrase.take(pa.array(rows)).to_pylist()
        rids = self._region_id[rows].tolist()
        return GroundTruth(
            self.task,
            self.label_space,
            rids,
            [CaptionTarget((p,), sample_id=r) for r, p in zip(rids, phrases)],
            files={"root": self.root},
        )


# ---------------------------------------------------------------------------------------
# Factories (catalog entries)


def visual_genome(
    root: str | Path | None = None,
    split: str = "all",
    *,
    target: str = "scene_graph",
    **options: Any,
) -> VisualGenome | VisualGenomeRegions:
    """``vg``: a VG release directory (``--data-root`` or ``$VISIONBENCH_DATA/vg``).

    ``target="scene_graph"`` gives :class:`VisualGenome`, ``"regions"`` :class:`VisualGenomeRegions`.
    """
    from visionbench.loaders.roots import find_root

    return _build(find_root("vg", root), split, target, "vg", options)


def vg_mini(
    root: str | Path | None = None,
    split: str = "all",
    *,
    target: str = "scene_graph",
    **options: Any,
) -> VisualGenome | VisualGenomeRegions:
    """``vg-mini``: the built-in synthetic VG (v1.4 files, ``images/<image_id>.jpg``).

    Splits: ``"all"`` (every image), or, as VG-150 splits the real data by image order,
    ``"train"`` (the first 70% of ``image_data.json``) and ``"test"`` (the rest): the demo's
    FREQ statistics come from ``train`` and are scored on ``test``.
    """
    if root is None:
        from visionbench import synth

        root = synth.ensure("vg-mini")
    options.setdefault("skip_image_ids", ())
    if split not in ("all", *VG_MINI_SPLITS):
        raise DatasetNotFoundError(
            f"vg-mini has no split {split!r}; use 'all', {', '.join(map(repr, VG_MINI_SPLITS))}"
        )
    if split in VG_MINI_SPLITS:
        ids = vg_mini_split_ids(root, split)
        keep = set(ids)
        everything = vg_mini_split_ids(root, "all")
        options["skip_image_ids"] = tuple(options["skip_image_ids"]) + tuple(
            i for i in everything if i not in keep
        )
        ds = _build(Path(root), "all", target, "vg-mini", options)
        ds.split = split
        return ds
    return _build(Path(root), split, target, "vg-mini", options)


#: vg-mini's splits besides ``"all"``: fraction of images (in file order) of each.
VG_MINI_SPLITS = ("train", "test")
_VG_MINI_TRAIN_FRACTION = 0.7


def vg_mini_split_ids(root: str | Path, split: str) -> list[int]:
    """Image ids of a vg-mini split, in ``image_data.json`` order."""
    import json

    path = Path(root) / "image_data.json"
    try:
        ids = [int(r["image_id"]) for r in json.loads(path.read_text(encoding="utf-8"))]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DatasetNotFoundError(f"vg-mini: cannot read image ids from {path}: {e}") from None
    cut = round(_VG_MINI_TRAIN_FRACTION * len(ids))
    return {"all": ids, "train": ids[:cut], "test": ids[cut:]}[split]


def _build(root: Path, split: str, target: str, name: str, options: dict[str, Any]) -> Any:
    if target == "scene_graph":
        return VisualGenome(root, split, name=name, **options)
    if target == "regions":
        return VisualGenomeRegions(root, split, name=f"{name}-regions", **options)
    raise ValueError(f"target must be 'scene_graph' or 'regions', got {target!r}")


# ---------------------------------------------------------------------------------------
# Helpers


def _check_same_images(files: VisualGenomeFiles, graphs: _GraphColumns, source: str) -> None:
    """The release files list the same images: an image missing from ``objects.json`` or
    ``relationships.json`` would otherwise be scored with an empty scene graph."""
    names = (
        ("scene_graphs.json", "scene_graphs.json")
        if source == "scene_graphs"
        else ("objects.json", "relationships.json")
    )
    lists = {names[0]: graphs.obj_rows, names[1]: graphs.rel_rows}
    if files.has("image_data.json"):
        ids = files.table("image_data.json", "images").column("image_id").to_numpy()
        ref_name, ref = "image_data.json", {int(i) for i in ids.tolist()}
        ref_n = len(ids)
    else:
        ref_name, ref = names[0], set(graphs.obj_rows)
        ref_n = len(ref)
    for fname, rows in lists.items():
        if fname == ref_name or set(rows) == ref:
            continue
        missing = sorted(ref - set(rows))
        extra = sorted(set(rows) - ref)
        what = (
            f"image id {missing[0]} (and {len(missing) - 1} more) of {ref_name} is missing"
            if missing
            else f"image id {extra[0]} (and {len(extra) - 1} more) is not in {ref_name}"
        )
        raise AnnotationError(
            f"{fname} lists {len(rows)} images but {ref_name} lists {ref_n}: {what} (the "
            "release files must list the same images)",
            path=str(files.root / fname), field="image_id", id=(missing or extra)[0],
        )  # fmt: skip


def _normalise(name: str | None, alias: dict[str, str]) -> str:
    n = (name or "").strip().lower()
    return alias.get(n, n)


def _lookup(space: LabelSpace, alias: dict[str, str]) -> Callable[[str | None], int]:
    ids = dict(zip(space.names, space.ids))
    return lambda name: ids.get(_normalise(name, alias), 0)


def _derived_space(name: str, names: list[str | None], alias: dict[str, str]) -> LabelSpace:
    uniq = sorted({_normalise(n, alias) for n in names} - {""})
    return LabelSpace(name, tuple(uniq), tuple(range(1, len(uniq) + 1)))


def _labels(column: pa.ChunkedArray | pa.Array, lookup: Callable[[str | None], int]) -> np.ndarray:
    """Map a string column to label ids through its distinct values (0 = not in vocabulary)."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    enc = arr.dictionary_encode()
    values = enc.dictionary.to_pylist()
    lut = np.array([lookup(v) for v in values] + [0], np.int64)
    return lut[enc.indices.fill_null(len(values)).to_numpy(zero_copy_only=False)]


def _list_column(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    arr = column.combine_chunks()
    offsets = arr.offsets.to_numpy()
    return offsets - offsets[0], arr.flatten().to_numpy(zero_copy_only=False)


class _Boxes:
    """Zero-copy views of a table's x, y, w, h columns; ``boxes[r]`` is row r's (x, y, w, h)."""

    def __init__(self, t: pa.Table, prefix: str = "") -> None:
        self._cols = [t.column(prefix + c).to_numpy() for c in ("x", "y", "w", "h")]

    def __getitem__(self, r: int) -> np.ndarray:
        return np.array([c[r] for c in self._cols])


class _ImageTable:
    """Image ids in file order (minus skipped), their sizes and image paths."""

    def __init__(
        self,
        files: VisualGenomeFiles,
        image_dir: str | Path | None,
        *,
        order_from: str,
        skip: set[int],
    ) -> None:
        t = files.images(order_from)
        ids = t.column("image_id").to_numpy()
        keep = ~np.isin(ids, np.fromiter(skip, np.int64, len(skip)))
        self.ids = ids[keep]
        self._w = t.column("width").to_numpy(zero_copy_only=False)[keep]
        self._h = t.column("height").to_numpy(zero_copy_only=False)[keep]
        self._url = t.column("url").take(pa.array(np.flatnonzero(keep)))
        self._pos = {int(i): k for k, i in enumerate(self.ids)}
        root = self._root = files.root
        if image_dir is not None:
            self._dirs = {"images": Path(image_dir)}
        else:
            self._dirs = {d: root / d for d in _IMAGE_DIRS if (root / d).is_dir()}

    def __len__(self) -> int:
        return len(self.ids)

    def position(self, image_id: int) -> int:
        return self._pos[image_id]

    def ref(self, i: int) -> tuple[int, ImageRef]:
        image_id = int(self.ids[i])
        url = self._url[i].as_py() or ""
        parts = url.rsplit("/", 2)
        if len(parts) == 3 and parts[1] in self._dirs:
            path = self._dirs[parts[1]] / parts[2]
        else:
            base = self._dirs.get("images") or next(iter(self._dirs.values()), None)
            path = (base if base is not None else self._root / "images") / f"{image_id}.jpg"
        w, h = self._w[i], self._h[i]
        size = (None, None) if w is None or np.isnan(float(w)) else (int(w), int(h))
        return image_id, ImageRef(path=str(path), width=size[0], height=size[1])


class _GraphColumns:
    """Column views over the object and relationship tables, and per-image graphs."""

    def __init__(
        self,
        objects: pa.Table,
        obj_index: pa.Table,
        rels: pa.Table,
        rel_index: pa.Table,
        *,
        endpoints: bool,
        index_file: str,
    ) -> None:
        self.objects, self.rels, self.endpoints, self.index_file = (
            objects,
            rels,
            endpoints,
            index_file,
        )
        self.obj_id = objects.column("object_id").to_numpy()
        self.obj_box = _Boxes(objects)
        self.merged_off, self.merged_ids = _list_column(objects.column("merged_object_ids"))
        self.subj_id = rels.column("subject_id").to_numpy()
        self.objt_id = rels.column("object_id").to_numpy()
        self.obj_rows = {
            int(i): (int(s), int(e))
            for i, s, e in zip(
                *(obj_index.column(c).to_numpy() for c in ("image_id", "start", "stop"))
            )
        }
        self.rel_rows = {
            int(i): (int(s), int(e))
            for i, s, e in zip(
                *(rel_index.column(c).to_numpy() for c in ("image_id", "start", "stop"))
            )
        }
        if endpoints:
            self.subj_box, self.objt_box = _Boxes(rels, "subject_"), _Boxes(rels, "object_")

    @classmethod
    def load(cls, files: VisualGenomeFiles, source: str) -> _GraphColumns:
        if source == "scene_graphs":
            t = files.tables("scene_graphs.json")
            return cls(
                t["objects"],
                t["object_index"],
                t["relationships"],
                t["relationship_index"],
                endpoints=False,
                index_file="scene_graphs.json",
            )
        o, r = files.tables("objects.json"), files.tables("relationships.json")
        return cls(
            o["objects"],
            o["index"],
            r["relationships"],
            r["index"],
            endpoints=True,
            index_file="objects.json",
        )

    def object_names(self) -> list[str | None]:
        names = self.objects.column("name").unique().to_pylist()
        if self.endpoints:
            for end in ("subject_name", "object_name"):
                names += self.rels.column(end).unique().to_pylist()
        return names

    def predicate_names(self) -> list[str | None]:
        return self.rels.column("predicate").unique().to_pylist()

    def set_labels(
        self, obj_lookup: Callable[[str | None], int], pred_lookup: Callable[[str | None], int]
    ) -> None:
        self.obj_label = _labels(self.objects.column("name"), obj_lookup)
        self.pred_label = _labels(self.rels.column("predicate"), pred_lookup)
        if self.endpoints:
            self.subj_label = _labels(self.rels.column("subject_name"), obj_lookup)
            self.objt_label = _labels(self.rels.column("object_name"), obj_lookup)

    def graph(self, image_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(boxes [N,4] xyxy px, labels [N], relations [R,3] (subj, obj, predicate))``."""
        s, e = self.obj_rows.get(image_id, (0, 0))
        node_of: dict[int, int] = {}
        boxes: list[np.ndarray] = []
        labels: list[int] = []
        for r in range(s, e):
            self._add(
                node_of, boxes, labels, int(self.obj_id[r]), self.obj_box[r], int(self.obj_label[r])
            )
            for m in self.merged_ids[self.merged_off[r] : self.merged_off[r + 1]]:
                node_of.setdefault(int(m), node_of[int(self.obj_id[r])])
        rs, re_ = self.rel_rows.get(image_id, (0, 0))
        rels = []
        for r in range(rs, re_):
            a, b = int(self.subj_id[r]), int(self.objt_id[r])
            if self.endpoints:
                self._add(node_of, boxes, labels, a, self.subj_box[r], int(self.subj_label[r]))
                self._add(node_of, boxes, labels, b, self.objt_box[r], int(self.objt_label[r]))
            na, nb, p = node_of.get(a, -1), node_of.get(b, -1), int(self.pred_label[r])
            if na >= 0 and nb >= 0 and p > 0:
                rels.append((na, nb, p))
        xywh = np.array(boxes, np.float64).reshape(-1, 4)
        xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1)
        return xyxy, np.array(labels, np.int64), np.array(rels, np.int64).reshape(-1, 3)

    @staticmethod
    def _add(
        node_of: dict[int, int], boxes: list, labels: list, oid: int, box: np.ndarray, label: int
    ) -> None:
        """Add an object as a node unless known; unknown labels and w/h < 0 map to -1."""
        if oid in node_of:
            return
        if label <= 0 or box[2] < 0 or box[3] < 0:
            node_of[oid] = -1
            return
        node_of[oid] = len(boxes)
        boxes.append(box)
        labels.append(label)
