"""Image decoding shared by loaders and the engine (torchvision.io, PIL fallback).

Decodes JPEG/PNG files or bytes to ``uint8`` RGB tensors ``[3, H, W]``: EXIF orientation is
applied, grey and CMYK JPEGs become RGB. A missing or unreadable file raises
:class:`~visionbench.errors.AnnotationError` naming it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from visionbench.errors import AnnotationError

if TYPE_CHECKING:
    from visionbench.types import ImageRef

__all__ = ["decode_image", "read_image_file"]

_TORCHVISION_IO_DEPRECATED = "The image decoding and encoding capabilities of TorchVision"


@contextmanager
def _torchvision_io() -> Iterator[None]:
    """Silence torchvision's deprecation warning around our own torchvision.io calls only.

    torchvision 0.29 deprecates ``torchvision.io`` decoding in favour of TorchCodec; it is
    still the fastest JPEG/PNG decoder that ships with the pinned torchvision. The filter
    is scoped (``catch_warnings`` restores the caller's filters): importing this module
    changes no warning filter. The decoders run in the main thread or in DataLoader
    worker processes, where ``catch_warnings`` is safe.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=_TORCHVISION_IO_DEPRECATED, category=DeprecationWarning
        )
        yield


def decode_image(ref: ImageRef) -> Any:
    """Decode an :class:`~visionbench.types.ImageRef` to a uint8 RGB tensor [3, H, W]."""
    import torch
    from torchvision.io import ImageReadMode
    from torchvision.io import decode_image as tv_decode

    if ref.data is not None:
        data = torch.frombuffer(bytearray(ref.data), dtype=torch.uint8)
        where = "<bytes>"
    elif ref.path is not None:
        data = read_image_file(ref.path)
        where = ref.path
    else:
        raise AnnotationError("image reference has neither a path nor bytes")
    try:
        with _torchvision_io():
            img = tv_decode(data, mode=ImageReadMode.RGB, apply_exif_orientation=True)
    except RuntimeError:
        img = _decode_with_pil(data.numpy().tobytes(), where)
    check_image_size(ref, int(img.shape[-1]), int(img.shape[-2]), where)
    return img


class ImageSizeMismatch(AnnotationError):
    """The decoded image is not the size its annotation records (``bench run --lenient``
    skips such samples)."""


def check_image_size(ref: ImageRef, width: int, height: int, where: str) -> None:
    """Refuse pixels whose size differs from the annotation's ``width`` / ``height``: boxes
    and masks drawn for one size are not scored against an image of another."""
    if ref.width is None or ref.height is None:
        return
    if (int(ref.width), int(ref.height)) != (width, height):
        raise ImageSizeMismatch(
            f"image is {width}x{height} pixels (WxH) but the annotation says "
            f"{ref.width}x{ref.height}; fix the annotation or the image (`bench data verify` "
            "lists every such image; `bench run --lenient` skips them)",
            path=where,
            field="width/height",
        )


def read_image_file(path: str) -> Any:
    """Read an encoded image file into a uint8 tensor, naming the file on failure."""
    import os

    from torchvision.io import read_file

    path = str(path)
    if not os.path.exists(path):
        raise AnnotationError("image file not found", path=path)
    if os.path.isdir(path):
        raise AnnotationError("expected an image file, found a folder", path=path)
    try:
        with _torchvision_io():
            return read_file(path)
    except (RuntimeError, OSError) as e:
        raise AnnotationError(f"cannot read image: {_clean(e)}", path=path) from None


def _clean(e: BaseException) -> str:
    """An error message without torch's C++ source locations (``[/__w/vision/...cpp:78]``)
    or 'Exception raised from' trailers."""
    import re

    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    msg = str(e).split("Exception raised from")[0]
    msg = re.sub(r"\s*\[?\(?[^\s\[\]()]*\.(?:cpp|cc|h|hpp|cu):\d+\]?\)?", "", msg)
    return " ".join(msg.split()) or type(e).__name__


def _decode_with_pil(buf: bytes, where: str) -> Any:
    """Fallback for what libjpeg/libpng in torchvision refuse (e.g. CMYK, odd PNG modes)."""
    import io

    import numpy as np
    import torch
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(buf)) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
            arr = np.asarray(im)
    except (UnidentifiedImageError, OSError) as e:
        reason = (
            "unrecognised or corrupt image data"
            if isinstance(e, UnidentifiedImageError)
            else str(e)
        )
        raise AnnotationError(f"cannot decode image: {reason}", path=where) from None
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()
