"""Guidance on screen and the design rules' checks (ui.guide, ui.audit): real widgets,
offscreen. The demos run the same checks over every screen (tests/ui/test_shell.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from kiosk.config import parse_config
from kiosk.core.runner import ViewState
from kiosk.core.views import Button, OutOfServiceView, Picture, Progress
from kiosk.machine.faults import fault_keys, plain_fault
from kiosk.terminals.home.flow import ServiceFlow, Stage, progress_of
from kiosk.terminals.home.steps import BACK, message
from ui.audit import audit_window, contrast, image_array, luminance_map, text_contrast
from ui.demo import pump
from ui.guide import MOTIONS, Pictogram, art_dir, draw_picture
from ui.shell import qt_application
from ui.theme import touch_min_px
from ui.window import KioskWindow


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[KioskWindow]:
    qt_application(offscreen=True)
    shown = KioskWindow(lambda name, data: None, lambda: 0.0, kiosk_id="GUIDE-1")
    qtbot.addWidget(shown)
    shown.show()
    yield shown


def _audit(window: KioskWindow, large: bool = False) -> list[str]:
    pump(0.1)  # the layouts settle as they do on screen
    image = window.grab().toImage()
    return [
        f"{f.rule}:{f.text}" for f in audit_window(window, image, large_text=large, touch_px=96)
    ]


def test_every_picture_is_drawn_and_its_mover_moves() -> None:
    qt_application(offscreen=True)
    for picture in Picture:
        assert (art_dir() / f"{picture.value}.svg").is_file(), picture
        frames = []
        for phase in (0.0, 1.0):
            image = QImage(400, 300, QImage.Format.Format_RGB32)
            image.fill(QColor("white"))
            painter = QPainter(image)
            draw_picture(painter, QRectF(0, 0, 400, 300), picture, phase)
            painter.end()
            frames.append(image)
        assert Pictogram.renderer(picture).isValid(), picture
        assert frames[0] != frames[1], f"{picture}: nothing moves"
        drawn = sum(
            frames[1].pixelColor(x, y) != QColor("white")
            for x in range(0, 400, 10)
            for y in range(0, 300, 10)
        )
        assert drawn > 600, f"{picture}: blank"  # of 1200 points: the panel at least
    assert set(MOTIONS) == set(Picture)


def test_a_step_shows_its_picture_its_place_and_waits_with_what_takes_time(
    window: KioskWindow, qtbot: QtBot
) -> None:
    view = message("identify.reading", picture=Picture.IDCARD, waiting="identify.slow")
    view = replace(view, waiting=replace(view.waiting, after_s=0.3))  # type: ignore[arg-type]
    journey = Progress(2, 5, "stage.identify", "stage.face")
    window.render(ViewState(replace(view, journey=journey), "zh", "pickup_reading"))
    screen = window.current_screen()
    assert screen.picture.picture is Picture.IDCARD  # type: ignore[attr-defined]
    assert window.journey.step.text() == "步骤 2/5  核验身份"
    assert window.journey.next.text() == "下一步：人脸核验"
    assert not window.clock.isVisible()
    waiting = screen.waiting  # type: ignore[attr-defined]
    assert waiting.isVisible() and waiting.bar.isVisible() and not waiting.slow.isVisible()
    qtbot.waitUntil(waiting.slow.isVisible, timeout=10_000)
    assert "读卡比平时慢" in waiting.slow.text()
    # The same step in the other language keeps what it already said.
    window.render(ViewState(replace(view, journey=journey), "en", "pickup_reading"))
    assert waiting.slow.isVisible() and "longer than usual" in waiting.slow.text()
    assert window.journey.step.text() == "Step 2 of 5: Your ID card"
    # Between citizens: no step, the kiosk number and clock again.
    window.render(ViewState(message("menu.title"), "zh", "menu"))
    assert not window.journey.isVisible() and window.clock.isVisible()


def test_stages_number_the_steps_and_skip_an_empty_one() -> None:
    states = tuple(message_state(name) for name in ("a_1", "a_2", "b_1", "c_1", "done"))
    service = ServiceFlow(
        "s",
        "a_1",
        states,
        stages=(
            Stage("stage.identify", ("a_1", "a_2")),
            Stage("stage.face", ()),  # no camera on this machine
            Stage("stage.receipt", ("b_1",)),
            Stage("flow.finish", ("c_1",)),
        ),
    )
    marks = progress_of(service)
    assert marks["a_2"] == Progress(1, 3, "stage.identify", "stage.receipt")
    assert marks["c_1"] == Progress(3, 3, "flow.finish", None)
    assert "done" not in marks
    with pytest.raises(ValueError, match="names no state"):
        progress_of(replace(service, stages=(Stage("stage.face", ("nowhere",)),)))


def test_a_branch_is_counted_whole_and_shares_the_steps_before_it() -> None:
    names = ("a_1", "b_1", "c_1", "x_1", "x_2", "y_1")
    identify, choose = Stage("stage.identify", ("a_1",)), Stage("stage.face", ("b_1",))
    service = ServiceFlow(
        "s",
        "a_1",
        tuple(message_state(name) for name in names),
        stages=(identify, choose, Stage("stage.receipt", ("c_1",))),
        branches=(
            (identify, choose, Stage("flow.finish", ("x_1", "x_2")), Stage("app.back", ("y_1",))),
        ),
    )
    marks = progress_of(service)
    assert marks["b_1"] == Progress(2, 3, "stage.face", "stage.receipt")  # the main way's
    assert marks["x_2"] == Progress(3, 4, "flow.finish", "app.back")
    assert marks["y_1"] == Progress(4, 4, "app.back", None)
    with pytest.raises(ValueError, match="two stages"):
        progress_of(replace(service, branches=((identify, Stage("app.back", ("a_1",))),)))


def message_state(name: str):  # type: ignore[no-untyped-def]
    from kiosk.core.engine import State

    view = message("flow.finish")
    return State(name, lambda ctx: view, terminal_ok=True)


def test_contrast_is_measured_on_the_pixels() -> None:
    assert contrast(1.0, 0.0) == pytest.approx(21.0)
    white = np.ones((20, 60))
    region = white.copy()
    region[5:15, 10:50] = 0.0  # black text on white
    assert text_contrast(region) == pytest.approx(21.0)
    grey = white.copy()
    grey[5:15, 10:50] = 0.5  # mid grey on white is under AA's 4.5:1
    ratio = text_contrast(grey)
    assert ratio is not None and ratio < 2.0


def test_the_audit_finds_pale_small_cut_off_coded_text_and_a_misplaced_primary(
    qtbot: QtBot,
) -> None:
    qt_application(offscreen=True)
    top = QWidget()
    qtbot.addWidget(top)
    top.resize(800, 600)
    column = QVBoxLayout(top)
    pale = QLabel("淡色的字 pale text", top)
    pale.setStyleSheet("color: #c0c0c0; background: white; font-size: 30px;")
    small = QLabel("小字 small", top)
    small.setStyleSheet("color: black; background: white; font-size: 18px;")
    coded = QLabel("凭条打印机 paper_out", top)
    coded.setStyleSheet("color: black; background: white; font-size: 30px;")
    cut = QLabel("这一行字放不下 this line does not fit", top)
    cut.setStyleSheet("color: black; background: white; font-size: 30px;")
    cut.setFixedWidth(120)
    primary = QPushButton("OK", top)
    primary.setObjectName("primary")
    tiny = QPushButton("Back", top)
    tiny.setStyleSheet("font-size: 30px; min-height: 30px; padding: 0px;")
    for widget in (pale, small, coded, cut, primary, tiny):
        column.addWidget(widget)
    top.show()
    qtbot.waitExposed(top)
    found = {
        (f.rule, f.text)
        for f in audit_window(top, top.grab().toImage(), large_text=False, touch_px=96)
    }
    assert ("contrast", pale.text()) in found
    assert ("size", small.text()) in found
    assert ("raw_code", coded.text()) in found
    assert ("fit", cut.text()) in found
    assert ("touch", "Back") in found
    assert ("primary", "Back") in found
    assert not {rule for rule, text in found if text == "OK"} - {"touch"}


def test_a_real_step_passes_the_audit_in_both_languages_and_sizes(window: KioskWindow) -> None:
    view = message(
        "identify.title",
        "identify.body",
        buttons=(BACK, Button("read", "identify.read", "primary")),
        picture=Picture.IDCARD,
    )
    view = replace(view, journey=Progress(1, 4, "stage.identify", "pickup.stage.confirm"))
    for language in ("zh", "en"):
        for large in (False, True):
            window.render(ViewState(view, language, "pickup_identify", large_text=large))
            assert _audit(window, large) == [], (language, large)


def test_out_of_service_names_the_fault_in_plain_words_with_the_part_and_codes_apart(
    window: KioskWindow,
) -> None:
    values = {"device": "printer", "detail": "paper_out, offline"}
    view = OutOfServiceView("oos.device", values, "device.printer", picture=Picture.RECEIPT)
    window.render(ViewState(view, "zh", "out_of_service"))
    screen = window.current_screen()
    assert screen.reason.text() == "原因：凭条打印机缺纸、无响应，已通知工作人员"  # type: ignore[attr-defined]
    assert screen.reason_en.objectName() == "codes"  # type: ignore[attr-defined]
    assert "paper_out" in screen.reason_en.text()  # type: ignore[attr-defined]
    assert screen.picture.picture is Picture.RECEIPT  # type: ignore[attr-defined]
    assert _audit(window) == []


@pytest.mark.parametrize(
    ("detail", "zh", "en"),
    [
        ("paper_out, offline", "缺纸、无响应", "out of paper, not responding"),
        ("paper near end", "纸快用完了", "paper running low"),
        ("stacker empty, card none", "证件仓已空", "card stock empty"),
        ("port /dev/ttyS3 lost", "未连接", "not connected"),
        ("cover_open, cutter_error", "机盖未关好、切纸刀故障", "cover open, paper cutter fault"),
        ("E42 sensor weirdness", "故障", "fault"),
        ("", "故障", "fault"),
    ],
)
def test_device_faults_read_in_plain_words(detail: str, zh: str, en: str) -> None:
    assert plain_fault(detail, "zh") == zh
    assert plain_fault(detail, "en") == en
    assert all(key.startswith("fault.") for key in fault_keys(detail))


def test_touch_targets_follow_the_configured_panel() -> None:
    config = parse_config({"kiosk": {"id": "UI-TEST", "terminal": "photo"}})
    assert config.screen.diagonal_in == 21.5
    assert touch_min_px(config.screen.px_per_mm) == 96  # 15 mm is 61 px there: ours is more
    small = parse_config(
        {"kiosk": {"id": "UI-TEST", "terminal": "photo"}, "screen": {"diagonal_in": 10.1}}
    )
    px = touch_min_px(small.screen.px_per_mm)
    assert px >= 15 * small.screen.px_per_mm and px > 96


@pytest.mark.parametrize("behind", ["#e6e9ea", "#1b2430"])  # the booth's wall, a dark coat
def test_the_countdown_reads_over_a_light_wall_and_a_dark_coat(qtbot: QtBot, behind: str) -> None:
    from ui.screens.photo import Preview

    preview = Preview(lambda: None)
    qtbot.addWidget(preview)
    preview.resize(800, 600)
    picture = QImage(640, 480, QImage.Format.Format_RGB32)
    picture.fill(QColor(behind))
    preview._image = picture
    preview.countdown = 3
    grabbed = image_array(preview.grab().toImage())
    h, w = grabbed.shape[:2]
    figure = luminance_map(grabbed[h // 3 : 2 * h // 3, 2 * w // 5 : 3 * w // 5])
    found = text_contrast(figure)
    assert found is not None and found >= 4.5, found
