"""The live identity check, driven frame by frame as a flow step's worker does, on scripted
clips made from real photographs (kiosk/face/clips.py)."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import pytest

from kiosk.face import (
    Challenge,
    Decision,
    FaceVerifier,
    IdentityPolicy,
    IdentityResult,
    Phase,
    Reference,
    run_clip,
)
from kiosk.face.clips import Clip, Scenes

BLINK, LEFT, RIGHT = Challenge.BLINK, Challenge.TURN_LEFT, Challenge.TURN_RIGHT


def check(
    verifier: FaceVerifier,
    reference: Reference,
    clip: Clip,
    challenges: Sequence[Challenge] = (BLINK, LEFT),
    **policy: object,
) -> tuple[IdentityResult, list[str]]:
    """Run ``clip`` through a check; the result and the instructions shown, in order."""
    live = verifier.start(reference, IdentityPolicy(challenges=tuple(challenges), **policy))  # type: ignore[arg-type]
    shown: list[str] = []
    for _ in range(4):  # the camera simulator loops its clip
        for frame in clip.frames:
            progress = live.feed(frame)
            key = None if progress.instruction is None else progress.instruction.key
            if key is not None and (not shown or shown[-1] != key):
                shown.append(key)
            if progress.done:
                assert progress.result is not None and progress.phase is Phase.DONE
                return progress.result, shown
    raise AssertionError("the check never decided")


@pytest.mark.parametrize("challenges", [(BLINK, LEFT), (RIGHT, BLINK), (LEFT, BLINK, RIGHT)])
def test_live_citizen_matches(
    verifier: FaceVerifier, reference: Reference, scene: Scenes, challenges: tuple[Challenge, ...]
) -> None:
    result, shown = check(verifier, reference, scene.live, challenges)
    assert result.decision is Decision.MATCH, result
    assert result.match and result.reason is None
    assert result.score is not None and result.score <= result.threshold
    # Each challenge was asked, in the order given.
    asked = [k for k in shown if k in {"blink", "turn_left", "turn_right"}]
    assert asked == [c.value for c in challenges]
    assert result.liveness.blinks >= 1
    assert set(result.liveness.turns) == {c.value for c in challenges if c is not BLINK}
    assert result.liveness.parallax is not None
    assert result.liveness.parallax >= result.liveness.parallax_min
    assert not result.liveness.flat


def test_random_challenges_are_a_blink_and_one_turn(
    verifier: FaceVerifier, reference: Reference
) -> None:
    seen = set()
    for seed in range(12):
        live = verifier.start(reference, rng=random.Random(seed))
        assert sorted(c.value for c in live.challenges)[0] == "blink"
        assert len(live.challenges) == 2
        seen.add(live.challenges)
        live.close()
    assert len(seen) == 4  # both orders, both sides


def test_someone_else_live_is_no_match(
    verifier: FaceVerifier, reference: Reference, scene: Scenes
) -> None:
    result, _ = check(verifier, reference, scene.other)
    assert result.decision is Decision.NO_MATCH
    assert result.score is not None and result.score > result.threshold
    assert result.reason is not None and result.reason.key == "no_match_retry"
    assert result.outcome.key == "no_match"


def test_still_photo_is_refused(
    verifier: FaceVerifier, reference: Reference, scene: Scenes
) -> None:
    result, shown = check(verifier, reference, scene.still_photo)
    assert result.decision is Decision.NOT_LIVE
    assert result.reason is not None and result.reason.key == "blink"
    assert result.reason.en == "Please blink" and result.reason.zh == "请眨眨眼"
    assert result.score is None  # no comparison without liveness
    assert result.liveness.blinks == 0
    assert "blink" in shown


def test_photo_moved_about_is_refused(
    verifier: FaceVerifier, reference: Reference, scene: Scenes
) -> None:
    for challenges in ((BLINK, LEFT), (RIGHT, BLINK)):
        result, _ = check(verifier, reference, scene.moved_photo, challenges)
        assert result.decision is Decision.NOT_LIVE, challenges
        assert result.liveness.blinks == 0 and result.liveness.turns == ()


def test_phone_replay_is_refused_and_recognised_as_a_screen(
    verifier: FaceVerifier, reference: Reference, scene: Scenes
) -> None:
    result, _ = check(verifier, reference, scene.replay)
    assert result.decision is Decision.NOT_LIVE
    assert result.liveness.screen > result.liveness.screen_max
    assert result.reason is not None and result.reason.key == "flat_face"


def test_citizen_who_does_not_blink_runs_out_of_frames(
    verifier: FaceVerifier, reference: Reference, scene: Scenes
) -> None:
    """The challenge budget counts analysed frames, not seconds."""
    policy = IdentityPolicy(challenges=(BLINK,))
    live = verifier.start(reference, policy)
    frames = scene.no_blink.frames
    budget = policy.liveness.challenge_frames
    fed = 0
    progress = live.progress()
    while not progress.done:
        progress = live.feed(frames[fed % len(frames)])
        fed += 1
        assert fed <= budget + 5
    result = progress.result
    assert result is not None and result.decision is Decision.NOT_LIVE
    assert result.reason is not None and result.reason.key == "blink"
    # Positioning took one frame (the first one was good), then the whole challenge budget.
    assert fed == budget + 1
    assert result.frames == fed


def test_no_face_times_out_after_the_position_budget(
    verifier: FaceVerifier, reference: Reference
) -> None:
    wall = np.full((480, 640, 3), (226, 224, 220), np.uint8)
    policy = IdentityPolicy(position_frames=20)
    live = verifier.start(reference, policy)
    for n in range(1, 21):
        progress = live.feed(wall)
        assert progress.done == (n == 20)
        assert progress.instruction is not None
    result = live.result
    assert result is not None and result.decision is Decision.TIMEOUT
    assert result.reason is not None and result.reason.key == "look_at_camera"
    assert result.frames == 20
    assert live.feed(wall).result is result  # decided: further frames change nothing


def test_expire_ends_the_try_for_the_flow_timer(
    verifier: FaceVerifier, reference: Reference, scene: Scenes
) -> None:
    live = verifier.start(reference, IdentityPolicy(challenges=(LEFT,)))
    for frame in scene.live.frames[:5]:
        progress = live.feed(frame)
    assert progress.phase is Phase.CHALLENGE
    assert progress.instruction is not None and progress.instruction.key == "turn_left"
    result = live.expire()
    assert result.decision is Decision.NOT_LIVE
    assert result.reason is not None and result.reason.key == "turn_left"
    assert live.expire() is result


def test_result_record_holds_no_template(
    verifier: FaceVerifier, reference: Reference, scene: Scenes
) -> None:
    result, _ = check(verifier, reference, scene.live)
    record = result.record()
    assert set(record) == {"decision", "score", "threshold", "model", "reference_sha256"}
    assert record["reference_sha256"] == reference.sha256
    assert all(isinstance(v, str | float | type(None)) for v in record.values())


def test_close_zeroes_the_kept_face_chips(
    verifier: FaceVerifier, reference: Reference, scene: Scenes
) -> None:
    live = verifier.start(reference, IdentityPolicy(challenges=(BLINK,)))
    for frame in scene.live.frames[:3]:
        live.feed(frame)
    kept = [chip for _, chip in live._best]
    assert kept and all(chip.any() for chip in kept)
    live.close()
    assert all(not chip.any() for chip in kept)


def test_face_lost_starts_the_try_over(
    verifier: FaceVerifier, reference: Reference, scene: Scenes
) -> None:
    policy = IdentityPolicy(challenges=(BLINK, LEFT), lost_frames=3)
    live = verifier.start(reference, policy)
    blink_end = scene.live.blinks[0] + 6
    for frame in scene.live.frames[: blink_end + 2]:
        progress = live.feed(frame)
    assert progress.challenge is LEFT  # the blink is done
    wall = np.full((480, 640, 3), (226, 224, 220), np.uint8)
    for _ in range(5):
        progress = live.feed(wall)
    assert progress.phase is Phase.POSITION
    assert progress.instruction is not None and progress.instruction.key == "stay"
    progress = live.feed(scene.live.frames[0])
    assert progress.challenge is BLINK  # asked again from the start


def test_reference_wipe(verifier: FaceVerifier, scene: Scenes) -> None:
    reference = verifier.reference(scene.document_jpeg)
    reference.wipe()
    assert not reference.embedding.any()


def test_run_clip_helper(verifier: FaceVerifier, reference: Reference, scene: Scenes) -> None:
    progress = run_clip(verifier.start(reference, IdentityPolicy(challenges=(BLINK,))),
                        scene.live.frames)  # fmt: skip
    assert progress.result is not None and progress.result.match


def test_glasses_reflecting_the_light_are_asked_off(
    verifier: FaceVerifier, reference: Reference, scene: Scenes
) -> None:
    live = verifier.start(reference, IdentityPolicy(position_frames=40))
    progress = run_clip(live, scene.glare.frames)
    assert progress.instruction is not None and progress.instruction.key == "glasses"
    result = progress.result
    assert result is not None and result.decision is Decision.TIMEOUT
    assert result.reason is not None
    assert (result.reason.zh, result.reason.en) == ("请摘下眼镜", "Please take off your glasses")
