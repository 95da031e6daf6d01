"""The appointment check-in's screens and the on-screen keyboard, in real Qt offscreen: they
fit the 1080p panel in both languages and in larger text, send what was typed only on OK,
forget it when left, and turn pinyin into the characters chosen."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from kiosk.config import parse_config
from kiosk.core.clock import ManualClock
from kiosk.core.runner import ViewState
from kiosk.core.views import Button, MessageView, TextEntryView, View
from kiosk.terminals.appointment.views import NumberPadView, QrScanView
from tests.ui.test_shell import _fits
from ui.pinyin import dictionary
from ui.screens.appointment import NumberPadScreen
from ui.screens.keyboard import TextEntryScreen
from ui.shell import Shell, build_shell, qt_application

PAD = NumberPadView(
    "appointment.number.title",
    "appointment.number.body",
    10,
    "appointment.number.wrong",
    "appointment.scan.unread",
    (Button("back", "app.back"), Button("scan", "appointment.number.scan")),
)
SCAN = QrScanView(
    "appointment.scan.title",
    "appointment.scan.body",
    (Button("back", "app.back"), Button("type", "appointment.scan.type", "primary")),
)
ENTRY = TextEntryView(
    "pickup.delivery.typing.title",
    "pickup.delivery.typing.body",
    max_length=120,
    error="pickup.delivery.typing.short",
)


@pytest.fixture
def shell(qtbot: QtBot) -> Iterator[Shell]:
    qapp = qt_application(offscreen=True)
    config = parse_config({"kiosk": {"id": "UI-TEST", "terminal": "pickup"}})
    clock = ManualClock()
    s = build_shell(config, qapp, clock=clock, scheduler=clock, devices=False, backend=False)
    qtbot.addWidget(s.window)
    s.window.show()
    s.start()
    yield s
    s.stop()


def render(s: Shell, view: View, state: str, language: str = "zh", large: bool = False) -> None:
    s.window.render(ViewState(view, language, state, large_text=large))


def intents(s: Shell, name: str) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    s.window.screens[name].intent.connect(lambda n, d: sent.append({"intent": n, **d}))
    return sent


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("large", [False, True])
def test_the_screens_fit_the_panel(shell: Shell, language: str, large: bool) -> None:
    for view, state in ((SCAN, "appt_scan"), (PAD, "appt_number"), (ENTRY, "typing")):
        render(shell, view, state, language, large)
        assert shell.window.current_screen().screen_name == view.screen
        _fits(shell)
    keyboard = shell.window.screens["text_entry"].keyboard  # type: ignore[attr-defined]
    for key in "zhuang":
        keyboard.keys[key].click()  # the longest syllable, a full candidate bar
    _fits(shell)


def test_the_pad_sends_ten_digits_on_ok_and_forgets_them_when_left(shell: Shell) -> None:
    sent = intents(shell, "number_pad")
    render(shell, PAD, "appt_number")
    pad = shell.window.screens["number_pad"]
    assert isinstance(pad, NumberPadScreen)
    for digit in "12345":
        pad.keys[digit].click()
    assert not pad.ok.isEnabled()  # not all ten yet
    for digit in "678901234":  # one too many: the pad stops at ten
        pad.keys[digit].click()
    pad.keys["delete"].click()
    pad.keys["3"].click()
    assert pad.ok.isEnabled()
    pad.ok.click()
    assert sent == [{"intent": "number", "number": "1234567893"}]
    pad.keys["7"].click()
    render(shell, MessageView("appointment.checking"), "appt_checking")
    render(shell, PAD, "appt_number")
    assert pad.typed.text().replace(" ", "").strip("_") == ""  # nothing typed survives


def test_pinyin_becomes_the_characters_chosen(shell: Shell) -> None:
    sent = intents(shell, "text_entry")
    render(shell, ENTRY, "typing")
    screen = shell.window.screens["text_entry"]
    assert isinstance(screen, TextEntryScreen)
    keyboard = screen.keyboard

    def pick(letters: str, wanted: str) -> None:
        for key in letters:
            keyboard.keys[key].click()
        for _ in range(10):
            shown = [b.text() for b in keyboard.choice_buttons]
            if wanted in shown:
                keyboard.choice_buttons[shown.index(wanted)].click()
                return
            keyboard.more.click()
        pytest.fail(f"{wanted} not offered for {letters}")

    pick("guangdong", "广东")  # a phrase for the whole of it
    pick("shenzhen", "深")  # one character consumes one syllable...
    assert keyboard.letters == "zhen"
    pick("", "圳")  # ...and the rest stays typed
    for key in "12":
        keyboard.keys[key].click()
    keyboard.keys["号"].click()
    keyboard.mode.click()  # Latin letters as they are
    keyboard.keys["b"].click()
    keyboard.delete.click()
    keyboard.keys["a"].click()
    assert keyboard.text == "广东深圳12号a"
    assert "广东深圳12号a" in screen.field.text()
    screen.ok.click()
    assert sent == [{"intent": "text", "text": "广东深圳12号a"}]
    render(shell, MessageView("pickup.delivery.ordering"), "ordering")
    assert keyboard.text == ""  # an address does not stay behind


def test_the_dictionary_ranks_everyday_characters_first() -> None:
    words = dictionary()
    for letters, everyday in (("shen", "深"), ("lu", "路"), ("hao", "号"), ("lv", "绿")):
        assert everyday in [c.text for c in words.candidates(letters)[:8]], letters
    assert words.candidates("xiaoqu")[0].text == "小区"
    assert words.first_syllable("zhuangxiu") == "zhuang"
    assert all(len(c.text) == 1 for c in words.candidates("zh")[:5])
