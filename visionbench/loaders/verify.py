"""Check a dataset and report every problem, not only the first (``bench data verify NAME``).

:func:`verify_dataset` walks a loaded dataset and returns one :class:`Problem` per defect:

- ``missing``: an image (or a ground-truth file a target points at) does not exist;
- ``unreadable``: a file exists but cannot be decoded (empty, truncated, not an image);
- ``size_mismatch``: the decoded size differs from the size the annotation records, or a
  segmentation mask differs in size from its image;
- whatever the loader itself recorded while loading in lenient mode (``dangling``
  annotations dropped with ``drop_dangling=True``, ``unpaired`` Cityscapes files dropped
  with ``drop_unpaired=True``): loaders keep these in ``dataset.problems``.

Nothing is raised for a bad sample; the caller decides what to do with the list.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from visionbench.types import ImageRef, SegmentationTarget

__all__ = ["Problem", "verify_dataset", "image_size"]


@dataclass(frozen=True)
class Problem:
    """One defect of a dataset.

    Attributes:
        kind: ``missing``, ``unreadable``, ``size_mismatch``, ``dangling``, ``unpaired``,
            ``invalid`` (an annotation a lenient loader dropped), ...
        message: what is wrong, with what was expected and what was found.
        sample_id: the sample concerned, when there is one.
        path: the file concerned, when there is one.
    """

    kind: str
    message: str
    sample_id: Any = None
    path: str | None = None

    def __str__(self) -> str:
        where = ", ".join(
            f"{k}={v}"
            for k, v in (("sample_id", self.sample_id), ("file", self.path))
            if v is not None
        )
        return f"[{self.kind}] {self.message}" + (f" ({where})" if where else "")


def verify_dataset(
    dataset: Any,
    *,
    decode: bool = True,
    workers: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> list[Problem]:
    """Check every sample of ``dataset``; return all problems found (empty list: clean).

    Args:
        dataset: a :class:`~visionbench.tasks.Dataset`. Problems the loader recorded while
            loading (its ``problems`` attribute, if any) come first.
        decode: fully decode every image (catches truncated files; slower). With False only
            the header is read (existence, format and size).
        workers: threads used to read images (decoding releases the GIL).
        progress: called as ``progress(done, total)`` after each sample.

    Returns:
        Problems in dataset order.
    """
    problems: list[Problem] = list(getattr(dataset, "problems", None) or [])
    n = len(dataset)

    def check(i: int) -> list[Problem]:
        try:
            sample = dataset[i]
        except Exception as e:  # a loader error for one sample must not stop the walk
            return [Problem("unreadable", f"cannot load sample {i}: {e}")]
        return _check_sample(sample, decode=decode)

    results: Iterable[list[Problem]]
    if workers > 1 and n > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(_with_progress(pool.map(check, range(n)), n, progress))
    else:
        results = _with_progress((check(i) for i in range(n)), n, progress)
    for found in results:
        problems.extend(found)
    return problems


def image_size(path: str, *, decode: bool) -> tuple[int, int]:
    """``(width, height)`` of an image file (PIL; EXIF orientation applied when decoding).

    Raises:
        FileNotFoundError: the file does not exist.
        OSError: the file cannot be read or decoded.
    """
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        if decode:
            im.load()
            im = ImageOps.exif_transpose(im)
        elif _exif_rotated(im):
            return im.size[1], im.size[0]
        return im.size


# ---------------------------------------------------------------------------------------


def _with_progress(
    it: Iterable[list[Problem]], total: int, progress: Callable[[int, int], None] | None
) -> Iterable[list[Problem]]:
    for k, found in enumerate(it, 1):
        if progress is not None:
            progress(k, total)
        yield found


def _check_sample(sample: Any, *, decode: bool) -> list[Problem]:
    sid = sample.sample_id
    out: list[Problem] = []
    img: ImageRef = sample.image
    size = _check_image(img, sid, decode, out)
    if size is not None and img.width is not None and img.height is not None:
        if (img.width, img.height) != size:
            out.append(
                Problem(
                    "size_mismatch",
                    f"annotation says {img.width}x{img.height}, image is {size[0]}x{size[1]} (WxH)",
                    sid,
                    img.path,
                )
            )
    target = sample.target
    if isinstance(target, SegmentationTarget):
        for path in (target.mask_path, target.instances_path):
            if path is None:
                continue
            msize = _check_file(path, sid, decode, out)
            if msize is not None and size is not None and msize != size:
                out.append(
                    Problem(
                        "size_mismatch",
                        f"ground truth is {msize[0]}x{msize[1]}, image is {size[0]}x{size[1]} (WxH)",
                        sid,
                        path,
                    )
                )
    return out


def _check_image(
    img: ImageRef, sid: Any, decode: bool, out: list[Problem]
) -> tuple[int, int] | None:
    if img.path is not None:
        return _check_file(img.path, sid, decode, out)
    if img.data is not None:
        import io

        try:
            return image_size(io.BytesIO(img.data), decode=decode)  # type: ignore[arg-type]
        except Exception as e:
            out.append(Problem("unreadable", f"cannot decode image bytes: {e}", sid))
            return None
    out.append(Problem("missing", "sample has neither an image path nor image bytes", sid))
    return None


def _check_file(path: str, sid: Any, decode: bool, out: list[Problem]) -> tuple[int, int] | None:
    if not os.path.exists(path):
        out.append(Problem("missing", "file does not exist", sid, path))
        return None
    try:
        return image_size(path, decode=decode)
    except Exception as e:
        out.append(
            Problem("unreadable", f"cannot decode image: {type(e).__name__}: {e}", sid, path)
        )
        return None


def _exif_rotated(im: Any) -> bool:
    try:
        return im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except Exception:
        return False
