"""What every screen shares: translation, intents, and helpers for big touch buttons."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from kiosk.core.runner import ViewState
from kiosk.texts import text

BANNER_GAP_PX = 8  # between the banner's lower edge and the screen's content


class Screen(QWidget):
    """Base screen. ``intent`` carries (name, data) of what the citizen asked for."""

    intent = Signal(str, dict)
    screen_name = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.language = "zh"
        self.view: ViewState | None = None
        # Height of the banner floating over the top of the screen (0: none), set by the
        # window before each render: the screen keeps its top clear of it.
        self.banner_px = 0
        # The screen's own top margin, without a banner (read from its layout at the first
        # render unless the screen sets it).
        self.top_margin: int | None = None

    def tr_(self, key: str, **values: Any) -> str:
        return text(key, self.language, **values)

    def render(self, view: ViewState) -> None:
        self.language = view.language
        self.view = view
        if self.top_margin is None and (layout := self.layout()) is not None:
            self.top_margin = layout.contentsMargins().top()
        self.update_view(view)
        self._keep_clear_of_banner()

    def _keep_clear_of_banner(self) -> None:
        """The screen's own top margin, or while a banner shows, at least room for it."""
        layout = self.layout()
        if layout is None or self.top_margin is None:
            return
        margins = layout.contentsMargins()
        clear = self.banner_px + BANNER_GAP_PX if self.banner_px else 0
        margins.setTop(max(self.top_margin, clear))
        layout.setContentsMargins(margins)

    def update_view(self, view: ViewState) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def emit_intent(self, name: str, **data: Any) -> None:
        self.intent.emit(name, data)

    def big_button(self, object_name: str = "") -> QPushButton:
        button = QPushButton(self)
        if object_name:
            button.setObjectName(object_name)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        return button


def card(
    parent: QWidget, margin: int, spacing: int, *, margin_y: int | None = None
) -> tuple[QFrame, QVBoxLayout]:
    """A white rounded panel (style ``QFrame#card``) and its column layout."""
    frame = QFrame(parent)
    frame.setObjectName("card")
    column = QVBoxLayout(frame)
    y = margin if margin_y is None else margin_y
    column.setContentsMargins(margin, y, margin, y)
    column.setSpacing(spacing)
    return frame, column


def label(
    parent: QWidget,
    object_name: str,
    *,
    wrap: bool = True,
    align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignCenter,
) -> QLabel:
    widget = QLabel(parent)
    widget.setObjectName(object_name)
    widget.setWordWrap(wrap)
    widget.setAlignment(align)
    return widget
