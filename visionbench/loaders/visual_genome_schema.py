"""Visual Genome release files (v1.0, v1.2, v1.4) -> flat Arrow tables.

Every VG file is a JSON list with one entry per image (``image_data.json`` order). Each
parser here flattens one file into tables with one row per item (object, relationship,
region, question, ...) and an ``index`` table (``image_id, start, stop``: the rows of each
image, also for images with no items). The schema differences between releases
(REFERENCE.md §5) are absorbed here, item by item, so one file may mix them:

- image key: ``image_id`` (v1.2+) or ``id`` (v1.0; also the top level of
  ``region_descriptions.json`` and ``question_answers.json`` in every release);
- object id: ``object_id`` or ``id`` (v1.0); relationship id ``relationship_id`` or ``id``;
  region id ``region_id`` or ``id``, its image ``image_id`` or ``image`` (v1.0);
- names: ``names`` (list), ``name`` (str; relationship endpoints) or ``object_names``
  (v1.0 attributes); ``name`` is the first of them;
- box: ``x, y, w, h`` or ``x, y, width, height`` (regions), pixels, top-left corner;
- ``attributes`` may be missing (null list, not an empty one), ``synsets`` too (v1.0:
  empty list); v1.4 merged objects carry ``merged_object_ids`` (the v1.2 ids they replace).

A missing id or a non-numeric coordinate raises :class:`AnnotationError` naming the file,
the field and the item (or image) id.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from visionbench.errors import AnnotationError

__all__ = [
    "PARSERS",
    "QUESTION_TYPES",
    "question_type",
    "parse_image_data",
    "parse_objects",
    "parse_attributes",
    "parse_relationships",
    "parse_region_descriptions",
    "parse_region_graphs",
    "parse_scene_graphs",
    "parse_question_answers",
    "parse_synsets",
    "parse_name_synsets",
    "parse_qa_to_region",
    "parse_alias_text",
]

#: The six question types of the VG QA set, from the question's first word.
QUESTION_TYPES = ("what", "where", "when", "who", "why", "how")

Tables = dict[str, pa.Table]
_STR_LIST = pa.list_(pa.string())
_INT_LIST = pa.list_(pa.int64())


def question_type(question: str) -> str | None:
    """``"what" | "where" | "when" | "who" | "why" | "how"`` from the first word, else None.

    Case-insensitive; a contraction counts ("What's" -> "what", "How's" -> "how").
    """
    word = question.lstrip().split(maxsplit=1)[0].lower() if question.strip() else ""
    head = word.split("'", 1)[0].rstrip("?,.!:;")
    return head if head in QUESTION_TYPES else None


# ---------------------------------------------------------------------------------------
# Per-file parsers: (decoded JSON, path for messages) -> tables


def parse_image_data(data: list[dict[str, Any]], path: str) -> Tables:
    """``image_data.json`` -> ``{"images": image_id, width, height, url, coco_id, flickr_id}``."""
    _expect_list(data, path)
    ids = _ints(_pick(data, ("image_id", "id")), path, "image_id", data)
    return {
        "images": pa.table(
            {
                "image_id": ids,
                "width": _ints(_pick(data, ("width", "w")), path, "width", data, ids),
                "height": _ints(_pick(data, ("height", "h")), path, "height", data, ids),
                "url": pa.array(_pick(data, ("url",)), pa.string()),
                "coco_id": pa.array(_pick(data, ("coco_id",)), pa.int64()),
                "flickr_id": pa.array(_pick(data, ("flickr_id",)), pa.int64()),
            }
        )
    }


def parse_objects(data: list[dict[str, Any]], path: str) -> Tables:
    """``objects.json`` -> ``objects`` (image_id, object_id, x, y, w, h, name, names,
    synsets, merged_object_ids) and ``index``."""
    image_ids, items, index = _flatten(data, "objects", path)
    cols = _object_columns(items, path, "objects")
    return {"objects": pa.table({"image_id": image_ids, **cols}), "index": index}


def parse_attributes(data: list[dict[str, Any]], path: str) -> Tables:
    """``attributes.json`` -> ``attributes`` (the object columns plus ``attributes``, a
    list of str, null where the object has no ``attributes`` key) and ``index``."""
    image_ids, items, index = _flatten(data, "attributes", path)
    cols = _object_columns(items, path, "attributes")
    cols["attributes"] = pa.array([it.get("attributes") for it in items], _STR_LIST)
    return {"attributes": pa.table({"image_id": image_ids, **cols}), "index": index}


def parse_relationships(data: list[dict[str, Any]], path: str) -> Tables:
    """``relationships.json`` -> ``relationships`` (image_id, relationship_id, predicate,
    synsets, then per endpoint ``subject_*``/``object_*``: id, name, x, y, w, h, merged)
    and ``index``. Endpoints are ``{"name": str}`` or, for v1.4 merged objects,
    ``{"names": [str], "merged_object_ids": [...]}``."""
    image_ids, items, index = _flatten(data, "relationships", path)
    rel_ids = _ints(_pick(items, ("relationship_id", "id")), path, "relationship_id", items)
    cols: dict[str, Any] = {
        "image_id": image_ids,
        "relationship_id": rel_ids,
        "predicate": _strs(_pick(items, ("predicate",)), path, "predicate", rel_ids),
        "synsets": pa.array(_pick(items, ("synsets",), default=[]), _STR_LIST),
    }
    for end in ("subject", "object"):
        ends = _pick(items, (end,))
        if any(e is None for e in ends):
            _fail_missing(ends, path, end, rel_ids)
        for k, v in _object_columns(ends, path, f"relationships.{end}", with_names=False).items():
            cols[f"{end}_{k.removeprefix('object_')}"] = v
    return {"relationships": pa.table(cols), "index": index}


def parse_region_descriptions(data: list[dict[str, Any]], path: str) -> Tables:
    """``region_descriptions.json`` -> ``regions`` (image_id, region_id, phrase, x, y, w, h)
    and ``index``."""
    image_ids, items, index = _flatten(data, "regions", path)
    return {
        "regions": pa.table({"image_id": image_ids, **_region_columns(items, path)}),
        "index": index,
    }


def parse_region_graphs(data: list[dict[str, Any]], path: str) -> Tables:
    """``region_graphs.json`` -> ``regions``, ``region_objects`` (region_id, object_id, box,
    name, synsets), ``region_relationships`` (region_id, relationship_id, predicate,
    synsets, subject_id, object_id) and ``index`` (rows of ``regions`` per image)."""
    image_ids, regions, index = _flatten(data, "regions", path)
    rcols = _region_columns(regions, path)
    obj_lists = [r.get("objects") or [] for r in regions]
    rel_lists = [r.get("relationships") or [] for r in regions]
    objs = list(itertools.chain.from_iterable(obj_lists))
    rels = list(itertools.chain.from_iterable(rel_lists))
    region_ids = rcols["region_id"]
    ocols = _object_columns(objs, path, "regions.objects", with_names=True)
    return {
        "regions": pa.table({"image_id": image_ids, **rcols}),
        "region_objects": pa.table(
            {
                "region_id": np.repeat(region_ids, [len(x) for x in obj_lists]),
                **ocols,
            }
        ),
        "region_relationships": pa.table(
            {
                "region_id": np.repeat(region_ids, [len(x) for x in rel_lists]),
                **_graph_relationship_columns(rels, path, "regions.relationships"),
            }
        ),
        "index": index,
    }


def parse_scene_graphs(data: list[dict[str, Any]], path: str) -> Tables:
    """``scene_graphs.json`` (v1.2 object ids) -> ``objects`` (object columns plus
    ``attributes``), ``relationships`` (relationship_id, predicate, synsets, subject_id,
    object_id), ``object_index`` and ``relationship_index``."""
    obj_ids, objs, obj_index = _flatten(data, "objects", path)
    rel_img, rels, rel_index = _flatten(data, "relationships", path)
    ocols = _object_columns(objs, path, "objects")
    ocols["attributes"] = pa.array([o.get("attributes") for o in objs], _STR_LIST)
    return {
        "objects": pa.table({"image_id": obj_ids, **ocols}),
        "relationships": pa.table(
            {
                "image_id": rel_img,
                **_graph_relationship_columns(rels, path, "relationships"),
            }
        ),
        "object_index": obj_index,
        "relationship_index": rel_index,
    }


def parse_question_answers(data: list[dict[str, Any]], path: str) -> Tables:
    """``question_answers.json`` -> ``qas`` (image_id, qa_id, question, answer, qtype,
    q_object_ids, a_object_ids) and ``index``. ``qtype`` is :func:`question_type`."""
    image_ids, items, index = _flatten(data, "qas", path)
    qa_ids = _ints(_pick(items, ("qa_id", "id")), path, "qa_id", items)
    questions = _strs(_pick(items, ("question",)), path, "question", qa_ids)
    return {
        "qas": pa.table(
            {
                "image_id": image_ids,
                "qa_id": qa_ids,
                "question": questions,
                "answer": _strs(_pick(items, ("answer",)), path, "answer", qa_ids),
                "qtype": pa.array([question_type(q) for q in questions.to_pylist()], pa.string()),
                "q_object_ids": pa.array(
                    [_obj_ids(it.get("q_objects")) for it in items], _INT_LIST
                ),
                "a_object_ids": pa.array(
                    [_obj_ids(it.get("a_objects")) for it in items], _INT_LIST
                ),
            }
        ),
        "index": index,
    }


def parse_synsets(data: list[dict[str, Any]], path: str) -> Tables:
    """``synsets.json`` -> ``synsets`` (synset_name, synset_definition)."""
    _expect_list(data, path)
    return {
        "synsets": pa.table(
            {
                "synset_name": pa.array(_pick(data, ("synset_name",)), pa.string()),
                "synset_definition": pa.array(_pick(data, ("synset_definition",)), pa.string()),
            }
        )
    }


def parse_name_synsets(data: dict[str, str], path: str) -> Tables:
    """``{object,attribute,relationship}_synsets.json`` (a dict name -> synset) ->
    ``synsets`` (name, synset)."""
    if not isinstance(data, dict):
        raise AnnotationError(
            f"expected a JSON object name -> synset, got {type(data).__name__}", path=path
        )
    return {
        "synsets": pa.table(
            {
                "name": pa.array(list(data.keys()), pa.string()),
                "synset": pa.array(list(data.values()), pa.string()),
            }
        )
    }


def parse_qa_to_region(data: dict[str, int], path: str) -> Tables:
    """``qa_to_region_mapping.json`` (``{"qa_id": region_id}``) -> ``mapping`` (qa_id, region_id)."""
    if not isinstance(data, dict):
        raise AnnotationError(
            f"expected a JSON object qa_id -> region_id, got {type(data).__name__}", path=path
        )
    try:
        qa = np.array([int(k) for k in data], np.int64)
    except ValueError as e:
        raise AnnotationError(f"qa ids must be integers: {e}", path=path, field="qa_id") from None
    return {
        "mapping": pa.table({"qa_id": qa, "region_id": np.array(list(data.values()), np.int64)})
    }


def parse_alias_text(text: str) -> dict[str, str]:
    """``object_alias.txt`` / ``relationship_alias.txt`` -> ``{alias: canonical}``.

    Each line is ``canonical,alias1,alias2,...``; a name listed on several lines keeps the
    first line's canonical name. Names are stripped and lower-cased.
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        names = [n.strip().lower() for n in line.split(",")]
        if len(names) < 2 or not names[0]:
            continue
        for alias in names[1:]:
            if alias and alias != names[0]:
                out.setdefault(alias, names[0])
    return out


