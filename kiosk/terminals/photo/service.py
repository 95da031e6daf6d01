"""The photo terminal's service (``PhotoPort``): live coaching from the camera, capture, the
photo number and the durable hand-off to the outbox.

Threads: a live-analysis thread runs while the live screen is shown (``watch``) and posts
coaching as events; ``capture`` and ``submit`` run on the service's worker. The engine is used
by one thread at a time (the live loop stops before a capture analyses a still).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from devices.camera import Frame
from kiosk.core.engine import Event
from kiosk.core.errors import KioskError
from kiosk.core.runner import ViewState
from kiosk.core.session import Session, Slot
from kiosk.core.voice import Voice
from kiosk.machine.ports import IDCARD_DATA
from kiosk.photo import (
    Assessment,
    Box,
    LiveTracker,
    PhotoEngine,
    PhotoNotCompliant,
    StillnessTracker,
    make_photo,
)
from kiosk.photo import requirements as photo_requirements
from kiosk.photo.spec import PhotoSpec
from kiosk.terminals.photo.ports import (
    LIVE_EVENT,
    STEADY_EVENT,
    Captured,
    Check,
    Instruction,
    LiveCoaching,
    Reason,
    Review,
    Saved,
)
from kiosk.terminals.photo.receipts import PHOTO_JPEG
from offline_queue.errors import QueueError
from offline_queue.outbox import Attachment, Outbox
from offline_queue.sync import central_unreachable_since

log = logging.getLogger(__name__)

CHECK_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# The live screens: coaching runs while one of them shows.
LIVE_STATES = ("photo_live", "photo_countdown")
COMPLIANCE_GRACE_S = 0.3
CAPTURE_WINDOW_S = 0.6  # how long a capture may look for a frame that passes


def check_character(code: str) -> str:
    """ISO 7064 MOD 37-36 (hybrid) check character over digits and capital letters: catches
    every single-character error and adjacent swap when a number is typed at the window."""
    modulus = 36
    product = modulus
    for char in code:
        value = CHECK_ALPHABET.index(char)
        total = (product + value) % modulus or modulus
        product = (total * 2) % (modulus + 1)
    return CHECK_ALPHABET[(modulus + 1 - product) % modulus]


def central_not_answering(outbox: Outbox) -> bool:
    """True while the sync worker's requests to central fail: the counter may not find a
    photo stored now until the machine has sent it. It is only a note on the last screen:
    a failed read is logged and counts as False, and never keeps a photo from being stored."""
    try:
        return central_unreachable_since(outbox) is not None
    except (QueueError, ValueError) as exc:
        log.warning("could not read the central link state: %s", exc)
        return False


def photo_number(kiosk_id: str, day: datetime, sequence: int) -> str:
    """Kiosk id + date + per-day sequence + check character, e.g. SZFTP01202611270007K."""
    body = f"{kiosk_id.replace('-', '')}{day:%Y%m%d}{sequence:04d}"
    return body + check_character(body)


def valid_photo_number(number: str) -> bool:
    return len(number) > 1 and check_character(number[:-1]) == number[-1]


FrameSource = Callable[[], Frame | None]
Post = Callable[[Event], None]


@dataclass
class Capture:
    """One photo of the session: its assessment and, when one could be made, the JPEG as it
    would be submitted (personal data: held in the session, scrubbed with it)."""

    assessment: Assessment
    jpeg: bytearray | None = None
    reasons: list[tuple[str, str]] = field(default_factory=list)  # why none could be made
    size_kb: float = 0.0

    @property
    def submittable(self) -> bool:
        return self.jpeg is not None and self.assessment.compliant

    def scrub(self) -> None:
        if self.jpeg is not None:
            self.jpeg[:] = bytes(len(self.jpeg))


CAPTURES: Slot[list[Capture]] = Slot("photo_captures")
PHOTO_NUMBER: Slot[str] = Slot("photo_number")


class PhotoService:
    def __init__(
        self,
        *,
        kiosk_id: str,
        spec: PhotoSpec,
        frames: FrameSource,
        post: Post,
        outbox: Outbox | None,
        voice: Voice | None = None,
        now: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.kiosk_id = kiosk_id
        self.spec = spec
        self.engine = PhotoEngine(spec)
        self._frames = frames
        self._post = post
        self.outbox = outbox
        self.voice = voice or Voice(enabled=False)
        self._now = now
        self.language = "zh"
        self._live = threading.Event()
        self._engine_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._session: Session | None = None  # the session the photos were taken in
        self.live_fps = 0.0
        # Pose, mouth and expression over several frames, and the citizen's own open-eye
        # level that the captured still is judged against too (a blink half way, a wink).
        self._verdicts = LiveTracker(spec)

    # --- live coaching ----------------------------------------------------------------------

    def watch(self, view: ViewState) -> None:
        """A view listener (flow thread): coach while a live screen shows."""
        self.set_live(view.state in LIVE_STATES, view.language)

    def set_live(self, live: bool, language: str = "zh") -> None:
        """Start or stop live analysis (called when the live screen is shown or left)."""
        self.language = language
        if live and not self._live.is_set():
            self._live.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._live_loop, name="photo-live", daemon=True
                )
                self._thread.start()
        elif not live:
            self._live.clear()

    def close(self) -> None:
        self._closed.set()
        self._live.clear()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.voice.close()

    def _live_loop(self) -> None:
        tracker = StillnessTracker.from_spec(self.spec)
        verdicts = self._verdicts
        verdicts.reset()  # the live screen shown again: a new citizen or a retake
        last_shown: LiveCoaching | None = None
        steady_sent = False
        last_compliant = float("-inf")
        smoothed: Box | None = None
        advice = SteadyAdvice()
        times: list[float] = []
        with self._engine_lock:
            self.engine.reset()
        for frame in self._fresh_frames(lambda: self._live.is_set() and not self._closed.is_set()):
            with self._engine_lock:
                assessment = verdicts.update(self.engine.analyse(frame.image), frame.timestamp)
            times = [*times[-24:], time.monotonic()]
            if len(times) > 1:
                self.live_fps = (len(times) - 1) / max(1e-6, times[-1] - times[0])
            # One borderline frame (a flickering pose or glare estimate) must not restart the
            # 'still for a second' wait: non-compliant frames within the grace period count.
            if assessment.compliant:
                last_compliant = frame.timestamp
            recent = frame.timestamp - last_compliant <= COMPLIANCE_GRACE_S
            smoothed = smooth(smoothed, assessment.face_box if recent else None)
            steady = tracker.update(frame.timestamp, smoothed)
            if advice.update(live_coaching(assessment)) and advice.shown != last_shown:
                last_shown = advice.shown
                self._post(Event(LIVE_EVENT, reply=advice.shown))
            # Spoken again every few seconds while it still applies (Voice drops repeats).
            self._speak(advice.shown)
            if steady and not steady_sent:
                self._post(Event(STEADY_EVENT))
            steady_sent = steady

    def _speak(self, coaching: LiveCoaching | None) -> None:
        top = coaching.instruction if coaching is not None else None
        if top is not None:
            self.voice.say(top.en if self.language == "en" else top.zh, self.language)

    # --- capture and submit (service worker) --------------------------------------------------

    def _fresh_frames(self, keep_going: Callable[[], bool]) -> Iterator[Frame]:
        """Each new camera frame once, while ``keep_going()`` holds."""
        last_seq = -1
        while keep_going():
            frame = self._frames()
            if frame is None or frame.sequence == last_seq:
                time.sleep(0.005)
                continue
            last_seq = frame.sequence
            yield frame

    def _best_frame(self) -> tuple[Frame, Assessment]:
        """Analyse the fresh frames of CAPTURE_WINDOW_S and keep the first compliant one,
        else the best: one borderline frame must not spoil the photo."""
        best: tuple[Frame, Assessment] | None = None
        deadline = time.monotonic() + CAPTURE_WINDOW_S
        for frame in self._fresh_frames(lambda: time.monotonic() < deadline):
            with self._engine_lock:
                assessment = self._verdicts.judge_still(self.engine.analyse(frame.image, full=True))
            if best is None or assessment.overall_score > best[1].overall_score:
                best = (frame, assessment)
            if assessment.compliant:
                break
        if best is None:
            raise KioskError("the camera gives no picture", code="photo.no_frame")
        return best

    def capture(self, session: Session | None) -> Captured:
        if session is None:
            raise KioskError("no session", code="photo.no_session")
        frame, assessment = self._best_frame()
        capture = Capture(assessment)
        try:
            output = make_photo(frame.image, assessment, self.spec)
            capture.jpeg = bytearray(output.jpeg)
            capture.size_kb = round(output.size_kb, 1)
        except PhotoNotCompliant as exc:
            capture.reasons = list(exc.reasons)
        captures = session.get(CAPTURES) or []
        captures.append(capture)
        session.put(CAPTURES, captures)
        self._session = session
        return Captured(
            len(captures) - 1, best_capture(captures), len(captures), self.review(capture)
        )

    def review(self, capture: Capture) -> Review:
        """The checklist of one photo for the review screen."""
        checks = tuple(
            Check(r.title_zh, r.title_en, r.passed, r.hard, r.explanation_zh, r.explanation_en)
            for r in photo_requirements(capture.assessment, self.spec)
        )
        reasons = tuple(Reason(zh, en) for zh, en in capture.reasons)
        return Review(capture.submittable, checks, reasons)

    def picture(self, index: int) -> bytes | None:
        """The photo ``index`` of the current session as it would be submitted, for the
        review screen (flow thread); None once the session has ended."""
        session = self._session
        captures = session.get(CAPTURES) if session is not None and session.active else None
        if not captures or not 0 <= index < len(captures):
            return None
        jpeg = captures[index].jpeg
        return bytes(jpeg) if jpeg is not None else None

    def submit(self, index: int, session: Session | None) -> Saved:
        if session is None:
            raise KioskError("no session", code="photo.no_session")
        captures = session.get(CAPTURES) or []
        if not 0 <= index < len(captures) or captures[index].jpeg is None:
            raise KioskError("this photo cannot be submitted", code="photo.not_compliant")
        if self.outbox is None:
            raise KioskError("no outbox", code="photo.no_outbox")
        capture = captures[index]
        jpeg = capture.jpeg
        assert jpeg is not None
        taken = self._now()
        sequence = self.outbox.next_sequence(f"photo-{taken:%Y%m%d}")
        number = photo_number(self.kiosk_id, taken, sequence)
        idcard = session.get(IDCARD_DATA)
        payload: dict[str, Any] = {
            "photo_number": number,
            "kiosk_id": self.kiosk_id,
            "taken_at": taken.isoformat(timespec="seconds"),
            "spec": {"name": self.spec.name, "version": self.spec.version},
            "compliance": capture.assessment.as_dict(),
            "id_binding": None
            if idcard is None
            else {
                "id_number": idcard.id_number,
                "name": idcard.name,
                "card_type": idcard.card_type.value,
            },
        }
        delayed = central_not_answering(self.outbox)
        # Durable before the citizen is told anything: put() returns after the commit.
        self.outbox.put(
            "photo.captured",
            payload,
            stream=f"photo:{number}",
            attachments=[Attachment("photo.jpg", bytes(jpeg), "image/jpeg")],
        )
        session.put(PHOTO_NUMBER, number)
        session.put(PHOTO_JPEG, jpeg)
        return Saved(number, payload["taken_at"], delayed)


class SteadyAdvice:
    """Hysteresis for the coaching: a new instruction (or verdict) replaces the shown one only
    after it held for STABLE_FRAMES frames in a row, so a borderline measure does not make the
    screen and the voice flicker between two instructions."""

    STABLE_FRAMES = 5

    def __init__(self) -> None:
        self.shown: LiveCoaching | None = None
        self._candidate_key: Any = None
        self._count = 0

    @staticmethod
    def _key(coaching: LiveCoaching) -> tuple[bool, str | None, bool]:
        measure = coaching.instruction.measure if coaching.instruction else None
        return (coaching.compliant, measure, coaching.face is None)

    def update(self, coaching: LiveCoaching) -> bool:
        """Feed this frame's coaching; True when ``shown`` changed or was refreshed."""
        key = self._key(coaching)
        if self.shown is not None and key == self._key(self.shown):
            self.shown, self._count = coaching, 0  # same advice: keep the face box fresh
            return True
        self._count = self._count + 1 if key == self._candidate_key else 1
        self._candidate_key = key
        if self.shown is None or self._count >= self.STABLE_FRAMES:
            self.shown, self._count = coaching, 0
            return True
        return False


