"""A general step screen: title, body, optional big code / QR, and buttons - all chosen by the
flow. Most flow steps (place your card, please wait, refusals, goodbye) render through it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from kiosk.core.runner import ViewState
from kiosk.core.views import Button, MessageView
from ui.guide import Pictogram, WaitIndicator
from ui.screens.base import Screen, card, label
from ui.theme import AMBER, DESIGN_WIDTH, GREEN, NAVY, RED

TONES = {"info": NAVY, "ok": GREEN, "warn": AMBER, "error": RED}
# Tallest image (a QR code, a photo) that leaves the title, three lines and buttons on 1080 px;
# larger text takes some of its room.
_MAX_IMAGE_PX = 320
_MAX_IMAGE_LARGE_TEXT_PX = 240
# The step's picture (ui/art, 4:3) beside the text; smaller in larger text and beside a QR.
_PICTURE_PX, _PICTURE_LARGE_TEXT_PX, _PICTURE_BESIDE_IMAGE_PX = 300, 220, 200
_MARGIN_X = 120
_BUTTON_GAP = 40
# Vertical room of the screen and inside the card; larger text takes some of it, so the
# fullest staff screen (eight lines, a note, two rows of buttons) still fits on 1080 px, also
# below a banner.
_MARGIN_Y, _MARGIN_Y_LARGE_TEXT = 50, 14
_CARD_Y, _CARD_Y_LARGE_TEXT = 50, 20
_CARD_GAP, _CARD_GAP_LARGE_TEXT = 28, 12
_GAP, _GAP_LARGE_TEXT = 30, 16  # between the card and the rows of buttons
# Larger text below a banner: the banner takes the top margin's room and more, so the card's
# own margins and gaps and the space between rows of buttons give some back.
_CARD_Y_TIGHT, _CARD_GAP_TIGHT, _ROWS_GAP, _ROWS_GAP_TIGHT = 16, 8, 30, 14


class MessageScreen(Screen):
    screen_name = "message"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self._layout = layout
        self.card, outer = card(self, 60, _CARD_GAP, margin_y=_CARD_Y)
        self._inner = outer
        # The picture of the machine part and action on the left, the words on the right.
        beside = QHBoxLayout()
        beside.setSpacing(48)
        self.picture = Pictogram(self.card)
        beside.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignVCenter)
        inner = QVBoxLayout()
        inner.setSpacing(_CARD_GAP)
        self._column = inner
        beside.addLayout(inner, 1)
        outer.addLayout(beside)
        self.buttons_rows = QVBoxLayout()
        self._set_margins(large_text=False)
        self.title = label(self.card, "title")
        self.body = label(self.card, "body")
        self.code = label(self.card, "title")
        self.code.setStyleSheet("font-size: 64px; letter-spacing: 4px;")
        self.image = QLabel(self.card)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # A caution beside the outcome (e.g. central has not got it yet), in the warning colour.
        self.note = label(self.card, "body")
        self.note.setStyleSheet(f"color: {TONES['warn']};")
        self.progress = label(self.card, "hint")
        # A waiting step: the indicator, and after a few seconds what is taking time.
        self.waiting = WaitIndicator(self.card)
        # Technical codes for staff, after the plain words, in small type.
        self.codes = label(self.card, "codes")
        # Stretches above and below keep the words together beside a taller picture.
        inner.addStretch(1)
        for widget in (self.title, self.body, self.waiting, self.note, self.code, self.image):
            inner.addWidget(widget)
        for widget in (self.progress, self.codes):
            inner.addWidget(widget)
        inner.addStretch(1)
        layout.addStretch(1)
        layout.addWidget(self.card)
        layout.addStretch(1)
        # Rows of buttons: as many as fit side by side, right-aligned; the rest wrap above
        # (long English labels in larger text would otherwise widen the window off screen).
        layout.addLayout(self.buttons_rows)
        self._buttons: list[QPushButton] = []

    def _set_margins(self, *, large_text: bool) -> None:
        y = _MARGIN_Y_LARGE_TEXT if large_text else _MARGIN_Y
        self.top_margin = y  # a banner's room is added by the base (render)
        self._layout.setContentsMargins(_MARGIN_X, y, _MARGIN_X, y)
        self._layout.setSpacing(_GAP_LARGE_TEXT if large_text else _GAP)
        tight = large_text and self.banner_px > 0
        card_y = _CARD_Y_LARGE_TEXT if large_text else _CARD_Y
        card_gap = _CARD_GAP_LARGE_TEXT if large_text else _CARD_GAP
        if tight:
            card_y, card_gap = _CARD_Y_TIGHT, _CARD_GAP_TIGHT
        self._inner.setContentsMargins(60, card_y, 60, card_y)
        self._inner.setSpacing(card_gap)
        self._column.setSpacing(card_gap)
        self.buttons_rows.setSpacing(_ROWS_GAP_TIGHT if tight else _ROWS_GAP)

    def update_view(self, view: ViewState) -> None:
        self._set_margins(large_text=view.large_text)
        message = view.view
        assert isinstance(message, MessageView)
        values: dict[str, Any] = dict(message.values)
        tone = TONES.get(message.tone, TONES["info"])
        self.title.setStyleSheet(f"color: {tone};")
        self.title.setText(self.tr_(message.title, **values))
        self.body.setVisible(bool(message.body))
        self.body.setText(self._lines(message.body, values))
        self.note.setVisible(bool(message.note))
        self.note.setText(self._lines((message.note,) if message.note else (), values))
        self.code.setVisible(bool(message.code))
        self.code.setText(message.code or "")
        cap = _MAX_IMAGE_LARGE_TEXT_PX if view.large_text else _MAX_IMAGE_PX
        self._set_image(message.image_png, cap)
        progress = message.progress
        self.progress.setVisible(bool(progress))
        self.progress.setText(self.tr_(progress, **values) if progress else "")
        self.codes.setVisible(bool(message.codes))
        self.codes.setText("  ·  ".join(message.codes))  # one line while they fit
        waiting = message.waiting
        slow = self.tr_(waiting.slow, **values) if waiting else ""
        self.waiting.show_waiting(view.state, waiting, slow)
        if message.image_png is not None:
            size = _PICTURE_BESIDE_IMAGE_PX
        else:
            size = _PICTURE_LARGE_TEXT_PX if view.large_text else _PICTURE_PX
        self.picture.show_picture(message.picture, size)
        self._set_buttons(message.buttons)

    def _lines(self, keys: Sequence[str], values: Mapping[str, Any]) -> str:
        """Message keys shown as lines (e.g. several refusal reasons); "" is a blank line."""
        return "\n".join(self.tr_(key, **values) for key in keys)

    def _set_image(self, png: bytes | None, cap: int) -> None:
        if png is None:
            self.image.clear()
            self.image.setVisible(False)
            return
        pixmap = QPixmap.fromImage(QImage.fromData(bytes(png)))
        if pixmap.height() > cap:
            # Never taller than the screen has room for (a larger window would be cut off);
            # nearest-neighbour keeps a QR code's modules sharp.
            pixmap = pixmap.scaledToHeight(cap, Qt.TransformationMode.FastTransformation)
        self.image.setPixmap(pixmap)
        self.image.setVisible(True)

    def _set_buttons(self, buttons: Sequence[Button]) -> None:
        self._clear_buttons()
        for spec in buttons:
            button = self.big_button(spec.style)
            button.setText(self.tr_(spec.label, **dict(spec.values)))
            intent = spec.intent
            payload = dict(spec.data)
            button.clicked.connect(lambda _=False, i=intent, p=payload: self.emit_intent(i, **p))
            self._buttons.append(button)
        for row in self._rows(self._buttons):
            line = QHBoxLayout()
            line.setSpacing(_BUTTON_GAP)
            line.addStretch(1)
            for button in row:
                line.addWidget(button)
            self.buttons_rows.addLayout(line)

    def _rows(self, buttons: list[QPushButton]) -> list[list[QPushButton]]:
        """Split into rows that fit the screen's width, the last buttons (the way forward)
        staying together on the bottom row."""
        room = max(self.width(), DESIGN_WIDTH) - 2 * _MARGIN_X
        rows: list[list[QPushButton]] = []
        width = 0
        for button in reversed(buttons):
            button.ensurePolished()
            needed = button.sizeHint().width() + (_BUTTON_GAP if rows and rows[0] else 0)
            if not rows or width + needed > room:
                rows.insert(0, [])
                width, needed = 0, button.sizeHint().width()
            rows[0].insert(0, button)
            width += needed
        return rows

    def _clear_buttons(self) -> None:
        """Old buttons and rows go at once, not later."""
        while self.buttons_rows.count():
            line = self.buttons_rows.takeAt(0)
            inner = line.layout() if line is not None else None
            while inner is not None and inner.count():
                item = inner.takeAt(0)
                widget = item.widget() if item is not None else None
                if widget is not None:
                    widget.hide()
                    widget.deleteLater()
            if inner is not None:
                inner.deleteLater()
        self._buttons = []