#: File name -> parser, for the files that :class:`VisualGenomeFiles` knows.
PARSERS: dict[str, Callable[[Any, str], Tables]] = {
    "image_data.json": parse_image_data,
    "objects.json": parse_objects,
    "attributes.json": parse_attributes,
    "relationships.json": parse_relationships,
    "region_descriptions.json": parse_region_descriptions,
    "region_graphs.json": parse_region_graphs,
    "scene_graphs.json": parse_scene_graphs,
    "question_answers.json": parse_question_answers,
    "synsets.json": parse_synsets,
    "object_synsets.json": parse_name_synsets,
    "attribute_synsets.json": parse_name_synsets,
    "relationship_synsets.json": parse_name_synsets,
    "qa_to_region_mapping.json": parse_qa_to_region,
}


# ---------------------------------------------------------------------------------------
# Helpers


def _expect_list(data: Any, path: str) -> None:
    if not isinstance(data, list):
        raise AnnotationError(
            f"expected a JSON list with one entry per image, got {type(data).__name__}", path=path
        )


def _flatten(
    data: list[dict[str, Any]], key: str, path: str
) -> tuple[np.ndarray, list[Any], pa.Table]:
    """Per-image lists under ``key`` -> (image id per item, items, index table)."""
    _expect_list(data, path)
    ids = _ints(_pick(data, ("image_id", "id")), path, "image_id", data)
    try:
        lists = [e.get(key) or [] for e in data]
    except AttributeError:
        bad = next(i for i, e in enumerate(data) if not isinstance(e, dict))
        raise AnnotationError(
            f"entry {bad} is {type(data[bad]).__name__}, expected an object", path=path
        ) from None
    counts = np.fromiter((len(x) for x in lists), np.int64, len(lists))
    stop = np.cumsum(counts)
    index = pa.table({"image_id": ids, "start": stop - counts, "stop": stop})
    return np.repeat(ids, counts), list(itertools.chain.from_iterable(lists)), index


