"""Drawing and writing helpers shared by the synthetic dataset generators.

Everything here is deterministic: the same inputs give the same pixels and the same bytes
on disk (fixed JPEG quality and subsampling, no EXIF, no timestamps, compact JSON in
insertion order).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "SHAPES",
    "shape_polygon",
    "polygon_bbox",
    "noisy_canvas",
    "fill_polygon",
    "finish",
    "save_jpeg",
    "save_png",
    "write_json",
    "uncompressed_rle",
]

#: Shape kinds understood by :func:`shape_polygon`.
SHAPES = (
    "circle",
    "square",
    "triangle",
    "diamond",
    "hexagon",
    "octagon",
    "star",
    "cross",
    "semicircle",
    "tall_rect",
    "wide_rect",
    "trapezoid",
)


def shape_polygon(kind: str, cx: float, cy: float, w: float, h: float) -> list[tuple[float, float]]:
    """Vertices of a shape inscribed in the box centred on (cx, cy) of size w x h.

    Args:
        kind: one of :data:`SHAPES`.
        cx, cy: box centre, pixels.
        w, h: box width and height, pixels.

    Returns:
        The polygon as a list of (x, y) vertices in pixels, rounded to 2 decimals (the
        precision of COCO's polygons).
    """
    rx, ry = w / 2.0, h / 2.0
    unit: list[tuple[float, float]]
    if kind in ("square", "tall_rect", "wide_rect"):
        unit = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    elif kind == "circle":
        unit = _regular(24, 0.0)
    elif kind == "triangle":
        unit = [(0, -1), (1, 1), (-1, 1)]
    elif kind == "diamond":
        unit = [(0, -1), (1, 0), (0, 1), (-1, 0)]
    elif kind == "hexagon":
        unit = _regular(6, 0.0)
    elif kind == "octagon":
        unit = _regular(8, math.pi / 8)
    elif kind == "star":
        unit = []
        for i in range(10):
            r = 1.0 if i % 2 == 0 else 0.45
            a = -math.pi / 2 + i * math.pi / 5
            unit.append((r * math.cos(a), r * math.sin(a)))
    elif kind == "cross":
        t = 0.35
        unit = [(-t, -1), (t, -1), (t, -t), (1, -t), (1, t), (t, t), (t, 1), (-t, 1),
                (-t, t), (-1, t), (-1, -t), (-t, -t)]  # fmt: skip
    elif kind == "semicircle":
        unit = [(math.cos(a), 1 - 2 * math.sin(a)) for a in np.linspace(0, math.pi, 13)]
    elif kind == "trapezoid":
        unit = [(-0.55, -1), (0.55, -1), (1, 1), (-1, 1)]
    else:
        raise ValueError(f"unknown shape {kind!r}; expected one of {SHAPES}")
    return [(round(cx + ux * rx, 2), round(cy + uy * ry, 2)) for ux, uy in unit]


def _regular(n: int, phase: float) -> list[tuple[float, float]]:
    return [
        (math.cos(phase + 2 * math.pi * i / n), math.sin(phase + 2 * math.pi * i / n))
        for i in range(n)
    ]


def polygon_bbox(poly: list[tuple[float, float]]) -> list[float]:
    """COCO-style ``[x, y, w, h]`` box of a polygon (its vertex extents), 2 decimals."""
    xs = [p[0] for p in poly]
    ys = [p[1] for p in poly]
    x0, y0 = min(xs), min(ys)
    return [round(x0, 2), round(y0, 2), round(max(xs) - x0, 2), round(max(ys) - y0, 2)]


def noisy_canvas(
    rng: np.random.Generator, height: int, width: int, base: tuple[int, int, int], spread: int
) -> np.ndarray:
    """A background: ``base`` colour plus a smooth random gradient. [H, W, 3] float32."""
    base_arr = np.asarray(base, np.float32) + rng.uniform(-spread, spread, 3).astype(np.float32)
    gy = np.linspace(-1, 1, height, dtype=np.float32)[:, None, None]
    gx = np.linspace(-1, 1, width, dtype=np.float32)[None, :, None]
    slope = rng.uniform(-spread / 2, spread / 2, (2, 3)).astype(np.float32)
    return base_arr + gy * slope[0] + gx * slope[1]


def fill_polygon(
    canvas: np.ndarray, poly: list[tuple[float, float]], colour: tuple[float, float, float]
) -> np.ndarray:
    """Paint ``poly`` onto ``canvas`` ([H, W, 3] float) in place; return its bool mask [H, W]."""
    h, w = canvas.shape[:2]
    mask_img = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask_img).polygon(poly, fill=1)
    mask = np.asarray(mask_img, dtype=bool)
    canvas[mask] = np.asarray(colour, np.float32)
    return mask


def finish(canvas: np.ndarray, rng: np.random.Generator, sigma: float) -> Image.Image:
    """Add per-pixel Gaussian noise (std ``sigma``, 0-255 scale) and convert to an RGB image."""
    noisy = canvas + rng.standard_normal(canvas.shape, dtype=np.float32) * np.float32(sigma)
    return Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8), "RGB")


def save_jpeg(image: Image.Image, path: Path) -> None:
    """Write a baseline JPEG with fixed settings (quality 90, 4:2:0), so bytes are reproducible."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="JPEG", quality=90, subsampling=2, optimize=False, progressive=False)


def save_png(image: Image.Image, path: Path) -> None:
    """Write a PNG with fixed compression settings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", compress_level=6, optimize=False)


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as compact JSON (keys in insertion order, like the official files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, separators=(",", ":"), ensure_ascii=False), encoding="utf-8")


def uncompressed_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO uncompressed RLE of a bool mask [H, W]: column-major run lengths, zeros first.

    Returns:
        ``{"counts": [int, ...], "size": [H, W]}`` as in the crowd annotations of the
        official COCO files.
    """
    h, w = mask.shape
    flat = np.asarray(mask, dtype=np.uint8).reshape(-1, order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0, *counts]
    return {"counts": [int(c) for c in counts], "size": [int(h), int(w)]}
