"""The photo terminal end to end through qtbot: real screens, the simulated camera, ID-card
reader and printer over ptys, a real SQLite outbox, and the embedded central service on
loopback receiving the photo exactly once."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from kiosk.config import parse_config
from kiosk.core.clock import ManualClock
from kiosk.core.runner import ViewState
from kiosk.core.views import lookup
from kiosk.core.voice import Voice
from kiosk.photo import load_spec
from kiosk.terminals.photo.ports import Check
from kiosk.terminals.photo.service import valid_photo_number
from kiosk.terminals.photo.views import PhotoReviewView
from offline_queue.sync import central_unreachable_since
from ui.demo import World, pump
from ui.screens.photo import PhotoReviewScreen
from ui.shell import Shell, build_shell, qt_application

Started = tuple[Shell, ManualClock, World, Voice]


@pytest.fixture
def kiosk(tmp_path: Path, qtbot: QtBot) -> Iterator[Started]:
    started = _start(tmp_path, qtbot, {"embedded": True})
    yield started
    started[0].stop()


@pytest.fixture
def kiosk_without_central(tmp_path: Path, qtbot: QtBot) -> Iterator[Started]:
    """Central's address refuses connections (the network is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = _start(tmp_path, qtbot, {"url": f"http://127.0.0.1:{port}", "timeout_s": 1.0})
    yield started
    started[0].stop()


def _start(tmp_path: Path, qtbot: QtBot, central: dict[str, Any]) -> Started:
    config = parse_config(
        {
            "kiosk": {
                "id": "SZ-T-P09",
                "terminal": "photo",
                "data_dir": str(tmp_path / "data"),
                "place": "Test hall",
            },
            "central": central,
            "devices": {
                "idcard": {"driver": "sam", "simulator": True, "required": False},
                "printer": {"driver": "escpos", "simulator": True},
                "camera": {"driver": "opencv", "simulator": True, "source": "sim"},
            },
        }
    )
    qapp = qt_application(offscreen=True)
    clock = ManualClock()
    voice = Voice(wav_dir=tmp_path / "voice")
    shell = build_shell(config, qapp, clock=clock, scheduler=clock, voice=voice)
    qtbot.addWidget(shell.window)
    shell.window.show()
    shell.start()
    hub = shell.app.devices
    assert hub is not None
    until(lambda: all(slot.usable for slot in hub.slots.values()))  # opened in the background
    return shell, clock, World(shell), voice


