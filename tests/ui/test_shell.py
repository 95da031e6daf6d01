"""The Qt shell through qtbot: real widgets, offscreen."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QContextMenuEvent, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QApplication, QLabel, QPushButton
from pytestqt.qtbot import QtBot

from central.store import CentralStore
from kiosk.app import KioskApp, Machine
from kiosk.config import KioskConfig, load_config, parse_config
from kiosk.core.clock import ManualClock
from kiosk.core.pins import MIN_ITERATIONS, StaffKey, hash_pin
from kiosk.core.runner import ViewState
from kiosk.terminals.home.steps import FINISH, message, qr_png
from kiosk.terminals.registry import terminal_for
from kiosk.terminals.terminal import Equipment
from kiosk.texts import TEXTS
from kiosk.wiring import Kiosk, flow_runner
from offline_queue.outbox import Outbox
from tests.conftest import ROOT
from ui.qt import QtDispatcher
from ui.screens.pin import PinScreen
from ui.shell import Shell, build_shell, config_error_window, qt_application, shell_for
from ui.theme import TOUCH_MIN_PX
from ui.window import KioskLock

STAFF_PIN = "975310"
STAFF_KEY = StaffKey(b"s" * 32)  # the machine's staff key (a file in its data directory)


@pytest.fixture
def shell(qtbot: QtBot) -> tuple[Shell, ManualClock]:
    qapp = qt_application(offscreen=True)
    config = parse_config({"kiosk": {"id": "UI-TEST", "terminal": "photo"}})
    clock = ManualClock()
    result = build_shell(config, qapp, clock=clock, scheduler=clock, devices=False, backend=False)
    qtbot.addWidget(result.window)
    result.window.show()
    result.start()
    yield result, clock
    result.stop()


@contextmanager
def shown(config: KioskConfig, qtbot: QtBot, machine: Machine | None = None) -> Iterator[Shell]:
    """A kiosk window for ``config`` without devices or backend (or with the parts of
    ``machine``), shown and started."""
    qapp = qt_application(offscreen=True)
    clock = ManualClock()
    if machine is None:
        s = build_shell(config, qapp, clock=clock, scheduler=clock, devices=False, backend=False)
    else:
        runner = flow_runner(config, clock, clock, QtDispatcher(qapp))
        kiosk = Kiosk(KioskApp(config, runner, machine), terminal_for(config))
        s = shell_for(kiosk, qapp, clock)
    qtbot.addWidget(s.window)
    s.window.show()
    s.start()
    try:
        yield s
    finally:
        s.stop()


def staff_screen_shows(s: Shell, qtbot: QtBot, part: str) -> None:
    """Wait until the staff screen's view has ``part`` (its buttons once the status is read,
    the note a button leaves)."""
    qtbot.waitUntil(
        lambda: bool(s.app.view and getattr(s.app.view.view, part, None)), timeout=60_000
    )


def screen_name(shell: Shell) -> str:
    return shell.window.current_screen().screen_name


def test_attract_touch_opens_the_menu_with_big_buttons(
    shell: tuple[Shell, ManualClock], qtbot: QtBot
) -> None:
    s, _ = shell
    assert screen_name(s) == "attract"
    qtbot.mouseClick(s.window.current_screen(), Qt.MouseButton.LeftButton, pos=QPoint(50, 50))
    assert screen_name(s) == "menu"
    for button in s.window.findChildren(QPushButton):
        if button.isVisible():
            assert button.height() >= TOUCH_MIN_PX, button.text()


def test_language_switch_translates_visible_text(
    shell: tuple[Shell, ManualClock], qtbot: QtBot
) -> None:
    s, _ = shell
    assert s.window.app_title.text() == TEXTS.messages["app.title"][0]
    qtbot.mouseClick(s.window.language_button, Qt.MouseButton.LeftButton)
    assert s.window.app_title.text() == TEXTS.messages["app.title"][1]
    assert s.window.language_button.text() == "中文"


def test_larger_text_button_enlarges_the_type_until_the_session_ends(
    shell: tuple[Shell, ManualClock], qtbot: QtBot
) -> None:
    s, _ = shell
    s.app.intent("start")
    title = s.window.current_screen().findChild(QLabel, "title")
    assert title is not None
    normal = title.fontInfo().pixelSize()
    assert s.window.text_size_button.text() == TEXTS.messages["app.large_text"][0]
    qtbot.mouseClick(s.window.text_size_button, Qt.MouseButton.LeftButton)
    assert title.fontInfo().pixelSize() >= normal * 1.25
    assert s.window.text_size_button.text() == TEXTS.messages["app.normal_text"][0]
    assert s.window.size().width() == 1920 and s.window.size().height() == 1080
    s.app.intent("back")
    assert screen_name(s) == "attract" and title.fontInfo().pixelSize() == normal
    assert s.window.text_size_button.text() == TEXTS.messages["app.large_text"][0]


def _fits(s: Shell) -> None:
    """The window keeps the panel's size, and no visible button or text is cut short."""
    _settle()
    assert (s.window.width(), s.window.height()) == (1920, 1080)
    for button in s.window.findChildren(QPushButton):
        if button.isVisible():
            assert button.width() >= button.sizeHint().width(), button.text()
    for label in s.window.findChildren(QLabel):
        if label.isVisible() and label.wordWrap():
            assert label.height() >= label.heightForWidth(label.width()), label.text()