def _object_columns(
    items: Sequence[dict[str, Any]], path: str, what: str, *, with_names: bool = True
) -> dict[str, Any]:
    ids = _ints(_pick(items, ("object_id", "id")), path, f"{what}.object_id", items)
    names = [_names(it) for it in items]
    cols: dict[str, Any] = {"object_id": ids}
    cols.update(_box_columns(items, path, what, ids, ("w", "width"), ("h", "height")))
    cols["name"] = pa.array([n[0] if n else None for n in names], pa.string())
    if with_names:
        cols["names"] = pa.array(names, _STR_LIST)
    cols["synsets"] = pa.array(_pick(items, ("synsets",), default=[]), _STR_LIST)
    cols["merged_object_ids"] = pa.array(
        _pick(items, ("merged_object_ids",), default=[]), _INT_LIST
    )
    return cols


def _region_columns(items: Sequence[dict[str, Any]], path: str) -> dict[str, Any]:
    ids = _ints(_pick(items, ("region_id", "id")), path, "regions.region_id", items)
    return {
        "region_id": ids,
        "phrase": _strs(_pick(items, ("phrase",)), path, "regions.phrase", ids),
        **_box_columns(items, path, "regions", ids, ("width", "w"), ("height", "h")),
    }


def _graph_relationship_columns(
    items: Sequence[dict[str, Any]], path: str, what: str
) -> dict[str, Any]:
    ids = _ints(_pick(items, ("relationship_id", "id")), path, f"{what}.relationship_id", items)
    return {
        "relationship_id": ids,
        "predicate": _strs(_pick(items, ("predicate",)), path, f"{what}.predicate", ids),
        "synsets": pa.array(_pick(items, ("synsets",), default=[]), _STR_LIST),
        "subject_id": _ints(_pick(items, ("subject_id",)), path, f"{what}.subject_id", items, ids),
        "object_id": _ints(_pick(items, ("object_id",)), path, f"{what}.object_id", items, ids),
    }


