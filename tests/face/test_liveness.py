"""The liveness detectors on their own: openness and turn sequences, planar motion, screen
texture."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from kiosk.face.liveness import (
    BlinkDetector,
    LivenessPolicy,
    ScreenDetector,
    TurnDetector,
    planar_residual,
    screen_score,
)

POLICY = LivenessPolicy()


def blinks(values: list[float]) -> int:
    detector = BlinkDetector(POLICY)
    return sum(detector.update(v) for v in values)


def test_a_blink_is_a_short_dip_below_the_own_open_level() -> None:
    open_eyes = [0.08 + 0.002 * (i % 3) for i in range(12)]
    assert blinks([*open_eyes, 0.05, 0.03, 0.03, 0.06, *open_eyes]) == 1
    assert blinks([*open_eyes, 0.03, *open_eyes, 0.02, 0.07, *open_eyes]) == 2
    # Narrow eyes are not closed eyes: the level is the citizen's own.
    assert blinks([v / 2 for v in open_eyes] * 3) == 0
    # Jitter of a few percent is no blink.
    assert blinks([0.08 * (1 + 0.08 * np.sin(i)) for i in range(60)]) == 0


def test_eyes_kept_shut_are_not_a_blink() -> None:
    open_eyes = [0.08] * 12
    shut = [0.02] * (POLICY.blink_max_frames + 5)
    assert blinks(open_eyes + shut + open_eyes) == 0


def turn_done(side: int, turns: list[float]) -> tuple[bool, TurnDetector]:
    detector = TurnDetector(side, POLICY)
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 100, (30, 2))
    done = False
    for t in turns:
        # A real head: the nose points (last 5) move against the outline as the head turns.
        shape = base.copy()
        shape[-5:, 0] += 60 * t
        done = detector.update(t, shape, 60.0) or done
    return done, detector


def test_a_turn_to_the_asked_side_and_back() -> None:
    there_and_back = [0.0, 0.0, 0.1, 0.2, 0.25, 0.25, 0.2, 0.1, 0.02, 0.0]
    done, detector = turn_done(+1, there_and_back)
    assert done and detector.parallax > POLICY.parallax_min
    assert not turn_done(-1, there_and_back)[0]  # the other side
    assert turn_done(-1, [-t for t in there_and_back])[0]
    assert not turn_done(+1, [0.0, 0.1, 0.25, 0.25, 0.25])[0]  # never came back
    assert not turn_done(+1, [0.0, 0.12, 0.0, 0.12, 0.0])[0]  # too slight
    # Measured from the citizen's own frontal reading: a habitual offset does not count.
    assert turn_done(+1, [0.1, 0.1, 0.3, 0.35, 0.35, 0.1])[0]
    assert not turn_done(+1, [0.1, 0.1, 0.2, 0.2, 0.1])[0]


def test_planar_motion_has_no_residual_a_3d_one_has() -> None:
    rng = np.random.default_rng(1)
    points = rng.uniform(0, 200, (40, 2))
    h = np.array([[0.9, 0.1, 12.0], [-0.05, 1.1, -4.0], [0.0004, -0.0002, 1.0]])
    moved = cv2.perspectiveTransform(points.reshape(-1, 1, 2), h).reshape(-1, 2)
    assert planar_residual(points, moved) < 1e-6
    bumped = moved.copy()
    bumped[:6, 0] += 15.0
    assert planar_residual(points, bumped) > 2.0


@pytest.mark.parametrize("period", [2.4, 3.0, 4.5])
def test_a_pixel_grid_reads_as_a_screen_skin_does_not(period: float) -> None:
    rng = np.random.default_rng(2)
    skin = cv2.GaussianBlur(rng.normal(150, 12, (200, 200)).astype(np.float32), (0, 0), 3)
    xs = np.arange(200)[None, :]
    grid = skin + 10 * np.sin(2 * np.pi * xs / period)
    eyes, ied = np.array([100.0, 70.0]), 90.0
    as_image = lambda a: np.clip(a, 0, 255).astype(np.uint8)  # noqa: E731
    assert screen_score(as_image(grid), eyes, ied) > POLICY.screen_max
    assert screen_score(as_image(skin), eyes, ied) < POLICY.screen_max
    detector = ScreenDetector(POLICY)
    for _ in range(POLICY.screen_frames):
        detector.update(screen_score(as_image(grid), eyes, ied))
    assert detector.screen


def test_the_turn_starts_from_a_frontal_frame() -> None:
    detector = TurnDetector(+1, POLICY)
    shape = np.zeros((30, 2))
    # Already turned the asked way when asked: that reading is not the start.
    assert not detector.update(0.2, shape, 60.0, frontal=False)
    for t in (0.0, 0.2, 0.2, 0.0):
        done = detector.update(t, shape + t, 60.0, frontal=abs(t) < 0.1)
    assert done