def _settle() -> None:
    """Let answers on their way in (a staff status from its worker) arrive and the layouts
    they change settle: a wrapped label's height follows its text a layout pass later."""
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        QApplication.processEvents()
        QApplication.sendPostedEvents()
        time.sleep(0.01)


@pytest.mark.parametrize("terminal", ["renewal", "photo", "pickup"])
def test_menu_and_header_fit_in_english_with_larger_text_and_an_outage(
    qtbot: QtBot, terminal: str
) -> None:
    config = parse_config({"kiosk": {"id": "SZ-FUTIAN-HALL-2-PHOTO-0001", "terminal": terminal}})
    with shown(config, qtbot) as s:
        s.app.set_sync_offline(True)  # the header's longest state: the offline label shown
        s.app.set_central_link(False)  # the menu's: services paused, the reason above them
        s.app.intent("language", language="en")
        s.app.intent("large_text", on=True)
        qtbot.waitUntil(s.window.status_label.isVisible, timeout=60_000)  # between citizens
        _fits(s)
        s.app.intent("start")
        assert screen_name(s) == "menu"
        _fits(s)
        s.app.intent("call_staff")  # a banner over the fullest menu
        _fits(s)
        title = s.window.current_screen().title
        assert title.mapTo(s.window, title.rect().topLeft()).y() > s.window.notice.y() + (
            s.window.notice.height()
        )


def test_staff_hold_the_kiosk_number_and_sign_in_on_the_pin_pad(qtbot: QtBot) -> None:
    """The kiosk has no keyboard: staff hold the kiosk number, type the PIN on the pad (shown
    as dots), and reach the status screen; the check runs on the staff worker."""
    config = parse_config(
        {
            "kiosk": {"id": "UI-TEST", "terminal": "photo"},
            "staff": {"pin_hash": hash_pin(STAFF_PIN, STAFF_KEY, iterations=MIN_ITERATIONS)},
        }
    )
    with shown(config, qtbot, Machine(staff_key=STAFF_KEY)) as s:
        s.window.staff_hold.setInterval(50)  # 3 s on the machine
        qtbot.mousePress(s.window.kiosk_label, Qt.MouseButton.LeftButton)
        qtbot.mouseRelease(s.window.kiosk_label, Qt.MouseButton.LeftButton)
        qtbot.wait(120)
        assert screen_name(s) == "attract"  # a tap is not a hold
        qtbot.mousePress(s.window.kiosk_label, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: screen_name(s) == "pin", timeout=60_000)
        qtbot.mouseRelease(s.window.kiosk_label, Qt.MouseButton.LeftButton)
        pad = s.window.current_screen()
        assert isinstance(pad, PinScreen)
        for key in STAFF_PIN:
            qtbot.mouseClick(pad.keys[key], Qt.MouseButton.LeftButton)
        assert pad.dots.text() == "●" * len(STAFF_PIN)
        s.app.intent("language", language="en")  # a re-render of the same step keeps them
        assert pad.dots.text() == "●" * len(STAFF_PIN) and pad.title.text() == "Staff sign-in"
        _fits(s)
        qtbot.mouseClick(pad.keys["ok"], Qt.MouseButton.LeftButton)
        qtbot.waitUntil(
            lambda: s.app.view is not None and s.app.view.state == "staff", timeout=5000
        )
        qtbot.waitUntil(
            lambda: bool(s.app.view and getattr(s.app.view.view, "buttons", None)), timeout=60_000
        )
        labels = [b.text() for b in s.window.current_screen().findChildren(QPushButton)]
        assert "Exit" in labels and "Out of service" in labels
        _fits(s)


