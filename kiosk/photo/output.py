"""The submitted photo: crop and scale from the original frame, JPEG inside the size band.

Only geometry is applied (crop, uniform scale); the face is never retouched.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image as PilImage

from kiosk.photo.engine import Assessment
from kiosk.photo.models import Image
from kiosk.photo.spec import PhotoSpec

log = logging.getLogger(__name__)

# The band must hold under both readings of "KB": the lower edge in KiB, the upper in kB.
KIB = 1024
KB = 1000


class PhotoNotCompliant(Exception):
    """The frame cannot give a compliant photo; ``reasons`` are (instruction zh, en) pairs."""

    def __init__(self, reasons: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(en for _, en in reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class PhotoOutput:
    jpeg: bytes
    width: int
    height: int
    dpi: int
    quality: int
    spec_version: str

    @property
    def size_kb(self) -> float:
        return len(self.jpeg) / KIB


def _reasons(assessment: Assessment) -> list[tuple[str, str]]:
    return [
        (x.instruction_zh or x.name, x.instruction_en or x.name)
        for x in assessment.failures
        if x.hard
    ]


def crop_frame(frame_bgr: Image, assessment: Assessment, spec: PhotoSpec) -> Image:
    """The output-sized RGB image (no encoding)."""
    crop = assessment.crop
    if crop is None:
        raise PhotoNotCompliant(_reasons(assessment))
    out_w, out_h = spec.output.width.int, spec.output.height.int
    s = crop.scale
    mat = np.array([[s, 0.0, -crop.x * s], [0.0, s, -crop.y * s]], dtype=np.float64)
    flags = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    bgr = cv2.warpAffine(
        frame_bgr, mat, (out_w, out_h), flags=flags, borderMode=cv2.BORDER_REPLICATE
    )
    return np.ascontiguousarray(bgr[..., ::-1])


def encode_jpeg(rgb: Image, spec: PhotoSpec) -> tuple[bytes, int]:
    """Binary-search the highest JPEG quality whose file lands inside the size band."""
    o = spec.output
    low_bytes, high_bytes = o.min_kb.value * KIB, o.max_kb.value * KB
    dpi = o.dpi.int
    picture = PilImage.fromarray(rgb, "RGB")

    def encode(quality: int, subsampling: int) -> bytes:
        buf = io.BytesIO()
        picture.save(
            buf, "JPEG", quality=quality, dpi=(dpi, dpi), subsampling=subsampling, optimize=True
        )
        return buf.getvalue()

    lo, hi = o.min_quality.int, o.max_quality.int
    best: tuple[bytes, int] | None = None
    # 4:2:0 first (smaller files); 4:4:4 raises the size when even the top quality is too small.
    for subsampling in (2, 0):
        a, b = lo, hi
        while a <= b:
            q = (a + b) // 2
            data = encode(q, subsampling)
            if len(data) > high_bytes:
                b = q - 1
            else:
                if len(data) >= low_bytes:
                    best = (data, q)
                a = q + 1
        if best is not None:
            return best
    raise PhotoNotCompliant(
        [
            (
                "无法生成符合大小要求的照片文件",
                f"cannot encode inside {o.min_kb.value:g}-{o.max_kb.value:g} KB",
            )
        ]
    )


def make_photo(frame_bgr: Image, assessment: Assessment, spec: PhotoSpec) -> PhotoOutput:
    """The photo to submit, or :class:`PhotoNotCompliant` with the instructions to fix.

    ``assessment`` must be the engine's verdict on this very frame (its crop is in the
    frame's pixels); analyse the captured still with ``full=True``.
    """
    height, width = frame_bgr.shape[:2]
    if (width, height) != assessment.frame_size:
        raise ValueError(
            f"assessment is for a {assessment.frame_size} frame, not {(width, height)}"
        )
    if not assessment.compliant:
        raise PhotoNotCompliant(_reasons(assessment) or [("未检测到人脸", "no face found")])
    crop = assessment.crop
    if crop is None or not crop.fits:
        keys = crop.fixes if crop is not None else ("no_face",)
        raise PhotoNotCompliant(
            [(spec.instruction(k).zh, spec.instruction(k).en) for k in keys[:1]]
        )
    rgb = crop_frame(frame_bgr, assessment, spec)
    jpeg, quality = encode_jpeg(rgb, spec)
    log.info("photo encoded: %d bytes at quality %d (spec %s)", len(jpeg), quality, spec.version)
    return PhotoOutput(
        jpeg=jpeg,
        width=rgb.shape[1],
        height=rgb.shape[0],
        dpi=spec.output.dpi.int,
        quality=quality,
        spec_version=spec.version,
    )
