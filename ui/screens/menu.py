"""The service menu: one large button per service of this terminal type."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from kiosk.core.runner import ViewState
from kiosk.core.views import MenuView
from ui.screens.base import Screen, label
from ui.theme import AMBER


class MenuScreen(Screen):
    screen_name = "menu"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(120, 60, 120, 60)
        layout.setSpacing(40)
        self.title = label(self, "title")
        layout.addWidget(self.title)
        # Why some services are paused (central not answering) and what to do instead.
        self.notice = label(self, "body")
        self.notice.setStyleSheet(f"color: {AMBER};")
        self.notice.hide()
        layout.addWidget(self.notice)
        self.grid = QGridLayout()
        self.grid.setSpacing(40)
        layout.addLayout(self.grid)
        layout.addStretch(1)
        bottom = QHBoxLayout()
        self.back = self.big_button()
        self.back.clicked.connect(lambda: self.emit_intent("back"))
        bottom.addWidget(self.back)
        bottom.addStretch(1)
        layout.addLayout(bottom)
        self.buttons: dict[str, QPushButton] = {}
        self._large = False

    def update_view(self, view: ViewState) -> None:
        self.title.setText(self.tr_("menu.title"))
        self.back.setText(self.tr_("app.back"))
        menu = view.view
        assert isinstance(menu, MenuView)
        services = [s.key for s in menu.services]
        if list(self.buttons) != services or view.large_text != self._large:
            self._large = view.large_text
            self._rebuild(services)
        paused = {s.key for s in menu.services if s.paused}
        for key, button in self.buttons.items():
            hint = self.tr_("menu.paused") if key in paused else self.tr_(f"service.{key}.hint")
            button.setText(f"{self.tr_(f'service.{key}')}\n{hint}")
            button.setEnabled(key not in paused)
        notice = menu.notice
        self.notice.setVisible(bool(notice))
        self.notice.setText(self.tr_(notice) if notice else "")

    def _rebuild(self, services: list[str]) -> None:
        for button in self.buttons.values():
            self.grid.removeWidget(button)
            button.hide()
            button.deleteLater()
        self.buttons = {}
        # Larger text: one column, so that two long English names never share a row; with
        # three services or more (the appointment check-in joins every menu), a tighter
        # column, so that it still fits the 1080 px panel.
        columns = 1 if len(services) == 1 or self._large else 2
        compact = self._large and len(services) > 2
        layout = self.layout()
        assert layout is not None
        self.top_margin = 30 if compact else 60  # a banner's room is added by the base
        layout.setContentsMargins(120, self.top_margin, 120, self.top_margin)
        layout.setSpacing(20 if compact else 40)
        self.grid.setSpacing(20 if compact else 40)
        for index, key in enumerate(services):
            button = self.big_button("service")
            if compact:
                button.setStyleSheet("min-height: 100px; padding: 8px 40px;")
            button.clicked.connect(lambda _=False, k=key: self.emit_intent("select", service=k))
            self.grid.addWidget(button, index // columns, index % columns)
            self.buttons[key] = button
