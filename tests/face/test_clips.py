"""The scripted clips show what they claim (read by the photo engine), and survive the
camera simulator's MJPG round trip."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image as PilImage

from devices.simulators.camera import CameraSimulator
from kiosk.face import Decision, FaceVerifier, IdentityPolicy, Reference, run_clip
from kiosk.face.clips import FRAME_H, FRAME_W, Scenes
from kiosk.face.liveness import Challenge, LivenessPolicy
from kiosk.face.observe import observe


def test_clip_frames_are_camera_frames(scene: Scenes) -> None:
    for clip in (scene.live, scene.other, scene.still_photo, scene.moved_photo, scene.replay):
        assert clip.frames and all(f.shape == (FRAME_H, FRAME_W, 3) for f in clip.frames)
        assert all(f.dtype == np.uint8 for f in clip.frames)
        assert clip.live == (clip.name in {"live", "other"})
    assert scene.live.blinks and scene.live.turned_left and scene.live.turned_right
    assert 4.0 < scene.live.seconds < 8.0


def test_the_looping_live_clip_meets_any_challenge_from_any_point(scene: Scenes) -> None:
    # A try can begin anywhere in the loop: the worst case waits a whole loop for the move,
    # then the move itself (out and back), all inside one challenge's frame budget.
    budget = LivenessPolicy().challenge_frames
    loop = len(scene.live.frames)
    for turned in (scene.live.turned_left, scene.live.turned_right):
        turn = max(turned) - min(turned) + 1 + 8 + 8  # held turned, and the ramps out and back
        assert loop + turn < budget, (loop, turn, budget)  # a blink is shorter than a turn


def test_the_live_clip_blinks_and_turns_as_scripted(verifier: FaceVerifier, scene: Scenes) -> None:
    engine = verifier.engine
    engine.reset()
    seen = {i: observe(engine, frame) for i, frame in enumerate(scene.live.frames)}
    front = np.median([o.openness for i, o in seen.items() if i < 15])
    for i in scene.live.blinks:
        assert seen[i].openness < 0.6 * front
        assert "eyes_open" in seen[i].failing  # the photo engine sees the eyes shut too
    # Left is the citizen's left: the nose moves towards the image's right.
    assert all(seen[i].turn > 0.15 for i in scene.live.turned_left)
    assert all(seen[i].turn < -0.15 for i in scene.live.turned_right)
    assert all(abs(seen[i].turn) < 0.08 for i in range(10))
    engine.reset()


def test_document_photos_are_chip_sized(scene: Scenes) -> None:
    for data, kind in ((scene.document_jpeg, "JPEG"), (scene.document_jpeg2000, "JPEG2000")):
        with PilImage.open(io.BytesIO(data)) as image:
            assert (image.format, image.size) == (kind, (240, 320))
        assert 5_000 < len(data) < 40_000


def _through_camera(frames: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    """Encode the clip as the camera simulator does and read it back like the driver."""
    with CameraSimulator(width=FRAME_W, height=FRAME_H, noise=0.0, jitter_px=0) as camera:
        camera.play(frames)
        capture = cv2.VideoCapture(camera.path)
        out = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            out.append(np.asarray(frame, np.uint8))
        capture.release()
    assert len(out) == len(frames)
    return out


def test_clips_through_the_camera_simulator(
    verifier: FaceVerifier, reference: Reference, scene: Scenes
) -> None:
    policy = IdentityPolicy(challenges=(Challenge.BLINK, Challenge.TURN_RIGHT))
    live = run_clip(verifier.start(reference, policy), _through_camera(scene.live.frames))
    assert live.result is not None and live.result.decision is Decision.MATCH
    still = run_clip(verifier.start(reference, policy), _through_camera(scene.still_photo.frames))
    assert still.result is not None and still.result.decision is Decision.NOT_LIVE
