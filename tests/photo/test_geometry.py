"""Crop planning: whenever a crop is reported as fitting, the output obeys the spec."""

from __future__ import annotations

import cv2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.photo import PhotoEngine, PhotoSpec, load_spec
from kiosk.photo.geometry import HeadGeometry, head_geometry, plan_crop
from tests.photo.variants import Clean

SPEC: PhotoSpec = load_spec("cn-exit-entry")


@st.composite
def heads(draw: st.DrawFn) -> tuple[HeadGeometry, int, int]:
    frame_w = draw(st.integers(320, 2592))
    frame_h = draw(st.integers(240, 1944))
    ied = draw(st.floats(10, 0.5 * frame_w))
    eye_chin = ied * draw(st.floats(1.0, 2.2))
    x = draw(st.floats(0, frame_w))
    y = draw(st.floats(0, frame_h))
    crown = y - eye_chin * SPEC.geometry.crown_factor.value
    return HeadGeometry((x, y), ied, eye_chin, crown, y + eye_chin), frame_w, frame_h


@settings(max_examples=200, deadline=None)
@given(heads())
def test_fitting_crops_obey_the_spec(case: tuple[HeadGeometry, int, int]) -> None:
    geo, frame_w, frame_h = case
    plan = plan_crop(geo, SPEC, frame_w, frame_h)
    g, out_w = SPEC.geometry, SPEC.output.width.value
    if not plan.fits:
        assert plan.fixes
        assert set(plan.fixes) <= {"back", "move_left", "move_right", "move_up", "move_down"}
        return
    eps = 1e-6
    assert -eps <= plan.x and plan.x + plan.w <= frame_w + eps
    assert -eps <= plan.y and plan.y + plan.h <= frame_h + eps
    assert abs(plan.w * 4 - plan.h * 3) < 1e-6 * plan.h
    assert abs(plan.w * plan.scale - out_w) < 1e-6 * out_w
    assert g.ied_min.value - eps <= geo.ied * plan.scale / out_w <= g.ied_max.value + eps
    assert g.eye_x_min.value - eps <= (geo.eye_mid[0] - plan.x) / plan.w <= g.eye_x_max.value + eps
    assert g.eye_y_min.value - eps <= (geo.eye_mid[1] - plan.y) / plan.h <= g.eye_y_max.value + eps


def test_face_near_the_left_edge_asks_to_move_left() -> None:
    geo = HeadGeometry((40.0, 240.0), 60.0, 90.0, 240.0 - 108.0, 330.0)
    plan = plan_crop(geo, SPEC, 640, 480)
    assert not plan.fits
    assert plan.fixes[0] == "move_left"


def test_face_too_large_for_the_frame_asks_to_move_back() -> None:
    geo = HeadGeometry((320.0, 200.0), 150.0, 200.0, 200.0 - 240.0, 400.0)
    plan = plan_crop(geo, SPEC, 640, 480)
    assert not plan.fits
    assert "back" in plan.fixes


def test_tall_hair_raises_the_crown(cleans: dict[str, Clean], engine: PhotoEngine) -> None:
    clean = cleans["astronaut"]
    before = engine.analyse(clean.frame, full=True).geometry
    assert before is not None
    canon = head_geometry(clean.face, SPEC)
    assert before.crown_y == pytest.approx(canon.crown_y, abs=3)  # plain wall: canon holds
    bun = clean.frame.copy()
    x, y = round(before.eye_mid[0]), round(before.crown_y)
    cv2.ellipse(
        bun,
        (x, y),
        (round(0.4 * before.ied), round(0.5 * before.eye_chin)),
        0,
        0,
        360,
        (40, 50, 70),
        -1,
    )
    after = engine.analyse(bun, full=True).geometry
    assert after is not None
    assert after.crown_y == pytest.approx(y - 0.5 * before.eye_chin, abs=4)
    assert after.head_height > before.head_height