def test_a_staff_member_types_their_number_then_their_pin(qtbot: QtBot) -> None:
    member = {
        "number": "1024",
        "pin_hash": hash_pin(STAFF_PIN, STAFF_KEY, iterations=MIN_ITERATIONS),
    }
    config = parse_config(
        {"kiosk": {"id": "UI-TEST", "terminal": "photo"}, "staff": {"members": [member]}}
    )
    with shown(config, qtbot, Machine(staff_key=STAFF_KEY)) as s:
        s.app.intent("language", language="en")
        s.app.intent("staff")
        pad = s.window.current_screen()
        assert isinstance(pad, PinScreen) and pad.body.text() == "Enter your staff number"
        for key in "1024":
            qtbot.mouseClick(pad.keys[key], Qt.MouseButton.LeftButton)
        assert pad.dots.text() == "1024"  # a staff number is shown as typed
        qtbot.mouseClick(pad.keys["ok"], Qt.MouseButton.LeftButton)
        assert pad.body.text() == "Staff 1024: enter your PIN" and pad.dots.text() == "-"
        for key in STAFF_PIN:
            qtbot.mouseClick(pad.keys[key], Qt.MouseButton.LeftButton)
        assert pad.dots.text() == "●" * len(STAFF_PIN)
        qtbot.mouseClick(pad.keys["ok"], Qt.MouseButton.LeftButton)
        qtbot.waitUntil(
            lambda: bool(s.app.view and getattr(s.app.view.view, "buttons", None)), timeout=60_000
        )
        assert s.app.view is not None and s.app.view.state == "staff"
        assert "Signed in: staff 1024" in s.window.current_screen().findChild(QLabel, "body").text()


