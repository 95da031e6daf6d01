"""1:1 face verification against the document photo, with liveness, frame by frame.

* :class:`FaceVerifier` owns the models (photo engine for faces and landmarks, dlib for the
  embedding); one per worker thread.
* ``verifier.reference(image)`` -> :class:`Reference`: the embedding of the document photo
  (chip DG2 JPEG / JPEG 2000, or central's application photo) and the SHA-256 of its bytes.
* ``verifier.compare(reference, image)`` -> :class:`Comparison` for a still probe (CLI).
* ``verifier.start(reference)`` -> :class:`IdentityCheck`: the live check a flow step drives
  on its worker thread with ``feed(frame)``, reading ``progress.instruction`` (what to show
  and say now) until ``progress.result`` (:class:`IdentityResult`) is set.

Templates (embeddings, aligned chips) and frames live in memory only, are never logged,
written or queued, and are zeroed by ``close()``; what may leave is
``IdentityResult.record()``: decision, score, threshold, model and the reference's hash.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from kiosk.face import images
from kiosk.face.liveness import (
    BlinkDetector,
    Challenge,
    LivenessPolicy,
    ScreenDetector,
    TurnDetector,
    screen_score,
)
from kiosk.face.observe import Observation, observe
from kiosk.face.recognizer import Aligned, Chip, Embedding, FaceRecognizer, distance
from kiosk.face.texts import Instruction, instruction
from kiosk.photo import Box, PhotoEngine, load_spec

log = logging.getLogger(__name__)

# Decision threshold on the Euclidean distance between dlib embeddings: a match when the
# distance is at most this. dlib documents 0.6 (99.38 % on LFW); on our labelled pair set
# (tests/face/pairs.py; docs/face.md) 0.6 accepted 15 pairs of different people, among
# them East Asian women at 0.53-0.56, and the closest impostor pair sits at 0.494. 0.46 gives
# no false accept on the set with a margin of 0.03 and accepts 14 of its 15 genuine pairs
# (same person across photographs or clips: 0.07-0.45; the one miss, 0.52, is a downcast
# look). To be recalibrated on real kiosk pairs (chip photo vs kiosk camera) before service.
THRESHOLD = 0.46
PHOTO_SPEC = "cn-exit-entry"


class NoFace(ValueError):
    """No usable face in an image (reference or probe)."""


@dataclass(frozen=True)
class Reference:
    """The document photo's template. ``sha256`` identifies the photo in records."""

    embedding: Embedding
    sha256: str
    source: str
    size: tuple[int, int]  # width, height of the decoded photo

    def wipe(self) -> None:
        self.embedding.fill(0.0)


