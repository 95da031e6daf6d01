"""The photo flow's unhappy paths, driven with a fake clock and services that fail the way
the real ones do (raising the core's errors)."""

from __future__ import annotations

from kiosk.app import KioskApp
from kiosk.config import parse_config
from kiosk.core.clock import ManualClock
from kiosk.core.errors import KioskError
from kiosk.core.runner import InlineExecutor
from kiosk.core.session import Session
from kiosk.terminals.photo.ports import PHOTO, Captured, Review, Saved
from kiosk.terminals.terminal import Binding
from tests.core.flow_rigs import kiosk_with


class FailingPhoto:
    """``PhotoPort``: fails the operation it is told to, the way the real one does."""

    def __init__(self, fail: str) -> None:
        self.fail = fail

    def capture(self, session: Session | None) -> Captured:
        self._maybe_fail("capture")
        return Captured(0, 0, 1, Review(True, ()))

    def submit(self, index: int, session: Session | None) -> Saved:
        self._maybe_fail("submit")
        return Saved("N", "2026-11-27T09:00:00", False)

    def _maybe_fail(self, operation: str) -> None:
        if operation == self.fail:
            raise KioskError(f"{operation} failed", code=f"photo.{operation}")


def app_with(photo: FailingPhoto) -> tuple[KioskApp, ManualClock, list[str]]:
    config = parse_config({"kiosk": {"id": "PF-TEST", "terminal": "photo"}})
    clock = ManualClock()
    app = kiosk_with(config, clock, [Binding(PHOTO, photo, InlineExecutor())], strict=True)
    alerts: list[str] = []
    app.runner.on_alert(lambda a: alerts.append(a.code))
    app.start()
    app.intent("start")
    app.intent("select", service="photo")
    app.intent("skip")
    return app, clock, alerts


def state(app: KioskApp) -> str:
    assert app.view is not None
    return app.view.state


def test_a_failed_capture_says_so_and_offers_a_retake() -> None:
    app, clock, _ = app_with(FailingPhoto("capture"))
    app.intent("capture")
    clock.advance(3.0)
    assert state(app) == "photo_capture_failed"
    assert app.view is not None and app.view.view.title == "photo.camera_failed"
    app.intent("retry")
    assert state(app) == "photo_live"


def test_a_photo_that_cannot_be_saved_is_not_reported_as_done() -> None:
    app, clock, alerts = app_with(FailingPhoto("submit"))
    app.intent("capture")
    clock.advance(3.0)
    assert state(app) == "photo_review"
    app.intent("use")
    assert state(app) == "photo_save_failed"
    assert alerts == ["outbox.put_failed"]
    session = app.runner.session
    app.intent("finished")
    assert state(app) == "attract" and session is not None and session.ended_reason == "error"