def smooth(previous: Box | None, box: Box | None, weight: float = 0.5) -> Box | None:
    """Exponential smoothing of the face box: detector jitter of a few pixels per frame is
    not movement, a person stepping aside still is."""
    if box is None or previous is None:
        return box

    def mix(a: float, b: float) -> float:
        return weight * b + (1 - weight) * a

    return Box(
        mix(previous.x, box.x),
        mix(previous.y, box.y),
        mix(previous.w, box.w),
        mix(previous.h, box.h),
    )


def best_capture(captures: list[Capture]) -> int:
    """Index of the best photo of the session: submittable ones first, then by score."""

    def rank(i: int) -> tuple[bool, float]:
        c = captures[i]
        return (c.jpeg is not None, float(c.assessment.overall_score))

    return max(range(len(captures)), key=rank)


def live_coaching(assessment: Assessment) -> LiveCoaching:
    """What the live screen needs: verdict, the single instruction, the face box (0..1)."""
    top = assessment.top_instruction()
    w, h = assessment.frame_size
    box = assessment.face_box
    return LiveCoaching(
        assessment.compliant,
        None
        if top is None
        else Instruction(top.instruction_zh or "", top.instruction_en or "", top.name),
        None
        if box is None
        else (round(box.x / w, 2), round(box.y / h, 2), round(box.w / w, 2), round(box.h / h, 2)),
    )