def test_the_fullest_staff_screen_fits_in_english_with_larger_text(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """Seven status lines (two devices at fault), a note, and a failed transaction (its
    button wraps the buttons into two rows): still 1920 x 1080, nothing cut short."""
    member = {
        "number": "1024",
        "pin_hash": hash_pin(STAFF_PIN, STAFF_KEY, iterations=MIN_ITERATIONS),
    }
    config = parse_config(
        {"kiosk": {"id": "UI-TEST", "terminal": "pickup"}, "staff": {"members": [member]}}
    )
    outbox = Outbox(tmp_path / "outbox.sqlite", kiosk_id="UI-TEST", key=b"k" * 32)
    machine = Machine(
        _FaultyDevices(),
        outbox,
        equipment=Equipment(to_reconcile=lambda: 1),
        staff_key=STAFF_KEY,
    )
    with shown(config, qtbot, machine) as s:
        outbox.put("pickup.handover", {"n": 1})
        outbox.bury(outbox.claim(1, lease_s=30)[0], "central.http_422: refused")
        s.app.set_unavailable("device.printer", "oos.device", device="printer", detail="paper")
        s.app.intent("language", language="en")
        s.app.intent("large_text", on=True)
        s.app.intent("staff")
        s.app.intent("pin", pin=STAFF_PIN, number="1024")
        qtbot.waitUntil(
            lambda: bool(s.app.view and getattr(s.app.view.view, "buttons", None)), timeout=60_000
        )
        s.app.intent("staff_sync")  # a note under the lines
        qtbot.waitUntil(
            lambda: bool(s.app.view and getattr(s.app.view.view, "note", None)), timeout=60_000
        )
        labels = [b.text() for b in s.window.current_screen().findChildren(QPushButton)]
        assert "Send failed ones again" in labels
        body = s.window.current_screen().findChild(QLabel, "body").text()
        assert len(body.splitlines()) == 7
        # Plain words, then the drivers' own codes in small type for staff.
        assert "Receipt printer: out of paper, cover open · Document dispenser: " in body
        codes = s.window.current_screen().findChild(QLabel, "codes").text()
        assert "printer: paper out; cover open" in codes
        assert "kiosk pickup withheld" in codes and "kiosk pickup" not in body
        _fits(s)
        s.app.intent("call_staff")  # and a banner over it all
        _fits(s)
        title = s.window.current_screen().title
        assert (
            title.mapTo(s.window, title.rect().topLeft()).y() > s.window.notice.geometry().bottom()
        )
    outbox.close()


def test_a_banner_never_covers_the_title_of_a_full_screen_in_larger_text(qtbot: QtBot) -> None:
    """The photo terminal's fullest outcome (number, QR code, a note) under "staff have been
    called": the banner floats below the header, above the title."""
    config = parse_config({"kiosk": {"id": "UI-TEST", "terminal": "photo"}})
    number = "P-2026-1127-000123"
    data = message(
        "photo.no_receipt.title",
        "photo.no_receipt.body",
        tone="warn",
        code=number,
        image_png=qr_png(number),
        note="photo.delayed",
        buttons=FINISH,
    )
    with shown(config, qtbot) as s:
        for language in ("en", "zh"):
            view = ViewState(data, language, "photo_no_receipt", None, "app.staff_called")
            s.window.render(replace(view, large_text=True))
            _fits(s)
            title = s.window.current_screen().title
            title_top = title.mapTo(s.window, title.rect().topLeft()).y()
            assert s.window.notice.isVisible()
            # With room to spare: another font's metrics must not bring them together.
            assert title_top - s.window.notice.geometry().bottom() >= 12, language


class _FaultyDevices:
    """What the device hub reports with two parts at fault (the staff screen's input)."""

    slots: ClassVar[dict[str, object]] = {}

    @staticmethod
    def ports() -> list[object]:
        return []

    @staticmethod
    def snapshot() -> dict[str, dict[str, object]]:
        details = {"printer": "paper out; cover open", "dispenser": "card jam at the exit"}
        return {
            kind: {"usable": kind not in details, "detail": details.get(kind, "")}
            for kind in ("idcard", "printer", "dispenser", "camera")
        }


def test_idle_countdown_is_visible_then_returns_to_attract(
    shell: tuple[Shell, ManualClock], qtbot: QtBot
) -> None:
    s, clock = shell
    s.app.intent("start")
    clock.advance(60.0)
    assert s.window.overlay.isVisible()
    clock.advance(5.0)
    s.window.overlay.refresh()
    assert s.window.overlay.countdown.text() == "10"
    qtbot.mouseClick(s.window.overlay.cont, Qt.MouseButton.LeftButton)
    assert not s.window.overlay.isVisible() and screen_name(s) == "menu"
    clock.advance(75.0)
    assert screen_name(s) == "attract" and not s.window.overlay.isVisible()


def test_call_staff_shows_a_notice_and_alerts(
    shell: tuple[Shell, ManualClock], qtbot: QtBot
) -> None:
    s, clock = shell
    alerts: list[str] = []
    s.app.runner.on_alert(lambda alert: alerts.append(alert.code))
    qtbot.mouseClick(s.window.staff_button, Qt.MouseButton.LeftButton)
    assert alerts == ["citizen.help"]
    assert s.window.notice.isVisible()
    # Over the screen, just below the header: the window keeps the panel's size.
    assert s.window.notice.y() == s.window.header.height()
    assert (s.window.width(), s.window.height()) == (1920, 1080)
    clock.advance(s.app.config.timeouts.message_s)
    assert not s.window.notice.isVisible()


def test_header_shows_a_long_outage_to_staff_until_contact_returns(
    shell: tuple[Shell, ManualClock], qtbot: QtBot
) -> None:
    s, _ = shell
    assert not s.window.status_label.isVisible()
    s.app.set_sync_offline(True)  # what the backend watch reports past the offline window
    qtbot.waitUntil(s.window.status_label.isVisible, timeout=60_000)
    assert s.window.status_label.text() == "⚠ 断网超过 24 小时"
    qtbot.mouseClick(s.window.language_button, Qt.MouseButton.LeftButton)
    assert s.window.status_label.text() == "⚠ Offline > 24 h"
    s.app.intent("start")  # a citizen at the machine: not for them
    qtbot.waitUntil(lambda: not s.window.status_label.isVisible(), timeout=60_000)
    s.app.intent("home")
    qtbot.waitUntil(s.window.status_label.isVisible, timeout=60_000)
    s.app.set_sync_offline(False)
    qtbot.waitUntil(lambda: not s.window.status_label.isVisible(), timeout=60_000)


def test_out_of_service_states_the_reason(shell: tuple[Shell, ManualClock]) -> None:
    s, _ = shell
    s.app.set_unavailable("camera", "oos.device", device="camera", detail="no signal")
    assert screen_name(s) == "out_of_service"
    screen = s.window.current_screen()
    assert "摄像头故障" in screen.reason.text()  # type: ignore[attr-defined]
    # The driver's detail for staff, in small type after the plain words.
    assert screen.reason_en.text() == "camera: no signal"  # type: ignore[attr-defined]
    assert screen.reason_en.objectName() == "codes"  # type: ignore[attr-defined]


def test_no_way_out_close_keys_and_context_menu(shell: tuple[Shell, ManualClock]) -> None:
    s, _ = shell
    s.window.close()
    assert s.window.isVisible()
    assert s.window.windowFlags() & Qt.WindowType.FramelessWindowHint
    app = QApplication.instance()
    assert app is not None
    lock = KioskLock()
    for key, mods in (
        (Qt.Key.Key_F4, Qt.KeyboardModifier.AltModifier),
        (Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier),
        (Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier),
    ):
        event = QKeyEvent(QEvent.Type.KeyPress, key, mods)
        assert lock.eventFilter(s.window, event) is True
        app.sendEvent(s.window, event)
        assert s.window.isVisible()
    menu_event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, QPoint(5, 5), QPoint(5, 5))
    assert lock.eventFilter(s.window, menu_event) is True
    click = QMouseEvent(
        QEvent.Type.MouseButtonPress,
        QPointF(5, 5),
        QPointF(5, 5),
        Qt.MouseButton.LeftButton,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    assert lock.eventFilter(s.window, click) is False


def test_bad_config_shows_out_of_service_naming_the_key(qtbot: QtBot) -> None:
    qapp = qt_application(offscreen=True)
    window = config_error_window(qapp, "kiosk.toml", ["devices.printer.baud: bad"])
    qtbot.addWidget(window)
    screen = window.current_screen()
    assert "配置有误" in screen.reason.text()  # type: ignore[attr-defined]
    assert "devices.printer.baud" in screen.reason_en.text()  # type: ignore[attr-defined]


def test_bad_config_cli_exits_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[kiosk]\nid = 'X'\n", encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ui.main",
            "demo",
            "--config",
            str(bad),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 1 and "kiosk.terminal: missing value" in result.stderr


def _personal_values(data: Path) -> set[str]:
    """Every ID number, name, permit and document number the demo's citizens have."""
    from kiosk.terminals.home import demo as demo_script

    values = {
        str(v["name"])
        for v in vars(demo_script).values()
        if isinstance(v, dict) and isinstance(v.get("name"), str)
    }
    store = sqlite3.connect(data / "central-embedded.sqlite")
    for sql in (
        "SELECT id_number, name, permit_no FROM citizens",
        "SELECT document_no, id_number FROM documents",
    ):
        values.update(str(v) for row in store.execute(sql) for v in row if v)
    store.close()
    return values


def _outbox_at_rest(data: Path) -> bytes:
    files = [*data.glob("outbox.sqlite*"), *data.glob("outbox.sqlite.attachments/*")]
    return b"".join(f.read_bytes() for f in files if f.is_file())


@pytest.mark.parametrize("terminal", ["renewal", "photo", "pickup"])
def test_demo_runs_end_to_end(tmp_path: Path, terminal: str) -> None:
    out = tmp_path / terminal
    data = tmp_path / "data"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ui.main",
            "demo",
            "--terminal",
            terminal,
            "--out",
            str(out),
            "--data",
            str(data),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    transcript = json.loads((out / "transcript.json").read_text(encoding="utf-8"))
    assert transcript["completed"] is True
    states = [entry["state"] for entry in transcript["transcript"]]
    assert states[0] == "attract" and "menu" in states
    assert any(entry["overlay"] == "still_there" for entry in transcript["transcript"])
    for name in transcript["screenshots"]:
        assert (out / name).stat().st_size > 10_000
    # Every screen fits the panel: content that needs more room widens or heightens the
    # window, which a fullscreen kiosk would cut off.
    sizes = {name: Image.open(out / name).size for name in transcript["screenshots"]}
    assert {name: size for name, size in sizes.items() if size != (1920, 1080)} == {}
    # Every screen, in each language, passes the design rules (ui.audit): text fits, is
    # large enough, contrasts (WCAG AA, on the pixels), shows no raw code; touch targets of
    # 15 mm on the configured panel; the primary action at the bottom right.
    audits = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    audited = {(entry["png"], entry["language"]) for entry in audits}
    shots = transcript["screenshots"]
    assert audited == {(name, language) for name in shots for language in ("zh", "en")}
    problems = [(e["png"], e["language"], f) for e in audits for f in e["findings"]]
    assert problems == []
    if terminal != "pickup":
        assert any(entry.get("large_text") for entry in transcript["transcript"])
    assert all({"screen", "event", "t"} <= set(e) for e in transcript["transcript"])
    # After the whole flow, the kiosk's own files hold no citizen's data in clear (sealed
    # payloads, photos and journal references; pseudonymous streams; alerts without it).
    personal = _personal_values(data)
    assert len(personal) > 20
    at_rest = _outbox_at_rest(data)
    assert at_rest
    assert sorted(v for v in personal if v.encode() in at_rest) == []


def test_demo_refuses_to_reuse_a_data_directory(tmp_path: Path) -> None:
    """An earlier run's outbox would be replayed into the new run."""
    (tmp_path / "data").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "ui.main", "demo", "--data", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=120,
    )
    assert result.returncode == 1 and "give a directory that does not" in result.stderr


