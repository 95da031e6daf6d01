"""Out of service: says so plainly, states the reason, and where to go instead."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QVBoxLayout, QWidget

from kiosk.core.runner import ViewState
from kiosk.core.views import OutOfServiceView
from kiosk.texts import text
from ui.screens.base import Screen, card, label


class OutOfServiceScreen(Screen):
    screen_name = "out_of_service"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(160, 100, 160, 100)
        panel, inner = card(self, 80, 36)
        self.title = label(panel, "title")
        self.title.setStyleSheet("color: #c62828; font-size: 72px;")
        self.body = label(panel, "body")
        self.reason = label(panel, "body")
        self.reason.setStyleSheet("color: #c62828;")
        self.reason_en = label(panel, "hint")
        for widget in (self.title, self.body, self.reason, self.reason_en):
            inner.addWidget(widget)
        layout.addStretch(1)
        layout.addWidget(panel)
        layout.addStretch(1)

    def update_view(self, view: ViewState) -> None:
        self.title.setText(self.tr_("oos.title"))
        self.body.setText(self.tr_("oos.body"))
        oos = view.view
        assert isinstance(oos, OutOfServiceView)
        key = oos.reason_key
        raw: dict[str, Any] = dict(oos.values)
        self.reason.setText(self.tr_("oos.reason", reason=reason_text(key, raw, self.language)))
        # For staff: the technical detail (device status, the configuration key at fault).
        self.reason_en.setText(staff_detail(raw))


def reason_text(key: str, values: dict[str, Any], language: str) -> str:
    if not key:
        return ""
    if "device" in values:
        values = {**values, "device": text(f"device.{values['device']}", language)}
    return text(key, language, **values)


def staff_detail(values: dict[str, Any]) -> str:
    detail = str(values.get("detail", ""))
    device = values.get("device")
    if device and detail:
        return f"{text(f'device.{device}', 'en')}: {detail}"
    return detail
