from __future__ import annotations

from kiosk.photo import Box, PhotoSpec, StillnessTracker


def test_still_after_hold_time(spec: PhotoSpec) -> None:
    tracker = StillnessTracker.from_spec(spec)
    box = Box(100, 100, 200, 200)
    t = 0.0
    results = []
    while t <= spec.capture.still_seconds.value + 0.2:
        results.append((t, tracker.update(t, box)))
        t += 0.1
    first_true = next(t for t, ok in results if ok)
    assert abs(first_true - spec.capture.still_seconds.value) < 0.11
    assert not any(ok for t, ok in results if t < spec.capture.still_seconds.value - 1e-9)


def test_movement_restarts_the_clock() -> None:
    tracker = StillnessTracker(movement_max=0.04, hold_s=1.0)
    assert not tracker.update(0.0, Box(0, 0, 100, 100))
    assert not tracker.update(0.9, Box(1, 0, 100, 100))  # 1 % of the width: still
    assert not tracker.update(1.0, Box(20, 0, 100, 100))  # 20 %: moved, clock restarts
    assert tracker.still_for == 0.0
    assert not tracker.update(1.5, Box(20, 1, 100, 100))
    assert tracker.update(2.0, Box(21, 1, 100, 100))
    assert tracker.still_for == 1.0


def test_losing_the_face_resets() -> None:
    tracker = StillnessTracker(movement_max=0.04, hold_s=0.5)
    tracker.update(0.0, Box(0, 0, 100, 100))
    assert not tracker.update(0.3, None)
    assert not tracker.update(0.6, Box(0, 0, 100, 100))
    assert tracker.update(1.1, Box(0, 0, 100, 100))


def test_size_change_counts_as_movement() -> None:
    tracker = StillnessTracker(movement_max=0.04, hold_s=0.5)
    tracker.update(0.0, Box(0, 0, 100, 100))
    assert not tracker.update(0.6, Box(-5, -5, 110, 110))  # leaning in
    assert tracker.update(1.2, Box(-5, -5, 110, 110))
