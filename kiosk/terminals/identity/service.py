"""The identity service (``IdentityPort``): one live face check at a time, on its own worker.

The face engine (kiosk.face: dlib's embedding and the photo engine's landmarks) is loaded on
the worker the first time it is needed. A try reads the camera's frames until the engine has
a decision, its frame budget is spent, or the camera screen is left (``watch`` sees the view
change and the try stops at the next frame). The document photo's template and the frames
stay in memory: what comes back is the decision and ``IdentityResult.record()``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from devices.camera import Frame
from kiosk.core.engine import Event
from kiosk.core.errors import KioskError
from kiosk.core.runner import ViewState
from kiosk.core.session import Session
from kiosk.core.voice import Voice
from kiosk.machine.ports import DOCUMENT_PHOTO
from kiosk.terminals.identity.ports import ADVICE_EVENT, FaceAdvice, FaceVerdict
from kiosk.terminals.identity.views import FaceCheckView

if TYPE_CHECKING:
    from kiosk.face import (
        FaceVerifier,
        IdentityCheck,
        IdentityPolicy,
        IdentityResult,
        Instruction,
        Progress,
    )

log = logging.getLogger(__name__)

FrameSource = Callable[[], Frame | None]
Post = Callable[[Event], None]
NO_PICTURE_S = 5.0  # no new camera frame for this long: the camera is not serving


class NoPicture(KioskError):
    code = "identity.no_picture"
    recovery = "maintenance"


class IdentityService:
    def __init__(
        self,
        *,
        frames: FrameSource,
        post: Post,
        voice: Voice | None = None,
        policy: IdentityPolicy | None = None,
        verifier: Callable[[], FaceVerifier] | None = None,
    ) -> None:
        self._frames = frames
        self._post = post
        self._voice = voice or Voice(enabled=False)
        self._policy = policy
        self._make_verifier = verifier
        self._verifier: FaceVerifier | None = None  # made on the worker, used there only
        self._showing = threading.Event()  # the camera screen is shown
        self.language = "zh"

    def watch(self, view: ViewState) -> None:
        """A view listener (flow thread): a try runs only while the camera screen shows."""
        self.language = view.language
        if isinstance(view.view, FaceCheckView):
            self._showing.set()
        else:
            self._showing.clear()

    def close(self) -> None:
        self._showing.clear()

    def verify(self, session: Session | None) -> FaceVerdict:
        photo = session.get(DOCUMENT_PHOTO) if session is not None else None
        if photo is None:
            return _unusable()
        verifier = self._loaded()
        from kiosk.face import ImageRefused, NoFace

        try:
            reference = verifier.reference(photo, "document")
        except (NoFace, ImageRefused) as exc:
            log.warning("document photo not usable for the face check: %s", exc)
            return _unusable()
        check = verifier.start(reference, self._policy)
        try:
            result = self._run(check)
        finally:
            check.close()
            reference.wipe()
        log.info("face check: %s", result.decision.value)
        return _verdict(result)

    def _loaded(self) -> FaceVerifier:
        """The face engine, loaded on this worker the first time (models take a moment and
        a machine that never checks a face never loads them)."""
        if self._verifier is None:
            from kiosk.face import FaceVerifier

            self._verifier = (self._make_verifier or FaceVerifier)()
        return self._verifier

    def _run(self, check: IdentityCheck) -> IdentityResult:
        shown: Instruction | None = None
        for frame in self._fresh_frames():
            progress: Progress = check.feed(frame.image)
            if progress.instruction is not None and progress.instruction != shown:
                shown = progress.instruction
                self._advise(shown, progress, frame)
            if progress.result is not None:
                return progress.result
        return check.expire()  # the screen was left before a decision

    def _fresh_frames(self) -> Iterator[Frame]:
        """Each new camera frame once, while the camera screen shows. No new frame for
        NO_PICTURE_S: the camera is not serving (the flow offers the fallback)."""
        last_seq, last_new = -1, time.monotonic()
        while self._showing.is_set():
            frame = self._frames()
            if frame is None or frame.sequence == last_seq:
                if time.monotonic() - last_new > NO_PICTURE_S:
                    raise NoPicture("the camera gives no picture")
                time.sleep(0.005)
                continue
            last_seq, last_new = frame.sequence, time.monotonic()
            yield frame

    def _advise(self, said: Instruction, progress: Progress, frame: Frame) -> None:
        box = progress.face_box
        h, w = frame.image.shape[:2]
        face = None if box is None else (box.x / w, box.y / h, box.w / w, box.h / h)
        self._post(Event(ADVICE_EVENT, reply=FaceAdvice(said.zh, said.en, said.key, face)))
        self._voice.say(said.en if self.language == "en" else said.zh, self.language)


def _unusable() -> FaceVerdict:
    from kiosk.face.texts import instruction

    said = instruction("reference_unusable")
    return FaceVerdict("unusable", said.key, said.zh, said.en, {"decision": "unusable"})


def _verdict(result: IdentityResult) -> FaceVerdict:
    said = result.reason or result.outcome
    return FaceVerdict(result.decision.value, said.key, said.zh, said.en, result.record())
