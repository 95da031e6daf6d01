"""Images from outside the camera (a file, uploaded bytes): checked before they are decoded.

A compressed image can declare any size in its header: a 629-byte JPEG that claims
30000 x 30000 pixels makes a decoder allocate gigabytes and run for seconds. The header is
read first (Pillow reads only the header on ``open``) and an image over ``max_pixels`` or
``max_bytes`` is refused with :class:`ImageRefused` before any pixel is decoded.
"""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image as PilImage
from PIL import UnidentifiedImageError

from kiosk.photo.models import Image

log = logging.getLogger(__name__)

# 40 megapixels: above any camera a kiosk or a citizen's phone gives (a 1920x1080 kiosk still
# is 2 MP), far below what makes decoding slow (a 40 MP RGB frame is 120 MB).
MAX_PIXELS = 40_000_000
# Largest file read at all (a 40 MP photo as a high-quality JPEG is about 20 MB).
MAX_BYTES = 64 * 1024 * 1024


class ImageRefused(ValueError):
    """The image is not read: too large, unreadable or of an unknown format."""


def declared_size(data: bytes, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """Width and height as the image header declares them (nothing is decoded)."""
    with warnings.catch_warnings():
        # Pillow warns (and past twice its own limit raises) about large images: we decide.
        warnings.simplefilter("ignore", PilImage.DecompressionBombWarning)
        try:
            with PilImage.open(io.BytesIO(data)) as header:
                return int(header.width), int(header.height)
        except PilImage.DecompressionBombError as exc:
            # Pillow's own hard limit (twice its warning size) is far above ours.
            raise ImageRefused(
                f"image too large: its header declares over {max_pixels:,} pixels;"
                " it was not decoded"
            ) from exc
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise ImageRefused(f"not a readable image: {exc}") from exc


def decode_still(data: bytes, *, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES) -> Image:
    """Decode image bytes to an 8-bit BGR frame, refusing oversized images before decoding."""
    if len(data) > max_bytes:
        raise ImageRefused(f"image file too large: {len(data)} bytes (limit {max_bytes})")
    width, height = declared_size(data, max_pixels)
    if width <= 0 or height <= 0:
        raise ImageRefused(f"image declares no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ImageRefused(
            f"image too large: {width}x{height} = {width * height:,} pixels"
            f" (limit {max_pixels:,}); it was not decoded"
        )
    frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if frame is None:
        raise ImageRefused("the image data could not be decoded")
    return np.asarray(frame, np.uint8)


def read_still(
    path: str | Path, *, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES
) -> Image:
    """Read an image file (see :func:`decode_still`); a missing file is :class:`ImageRefused`."""
    source = Path(path)
    try:
        size = source.stat().st_size
        if size > max_bytes:
            raise ImageRefused(f"{source}: file too large: {size} bytes (limit {max_bytes})")
        data = source.read_bytes()
    except OSError as exc:
        raise ImageRefused(f"cannot read image {source}: {exc.strerror or exc}") from exc
    try:
        return decode_still(data, max_pixels=max_pixels, max_bytes=max_bytes)
    except ImageRefused as exc:
        raise ImageRefused(f"{source}: {exc}") from exc
