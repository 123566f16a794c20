"""Units, headline metrics and number formatting of the leaderboard, in one place.

A record's metric entry may declare its ``unit`` (``percent`` 0-100, ``fraction`` 0-1,
``score`` 0-100, ``unbounded`` (CIDEr-D: no fixed top), ``count``, ``seconds``) and ``higher_is_better``, and the record may name
its protocol's ``headline`` metrics (``record["protocol"]["headline"]``). Those are read
when present. Records written before the protocols declared them fall back to the ONE
table below, which states what the evaluators of this package emit:

- classification (:mod:`visionbench.metrics.classification`): every number in percent
  (0-100), like timm's ``top1`` / ``top5``;
- detection (:mod:`visionbench.metrics.detection.coco`): COCO AP/AR as fractions (0-1), as
  pycocotools prints them;
- semantic segmentation (cityscapesScripts, confusion-matrix IoU): fractions (0-1);
- scene graphs (Scene-Graph-Benchmark recall): fractions (0-1);
- captioning: ``bleu1``..``bleu4`` as fractions (0-1, the coco-caption convention),
  ``sacrebleu`` a score on 0-100 (sacreBLEU's scale).

Every human view (terminal, Markdown, HTML) formats a column with one number of decimals
(:data:`DECIMALS`) and ``,`` thousands separators; CSV and JSON keep raw numbers.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "UNITS",
    "UNIT_LABEL",
    "DECIMALS",
    "FALLBACK_UNIT",
    "FALLBACK_HEADLINE",
    "EFFICIENCY_COLUMNS",
    "metric_unit",
    "metric_higher_is_better",
    "headline_metrics",
    "header",
    "format_number",
    "format_ci",
    "beside_interval",
]

UNITS = ("percent", "fraction", "score", "unbounded", "count", "seconds")

#: What a header says about a unit: ``top1 (%)``, ``AP (0-1)``, ``sacrebleu (0-100)``.
UNIT_LABEL = {
    "percent": "%",
    "fraction": "0-1",
    "score": "0-100",
    "unbounded": "score",
    "count": "count",
    "seconds": "s",
}

#: Decimals of a metric column by unit (one per column in every human view).
DECIMALS = {"percent": 2, "fraction": 4, "score": 2, "unbounded": 3, "count": 0, "seconds": 3}

#: Unit of a metric a record does not declare: by task, with per-name exceptions.
FALLBACK_UNIT: dict[str, str] = {
    "classification": "percent",
    "detection": "fraction",
    "semantic_segmentation": "fraction",
    "scene_graph": "fraction",
    "captioning": "fraction",
}
_FALLBACK_UNIT_BY_NAME = {"sacrebleu": "score", "cider_d": "unbounded", "CIDEr": "unbounded"}

#: Headline metrics (display order; the first present one ranks) of a record that does
#: not name its protocol's headline.
FALLBACK_HEADLINE: dict[str, list[str]] = {
    "classification": ["top1", "top5", "real_top1"],
    "detection": ["AP", "AP50", "AP75", "AR100"],
    "semantic_segmentation": ["miou", "iiou", "miou_category", "iiou_category", "mIoU", "iIoU"],
    "scene_graph": ["R@20", "R@50", "R@100", "mR@50", "mR@100"],
    "captioning": ["bleu4", "sacrebleu", "bleu1"],
}

#: Efficiency columns: key -> (header, decimals, scale, higher_is_better).
EFFICIENCY_COLUMNS: dict[str, tuple[str, int, float, bool]] = {
    "params": ("params (M)", 2, 1e-6, False),
    "gflops": ("GFLOPs", 3, 1.0, False),
    "latency_ms": ("latency (ms, batch 1)", 2, 1.0, False),
    "end_to_end_img_s": ("img/s (end to end)", 1, 1.0, True),
    "throughput_img_s": ("model img/s (steady state)", 1, 1.0, True),
}


def metric_unit(name: str, entry: dict[str, Any] | None, task: str | None) -> str | None:
    """The unit a metric entry declares, else the fallback for ``task``; None if unknown."""
    unit = (entry or {}).get("unit")
    if unit in UNITS:
        return unit
    if name in _FALLBACK_UNIT_BY_NAME:
        return _FALLBACK_UNIT_BY_NAME[name]
    return FALLBACK_UNIT.get(task or "")


def metric_higher_is_better(entry: dict[str, Any] | None) -> bool:
    """``higher_is_better`` of a metric entry (True when not declared: every metric of
    this package is a score)."""
    return bool((entry or {}).get("higher_is_better", True))


def headline_metrics(record: dict[str, Any]) -> list[str]:
    """The record's protocol headline (``record["protocol"]["headline"]``), else the
    fallback of its task."""
    head = (record.get("protocol") or {}).get("headline")
    if isinstance(head, list) and head:
        return [str(h) for h in head]
    return list(FALLBACK_HEADLINE.get(str(record.get("task")), []))


def header(metric: str, unit: str | None) -> str:
    """A column header carrying the unit: ``top1 (%)``; ``(?)`` for an unknown unit."""
    return f"{metric} ({UNIT_LABEL.get(unit or '', '?')})"


def format_number(value: Any, decimals: int, *, scale: float = 1.0) -> str:
    """``value * scale`` with ``decimals`` decimals and ``,`` thousands separators;
    ``-`` for a missing value (None, NaN, pandas NA)."""
    try:
        v = float(value) * scale
    except (TypeError, ValueError):
        return "-"
    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:,.{decimals}f}"


def beside_interval(value: Any, low: Any, high: Any) -> bool:
    """``value`` lies outside ``[low, high]`` (False when any of them is missing / NaN):
    a bootstrap interval wholly beside its estimate, which the views mark."""
    try:
        v, lo, hi = float(value), float(low), float(high)
    except (TypeError, ValueError):
        return False
    return not (math.isnan(v) or math.isnan(lo) or math.isnan(hi)) and (v < lo or v > hi)


def format_ci(ci: Any, decimals: int) -> str:
    """`` [low, high]`` of a confidence interval (empty when there is none)."""
    if not isinstance(ci, dict) or ci.get("low") is None or ci.get("high") is None:
        return ""
    return f" [{format_number(ci['low'], decimals)}, {format_number(ci['high'], decimals)}]"