def until(condition: Callable[[], bool], within_s: float = 120.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        pump(0.02)


def state(shell: Shell) -> str:
    assert shell.app.view is not None
    return shell.app.view.state


def click(qtbot: QtBot, shell: Shell, text: str) -> None:
    """Tap the visible button whose label contains ``text`` (as a citizen would)."""
    buttons = [
        b
        for b in shell.window.current_screen().findChildren(QPushButton)
        if b.isVisible() and b.isEnabled() and text in b.text()
    ]
    assert buttons, f"no button {text!r} on {state(shell)}"
    qtbot.mouseClick(buttons[0], Qt.MouseButton.LeftButton)


def to_live(qtbot: QtBot, shell: Shell, world: World) -> None:
    qtbot.mouseClick(shell.window.current_screen(), Qt.MouseButton.LeftButton)
    click(qtbot, shell, "拍摄出入境证件照")
    assert state(shell) == "photo_identify"
    click(qtbot, shell, "跳过")
    until(lambda: state(shell) == "photo_live")


def capture(qtbot: QtBot, shell: Shell, clock: ManualClock) -> None:
    click(qtbot, shell, "拍照")
    assert state(shell) == "photo_countdown"
    clock.advance(3.0)
    until(lambda: state(shell) == "photo_review")


def take_and_use_photo(qtbot: QtBot, shell: Shell, clock: ManualClock, world: World) -> None:
    """A compliant photo, auto-captured and submitted: ends on the done screen."""
    to_live(qtbot, shell, world)
    world.camera_scene("compliant")
    until(lambda: state(shell) == "photo_countdown")
    clock.advance(3.0)
    until(lambda: state(shell) == "photo_review")
    click(qtbot, shell, "使用这张照片")
    until(lambda: state(shell) == "photo_done")


def central_stats(shell: Shell) -> dict[str, Any]:
    assert shell.backend is not None and shell.backend.closers
    url = shell.backend.sync.transport.base_url if shell.backend.sync else ""
    return dict(requests.get(f"{url}/v1/stats", timeout=30).json())


def test_coached_photo_is_saved_printed_and_delivered_once(
    kiosk: tuple[Shell, ManualClock, World, Voice], qtbot: QtBot
) -> None:
    shell, clock, world, voice = kiosk
    to_live(qtbot, shell, world)
    world.camera_scene("too_far")
    until(
        lambda: (
            lookup(shell.app.view.view, "live.instruction.measure")  # type: ignore[union-attr]
            == "head_size"
        )
    )
    assert "请靠近一点" in shell.window.current_screen().instruction.text()  # type: ignore[attr-defined]
    until(lambda: ("zh", "请靠近一点") in voice.spoken)  # also spoken, while it applies
    world.camera_scene("compliant")
    until(lambda: state(shell) == "photo_countdown")  # compliant and still: auto-capture
    clock.advance(3.0)
    until(lambda: state(shell) == "photo_review")
    screen = shell.window.current_screen()
    assert screen.use.isEnabled()  # type: ignore[attr-defined]
    assert not screen.photo.pixmap().isNull()  # type: ignore[attr-defined]
    click(qtbot, shell, "重拍")  # retakes are free and unlimited
    until(lambda: state(shell) == "photo_live")
    capture(qtbot, shell, clock)
    click(qtbot, shell, "使用这张照片")
    until(lambda: state(shell) == "photo_done")
    number = str(shell.app.view.view.code)  # type: ignore[union-attr]
    assert valid_photo_number(number) and number.startswith("SZTP09")
    printer = world.sim("printer")
    assert printer.payloads("qr") == [number] and printer.payloads("code128") == [number]
    assert any(("图像号" in line and number in line) for line in printer.text_lines())
    assert shell.app.outbox is not None
    kinds = [e.kind for e in shell.app.outbox.entries()]
    assert kinds == ["photo.captured"]
    until(lambda: central_stats(shell)["transactions"] == 1, within_s=120)
    click(qtbot, shell, "结束")
    assert state(shell) == "attract" and shell.app.runner.session is None
    assert central_stats(shell)["transactions"] == 1  # exactly once


def test_paper_out_mid_receipt_keeps_the_photo_and_shows_the_number(
    kiosk: tuple[Shell, ManualClock, World, Voice], qtbot: QtBot
) -> None:
    shell, clock, world, _ = kiosk
    alerts: list[str] = []
    shell.app.runner.on_alert(lambda a: alerts.append(a.code))
    to_live(qtbot, shell, world)
    world.camera_scene("compliant")
    until(
        lambda: (
            state(shell) == "photo_countdown"
            or lookup(shell.app.view.view, "live.compliant") is True
        )
    )  # type: ignore[union-attr]
    if state(shell) == "photo_live":
        click(qtbot, shell, "拍照")
    clock.advance(3.0)
    until(lambda: state(shell) == "photo_review")
    world.paper_out()
    click(qtbot, shell, "使用这张照片")
    until(lambda: state(shell) == "photo_no_receipt")
    view = shell.app.view
    assert view is not None and valid_photo_number(str(view.view.code))
    assert view.view.image_png[:8] == b"\x89PNG\r\n\x1a\n"  # the QR to photograph
    assert "printer.receipt_failed" in alerts
    assert shell.app.outbox is not None
    assert [e.kind for e in shell.app.outbox.entries()] == ["photo.captured"]
    clock.advance(shell.app.config.timeouts.message_s * 8)
    until(lambda: state(shell) == "out_of_service")  # the required printer is out of paper
    world.paper_refill()
    until(lambda: state(shell) == "attract")


def test_camera_lost_mid_session_ends_it_and_goes_out_of_service_until_back(
    kiosk: tuple[Shell, ManualClock, World, Voice], qtbot: QtBot
) -> None:
    shell, _, world, _ = kiosk
    to_live(qtbot, shell, world)
    session = shell.app.runner.session
    world.sim("camera").disconnect()
    until(lambda: state(shell) == "out_of_service")
    assert shell.app.view is not None and shell.app.view.view.values["device"] == "camera"
    assert session is not None and session.ended_reason == "error" and session.keys() == []
    world.sim("camera").reconnect()
    until(lambda: state(shell) == "attract", within_s=120)


def test_photo_taken_while_central_is_unreachable_tells_the_citizen_the_counter_may_wait(
    kiosk_without_central: Started, qtbot: QtBot
) -> None:
    shell, clock, world, _ = kiosk_without_central
    outbox = shell.app.outbox
    assert outbox is not None
    until(lambda: central_unreachable_since(outbox) is not None)  # the first heartbeat failed
    take_and_use_photo(qtbot, shell, clock, world)
    view = shell.app.view
    assert view is not None and view.view.note == "photo.delayed"
    note = shell.window.current_screen().note  # type: ignore[attr-defined]
    assert note.isVisible() and "窗口可能查不到这张照片" in note.text()
    assert [e.kind for e in outbox.entries()] == ["photo.captured"]  # kept, sent later
    assert outbox.entries()[0].state in ("pending", "inflight")  # a retry may be under way


def test_photo_done_has_no_such_note_while_central_answers(kiosk: Started, qtbot: QtBot) -> None:
    shell, clock, world, _ = kiosk
    take_and_use_photo(qtbot, shell, clock, world)
    assert shell.app.view is not None and shell.app.view.view.note is None
    assert not shell.window.current_screen().note.isVisible()  # type: ignore[attr-defined]


@pytest.mark.parametrize("notice", [None, "app.staff_called"])
@pytest.mark.parametrize("large_text", [False, True])
def test_the_review_checklist_fits_in_english_with_every_check_failed(
    qtbot: QtBot, large_text: bool, notice: str | None
) -> None:
    """The longest checklist: every requirement failed, each with its instruction; in larger
    text it takes two columns and must still fit the panel, also below a banner."""
    qapp = qt_application(offscreen=True)
    config = parse_config({"kiosk": {"id": "UI-TEST", "terminal": "photo"}})
    clock = ManualClock()
    s = build_shell(config, qapp, clock=clock, scheduler=clock, devices=False, backend=False)
    qtbot.addWidget(s.window)
    s.window.add_screen(PhotoReviewScreen(lambda index: None))
    s.window.show()
    s.start()
    try:
        spec = load_spec(config.photo.spec)
        requirements = tuple(
            Check(
                rule.title_zh,
                rule.title_en,
                False,
                rule.hard,
                "请保持头部端正，眼睛看镜头",
                "Keep your head straight and look at the camera",
            )
            for rule in spec.measures.values()
        )
        review = PhotoReviewView(checks=requirements)
        s.window.render(
            ViewState(review, "en", "photo_review", notice=notice, large_text=large_text)
        )
        pump()
        screen = s.window.current_screen()
        assert isinstance(screen, PhotoReviewScreen) and len(screen._rows) == len(requirements)
        assert (s.window.width(), s.window.height()) == (1920, 1080)
        for row in screen._rows:  # none squeezed under the height its wrapped text needs
            assert row.isVisible() and row.height() >= row.heightForWidth(row.width())
        if notice is not None:  # the banner floats over the screen's top, not over its title
            title_top = screen.title.mapTo(s.window, screen.title.rect().topLeft()).y()
            assert title_top > s.window.notice.geometry().bottom()
    finally:
        s.stop()