def _box_columns(
    items: Sequence[dict[str, Any]],
    path: str,
    what: str,
    ids: np.ndarray,
    wkeys: tuple[str, ...],
    hkeys: tuple[str, ...],
) -> dict[str, np.ndarray]:
    out = {}
    for col, keys in (("x", ("x",)), ("y", ("y",)), ("w", wkeys), ("h", hkeys)):
        out[col] = _floats(_pick(items, keys), path, f"{what}.{keys[0]}", ids)
    return out


def _names(it: dict[str, Any]) -> list[str]:
    if "names" in it:
        n = it["names"]
        return [n] if isinstance(n, str) else list(n or [])
    if "name" in it:
        return [it["name"]]
    return list(it.get("object_names") or [])


def _obj_ids(objs: Any) -> list[int]:
    return [o.get("object_id", o.get("id")) for o in objs or ()]


def _pick(items: Sequence[dict[str, Any]], keys: tuple[str, ...], default: Any = None) -> list[Any]:
    """``[item[k] for item in items]`` with ``k`` the first of ``keys`` present, per item."""
    if not items:
        return []
    first = next((k for k in keys if k in items[0]), keys[0])
    try:
        return [it[first] for it in items]
    except (KeyError, TypeError):
        pass
    out = []
    for it in items:
        k = next((k for k in keys if k in it), None) if isinstance(it, dict) else None
        out.append(it[k] if k is not None else default)
    return out


