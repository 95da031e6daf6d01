"""Decoding reference and probe images with limits checked before any pixel is decoded.

A chip's DG2 face is JPEG or JPEG 2000 (devices/icao/lds.py), central's application photo
is JPEG; files given to the command line may be PNG as well. Pillow reads only the header in
``Image.open``; the declared size is checked against ``MAX_PIXELS`` before ``load()``, and the
encoded size against ``MAX_BYTES`` before the bytes are read at all, so a declared-huge image
(a decompression bomb) is refused without being decoded.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

# 24 MP and 30 MB: far above any document photo (DG2 is usually <= 1 MP, < 100 KB) or camera
# frame, far below what would exhaust the kiosk's memory once decoded (24 MP x 3 = 72 MB).
MAX_PIXELS = 24_000_000
MAX_BYTES = 30_000_000
FORMATS = frozenset({"JPEG", "JPEG2000", "PNG", "BMP", "TIFF", "WEBP", "PPM"})

Frame = npt.NDArray[np.uint8]


class ImageRefused(ValueError):
    """The image cannot be used: unreadable, of an unsupported format or too large."""


def _check_open(image: Image.Image, what: str, max_pixels: int) -> None:
    if image.format not in FORMATS:
        raise ImageRefused(f"{what}: unsupported image format {image.format}")
    width, height = image.size
    if width <= 0 or height <= 0 or width * height > max_pixels:
        raise ImageRefused(
            f"{what}: image declares {width}x{height} pixels, more than the limit of"
            f" {max_pixels / 1e6:.0f} megapixels; refused before decoding"
        )


def to_bgr(image: Image.Image) -> Frame:
    """A decoded Pillow image as a contiguous 8-bit BGR array."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def decode(
    data: bytes, what: str = "image", *, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES
) -> Frame:
    """Encoded bytes -> BGR frame, or :class:`ImageRefused` with a plain reason."""
    if len(data) > max_bytes:
        raise ImageRefused(f"{what}: {len(data)} bytes, more than the limit of {max_bytes}")
    with warnings.catch_warnings():
        # Pillow warns (and past twice its own limit raises) on big images; ours is lower.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                _check_open(image, what, max_pixels)
                image.load()
                # Camera and phone JPEGs may be stored sideways with an EXIF orientation.
                return to_bgr(ImageOps.exif_transpose(image) or image)
        except ImageRefused:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            # Pillow's own guard fires in ``open`` for images far above our limit.
            raise ImageRefused(
                f"{what}: image declares more than {max_pixels / 1e6:.0f} megapixels;"
                " refused before decoding"
            ) from exc
        except UnidentifiedImageError as exc:
            raise ImageRefused(f"{what}: not a readable image (unknown or damaged format)") from exc
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageRefused(f"{what}: not a readable image ({exc})") from exc


def read_file(
    path: str | Path, *, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES
) -> Frame:
    """A file -> BGR frame; the file's size is checked before it is read."""
    file = Path(path)
    try:
        size = file.stat().st_size
    except OSError as exc:
        raise ImageRefused(f"{file}: cannot be read ({exc.strerror})") from exc
    if size > max_bytes:
        raise ImageRefused(f"{file}: {size} bytes, more than the limit of {max_bytes}")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ImageRefused(f"{file}: cannot be read ({exc.strerror})") from exc
    return decode(data, str(file), max_pixels=max_pixels, max_bytes=max_bytes)


def as_frame(image: Any, what: str = "image") -> Frame:
    """Accept encoded bytes, a decoded Pillow image or a BGR array."""
    if isinstance(image, bytes | bytearray | memoryview):
        return decode(bytes(image), what)
    if isinstance(image, Image.Image):
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ImageRefused(f"{what}: {width}x{height} pixels, more than the limit")
        return to_bgr(image)
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ImageRefused(f"{what}: expected an 8-bit BGR array, got {array.dtype} {array.shape}")
    return np.ascontiguousarray(array)
