"""The on-screen keyboard for text (the kiosk has no keyboard; a plugged-in one is locked
out): Chinese by pinyin with a candidate bar (``ui.pinyin``), Latin letters, digits and the
few signs an address needs. What is typed stays in the widget until OK sends it (intent
``text``) and is cleared when the step is left."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from kiosk.core.runner import ViewState
from kiosk.core.views import TextEntryView
from ui.pinyin import Candidate, dictionary
from ui.screens.base import Screen, label

ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
SIGNS = ("-", "#", "号", "栋", "室")  # besides the letters: what addresses are made of
PAGE = 8  # candidates shown at once
# Six rows of keys under a title and the field must fit the 1080 px panel, fourteen keys
# across its width: each key the project's smallest touch target (96 px outside: Qt adds
# padding and the 3 px border to min-width and min-height), without other buttons' padding.
KEY_SHEET = "QPushButton { min-height: 90px; min-width: 82px; padding: 0px 4px; font-size: 32px; }"


class PinyinKeyboard(QWidget):
    """Keys, the pinyin being typed and its candidates; ``text`` is what has been entered."""

    def __init__(self, screen: Screen, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._screen = screen
        self.text = ""
        self.letters = ""  # pinyin typed, not yet turned into characters
        self.chinese = True  # letters are pinyin (else Latin letters as they are)
        self.setStyleSheet(KEY_SHEET)
        self.max_length = 100
        self._candidates: list[Candidate] = []
        self._page = 0
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(8)
        bar = QHBoxLayout()
        bar.setSpacing(8)
        self.pinyin = label(self, "body", wrap=False)
        self.pinyin.setMinimumWidth(180)
        bar.addWidget(self.pinyin)
        self.choice_buttons: list[QPushButton] = []
        for index in range(PAGE):
            button = screen.big_button()
            button.setMinimumWidth(110)
            button.clicked.connect(lambda _=False, i=index: self.choose(i))
            bar.addWidget(button)
            self.choice_buttons.append(button)
        self.more = screen.big_button()
        self.more.clicked.connect(self.next_page)
        bar.addWidget(self.more)
        bar.addStretch(1)
        column.addLayout(bar)
        grid = QGridLayout()
        grid.setSpacing(8)
        self.keys: dict[str, QPushButton] = {}
        for row, keys in enumerate(ROWS):
            for col, key in enumerate(keys):
                self._key(grid, key, row, col + (row == 2) + (row == 3) * 1)
        for col, sign in enumerate(SIGNS):
            self._key(grid, sign, 3, 8 + col)
        column.addLayout(grid)
        bottom = QHBoxLayout()
        bottom.setSpacing(10)
        self.mode = screen.big_button()
        self.mode.clicked.connect(self.toggle_mode)
        self.space = screen.big_button()
        # A style sheet's min-width wins over setMinimumWidth: the wide bar goes in its own.
        self.space.setStyleSheet("QPushButton { min-width: 360px; }")
        self.space.clicked.connect(lambda: self.press(" "))
        self.delete = screen.big_button()
        self.delete.clicked.connect(self.backspace)
        self.clear = screen.big_button()
        self.clear.clicked.connect(self.reset)
        for button in (self.mode, self.space, self.delete, self.clear):
            bottom.addWidget(button)
        bottom.addStretch(1)
        self.bottom = bottom
        column.addLayout(bottom)

    def _key(self, grid: QGridLayout, key: str, row: int, col: int) -> None:
        button = self._screen.big_button()
        button.setText(key.upper() if key.isalpha() and key.isascii() else key)
        button.setMinimumWidth(96)
        button.clicked.connect(lambda _=False, k=key: self.press(k))
        grid.addWidget(button, row, col)
        self.keys[key] = button

    # --- typing -------------------------------------------------------------------------------

    def press(self, key: str) -> None:
        if self.chinese and key.isascii() and key.isalpha():
            if len(self.letters) < 24:
                self.letters += key
                self._find()
        else:
            self._commit_letters()
            self._add(key)
        self.refresh()

    def choose(self, index: int) -> None:
        position = self._page * PAGE + index
        if position >= len(self._candidates):
            return
        chosen = self._candidates[position]
        self._add(chosen.text)
        self.letters = self.letters[chosen.letters :]
        self._find()
        self.refresh()

    def next_page(self) -> None:
        pages = max(1, -(-len(self._candidates) // PAGE))
        self._page = (self._page + 1) % pages
        self.refresh()

    def backspace(self) -> None:
        if self.letters:
            self.letters = self.letters[:-1]
            self._find()
        else:
            self.text = self.text[:-1]
        self.refresh()

    def reset(self, value: str = "") -> None:
        self.text, self.letters = value[: self.max_length], ""
        self._candidates, self._page = [], 0
        self.refresh()

    def toggle_mode(self) -> None:
        self._commit_letters()
        self.chinese = not self.chinese
        self.refresh()

    def entered(self) -> str:
        """Everything typed, letters not yet turned into characters included as they are."""
        self._commit_letters()
        return self.text

    def _add(self, text: str) -> None:
        room = self.max_length - len(self.text)
        self.text += text[: max(0, room)]

    def _commit_letters(self) -> None:
        if self.letters:
            self._add(self.letters)
            self.letters = ""
            self._candidates = []

    def _find(self) -> None:
        self._candidates = dictionary().candidates(self.letters) if self.letters else []
        self._page = 0

    # --- showing ------------------------------------------------------------------------------

    def refresh(self) -> None:
        self.pinyin.setText(self.letters or " ")
        shown = self._candidates[self._page * PAGE : (self._page + 1) * PAGE]
        for index, button in enumerate(self.choice_buttons):
            button.setText(shown[index].text if index < len(shown) else "")
            button.setEnabled(index < len(shown))
        self.more.setText(self._screen.tr_("keyboard.more"))
        self.more.setEnabled(len(self._candidates) > PAGE)
        self.mode.setText(self._screen.tr_("keyboard.latin" if self.chinese else "keyboard.pinyin"))
        self.space.setText(self._screen.tr_("keyboard.space"))
        self.delete.setText(self._screen.tr_("keyboard.delete"))
        self.clear.setText(self._screen.tr_("keyboard.clear"))


class TextEntryScreen(Screen):
    screen_name = "text_entry"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # The dictionary takes a moment to build: made beside the GUI thread, ready when the
        # first letter is typed (``dictionary`` is built once; a second caller waits).
        threading.Thread(target=dictionary, name="pinyin", daemon=True).start()
        self._state = ""
        self._error: object = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(100, 12, 100, 12)
        layout.setSpacing(10)
        self.title = label(self, "title")
        self.body = label(self, "hint")
        self.error = label(self, "body")
        self.error.setStyleSheet("color: #c62828;")
        self.field = label(self, "body", align=Qt.AlignmentFlag.AlignLeft)
        self.field.setObjectName("field")
        self.field.setStyleSheet(
            "background: white; border: 3px solid #1565c0; border-radius: 12px;"
            " padding: 8px 20px; font-size: 36px; min-height: 80px;"
        )
        for widget in (self.title, self.body, self.error, self.field):
            layout.addWidget(widget)
        self.keyboard = PinyinKeyboard(self, self)
        layout.addWidget(self.keyboard)
        layout.addStretch(1)
        self.back = self.big_button()
        self.back.clicked.connect(lambda: self.emit_intent("back"))
        self.ok = self.big_button("primary")
        self.ok.clicked.connect(self._send)
        self.keyboard.bottom.addWidget(self.back)
        self.keyboard.bottom.addWidget(self.ok)
        for button in (*self.keyboard.keys.values(), *self.keyboard.choice_buttons):
            button.clicked.connect(self._show)
        for button in (
            self.keyboard.more,
            self.keyboard.mode,
            self.keyboard.space,
            self.keyboard.delete,
            self.keyboard.clear,
        ):
            button.clicked.connect(self._show)

    def update_view(self, view: ViewState) -> None:
        entry = view.view
        assert isinstance(entry, TextEntryView)
        self.keyboard.max_length = entry.max_length
        if view.state != self._state or entry.error != self._error:
            self.keyboard.reset(entry.value)  # a new visit, or the text was refused
        self._state, self._error = view.state, entry.error
        values = dict(entry.values)
        self.title.setText(self.tr_(entry.title, **values))
        self.body.setText(self.tr_(entry.body, **values))
        self.error.setVisible(bool(entry.error))
        self.error.setText(self.tr_(entry.error, **values) if entry.error else "")
        self.back.setText(self.tr_("app.back"))
        self.ok.setText(self.tr_("keyboard.ok"))
        self.keyboard.refresh()
        self._show()

    def hideEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        self.keyboard.reset()  # an address typed does not stay behind
        self._state = ""

    def _send(self) -> None:
        text = self.keyboard.entered()
        self.emit_intent("text", text=text)

    def _show(self) -> None:
        typed = self.keyboard.text
        self.field.setText(f"{typed}{self.keyboard.letters}▏")
        self.ok.setEnabled(bool(typed.strip() or self.keyboard.letters))