@dataclass(frozen=True)
class Comparison:
    match: bool
    score: float  # Euclidean distance of the embeddings (lower = more alike)
    threshold: float
    model: str
    elapsed_ms: float

    def as_dict(self) -> dict[str, object]:
        return {
            "match": self.match,
            "score": round(self.score, 4),
            "threshold": self.threshold,
            "model": self.model,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


class Decision(enum.Enum):
    MATCH = "match"
    NO_MATCH = "no_match"  # live, but not the document's holder
    NOT_LIVE = "not_live"  # a face, but liveness not shown (challenge not done, flat face)
    TIMEOUT = "timeout"  # no usable face within the frame budget (or the flow's timer)


@dataclass(frozen=True)
class LivenessReport:
    blinks: int  # blinks seen during the try
    turns: tuple[str, ...]  # turn challenges completed
    parallax: float | None  # smallest peak residual over the completed turns (None: no turn)
    screen: float  # running median of the screen-texture score
    parallax_min: float
    screen_max: float

    @property
    def flat(self) -> bool:
        """A flat picture: no 3-D parallax when the head turned, or a screen's texture."""
        low = self.parallax is not None and self.parallax < self.parallax_min
        return low or self.screen > self.screen_max

    def as_dict(self) -> dict[str, object]:
        return {
            "blinks": self.blinks,
            "turns": list(self.turns),
            "parallax": None if self.parallax is None else round(self.parallax, 4),
            "screen": round(self.screen, 1),
        }


@dataclass(frozen=True)
class IdentityResult:
    decision: Decision
    score: float | None  # embedding distance; None when no comparison was made
    threshold: float
    model: str
    reference_sha256: str
    outcome: Instruction  # what happened, for the citizen
    reason: Instruction | None  # what to do on the next try (glasses, blink, turn...)
    frames: int  # frames analysed
    liveness: LivenessReport
    compare_ms: float = 0.0  # embedding and comparison time at the end

    @property
    def match(self) -> bool:
        return self.decision is Decision.MATCH

    def record(self) -> dict[str, object]:
        """What may be stored with the transaction (no template, no frame)."""
        return {
            "decision": self.decision.value,
            "score": None if self.score is None else round(self.score, 4),
            "threshold": self.threshold,
            "model": self.model,
            "reference_sha256": self.reference_sha256,
        }


class Phase(enum.Enum):
    POSITION = "position"  # find a good frontal face
    CHALLENGE = "challenge"  # blink / turn as asked
    DONE = "done"


@dataclass(frozen=True)
class Progress:
    phase: Phase
    instruction: Instruction | None  # show and say this now
    challenge: Challenge | None
    frames: int
    face_box: Box | None = None
    result: IdentityResult | None = None

    @property
    def done(self) -> bool:
        return self.result is not None


@dataclass(frozen=True)
class IdentityPolicy:
    """Limits of one live check (one try). Frame budgets count analysed frames, so a busy
    machine gives the citizen as many chances, not fewer; the flow adds its own timer."""

    threshold: float = THRESHOLD
    # None: a blink and a turn to a random side, in a random order.
    challenges: tuple[Challenge, ...] | None = None
    max_frames: int = 450  # the whole try (18 s at 25 fps)
    position_frames: int = 150  # to find a usable frontal face (6 s)
    min_ied: float = 36.0  # pixels between the eyes: closer below this
    max_ied: float = 220.0  # back above this
    frontal_max: float = 0.12  # nose offset / IED for frames used for recognition (~11 deg)
    max_roll: float = 20.0
    best_frames: int = 3  # embedded and averaged at the end
    lost_frames: int = 10  # frames without the face before the try starts over
    glare_share: float = 0.3  # share of frames with lens glare that means "glasses"
    liveness: LivenessPolicy = field(default_factory=LivenessPolicy)


class FaceVerifier:
    """Models for face verification. Not thread-safe: use one per worker thread."""

    def __init__(
        self,
        *,
        threshold: float = THRESHOLD,
        engine: PhotoEngine | None = None,
        recognizer: FaceRecognizer | None = None,
        reference_jitters: int = 0,
    ) -> None:
        self.threshold = threshold
        self.engine = engine or PhotoEngine(load_spec(PHOTO_SPEC))
        self.recognizer = recognizer or FaceRecognizer()
        self.reference_jitters = reference_jitters

    @property
    def model(self) -> str:
        return self.recognizer.version

    def _align_still(self, frame: images.Frame, what: str) -> Aligned:
        self.engine.reset()
        found = self.engine.analyse(frame, full=True)
        self.engine.reset()
        if found.landmarks is None:
            raise NoFace(f"no face found in the {what}")
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        return self.recognizer.align(rgb, found.landmarks)

    def reference(self, image: Any, source: str = "document") -> Reference:
        """The template of the document photo: encoded bytes (JPEG, JPEG 2000), a decoded
        Pillow image (``ChipRead.picture``) or a BGR array. Raises :class:`NoFace` or
        :class:`~kiosk.face.images.ImageRefused`."""
        frame = images.as_frame(image, f"{source} photo")
        encoded = isinstance(image, bytes | bytearray | memoryview)
        digest = hashlib.sha256(bytes(image) if encoded else frame.tobytes()).hexdigest()
        aligned = self._align_still(frame, f"{source} photo")
        embedding = self.recognizer.embed([aligned.chip], self.reference_jitters)
        aligned.chip.fill(0)
        return Reference(embedding, digest, source, (frame.shape[1], frame.shape[0]))

    def compare(self, reference: Reference, image: Any) -> Comparison:
        """Compare a still probe with the reference (no liveness: the CLI and tests)."""
        t0 = time.perf_counter()
        frame = images.as_frame(image, "probe")
        aligned = self._align_still(frame, "probe image")
        probe = self.recognizer.embed([aligned.chip])
        score = distance(reference.embedding, probe)
        probe.fill(0.0)
        aligned.chip.fill(0)
        return Comparison(score <= self.threshold, score, self.threshold, self.model,
                          (time.perf_counter() - t0) * 1e3)  # fmt: skip

    def start(
        self,
        reference: Reference,
        policy: IdentityPolicy | None = None,
        rng: random.Random | None = None,
    ) -> IdentityCheck:
        """A new live check (one try) against ``reference``."""
        return IdentityCheck(self, reference, policy or IdentityPolicy(threshold=self.threshold),
                             rng)  # fmt: skip


def _overlap(a: Box, b: Box) -> float:
    x0, y0 = max(a.x, b.x), max(a.y, b.y)
    x1, y1 = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    return inter / max(min(a.area, b.area), 1e-6)


_QUALITY_ADVICE = (  # photo-engine measure -> what to ask, most important first
    ("glare", "glasses"),
    ("eye_occlusion", "uncover_eyes"),
    ("eyes_open", "open_eyes"),
    ("underexposure", "light"),
    ("overexposure", "light"),
    ("sharpness", "hold_still"),
)


class IdentityCheck:
    """One live try: feed frames (on one worker thread), read the progress.

    ``feed(frame)`` analyses one frame (15-30 ms; the last one also embeds the best frames,
    about 250 ms) and returns the :class:`Progress`. The check ends by itself when it has a
    decision or its frame budget is spent; ``expire()`` ends it early (the flow's timer,
    the citizen cancelling). ``close()`` zeroes what it kept.
    """

    def __init__(
        self,
        verifier: FaceVerifier,
        reference: Reference,
        policy: IdentityPolicy,
        rng: random.Random | None = None,
    ) -> None:
        self.verifier = verifier
        self.reference = reference
        self.policy = policy
        choice = rng or random.SystemRandom()
        if policy.challenges is None:
            turn = choice.choice((Challenge.TURN_LEFT, Challenge.TURN_RIGHT))
            order = [Challenge.BLINK, turn]
            choice.shuffle(order)
            self.challenges: tuple[Challenge, ...] = tuple(order)
        else:
            self.challenges = policy.challenges
        self.frames = 0
        self._phase = Phase.POSITION
        self._index = 0  # current challenge
        self._phase_start = 0
        self._blink = BlinkDetector(policy.liveness)
        self._blinks_at_start = 0
        self._turn: TurnDetector | None = None
        self._turns_done: list[tuple[str, float]] = []  # (challenge, parallax)
        self._screen = ScreenDetector(policy.liveness)
        self._best: list[tuple[float, Chip]] = []  # (quality, aligned chip), best first
        self._last_box: Box | None = None
        self._lost = 0
        self._restarted = False
        self._glare_frames = 0
        self._face_frames = 0
        self._instruction: Instruction | None = instruction("look_at_camera")
        self._result: IdentityResult | None = None
        verifier.engine.reset()

    # ------------------------------------------------------------ public

    @property
    def result(self) -> IdentityResult | None:
        return self._result

    @property
    def instruction(self) -> Instruction | None:
        return self._instruction

    def progress(self, box: Box | None = None) -> Progress:
        challenge = self.challenges[self._index] if self._phase is Phase.CHALLENGE else None
        return Progress(self._phase, self._instruction, challenge, self.frames, box, self._result)

    def feed(self, frame: images.Frame) -> Progress:
        if self._result is not None:
            return self.progress()
        self.frames += 1
        obs = observe(self.verifier.engine, frame)
        box = None if obs.face is None else obs.face.box
        self._step(obs, frame)
        if self._result is None and self._budget_spent():
            self._finish_unsuccessful()
        return self.progress(box)

    def expire(self) -> IdentityResult:
        """End the try now (the flow's own timer, or the citizen left)."""
        if self._result is None:
            self._finish_unsuccessful()
        assert self._result is not None
        return self._result

    def close(self) -> None:
        """Zero the kept face chips (the reference belongs to the caller)."""
        for _, chip in self._best:
            chip.fill(0)
        self._best.clear()
        self.verifier.engine.reset()

    # ------------------------------------------------------------ per frame

    def _step(self, obs: Observation, frame: images.Frame) -> None:
        p = self.policy
        if obs.face is None:
            self._lost += 1
            self._instruction = instruction("stay" if self._restarted else "look_at_camera")
            if self._lost > p.lost_frames and self._phase is not Phase.POSITION:
                self._start_over("stay")
            return
        self._restarted = False
        box = obs.face.box
        if self._last_box is not None and _overlap(box, self._last_box) < 0.3:
            # The face jumped: someone else, or a picture swapped in. Start over.
            self._start_over("stay")
        self._last_box = box
        self._lost = 0
        self._face_frames += 1
        self._glare_frames += int("glare" in obs.failing)
        if not obs.single:
            self._instruction = instruction("one_person")
            return
        if obs.ied < p.min_ied:
            self._instruction = instruction("closer")
            return
        if obs.ied > p.max_ied:
            self._instruction = instruction("back")
            return
        frontal = abs(obs.turn) <= p.frontal_max and abs(obs.roll) <= p.max_roll
        self._blink.update(obs.openness)
        gray = np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), np.uint8)
        eyes = (obs.face.eye_a + obs.face.eye_b) / 2
        self._screen.update(screen_score(gray, eyes, obs.ied))
        usable = frontal and not obs.failing
        if usable:
            self._keep(obs, frame)
        if self._phase is Phase.POSITION:
            if self._best:
                self._next_phase(Phase.CHALLENGE)
            else:
                self._instruction = instruction(self._advice(obs, frontal))
                return
        self._challenge(obs, frontal)

    def _advice(self, obs: Observation, frontal: bool) -> str:
        for measure, key in _QUALITY_ADVICE:
            if measure in obs.failing:
                return key
        if not frontal:
            return "look_straight"
        return "look_at_camera"

    def _challenge(self, obs: Observation, frontal: bool) -> None:
        current = self.challenges[self._index]
        if current is Challenge.BLINK:
            done = self._blink.blinks > self._blinks_at_start
            self._instruction = instruction("blink")
        else:
            if self._turn is None:
                self._turn = TurnDetector(1 if current is Challenge.TURN_LEFT else -1,
                                          self.policy.liveness)  # fmt: skip
            done = self._turn.update(obs.turn, obs.shape, obs.ied, frontal)
            if done:
                self._turns_done.append((current.value, self._turn.parallax))
            waiting = self._turn.waiting_to_come_back
            self._instruction = instruction("face_front" if waiting else current.value)
        if not done:
            return
        self._index += 1
        self._turn = None
        self._phase_start = self.frames
        self._blinks_at_start = self._blink.blinks
        if self._index >= len(self.challenges):
            self._instruction = instruction("checking")
            self._decide()
        else:
            self._instruction = instruction(self.challenges[self._index].value)

    def _keep(self, obs: Observation, frame: images.Frame) -> None:
        """Keep the aligned chip if it is among the best frontal frames so far."""
        n = self.policy.best_frames
        if len(self._best) >= n and obs.quality <= self._best[-1][0]:
            return
        assert obs.face is not None
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        aligned = self.verifier.recognizer.align(rgb, obs.face)
        rgb.fill(0)
        self._best.append((obs.quality, aligned.chip))
        self._best.sort(key=lambda item: -item[0])
        for _, dropped in self._best[n:]:
            dropped.fill(0)
        del self._best[n:]

    def _next_phase(self, phase: Phase) -> None:
        self._phase = phase
        self._phase_start = self.frames
        self._blinks_at_start = self._blink.blinks

    def _start_over(self, key: str) -> None:
        log.info("identity check: face lost or changed, starting the try over")
        for _, chip in self._best:
            chip.fill(0)
        self._best.clear()
        self._index = 0
        self._turn = None
        self._turns_done.clear()
        self._last_box = None
        self._restarted = True
        self._next_phase(Phase.POSITION)
        self._instruction = instruction(key)

    # ------------------------------------------------------------ endings

    def _budget_spent(self) -> bool:
        p = self.policy
        if self.frames >= p.max_frames:
            return True
        spent = self.frames - self._phase_start
        if self._phase is Phase.POSITION:
            return spent >= p.position_frames
        return spent >= p.liveness.challenge_frames

    def _report(self) -> LivenessReport:
        p = self.policy.liveness
        turns = tuple(name for name, _ in self._turns_done)
        parallax = min((value for _, value in self._turns_done), default=None)
        return LivenessReport(self._blink.blinks, turns, parallax, self._screen.level,
                              p.parallax_min, p.screen_max)  # fmt: skip

    def _finish(
        self,
        decision: Decision,
        outcome: str,
        reason: str | None,
        score: float | None = None,
        compare_ms: float = 0.0,
    ) -> None:
        self._result = IdentityResult(
            decision=decision,
            score=score,
            threshold=self.policy.threshold,
            model=self.verifier.model,
            reference_sha256=self.reference.sha256,
            outcome=instruction(outcome),
            reason=None if reason is None else instruction(reason),
            frames=self.frames,
            liveness=self._report(),
            compare_ms=compare_ms,
        )
        self._phase = Phase.DONE
        self._instruction = self._result.reason if decision is not Decision.MATCH else None
        log.info("identity check: %s after %d frames (score %s)", decision.value, self.frames,
                 "-" if score is None else f"{score:.3f}")  # fmt: skip
        self.close()

    def _finish_unsuccessful(self) -> None:
        if self._phase is Phase.CHALLENGE and self._screen.screen:
            self._finish(Decision.NOT_LIVE, "flat_face", "flat_face")
        elif self._phase is Phase.CHALLENGE:
            current = self.challenges[self._index]
            waiting = self._turn is not None and self._turn.waiting_to_come_back
            self._finish(Decision.NOT_LIVE, "not_live", "face_front" if waiting else current.value)
        else:
            last = self._instruction.key if self._instruction is not None else "look_at_camera"
            self._finish(Decision.TIMEOUT, "timeout", last)

    def _decide(self) -> None:
        if self._report().flat:
            self._finish(Decision.NOT_LIVE, "flat_face", "flat_face")
            return
        t0 = time.perf_counter()
        chips = [chip for _, chip in self._best]
        live = self.verifier.recognizer.embed(chips)
        score = distance(self.reference.embedding, live)
        live.fill(0.0)
        elapsed = (time.perf_counter() - t0) * 1e3
        if score <= self.policy.threshold:
            self._finish(Decision.MATCH, "match", None, score, elapsed)
            return
        glasses = self._glare_frames >= self.policy.glare_share * max(self._face_frames, 1)
        self._finish(Decision.NO_MATCH, "no_match", "glasses" if glasses else "no_match_retry",
                     score, elapsed)  # fmt: skip


def run_clip(check: IdentityCheck, frames: Sequence[images.Frame], loops: int = 3) -> Progress:
    """Feed a scripted clip (looping, like the camera simulator) until the check decides."""
    progress = check.progress()
    for _ in range(loops):
        for frame in frames:
            progress = check.feed(frame)
            if progress.done:
                return progress
    return progress
