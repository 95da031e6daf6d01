"""The OpenCV camera driver reading the camera simulator's video through cv2.VideoCapture:
frames flow with timestamps and sequence numbers, the frame rate is measured, the scene can
be scripted, and the driver reconnects by itself after the camera drops out."""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from devices import registry
from devices.base import (
    CancelToken,
    ConfigurationError,
    Device,
    DeviceCancelled,
    DeviceEvent,
    DeviceEventKind,
    DeviceStatus,
    DeviceTimeout,
    DeviceUnavailable,
)
from devices.camera import Camera
from kiosk.machine.probes import camera as camera_probe

W, H, FPS = 320, 240, 25.0


def wait_until(predicate: Callable[[], bool], timeout_s: float = 60.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.fixture
def sim() -> Iterator[object]:
    sim_class = registry.simulator("camera", "opencv").load()
    simulator = sim_class(width=W, height=H, fps=FPS, clip_s=0.6, seed=7)  # type: ignore[operator]
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def camera(sim: object) -> Iterator[Camera]:
    driver_class = registry.driver("camera", "opencv").load()
    cam = driver_class.from_settings(  # type: ignore[attr-defined]
        "camera",
        {"source": sim.path, "width": W, "height": H, "fps": FPS},  # type: ignore[attr-defined]
    )
    yield cam
    cam.close()


def test_driver_satisfies_the_protocols(camera: Camera) -> None:
    assert isinstance(camera, Camera) and isinstance(camera, Device)
    assert camera.status().status is DeviceStatus.OFFLINE
    assert camera.latest_frame() is None


def test_frames_flow_with_timestamps_and_sequence(camera: Camera) -> None:
    before = time.monotonic()
    camera.open(timeout_s=3)
    frames = []
    seq = 0
    for _ in range(10):
        frame = camera.wait_frame(seq, timeout_s=2)
        frames.append(frame)
        seq = frame.sequence
    assert all(b.sequence > a.sequence for a, b in itertools.pairwise(frames))
    assert all(b.timestamp > a.timestamp for a, b in itertools.pairwise(frames))
    assert frames[0].timestamp >= before and frames[-1].timestamp <= time.monotonic()
    image = frames[-1].image
    assert image.shape == (H, W, 3) and image.dtype == np.uint8
    assert not image.flags.writeable  # shared between readers
    # Slight motion and noise: consecutive frames differ, but only a little.
    diff = np.abs(frames[-1].image.astype(int) - frames[-2].image.astype(int)).mean()
    assert 0.5 < diff < 40


def test_file_is_paced_like_a_camera_and_fps_is_measured(camera: Camera) -> None:
    camera.open(timeout_s=3)
    first = camera.wait_frame(0, timeout_s=2)
    time.sleep(1.5)  # spans at least two loops of the 0.6 s clip
    last = camera.latest_frame()
    assert last is not None
    rate = (last.sequence - first.sequence) / (last.timestamp - first.timestamp)
    assert 18 <= rate <= 30
    stats = camera.camera_stats()
    assert 18 <= stats.measured_fps <= 30 and stats.nominal_fps == FPS
    assert stats.frames_captured >= 30
    assert stats.frames_dropped <= 2
    # Nobody read the frames in between: they were superseded.
    assert stats.frames_superseded >= last.sequence - first.sequence - 2
    assert (stats.width, stats.height) == (W, H)
    assert camera.status().status is DeviceStatus.ONLINE


def test_wait_frame_times_out_and_cancels(camera: Camera, sim: object) -> None:
    camera.open(timeout_s=3)
    frame = camera.wait_frame(0, timeout_s=2)
    sim.disconnect()  # type: ignore[attr-defined]
    time.sleep(0.2)
    latest = camera.latest_frame()
    assert latest is not None
    with pytest.raises(DeviceTimeout):
        camera.wait_frame(latest.sequence, timeout_s=0.2)
    cancel = CancelToken()
    threading.Timer(0.1, cancel.cancel).start()
    with pytest.raises(DeviceCancelled):
        camera.wait_frame(latest.sequence, timeout_s=5, cancel=cancel)
    assert frame.sequence <= latest.sequence


def test_reconnects_after_the_camera_drops_out(camera: Camera, sim: object) -> None:
    events: list[DeviceEvent] = []
    camera.subscribe(events.append)
    camera.open(timeout_s=3)
    camera.wait_frame(0, timeout_s=2)
    sim.disconnect()  # type: ignore[attr-defined]
    assert wait_until(lambda: DeviceEventKind.DEVICE_LOST in [e.kind for e in events], 60)
    assert camera.status().status is DeviceStatus.NO_DEVICE
    time.sleep(0.3)  # a few failed reopen attempts
    lost_at = camera.latest_frame()
    assert lost_at is not None
    sim.reconnect()  # type: ignore[attr-defined]
    assert wait_until(lambda: DeviceEventKind.DEVICE_BACK in [e.kind for e in events], 60)
    frame = camera.wait_frame(lost_at.sequence, timeout_s=3)
    assert frame.sequence > lost_at.sequence  # numbering goes on across the outage
    stats = camera.camera_stats()
    assert stats.reconnects == 1 and stats.read_failures >= 1
    assert [e.kind for e in events] == [DeviceEventKind.DEVICE_LOST, DeviceEventKind.DEVICE_BACK]
    assert camera.status().status is DeviceStatus.ONLINE


def test_close_and_open_again(camera: Camera) -> None:
    camera.open(timeout_s=3)
    first = camera.wait_frame(0, timeout_s=2)
    camera.close()
    assert camera.status().status is DeviceStatus.OFFLINE
    camera.open(timeout_s=3)
    assert camera.wait_frame(first.sequence, timeout_s=2).sequence > first.sequence
    assert camera.status().status is DeviceStatus.ONLINE


def test_set_scene_switches_what_the_camera_sees(camera: Camera, sim: object) -> None:
    camera.open(timeout_s=3)
    camera.wait_frame(0, timeout_s=2)
    red = np.zeros((60, 80, 3), np.uint8)
    red[:, :, 2] = 255
    sim.set_scene(red, motion=False)  # type: ignore[attr-defined]

    def shows_red() -> bool:
        frame = camera.latest_frame()
        if frame is None:
            return False
        b, g, r = frame.image.reshape(-1, 3).mean(axis=0)
        return bool(r > 200 and g < 40 and b < 40)

    assert wait_until(shows_red, 3)  # from the next loop of the clip


def test_play_scripted_frames(camera: Camera, sim: object) -> None:
    levels = [40, 120, 200]
    sim.play([np.full((H, W, 3), v, np.uint8) for v in levels])  # type: ignore[attr-defined]
    camera.open(timeout_s=3)
    seen: set[int] = set()
    seq = 0
    end = time.monotonic() + 60
    while time.monotonic() < end and len(seen) < 3:
        frame = camera.wait_frame(seq, timeout_s=1)
        seq = frame.sequence
        seen.add(round(float(frame.image.mean()) / 10) * 10)
    assert seen == {40, 120, 200}


def test_the_simulator_says_how_long_its_clip_loops(sim: object) -> None:
    # Scripts wait this long for a new scene: the camera finishes the clip it is showing.
    assert sim.loop_s == pytest.approx(0.6)  # type: ignore[attr-defined]
    sim.play([np.zeros((H, W, 3), np.uint8)] * 50)  # type: ignore[attr-defined]
    assert sim.loop_s == pytest.approx(50 / FPS)  # type: ignore[attr-defined]


def test_open_fails_when_the_source_is_missing() -> None:
    driver_class = registry.driver("camera", "opencv").load()
    cam = driver_class.from_settings("camera", {"source": "/nonexistent/camera.avi"})  # type: ignore[attr-defined]
    with pytest.raises(DeviceUnavailable):
        cam.open(timeout_s=0.2)
    cam.close()


@pytest.mark.parametrize(
    "settings",
    [{"source": ""}, {"source": "sim"}, {"source": "0", "fps": 0}, {"source": "0", "width": "x"}],
)
def test_bad_settings_are_configuration_errors(settings: dict[str, object]) -> None:
    driver_class = registry.driver("camera", "opencv").load()
    with pytest.raises(ConfigurationError):
        driver_class.from_settings("camera", settings)  # type: ignore[attr-defined]


def test_probe_reports_rate_and_resolution(camera: Camera) -> None:
    result = camera_probe.probe(camera, argparse.Namespace(seconds=1.0))
    json.dumps(result)
    assert result["ok"] is True
    assert (result["width"], result["height"]) == (W, H)
    assert 20 <= result["fps"] <= 30  # type: ignore[operator]
    assert not camera.is_open


def test_device_index_without_a_camera_is_unavailable() -> None:
    driver_class = registry.driver("camera", "opencv").load()
    cam = driver_class.from_settings("camera", {"source": "9"})  # type: ignore[attr-defined]
    with pytest.raises(DeviceUnavailable):
        cam.open(timeout_s=0.2)
    assert cam.capabilities()["source"] == "device"


def test_simulator_replays_a_video_file(sim: object) -> None:
    sim_class = registry.simulator("camera", "opencv").load()
    replay = sim_class(width=160, height=120, fps=FPS, video=sim.path)  # type: ignore[attr-defined, operator]
    driver_class = registry.driver("camera", "opencv").load()
    with replay:
        cam = driver_class.from_settings("camera", {"source": replay.path, "fps": FPS})  # type: ignore[attr-defined]
        cam.open(timeout_s=3)
        try:
            frame = cam.wait_frame(0, timeout_s=2)
        finally:
            cam.close()
    assert (frame.width, frame.height) == (160, 120)
