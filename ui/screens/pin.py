"""The staff PIN pad: digits shown as dots, kept in this widget until OK sends them (the kiosk
has no keyboard). The digits are cleared whenever the screen is shown again."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QVBoxLayout, QWidget

from kiosk.runner import ViewState
from kiosk.staff import PIN_DIGITS
from ui.screens.base import Screen, card_xy, label

_KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "ok")


class PinScreen(Screen):
    screen_name = "pin"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._digits = ""
        self._state = ""
        self._error: object = None
        # The prompt beside the pad, not above it: four rows of touch-sized keys under a card
        # would not fit the 1080 px panel.
        layout = QHBoxLayout(self)
        layout.setContentsMargins(120, 50, 120, 50)
        layout.setSpacing(60)
        left = QVBoxLayout()
        panel, inner = card_xy(self, 60, 30, 16)
        self.title = label(panel, "title")
        self.body = label(panel, "body")
        self.dots = label(panel, "title")
        self.dots.setStyleSheet("letter-spacing: 12px;")
        self.error = label(panel, "body")
        self.error.setStyleSheet("color: #c62828;")
        for widget in (self.title, self.body, self.dots, self.error):
            inner.addWidget(widget)
        left.addStretch(1)
        left.addWidget(panel)
        left.addStretch(1)
        pad = QGridLayout()
        pad.setSpacing(16)
        self.keys = {}
        for index, key in enumerate(_KEYS):
            button = self.big_button("primary" if key == "ok" else "")
            button.setMinimumWidth(220)
            button.clicked.connect(lambda _=False, k=key: self.press(k))
            pad.addWidget(button, index // 3, index % 3)
            self.keys[key] = button
        bottom = QHBoxLayout()
        self.back = self.big_button()
        self.back.clicked.connect(lambda: self.emit_intent("back"))
        bottom.addWidget(self.back)
        bottom.addStretch(1)
        left.addLayout(bottom)
        layout.addLayout(left, 1)
        right = QVBoxLayout()
        right.addStretch(1)
        right.addLayout(pad)
        right.addStretch(1)
        layout.addLayout(right)

    def update_view(self, view: ViewState) -> None:
        if view.state != self._state or view.data.get("error") != self._error:
            # A new visit or a refused PIN; a banner, a language switch or a device event
            # re-renders the same step and keeps what staff typed.
            self._digits = ""
        self._state, self._error = view.state, view.data.get("error")
        data = view.data
        self.title.setText(self.tr_(str(data.get("title", "staff.pin.title"))))
        self.body.setText(self.tr_(str(data.get("body", "staff.pin.body"))))
        error = data.get("error")
        self.error.setVisible(bool(error))
        self.error.setText(self.tr_(str(error), **dict(data.get("values", {}))) if error else "")
        for key, button in self.keys.items():
            button.setText(self.tr_(f"staff.pin.{key}") if not key.isdigit() else key)
        self.back.setText(self.tr_("app.back"))
        self._show_dots()

    def hideEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        self._digits, self._state = "", ""  # nothing typed survives leaving the pad

    def press(self, key: str) -> None:
        if key == "clear":
            self._digits = ""
        elif key == "ok":
            if len(self._digits) >= PIN_DIGITS[0]:
                pin, self._digits = self._digits, ""
                self.emit_intent("pin", pin=pin)
        elif len(self._digits) < PIN_DIGITS[1]:
            self._digits += key
        self._show_dots()

    def _show_dots(self) -> None:
        self.dots.setText("●" * len(self._digits) or "-")
