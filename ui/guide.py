"""The guidance every screen shares (docs/ui.md): the pictogram of the machine part and the
action (vector art in ui/art/, drawn for this project, animated with Qt), the citizen's step
in the service for the header, and the indeterminate indicator of a waiting step.

Each picture is an SVG with a group ``machine`` (still), a group ``mover`` (what the citizen
moves: the card, the document, the phone) and optionally a group ``front`` drawn over the
mover (the machine's face, so that a card goes *into* a slot). ``MOTIONS`` says where the
mover starts and ends, in the SVG's units; the animation moves it there, holds it, and
starts again.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from PySide6.QtCore import QEasingCurve, QPointF, QRectF, QSize, Qt, QTimer, QVariantAnimation
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from kiosk.core.views import Picture, Progress, Waiting
from kiosk.texts import text
from ui.screens.base import label
from ui.theme import BLUE, LIGHT_BLUE

log = logging.getLogger(__name__)


def art_dir() -> Path:
    """ui/art, or its copy inside the bundle (kiosk.spec ships it as data)."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen is not None:
        return Path(frozen) / "ui" / "art"
    return Path(__file__).resolve().parent / "art"


@dataclass(frozen=True)
class Motion:
    """The mover's offset from where the SVG draws it, at the start and at the end."""

    start: tuple[float, float]
    end: tuple[float, float] = (0.0, 0.0)


MOTIONS: dict[Picture, Motion] = {
    Picture.IDCARD: Motion((0, -100)),  # down onto the reader
    Picture.IDCARD_TAKE: Motion((0, 106)),  # up off the reader
    Picture.PERMIT: Motion((0, 0), (0, 62)),  # down into the slot, chip first
    Picture.PERMIT_TAKE: Motion((0, 86)),  # up out of the slot
    Picture.DOCUMENT: Motion((0, -110)),  # out of the exit slot
    Picture.RECEIPT: Motion((0, -130)),  # out of the printer
    Picture.CAMERA: Motion((0, 34)),  # the face comes up in front of the camera
    Picture.PHONE_PAY: Motion((90, 40)),  # the phone comes up to the code
    Picture.QR_SCAN: Motion((0, -96)),  # the code comes over the scanner
    Picture.STAFF: Motion((24, 44)),  # the finger presses the button
}
CYCLE_MS = 2600  # one move and its hold
MOVE_SHARE = 0.55  # of the cycle spent moving; the rest holds the end pose