def _ints(
    values: list[Any], path: str, field: str, items: Sequence[Any], ids: np.ndarray | None = None
) -> np.ndarray:
    arr = _strict(values, pa.int64())
    if arr is None:
        _fail_bad(values, path, field, items, ids, "an integer")
    return arr


def _floats(values: list[Any], path: str, field: str, ids: np.ndarray) -> np.ndarray:
    arr = _strict(values, pa.float64())
    if arr is None or not np.isfinite(arr).all():
        _fail_bad(values, path, field, None, ids, "a finite number")
    return arr


def _strict(values: list[Any], type_: pa.DataType) -> np.ndarray | None:
    """Type-strict conversion (no str -> number, no float truncation, no None), else None."""
    try:
        arr = pa.array(values, type_)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return None
    return None if arr.null_count else arr.to_numpy()


def _strs(values: list[Any], path: str, field: str, ids: np.ndarray) -> pa.Array:
    try:
        arr = pa.array(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arr = None
    if arr is None or arr.null_count:
        bad = next(i for i, v in enumerate(values) if not isinstance(v, str))
        raise AnnotationError(
            f"expected a string, got {values[bad]!r}", path=path, field=field, id=_id_at(ids, bad)
        )
    return arr


def _fail_bad(
    values: list[Any],
    path: str,
    field: str,
    items: Sequence[Any] | None,
    ids: np.ndarray | None,
    expected: str,
) -> None:
    for i, v in enumerate(values):
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
        if expected == "an integer":
            ok = ok and float(v).is_integer()
        if not ok:
            what = "missing" if v is None else f"got {v!r}"
            raise AnnotationError(
                f"expected {expected}, {what}",
                path=path,
                field=field,
                id=_id_at(ids, i) if ids is not None else f"item {i}",
            )
    raise AnnotationError(f"expected {expected} in every item", path=path, field=field)


def _fail_missing(values: list[Any], path: str, field: str, ids: np.ndarray) -> None:
    bad = next(i for i, v in enumerate(values) if v is None)
    raise AnnotationError("missing", path=path, field=field, id=_id_at(ids, bad))


def _id_at(ids: np.ndarray | None, i: int) -> Any:
    return int(ids[i]) if ids is not None and i < len(ids) else f"item {i}"
