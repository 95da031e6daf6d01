"""Out of service: says so plainly, states the reason, and where to go instead; the picture
of the part at fault, and its technical detail in small type for staff."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from kiosk.core.runner import ViewState
from kiosk.core.views import OutOfServiceView
from kiosk.machine.faults import device_name, plain_fault
from kiosk.texts import text
from ui.guide import Pictogram
from ui.screens.base import Screen, card, label
from ui.theme import DISPLAY_PX, RED

_PICTURE_PX = 300


class OutOfServiceScreen(Screen):
    screen_name = "out_of_service"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(160, 100, 160, 100)
        panel, outer = card(self, 80, 36)
        beside = QHBoxLayout()
        beside.setSpacing(56)
        self.picture = Pictogram(panel)
        beside.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignVCenter)
        inner = QVBoxLayout()
        inner.setSpacing(36)
        beside.addLayout(inner, 1)
        outer.addLayout(beside)
        self.title = label(panel, "title")
        self.title.setStyleSheet(f"color: {RED}; font-size: {DISPLAY_PX}px;")
        self.body = label(panel, "body")
        self.reason = label(panel, "body")
        self.reason.setStyleSheet(f"color: {RED};")
        # For staff: the technical detail (device status, the configuration key at fault).
        self.reason_en = label(panel, "codes")
        inner.addStretch(1)
        for widget in (self.title, self.body, self.reason, self.reason_en):
            inner.addWidget(widget)
        inner.addStretch(1)
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
        self.picture.show_picture(oos.picture, _PICTURE_PX)
        self.reason_en.setText(staff_detail(raw))
        self.reason_en.setVisible(bool(self.reason_en.text()))


def reason_text(key: str, values: dict[str, Any], language: str) -> str:
    """The reason in plain words: the part by name and what is wrong with it."""
    if not key:
        return ""
    if "device" in values:
        kind = str(values["device"])
        values = {
            **values,
            "device": device_name(kind, language),
            "fault": plain_fault(str(values.get("detail", "")), language),
        }
    return text(key, language, **values)


def staff_detail(values: dict[str, Any]) -> str:
    """The codes behind the reason, for staff: ``printer: paper_out, offline``."""
    detail = str(values.get("detail", ""))
    device = values.get("device")
    if device and detail:
        return f"{device}: {detail}"
    return detail
