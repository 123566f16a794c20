"""Parameters of a COCO evaluation, as in ``pycocotools.cocoeval.Params``.

The grids are built with ``np.linspace`` exactly as pycocotools builds them (``recThrs[k]``
is not ``k / 100`` for ten values of k, and that changes cells of the precision array).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from visionbench.metrics.base import VERSION
from visionbench.metrics.errors import MetricInputError

__all__ = ["CocoParams", "IOU_TYPES", "KPT_OKS_SIGMAS"]

IOU_TYPES = ("bbox", "segm", "keypoints")

#: COCO person keypoint sigmas (pycocotools ``Params.setKpParams``).
KPT_OKS_SIGMAS = (
    np.array(
        [
            0.26,
            0.25,
            0.25,
            0.35,
            0.35,
            0.79,
            0.79,
            0.72,
            0.72,
            0.62,
            0.62,
            1.07,
            1.07,
            0.87,
            0.87,
            0.89,
            0.89,
        ]
    )
    / 10.0
)


def _default_iou_thrs() -> np.ndarray:
    return np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)


def _default_rec_thrs() -> np.ndarray:
    return np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)


@dataclass
class CocoParams:
    """What a COCO evaluation computes (pycocotools names in brackets).

    Attributes:
        iou_type: ``"bbox"``, ``"segm"`` or ``"keypoints"`` [iouType].
        iou_thrs: [T] IoU thresholds, default ``linspace(.5, .95, 10)`` [iouThrs].
        rec_thrs: [R] recall thresholds, default ``linspace(0, 1, 101)`` [recThrs].
        max_dets: [M] detections per image kept, ascending, default (1, 10, 100);
            (20,) for keypoints [maxDets].
        area_rng: [A] inclusive ``(lo, hi)`` object-area ranges, pixels² [areaRng].
        area_lbl: [A] names of the area ranges ("all", "small", "medium", "large") [areaRngLbl].
        use_cats: evaluate per category (True) or pool all categories (False) [useCats].
        img_ids: image ids to evaluate; None = every image of the ground truth [imgIds].
        cat_ids: category ids; None = every category of the ground truth [catIds].
        kpt_oks_sigmas: [k] per-keypoint sigmas for OKS (keypoints only).
    """

    iou_type: str = "bbox"
    iou_thrs: np.ndarray = field(default_factory=_default_iou_thrs)
    rec_thrs: np.ndarray = field(default_factory=_default_rec_thrs)
    max_dets: Sequence[int] | None = None
    area_rng: Sequence[Sequence[float]] | None = None
    area_lbl: Sequence[str] | None = None
    use_cats: bool = True
    img_ids: Sequence[int] | None = None
    cat_ids: Sequence[int] | None = None
    kpt_oks_sigmas: np.ndarray = field(default_factory=lambda: KPT_OKS_SIGMAS.copy())

    def __post_init__(self) -> None:
        if self.iou_type not in IOU_TYPES:
            raise MetricInputError(f"iou_type: expected one of {IOU_TYPES}, got {self.iou_type!r}")
        kp = self.iou_type == "keypoints"
        if self.max_dets is None:
            self.max_dets = [20] if kp else [1, 10, 100]
        if self.area_rng is None:
            self.area_rng = (
                [[0**2, 1e5**2], [32**2, 96**2], [96**2, 1e5**2]]
                if kp
                else [[0**2, 1e5**2], [0**2, 32**2], [32**2, 96**2], [96**2, 1e5**2]]
            )
        if self.area_lbl is None:
            self.area_lbl = (
                ["all", "medium", "large"] if kp else ["all", "small", "medium", "large"]
            )
        self.iou_thrs = np.asarray(self.iou_thrs, dtype=np.float64).reshape(-1)
        self.rec_thrs = np.asarray(self.rec_thrs, dtype=np.float64).reshape(-1)
        self.kpt_oks_sigmas = np.asarray(self.kpt_oks_sigmas, dtype=np.float64).reshape(-1)
        # pycocotools sorts maxDets in evaluate().
        self.max_dets = sorted(int(m) for m in self.max_dets)
        self.area_rng = [[float(lo), float(hi)] for lo, hi in self.area_rng]
        self.area_lbl = [str(x) for x in self.area_lbl]
        self.use_cats = bool(self.use_cats)
        if len(self.iou_thrs) == 0 or not np.isfinite(self.iou_thrs).all():
            raise MetricInputError(
                f"iou_thrs: expected a non-empty list of finite numbers, got {self.iou_thrs}"
            )
        if len(self.rec_thrs) == 0 or not np.all(np.diff(self.rec_thrs) >= 0):
            raise MetricInputError(
                f"rec_thrs: expected a non-empty ascending list, got {self.rec_thrs}"
            )
        if len(self.max_dets) == 0 or min(self.max_dets) < 0:
            raise MetricInputError(f"max_dets: expected positive integers, got {self.max_dets}")
        if len(self.area_rng) == 0:
            raise MetricInputError("area_rng: expected at least one (lo, hi) range")
        if len(self.area_lbl) != len(self.area_rng):
            raise MetricInputError(
                f"area_lbl: expected one label per area range ({len(self.area_rng)}), got {self.area_lbl}"
            )

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(T, R, A, M)."""
        return len(self.iou_thrs), len(self.rec_thrs), len(self.area_rng), len(self.max_dets)

    def signature(self, compat: str | None = None) -> str:
        """sacreBLEU-style protocol string, e.g. ``coco|bbox|iou=.50:.05:.95|...|v0.1.0``."""
        parts = ["coco", self.iou_type, f"iou={_grid(self.iou_thrs)}"]
        if not np.array_equal(self.rec_thrs, _default_rec_thrs()):
            parts.append(f"rec={_grid(self.rec_thrs)}")
        defaults = CocoParams(iou_type=self.iou_type)
        lbl = ",".join({"small": "s", "medium": "m", "large": "l"}.get(x, x) for x in self.area_lbl)
        if self.area_rng != defaults.area_rng:
            lbl += ":" + ",".join(f"{_num(lo)}-{_num(hi)}" for lo, hi in self.area_rng)
        parts.append(f"area={lbl}")
        parts.append("maxdets=" + ",".join(str(m) for m in self.max_dets))
        if not self.use_cats:
            parts.append("cats=pooled")
        if self.iou_type == "keypoints" and not np.array_equal(self.kpt_oks_sigmas, KPT_OKS_SIGMAS):
            parts.append("sigmas=custom")
        if compat:
            parts.append(f"compat={compat}")
        parts.append(f"v{VERSION}")
        return "|".join(parts)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _grid(a: np.ndarray) -> str:
    def f(x: float) -> str:
        s = f"{x:.2f}"
        return s[1:] if s.startswith("0.") else s

    if len(a) > 2:
        step = np.diff(a)
        if np.allclose(step, step[0], rtol=0, atol=1e-9):
            return f"{f(a[0])}:{f(step[0])}:{f(a[-1])}"
    return ",".join(f(x) for x in a)
