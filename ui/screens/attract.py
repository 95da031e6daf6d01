"""Attract loop: slides about what this machine offers, cycling while nobody uses it."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from kiosk.core.runner import ViewState
from kiosk.core.views import AttractView, Picture
from ui.guide import Pictogram
from ui.screens.base import Screen, card, label

_PART_PX = 150  # each part's picture on the help slide (4:3)


class AttractScreen(Screen):
    screen_name = "attract"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._slides: tuple[str, ...] = ("help",)
        self._index = 0
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._next_slide)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(120, 80, 120, 80)
        layout.addStretch(1)
        panel, inner = card(self, 80, 40)
        self.title = label(panel, "title")
        self.title.setStyleSheet("font-size: 72px;")
        self.body = label(panel, "body")
        self.body.setStyleSheet("font-size: 40px;")
        inner.addWidget(self.title)
        inner.addWidget(self.body)
        # The help slide: where this machine's parts are, each as the steps picture it.
        self.parts_row = QHBoxLayout()
        self.parts_row.setSpacing(28)
        inner.addLayout(self.parts_row)
        self._parts: list[tuple[Picture, Pictogram, QLabel]] = []
        layout.addWidget(panel)
        layout.addStretch(1)
        self.prompt = label(self, "title")
        self.prompt.setStyleSheet("font-size: 56px; color: #1565c0;")
        layout.addWidget(self.prompt)
        self.dots = label(self, "hint")
        layout.addWidget(self.dots)
        layout.addStretch(1)

    def update_view(self, view: ViewState) -> None:
        attract = view.view
        assert isinstance(attract, AttractView)
        slides = attract.slides or ("help",)
        if slides != self._slides:
            self._slides, self._index = slides, 0
        if [p for p, _, _ in self._parts] != list(attract.parts):
            self._set_parts(attract.parts)
        self._timer.start(int(attract.slide_s * 1000))
        self._show_slide()

    def _set_parts(self, parts: tuple[Picture, ...]) -> None:
        for _, picture, caption in self._parts:
            picture.deleteLater()
            caption.deleteLater()
        while self.parts_row.count():
            self.parts_row.takeAt(0)
        self._parts = []
        self.parts_row.addStretch(1)
        for part in parts:
            column = QVBoxLayout()
            column.setSpacing(8)
            picture = Pictogram(self)
            picture.show_picture(part, _PART_PX)
            caption = label(self, "hint")
            column.addWidget(picture, 0, Qt.AlignmentFlag.AlignHCenter)
            column.addWidget(caption)
            self.parts_row.addLayout(column)
            self._parts.append((part, picture, caption))
        self.parts_row.addStretch(1)

    def _next_slide(self) -> None:
        self._index = (self._index + 1) % len(self._slides)
        self._show_slide()

    def _show_slide(self) -> None:
        slide = self._slides[self._index]
        self.title.setText(self.tr_(f"attract.slide.{slide}.title"))
        self.body.setText(self.tr_(f"attract.slide.{slide}.body"))
        for part, picture, caption in self._parts:
            picture.setVisible(slide == "help")
            caption.setVisible(slide == "help")
            caption.setText(self.tr_(f"art.{part.value}"))
        self.prompt.setText(self.tr_("app.touch_to_start"))
        self.dots.setText(
            "  ".join("●" if i == self._index else "○" for i in range(len(self._slides)))
        )

    def hideEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        self._timer.stop()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton:
            self.emit_intent("start")
