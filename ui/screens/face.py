"""The identity step's camera screen: the live picture (mirrored), the face check's
instruction in large type, which try this is, and the ways out."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from kiosk.core.runner import ViewState
from kiosk.terminals.identity.views import FaceCheckView
from ui.screens.base import label
from ui.screens.photo import PICTURE_PX, CameraScreen, FrameSource


class FaceCheckScreen(CameraScreen):
    screen_name = "face_check"

    def __init__(self, frames: FrameSource, parent: QWidget | None = None) -> None:
        super().__init__(frames, parent)
        self.instruction.setStyleSheet("font-size: 56px; color: #0b3d6b;")
        self.attempt = label(self, "hint")
        self.hint = label(self, "hint")
        self.cannot = self.big_button()
        self.cannot.clicked.connect(lambda: self.emit_intent("cannot"))
        self.back = self.big_button()
        self.back.clicked.connect(lambda: self.emit_intent("back"))
        for widget in (self.attempt, self.hint, self.cannot, self.back):
            self.below.addWidget(widget)

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
        self.show_live()
