from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image as PilImage

from kiosk.photo import PhotoEngine, PhotoNotCompliant, PhotoSpec, make_photo
from kiosk.photo.output import KB, KIB, encode_jpeg
from kiosk.photo.spec import SPEC_DIR, parse_spec
from tests.photo.conftest import CLEAN_SOURCES
from tests.photo.variants import DEFECTS, Clean


@pytest.mark.parametrize("source", CLEAN_SOURCES)
def test_output_meets_the_file_and_geometry_rules(
    source: str, cleans: dict[str, Clean], engine: PhotoEngine, spec: PhotoSpec
) -> None:
    frame = cleans[source].frame
    if source == "astronaut":
        # She smiles with her teeth showing (refused); the framing rules are checked on her
        # photo all the same, with the mouth measures made advisory.
        text = (SPEC_DIR / "cn-exit-entry.toml").read_text(encoding="utf-8")
        for name in ("expression", "mouth_closed"):
            text = text.replace(f"{name} = {{ hard = true", f"{name} = {{ hard = false")
        engine = PhotoEngine(parse_spec(text), engine.models)
    photo = make_photo(frame, engine.analyse(frame, full=True), spec)
    assert spec.output.min_kb.value * KIB <= len(photo.jpeg) <= spec.output.max_kb.value * KB
    decoded = PilImage.open(io.BytesIO(photo.jpeg))
    assert decoded.format == "JPEG" and decoded.mode == "RGB"  # 24-bit
    assert decoded.size == (354, 472) == (photo.width, photo.height)
    assert decoded.info["dpi"] == (300, 300)
    assert spec.output.min_quality.value <= photo.quality <= spec.output.max_quality.value
    # Measure the written photo itself: eye distance and eye line inside the spec bands.
    bgr = cv2.imdecode(np.frombuffer(photo.jpeg, np.uint8), cv2.IMREAD_COLOR)
    again = PhotoEngine(spec).analyse(bgr, full=True)
    assert again.geometry is not None
    g = spec.geometry
    ied = again.geometry.ied / photo.width
    assert g.ied_min.value <= ied <= g.ied_max.value
    eye_x = again.geometry.eye_mid[0] / photo.width
    eye_y = again.geometry.eye_mid[1] / photo.height
    assert g.eye_x_min.value <= eye_x <= g.eye_x_max.value
    assert g.eye_y_min.value <= eye_y <= g.eye_y_max.value
    head = again.geometry.head_height / photo.height
    assert g.head_min.value - 0.03 <= head <= g.head_max.value + 0.03


def test_output_is_pixels_of_the_frame_only(
    cleans: dict[str, Clean], engine: PhotoEngine, spec: PhotoSpec
) -> None:
    # No retouching: the output equals the frame resampled through the crop.
    frame = cleans["grace_hopper"].frame
    assessment = engine.analyse(frame, full=True)
    photo = make_photo(frame, assessment, spec)
    crop = assessment.crop
    assert crop is not None
    decoded = np.asarray(PilImage.open(io.BytesIO(photo.jpeg)).convert("RGB"), np.float32)
    x0, y0 = int(crop.x), int(crop.y)
    region = frame[y0 : y0 + int(crop.h), x0 : x0 + int(crop.w), ::-1]
    expected = cv2.resize(region, (photo.width, photo.height), interpolation=cv2.INTER_AREA).astype(
        np.float32
    )
    assert float(np.abs(decoded - expected).mean()) < 6.0


@pytest.mark.parametrize(
    ("defect", "key"), [("off_centre", "move_left"), ("too_large", "back"), ("blur", "sharpness")]
)
def test_non_compliant_frames_are_refused_with_reasons(
    defect: str, key: str, cleans: dict[str, Clean], engine: PhotoEngine, spec: PhotoSpec
) -> None:
    _, make = DEFECTS[defect]
    frame = make(cleans["grace_hopper"])
    with pytest.raises(PhotoNotCompliant) as caught:
        make_photo(frame, engine.analyse(frame, full=True), spec)
    assert (spec.instruction(key).zh, spec.instruction(key).en) in caught.value.reasons


def test_size_search_lands_inside_the_band_for_detailed_content(spec: PhotoSpec) -> None:
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 256, (472, 354, 3), dtype=np.uint8)
    smooth = cv2.GaussianBlur(noise, (0, 0), 0.8)
    data, quality = encode_jpeg(smooth, spec)
    assert spec.output.min_kb.value * KIB <= len(data) <= spec.output.max_kb.value * KB
    assert quality < spec.output.max_quality.value  # it had to come down to fit


def test_flat_content_cannot_reach_the_minimum_size(spec: PhotoSpec) -> None:
    flat = np.full((472, 354, 3), 240, np.uint8)
    with pytest.raises(PhotoNotCompliant):
        encode_jpeg(flat, spec)


def test_assessment_of_another_frame_is_rejected(
    cleans: dict[str, Clean], engine: PhotoEngine, spec: PhotoSpec
) -> None:
    frame = cleans["astronaut"].frame
    assessment = engine.analyse(frame, full=True)
    with pytest.raises(ValueError, match="assessment is for"):
        make_photo(cv2.resize(frame, (1280, 960)), assessment, spec)
