"""The identity step's camera screen: the live picture (mirrored), the face check's
instruction in large type, which try this is, and the ways out."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from kiosk.core.runner import ViewState
from kiosk.terminals.identity.views import FaceCheckView
from ui.guide import Pictogram
from ui.screens.base import Screen, label
from ui.screens.photo import PICTURE_PX, FrameSource, Preview


class FaceCheckScreen(Screen):
    screen_name = "face_check"

    def __init__(self, frames: FrameSource, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(60, 30, 60, 30)
        layout.setSpacing(40)
        self.preview = Preview(frames, self)
        layout.addWidget(self.preview, 3)
        side = QVBoxLayout()
        side.setSpacing(30)
        self.title = label(self, "title")
        self.instruction = label(self, "title")
        self.instruction.setStyleSheet("font-size: 56px; color: #0b3d6b;")
        self.instruction.setMinimumHeight(260)
        self.attempt = label(self, "hint")
        self.hint = label(self, "hint")
        # Where to look: the camera's picture beside the title (the column has no height to
        # spare under the instruction's room).
        self.picture = Pictogram(self)
        heading = QHBoxLayout()
        heading.setSpacing(24)
        heading.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignVCenter)
        heading.addWidget(self.title, 1)
        side.addLayout(heading)
        side.addStretch(1)
        side.addWidget(self.instruction)
        side.addStretch(1)
        side.addWidget(self.attempt)
        side.addWidget(self.hint)
        self.cannot = self.big_button()
        self.cannot.clicked.connect(lambda: self.emit_intent("cannot"))
        self.back = self.big_button()
        self.back.clicked.connect(lambda: self.emit_intent("back"))
        side.addWidget(self.cannot)
        side.addWidget(self.back)
        layout.addLayout(side, 2)

    def update_view(self, view: ViewState) -> None:
        shown = view.view
        assert isinstance(shown, FaceCheckView)
        advice = shown.advice
        self.title.setText(self.tr_("identity.title"))
        self.picture.show_picture(shown.picture, PICTURE_PX)
        if advice is None:
            self.instruction.setText(self.tr_("photo.live.searching"))
        else:
            self.instruction.setText(advice.en if self.language == "en" else advice.zh)
        self.preview.has_face = advice is not None and advice.face is not None
        self.preview.compliant = False
        self.attempt.setText(self.tr_("identity.attempt", attempt=shown.attempt, tries=shown.tries))
        self.hint.setText(self.tr_("identity.hint"))
        self.cannot.setText(self.tr_("identity.cannot"))
        self.back.setText(self.tr_("app.back"))
        self.preview.start()
        self.preview.pull()
        self.preview.update()

    def hideEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        self.preview.stop()