class Pictogram(QWidget):
    """A picture of ``Picture`` drawn to the widget's size, its mover animated.

    ``still`` (class-wide): when set, every pictogram is drawn at that phase (0 start, 1 end)
    and nothing animates: the scripted demo's screenshots are the same on every run."""

    still: ClassVar[float | None] = None
    _renderers: ClassVar[dict[Picture, QSvgRenderer]] = {}

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.picture: Picture | None = None
        self.phase = 1.0
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self._animation = QVariantAnimation(self)
        self._animation.setDuration(CYCLE_MS)
        self._animation.setLoopCount(-1)
        self._animation.setStartValue(0.0)
        self._animation.setKeyValueAt(MOVE_SHARE, 1.0)
        self._animation.setEndValue(1.0)
        self._animation.setEasingCurve(QEasingCurve.Type.Linear)
        self._animation.valueChanged.connect(self._moved)

    @classmethod
    def renderer(cls, picture: Picture) -> QSvgRenderer:
        found = cls._renderers.get(picture)
        if found is None:
            found = QSvgRenderer(str(art_dir() / f"{picture.value}.svg"))
            if not found.isValid():
                log.error("picture %s could not be read from %s", picture.value, art_dir())
            cls._renderers[picture] = found
        return found

    def show_picture(self, picture: Picture | None, height: int) -> None:
        """Show ``picture`` ``height`` pixels tall (4:3), or nothing."""
        self.setVisible(picture is not None)
        self.setFixedSize(QSize(height * 4 // 3, height))
        if picture == self.picture:
            return
        self.picture = picture
        self._animation.stop()
        self.phase = 1.0
        if picture is not None and Pictogram.still is None and self.isVisible():
            self._animation.start()
        self.update()

    def showEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        if self.picture is not None and Pictogram.still is None:
            self._animation.start()

    def hideEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        self._animation.stop()

    def _moved(self, value: object) -> None:
        self.phase = float(value)  # type: ignore[arg-type]
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        if self.picture is None:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        draw_picture(painter, QRectF(self.rect()), self.picture, self._phase())
        painter.end()

    def _phase(self) -> float:
        still = Pictogram.still
        if still is not None:
            return still
        return QEasingCurve(QEasingCurve.Type.InOutCubic).valueForProgress(self.phase)


def draw_picture(painter: QPainter, box: QRectF, picture: Picture, phase: float) -> None:
    """Draw ``picture`` into ``box`` (kept in proportion, centred), the mover at ``phase``."""
    renderer = Pictogram.renderer(picture)
    view = renderer.viewBoxF()
    if view.isEmpty():
        return
    scale = min(box.width() / view.width(), box.height() / view.height())
    origin = QPointF(
        box.x() + (box.width() - view.width() * scale) / 2,
        box.y() + (box.height() - view.height() * scale) / 2,
    )
    motion = MOTIONS.get(picture, Motion((0, 0)))
    dx = motion.start[0] + (motion.end[0] - motion.start[0]) * phase
    dy = motion.start[1] + (motion.end[1] - motion.start[1]) * phase
    for element, (ox, oy) in (("machine", (0.0, 0.0)), ("mover", (dx, dy)), ("front", (0.0, 0.0))):
        if not renderer.elementExists(element):
            continue
        bounds = renderer.boundsOnElement(element)
        target = QRectF(
            origin.x() + (bounds.x() - view.x() + ox) * scale,
            origin.y() + (bounds.y() - view.y() + oy) * scale,
            bounds.width() * scale,
            bounds.height() * scale,
        )
        # Only the machine's face may hide the mover: outside the panel it is clipped.
        painter.save()
        painter.setClipRect(QRectF(origin, view.size() * scale))
        renderer.render(painter, element, target)
        painter.restore()


class BusyBar(QWidget):
    """An indeterminate progress indicator: a block sliding along a track. ``still``: drawn
    at a fixed place (the demo's screenshots)."""

    still: ClassVar[bool] = False

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("busy")
        self.setFixedHeight(14)
        self.setMinimumWidth(360)
        self.setMaximumWidth(720)
        self._at = 0.35
        self._animation = QVariantAnimation(self)
        self._animation.setDuration(1600)
        self._animation.setLoopCount(-1)
        self._animation.setStartValue(0.0)
        self._animation.setEndValue(1.0)
        self._animation.setEasingCurve(QEasingCurve.Type.InOutSine)
        self._animation.valueChanged.connect(self._moved)

    def showEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        if not BusyBar.still:
            self._animation.start()

    def hideEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        self._animation.stop()

    def _moved(self, value: object) -> None:
        self._at = float(value)  # type: ignore[arg-type]
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        radius = self.height() / 2
        painter.setBrush(QColor(LIGHT_BLUE))
        painter.drawRoundedRect(QRectF(self.rect()), radius, radius)
        block = self.width() * 0.3
        x = (self.width() - block) * (0.35 if BusyBar.still else self._at)
        painter.setBrush(QColor(BLUE))
        painter.drawRoundedRect(QRectF(x, 0, block, self.height()), radius, radius)
        painter.end()


class WaitIndicator(QWidget):
    """A waiting step's indicator, and after ``Waiting.after_s`` what is taking time."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(16)
        self.bar = BusyBar(self)
        column.addWidget(self.bar, 0, Qt.AlignmentFlag.AlignHCenter)
        self.slow = label(self, "slow")
        column.addWidget(self.slow)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._say_slow)
        self._shown: tuple[str, Waiting] | None = None
        self._text = ""
        self.hide()

    def show_waiting(self, step: str, waiting: Waiting | None, slow_text: str) -> None:
        """``step``: the flow state; the same step re-rendered (a language switch) keeps its
        clock, a new one starts it again."""
        self._text = slow_text
        if waiting is None:
            self._shown = None
            self._timer.stop()
            self.hide()
            return
        self.show()
        if self._shown != (step, waiting):
            self._shown = (step, waiting)
            self.slow.hide()
            self._timer.start(int(waiting.after_s * 1000))
        self.slow.setText(slow_text)

    def _say_slow(self) -> None:
        self.slow.setText(self._text)
        self.slow.show()


class JourneyBar(QWidget):
    """The header's "step 2 of 5: your ID card / next: face check", with a segment per step."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("journey")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(18)
        self.segments = Segments(self)
        row.addWidget(self.segments, 0, Qt.AlignmentFlag.AlignVCenter)
        column = QVBoxLayout()
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        self.step = QLabel(self)
        self.step.setObjectName("journey_step")
        self.next = QLabel(self)
        self.next.setObjectName("journey_next")
        column.addWidget(self.step)
        column.addWidget(self.next)
        row.addLayout(column)
        self.hide()

    def show_progress(self, progress: Progress | None, language: str) -> None:
        self.setVisible(progress is not None)
        if progress is None:
            return
        name = text(progress.name, language)
        self.step.setText(
            text("progress.step", language, step=progress.step, steps=progress.steps, name=name)
        )
        following = progress.next
        self.next.setText(
            text("progress.next", language, name=text(following, language))
            if following
            else text("progress.last", language)
        )
        self.segments.set_progress(progress.step, progress.steps)


class Segments(QWidget):
    """One block per step: done and current filled, the current one wider."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._step, self._steps = 0, 0

    def set_progress(self, step: int, steps: int) -> None:
        self._step, self._steps = step, steps
        self.setFixedSize(QSize(steps * 30 + 24, 20))
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        x = 0.0
        for index in range(1, self._steps + 1):
            width = 48.0 if index == self._step else 22.0
            colour = "#ffffff" if index <= self._step else "#5c7fa3"
            painter.setBrush(QColor(colour))
            painter.drawRoundedRect(QRectF(x, 4, width, 12), 6, 6)
            x += width + 8
        painter.end()
