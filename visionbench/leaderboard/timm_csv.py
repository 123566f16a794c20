"""Classification results in the columns of timm's ``results/*.csv``.

``model,img_size,top1,top1_err,top5,top5_err,param_count,crop_pct,interpolation`` (timm's
``validate.py`` output): accuracies in percent, errors ``100 - accuracy``, ``param_count``
in millions, ``img_size`` the input side in pixels, ``crop_pct`` the centre-crop fraction
(crop / resize), ``interpolation`` the resize filter. Rows sorted by top-1, best first.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pandas as pd

from visionbench.errors import VisionbenchError

__all__ = ["TIMM_COLUMNS", "timm_rows", "timm_csv"]

TIMM_COLUMNS = [
    "model",
    "img_size",
    "top1",
    "top1_err",
    "top5",
    "top5_err",
    "param_count",
    "crop_pct",
    "interpolation",
]


def timm_rows(df: pd.DataFrame, records: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    """One row per classification model and weights (its latest run), timm's columns,
    numbers numeric; a tagged run is ``model.tag`` (timm's ``model.pretrained_tag``).

    Args:
        df: the long leaderboard table (:func:`visionbench.leaderboard.table.long_table`).
        records: the run records behind ``df`` (for the preprocessing columns); when None,
            read from the default results directory.

    Raises:
        VisionbenchError: the classification rows span more than one dataset/split or
            more than one top-1 signature (timm's CSV has no column to tell them apart),
            or a run id of ``df`` has no record.
    """
    cls = df[(df["task"] == "classification") & df["metric"].isin(["top1", "top5"])]
    if cls.empty:
        return pd.DataFrame(columns=TIMM_COLUMNS)
    groups = cls[["dataset", "split", "signature"]].drop_duplicates()
    if len(groups) > 1:
        listed = ", ".join(f"{d}/{s} [{sig}]" for d, s, sig in groups.itertuples(index=False))
        raise VisionbenchError(
            f"timm-csv holds one dataset and one protocol, got {len(groups)}: {listed}; "
            "choose one with --dataset"
        )
    if records is None:
        from visionbench.records import read_records

        records = read_records()
    by_id = {r["run_id"]: r for r in records}
    ident = [c for c in ("model", "tag", "weights_id") if c in cls.columns]
    cls = cls.sort_values("date", kind="stable").drop_duplicates([*ident, "metric"], keep="last")
    names = _names(cls, ident)
    rows: dict[str, dict[str, Any]] = {}
    for r, name in zip(cls.itertuples(index=False), names):
        rec = by_id.get(r.run_id)
        if rec is None:
            raise VisionbenchError(f"timm-csv: no run record for run_id {r.run_id!r}")
        row = rows.setdefault(name, _preprocess_columns(name, rec))
        row[r.metric] = round(r.value, 3)
        row[f"{r.metric}_err"] = round(100.0 - r.value, 3)
    out = pd.DataFrame(list(rows.values()), columns=TIMM_COLUMNS)
    for c in TIMM_COLUMNS[1:-1]:
        out[c] = pd.to_numeric(out[c], errors="coerce")
    out["img_size"] = out["img_size"].astype("Int64")
    return out.sort_values(["top1", "model"], ascending=[False, True], na_position="last")


def _names(cls: pd.DataFrame, ident: list[str]) -> list[str]:
    """timm's ``model.pretrained_tag`` naming: ``model.tag`` for a tagged run; two weights
    of one untagged model as ``model.<weights id, 12 characters>``; else the model."""
    if ident == ["model"]:
        return list(cls["model"])
    weights_per_model = cls.groupby(["model", "tag"])["weights_id"].nunique()
    out = []
    for r in cls.itertuples(index=False):
        if r.tag:
            out.append(f"{r.model}.{r.tag}")
        elif weights_per_model[(r.model, r.tag)] > 1:
            out.append(f"{r.model}.{str(r.weights_id)[:12]}")
        else:
            out.append(r.model)
    return out


def timm_csv(df: pd.DataFrame, records: list[dict[str, Any]] | None = None) -> str:
    """:func:`timm_rows` as CSV text (numbers unquoted, missing values empty)."""
    buf = io.StringIO()
    timm_rows(df, records).to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL)
    return buf.getvalue()


def _preprocess_columns(model: str, record: dict[str, Any]) -> dict[str, Any]:
    m = record.get("model", {})
    pre = m.get("preprocess") or {}
    mode = pre.get("mode", "resize_crop")
    img_size: Any = None
    crop_pct: float | None = None
    if mode == "resize_crop" and pre.get("crop"):
        img_size = pre["crop"]
        crop_pct = round(pre["crop"] / pre["resize"], 3) if pre.get("resize") else None
    elif mode in ("resize", "letterbox") and pre.get("size") is not None:
        size = pre["size"]
        img_size = size[-1] if isinstance(size, (list, tuple)) else size
        crop_pct = 1.0
    params = m.get("params")
    return {
        "model": model,
        "img_size": img_size,
        "param_count": round(params / 1e6, 2) if params is not None else None,
        "crop_pct": crop_pct,
        "interpolation": pre.get("interpolation"),
    }
