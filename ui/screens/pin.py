"""The staff PIN pad: digits shown as dots, kept in this widget until OK sends them (the kiosk
has no keyboard). The digits are cleared whenever the screen is shown again."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QVBoxLayout, QWidget

from kiosk.core.pins import NUMBER_DIGITS, PIN_DIGITS
from kiosk.core.runner import ViewState
from kiosk.core.views import PinView
from ui.screens.base import Screen, card, label

_KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "ok")


class PinScreen(Screen):
    screen_name = "pin"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._digits = ""
        self._number: str | None = None  # the staff number typed first, when one is asked
        self._ask_number = False
        self._state = ""
        self._error: object = None
        # The prompt beside the pad, not above it: four rows of touch-sized keys under a card
        # would not fit the 1080 px panel.
        layout = QHBoxLayout(self)
        layout.setContentsMargins(120, 50, 120, 50)
        layout.setSpacing(60)
        left = QVBoxLayout()
        panel, inner = card(self, 60, 16, margin_y=30)
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
        # The pad reaches the bottom: OK, the primary action, is bottom-right as on every
        # screen.
        right = QVBoxLayout()
        right.addStretch(1)
        right.addLayout(pad)
        layout.addLayout(right)

    def update_view(self, view: ViewState) -> None:
        pad = view.view
        assert isinstance(pad, PinView)
        if view.state != self._state or pad.error != self._error:
            # A new visit or a refused PIN; a banner, a language switch or a device event
            # re-renders the same step and keeps what staff typed.
            self._reset()
        self._state, self._error = view.state, pad.error
        self._ask_number = pad.ask_number
        self.error.setVisible(bool(pad.error))
        self.error.setText(self.tr_(pad.error, **dict(pad.values)) if pad.error else "")
        for key, button in self.keys.items():
            button.setText(self.tr_(f"staff.pin.{key}") if not key.isdigit() else key)
        self.back.setText(self.tr_("app.back"))
        self._show()

    def hideEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        self._reset()  # nothing typed survives leaving the pad
        self._state = ""

    def press(self, key: str) -> None:
        asking_number = self._ask_number and self._number is None
        shortest = NUMBER_DIGITS[0] if asking_number else PIN_DIGITS[0]
        if key == "clear":
            if not self._digits and self._number is not None:
                self._number = None  # a second Clear goes back to the staff number
            self._digits = ""
        elif key == "ok":
            if len(self._digits) >= shortest:
                self._accept()
        elif len(self._digits) < (NUMBER_DIGITS[1] if asking_number else PIN_DIGITS[1]):
            self._digits += key
        self._show()

    def _accept(self) -> None:
        if self._ask_number and self._number is None:
            self._number, self._digits = self._digits, ""
            return
        pin, number, self._digits = self._digits, self._number or "", ""
        self.emit_intent("pin", pin=pin, number=number)

    def _reset(self) -> None:
        self._digits, self._number = "", None

    def _show(self) -> None:
        self.title.setText(self.tr_("staff.pin.title"))
        if self._ask_number and self._number is None:
            self.body.setText(self.tr_("staff.number.body"))
            self.dots.setText(self._digits or "-")  # a staff number is not secret
        else:
            body = "staff.pin.own_body" if self._number else "staff.pin.body"
            self.body.setText(self.tr_(body, number=self._number or ""))
            self.dots.setText("●" * len(self._digits) or "-")
