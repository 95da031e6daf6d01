"""The identity service as the flows use it: a try on its worker, reading the camera's
frames (a scripted clip looping, as the camera simulator plays it), coaching through events,
answering with the decision and the record only, and stopping when the screen is left."""

from __future__ import annotations

import threading
from datetime import datetime

import cv2
import numpy as np
import pytest

from devices.camera import Frame
from kiosk.core.engine import Event
from kiosk.core.runner import ViewState
from kiosk.core.session import Session
from kiosk.core.views import MessageView
from kiosk.face import FaceVerifier, IdentityPolicy
from kiosk.face.clips import FRAME_H, FRAME_W, Clip, Scenes
from kiosk.machine.ports import DOCUMENT_PHOTO
from kiosk.terminals.identity import service as identity_service
from kiosk.terminals.identity.ports import ADVICE_EVENT, FaceAdvice
from kiosk.terminals.identity.service import IdentityService, NoPicture
from kiosk.terminals.identity.views import FaceCheckView


class Camera:
    """A clip looping at its frame rate, frames numbered as the camera driver numbers them."""

    def __init__(self, clip: Clip | None) -> None:
        self.clip = clip
        self.sequence = 0

    def __call__(self) -> Frame | None:
        if self.clip is None:
            return None
        image = self.clip.frames[self.sequence % len(self.clip.frames)]
        self.sequence += 1
        return Frame(image, self.sequence / self.clip.fps, self.sequence)


def service_for(verifier: FaceVerifier, clip: Clip | None, events: list[Event]) -> IdentityService:
    service = IdentityService(
        frames=Camera(clip),
        post=events.append,
        policy=IdentityPolicy(),
        verifier=lambda: verifier,
    )
    service.watch(ViewState(FaceCheckView(), "en", "endorse_face"))
    return service


def session_with(photo: bytes | None) -> Session:
    session = Session("endorse", datetime.now())
    if photo is not None:
        session.put(DOCUMENT_PHOTO, photo)
    return session


def test_the_holder_live_is_a_match_with_a_record_and_coaching(
    verifier: FaceVerifier, scene: Scenes
) -> None:
    events: list[Event] = []
    verdict = service_for(verifier, scene.live, events).verify(session_with(scene.document_jpeg))
    assert verdict.match, verdict
    assert set(verdict.record) == {"decision", "score", "threshold", "model", "reference_sha256"}
    score, threshold = verdict.record["score"], verdict.record["threshold"]
    assert isinstance(score, float) and isinstance(threshold, float) and score <= threshold
    advice = [e.reply for e in events if e.name == ADVICE_EVENT]
    assert advice and all(isinstance(a, FaceAdvice) for a in advice)
    assert {"blink"} <= {a.key for a in advice}  # asked to blink, in the engine's words


@pytest.mark.parametrize("attack", ["still_photo", "moved_photo", "replay"])
def test_a_photo_or_a_screen_does_not_pass(
    verifier: FaceVerifier, scene: Scenes, attack: str
) -> None:
    verdict = service_for(verifier, getattr(scene, attack), []).verify(
        session_with(scene.document_jpeg)
    )
    assert verdict.decision in ("not_live", "timeout"), verdict
    assert verdict.reason_en  # the next try's advice, in plain words


def test_someone_else_is_no_match(verifier: FaceVerifier, scene: Scenes) -> None:
    verdict = service_for(verifier, scene.other, []).verify(session_with(scene.document_jpeg))
    assert verdict.decision == "no_match"


def test_without_a_usable_document_photo_the_camera_is_not_even_used(
    verifier: FaceVerifier, scene: Scenes
) -> None:
    camera_used = service_for(verifier, None, [])
    assert camera_used.verify(session_with(None)).decision == "unusable"

    blank = cv2.imencode(".jpg", np.full((FRAME_H, FRAME_W, 3), 230, np.uint8))[1].tobytes()
    assert camera_used.verify(session_with(blank)).decision == "unusable"


def test_leaving_the_screen_stops_the_try(verifier: FaceVerifier, scene: Scenes) -> None:
    service = service_for(verifier, scene.no_blink, [])
    answer: list[object] = []
    worker = threading.Thread(
        target=lambda: answer.append(service.verify(session_with(scene.document_jpeg)))
    )
    worker.start()
    service.watch(ViewState(MessageView("menu.title"), "en", "menu"))  # the citizen left
    worker.join(timeout=60)
    assert not worker.is_alive() and answer and not answer[0].match


def test_a_camera_without_pictures_says_so(
    verifier: FaceVerifier, scene: Scenes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(identity_service, "NO_PICTURE_S", 0.2)
    with pytest.raises(NoPicture):
        service_for(verifier, None, []).verify(session_with(scene.document_jpeg))
