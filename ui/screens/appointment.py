"""The appointment check-in's screens: the camera looking for the QR code (the picture with a
square to hold the code in) and the number pad for typing the appointment number."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from kiosk.core.runner import ViewState
from kiosk.core.views import Button
from kiosk.terminals.appointment.views import NumberPadView, QrScanView
from ui.guide import Pictogram
from ui.screens.base import Screen, card, label
from ui.screens.photo import WHITE, FrameSource, Preview

_PICTURE_PX = 180  # how to hold the code up, under the words (4:3)
_PAD_KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "delete", "0", "clear")


class QrPreview(Preview):
    """The camera picture with a square guide where the code should be held."""

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.fillRect(self.rect(), "#263238")
        target = self._picture_rect()
        if self._image is not None:
            painter.drawImage(target, self._image)
        side = min(target.width(), target.height()) * 0.6
        guide = QRectF(target.center().x() - side / 2, target.center().y() - side / 2, side, side)
        painter.setPen(QPen(WHITE, 10))
        corner = side / 5
        for x, y, dx, dy in (
            (guide.left(), guide.top(), 1, 1),
            (guide.right(), guide.top(), -1, 1),
            (guide.left(), guide.bottom(), 1, -1),
            (guide.right(), guide.bottom(), -1, -1),
        ):
            painter.drawLine(int(x), int(y), int(x + dx * corner), int(y))
            painter.drawLine(int(x), int(y), int(x), int(y + dy * corner))
        painter.end()


def _no_frames() -> None:
    return None


class QrScanScreen(Screen):
    screen_name = "qr_scan"

    def __init__(self, frames: FrameSource | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(60, 30, 60, 30)
        layout.setSpacing(40)
        self.preview = QrPreview(frames or _no_frames, self)
        layout.addWidget(self.preview, 3)
        side = QVBoxLayout()
        side.setSpacing(30)
        self.title = label(self, "title")
        self.body = label(self, "body")
        side.addWidget(self.title)
        side.addWidget(self.body)
        # How to hold the code up (the same picture as on the help slide).
        self.picture = Pictogram(self)
        side.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignHCenter)
        side.addStretch(1)
        self.buttons_box = QVBoxLayout()
        self.buttons_box.setSpacing(20)
        side.addLayout(self.buttons_box)
        layout.addLayout(side, 2)
        self._buttons: list[QPushButton] = []

    def update_view(self, view: ViewState) -> None:
        shown = view.view
        assert isinstance(shown, QrScanView)
        self.title.setText(self.tr_(shown.title))
        self.body.setText(self.tr_(shown.body))
        self.picture.show_picture(shown.picture, _PICTURE_PX)
        self._buttons = set_buttons(self, self.buttons_box, shown.buttons, self._buttons)
        self.preview.start()
        self.preview.pull()
        self.preview.update()

    def hideEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        self.preview.stop()


def set_buttons(
    screen: Screen, box: QVBoxLayout | QHBoxLayout, specs: Sequence[Button], old: list[QPushButton]
) -> list[QPushButton]:
    """The view's buttons in ``box`` (the old ones removed at once)."""
    for button in old:
        box.removeWidget(button)
        button.hide()
        button.deleteLater()
    made = []
    for spec in specs:
        button = screen.big_button(spec.style)
        button.setText(screen.tr_(spec.label, **dict(spec.values)))
        intent, data = spec.intent, dict(spec.data)
        button.clicked.connect(lambda _=False, i=intent, d=data: screen.emit_intent(i, **d))
        box.addWidget(button)
        made.append(button)
    return made


class NumberPadScreen(Screen):
    """Digits kept in this widget until OK sends them (intent ``number``); cleared whenever
    the step is shown anew or left."""

    screen_name = "number_pad"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._digits = ""
        self._limit = 10
        self._state = ""
        self._error: object = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(120, 40, 120, 40)
        layout.setSpacing(60)
        left = QVBoxLayout()
        panel, inner = card(self, 50, 16, margin_y=30)
        self.title = label(panel, "title")
        self.body = label(panel, "body")
        self.typed = label(panel, "title")
        self.typed.setStyleSheet("font-size: 64px; letter-spacing: 6px;")
        self.note = label(panel, "body")
        self.note.setStyleSheet("color: #b45309;")
        self.error = label(panel, "body")
        self.error.setStyleSheet("color: #c62828;")
        for widget in (self.title, self.body, self.note, self.typed, self.error):
            inner.addWidget(widget)
        left.addStretch(1)
        left.addWidget(panel)
        left.addStretch(1)
        self.buttons_box = QHBoxLayout()
        self.buttons_box.setSpacing(30)
        self.buttons_box.addStretch(1)  # the buttons to the right, nearest the pad's OK
        left.addLayout(self.buttons_box)
        layout.addLayout(left, 1)
        pad = QGridLayout()
        pad.setSpacing(16)
        self.keys: dict[str, QPushButton] = {}
        for index, key in enumerate(_PAD_KEYS):
            button = self.big_button()
            button.setMinimumWidth(200)
            button.clicked.connect(lambda _=False, k=key: self.press(k))
            pad.addWidget(button, index // 3, index % 3)
            self.keys[key] = button
        self.ok = self.big_button("primary")
        self.ok.clicked.connect(lambda: self.press("ok"))
        pad.addWidget(self.ok, 4, 0, 1, 3)
        # The pad ends at the bottom, its OK level with the other buttons: the primary
        # action bottom-right, where every screen has it (docs/ui.md).
        right = QVBoxLayout()
        right.addStretch(1)
        right.addLayout(pad)
        layout.addLayout(right)
        self._buttons: list[QPushButton] = []

    def update_view(self, view: ViewState) -> None:
        pad = view.view
        assert isinstance(pad, NumberPadView)
        if view.state != self._state or pad.error != self._error:
            self._digits = ""  # a new visit or a refused number starts empty
        self._state, self._error, self._limit = view.state, pad.error, pad.digits
        self.title.setText(self.tr_(pad.title))
        self.body.setText(self.tr_(pad.body))
        self.note.setVisible(bool(pad.note))
        self.note.setText(self.tr_(pad.note) if pad.note else "")
        self.error.setVisible(bool(pad.error))
        self.error.setText(self.tr_(pad.error) if pad.error else "")
        for key, button in self.keys.items():
            button.setText(key if key.isdigit() else self.tr_(f"appointment.pad.{key}"))
        self.ok.setText(self.tr_("appointment.pad.ok"))
        self._buttons = set_buttons(self, self.buttons_box, pad.buttons, self._buttons)
        self._show()

    def hideEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        self._digits, self._state = "", ""

    def press(self, key: str) -> None:
        if key == "clear":
            self._digits = ""
        elif key == "delete":
            self._digits = self._digits[:-1]
        elif key == "ok":
            if self._digits:
                number, self._digits = self._digits, ""
                self.emit_intent("number", number=number)
        elif len(self._digits) < self._limit:
            self._digits += key
        self._show()

    def _show(self) -> None:
        shown = self._digits + "_" * (self._limit - len(self._digits))
        # In groups of four, as the number is printed on the booking.
        self.typed.setText(" ".join(shown[i : i + 4] for i in range(0, len(shown), 4)))
        self.ok.setEnabled(len(self._digits) == self._limit)