def test_kiosk_runs_fullscreen_on_a_real_x_display(tmp_path: Path) -> None:
    """The real window on a (virtual) X server, not offscreen: xcb plugin, fonts, fullscreen."""
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env["KIOSK_CONFIG"] = str(ROOT / "configs" / "photo.toml")
    result = subprocess.run(
        [
            "xvfb-run",
            "-a",
            "-s",
            "-screen 0 1920x1080x24",
            sys.executable,
            "-m",
            "ui.main",
            "run",
            "--exit-when-shown",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["screen"] == "attract" and figures["visible"] is True


def _shipped_config(terminal: str, data_dir: Path) -> KioskConfig:
    """A shipped machine configuration with its data in ``data_dir``."""
    base = load_config(ROOT / "configs" / f"{terminal}.toml")
    return base.model_copy(
        update={"kiosk": base.kiosk.model_copy(update={"data_dir": str(data_dir)})}
    )


def _start_until_alert(
    config: KioskConfig, qtbot: QtBot, caplog: pytest.LogCaptureFixture, code: str
) -> None:
    """Start the kiosk, wait (up to 20 s) for the staff alert ``code`` its start-up work
    raises, and stop it."""
    from ui.demo import pump

    def alerted() -> bool:
        return any(f"staff alert {code}" in r.getMessage() for r in caplog.records)

    clock = ManualClock()
    with caplog.at_level(logging.WARNING, logger="kiosk.core.runner"):
        shell = build_shell(config, qt_application(offscreen=True), clock=clock, scheduler=clock)
        qtbot.addWidget(shell.window)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not alerted():
                pump(0.05)
        finally:
            shell.stop()
    assert alerted()


def test_pickup_start_up_recovers_an_interrupted_dispense(
    tmp_path: Path, qtbot: QtBot, caplog: pytest.LogCaptureFixture
) -> None:
    """A dispense begun before a crash is resolved before any citizen is served: staff are
    alerted, a pickup.uncertain record is queued and the document is withheld."""
    from kiosk.machine.backend import open_outbox
    from kiosk.terminals.pickup.service import PickupService

    config = _shipped_config("pickup", tmp_path)
    with open_outbox(config) as outbox:
        outbox.journal_begin("dispense", "D-INTERRUPTED")
    _start_until_alert(config, qtbot, caplog, "pickup.uncertain")
    assert not any("D-INTERRUPTED" in r.getMessage() for r in caplog.records)
    with open_outbox(config) as outbox:
        assert not outbox.unfinished()
        # The alert waits in the outbox for a heartbeat that reaches central, unless the
        # embedded central already has it (the first heartbeat may come after the alert).
        saved = json.loads(outbox.get_meta("alerts.pending") or "{}")
        waiting = [a["code"] for a in saved["alerts"]]
        store = CentralStore(tmp_path / "central-embedded.sqlite")
        delivered = [a["code"] for a in store.alerts()]
        store.close()
        assert "pickup.uncertain" in waiting + delivered
        assert "pickup.uncertain" in [e.kind for e in outbox.entries()]
        service = PickupService(outbox, lambda: None, config.kiosk.id)  # type: ignore[arg-type,return-value]
        assert service.withheld("D-INTERRUPTED")


def test_renewal_start_up_refunds_an_order_paid_before_a_crash(
    tmp_path: Path, qtbot: QtBot, caplog: pytest.LogCaptureFixture
) -> None:
    """A citizen paid, then the kiosk died before the endorsement was issued: at start the
    order is refunded (the citizen was never told it worked), recorded once, and staff told."""
    from kiosk.machine.backend import open_outbox
    from kiosk.terminals.home.demo import ZHANG_SAN
    from ui.demo import citizen_card

    config = _shipped_config("renewal", tmp_path)
    store = CentralStore(tmp_path / "central-embedded.sqlite")
    body = {
        "id_number": citizen_card(**ZHANG_SAN).id_number,
        "region": "HK",
        "purpose": "individual",
        "option": "one_trip",
    }
    kiosk = config.kiosk.id
    _, order, _ = store.idempotent(
        kiosk, f"{kiosk}-pay-1", "payment.order", body, lambda: store.create_payment(kiosk, body)
    )
    store.simulate_payment(order["order_id"])
    store.close()
    with open_outbox(config) as outbox:
        outbox.journal_begin("payment", order["order_id"])
    _start_until_alert(config, qtbot, caplog, "renewal.refunded")
    with open_outbox(config) as outbox:
        assert not outbox.unfinished()
        assert [e.kind for e in outbox.entries()].count("renewal.refunded") == 1
    store = CentralStore(tmp_path / "central-embedded.sqlite")
    status = store.payment_status(kiosk, order["order_id"])
    store.close()
    assert status["status"] == "refunded"
