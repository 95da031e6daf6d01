"""Photo terminal screens: the live capture with coaching, and the review of the photo
exactly as it will be submitted."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QElapsedTimer, QRectF, Qt, QTimer
from PySide6.QtGui import (
    QColor,
    QFontMetricsF,
    QImage,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from devices.camera import Frame
from kiosk.core.runner import ViewState
from kiosk.terminals.photo.ports import Check
from kiosk.terminals.photo.views import PhotoLiveView, PhotoReviewView
from ui import theme
from ui.guide import Pictogram
from ui.screens.base import Screen, label

FrameSource = Callable[[], Frame | None]
PICTURE_PX = 96  # the camera's picture beside a camera screen's title
_EXPLAINED = 3  # failed checks the review explains in its list
PhotoSource = Callable[[int], bytes | None]  # photo ``index`` of the session, as a JPEG

GREEN = QColor("#2e7d32")
AMBER = QColor("#ef6c00")
WHITE = QColor("#ffffff")


class Preview(QWidget):
    """The camera picture (mirrored, as people expect of a mirror) with the head guide."""

    def __init__(self, frames: FrameSource, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._frames = frames
        self._image: QImage | None = None
        self._sequence = -1
        self.compliant = False
        self.has_face = False
        self.countdown: int | None = None
        self.frames_shown = 0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(640, 480)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.pull)

    def start(self, fps: float = 25.0) -> None:
        self._timer.start(max(10, int(1000 / fps)))

    def stop(self) -> None:
        self._timer.stop()

    def pull(self) -> None:
        frame = self._frames()
        if frame is None or frame.sequence == self._sequence:
            return
        self._sequence = frame.sequence
        h, w = frame.image.shape[:2]
        image = QImage(frame.image.data, w, h, 3 * w, QImage.Format.Format_BGR888)
        # A mirror image, as people expect of a mirror; flipped() copies, so the shared
        # frame is never written to.
        self._image = image.flipped(Qt.Orientation.Horizontal)
        self.frames_shown += 1
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#263238"))
        target = self._picture_rect()
        if self._image is not None:
            painter.drawImage(target, self._image)
        colour = GREEN if self.compliant else (AMBER if self.has_face else WHITE)
        painter.setPen(
            QPen(colour, 10, Qt.PenStyle.DashLine if not self.compliant else Qt.PenStyle.SolidLine)
        )
        # Head outline: where a compliant head sits in the 3:4 output crop.
        guide_h = target.height() * 0.62
        guide_w = guide_h * 0.72
        centre_x, centre_y = target.center().x(), target.top() + target.height() * 0.45
        painter.drawEllipse(
            QRectF(centre_x - guide_w / 2, centre_y - guide_h / 2, guide_w, guide_h)
        )
        if self.countdown is not None and self.countdown > 0:
            font = painter.font()
            font.setPixelSize(int(target.height() * 0.35))
            font.setBold(True)
            # White figures edged in dark: readable over a light wall and a dark coat alike.
            text = str(self.countdown)
            metrics = QFontMetricsF(font)
            path = QPainterPath()
            path.addText(
                target.center().x() - metrics.horizontalAdvance(text) / 2,
                target.center().y() + (metrics.ascent() - metrics.descent()) / 2,
                font,
                text,
            )
            painter.strokePath(path, QPen(QColor("#102027"), max(4.0, font.pixelSize() / 18)))
            painter.fillPath(path, WHITE)
        painter.end()

    def _picture_rect(self) -> QRectF:
        w, h = self.width(), self.height()
        aspect = 4 / 3
        if self._image is not None and self._image.height():
            aspect = self._image.width() / self._image.height()
        if w / max(h, 1) > aspect:
            pw, ph = h * aspect, float(h)
        else:
            pw, ph = float(w), w / aspect
        return QRectF((w - pw) / 2, (h - ph) / 2, pw, ph)


class CameraScreen(Screen):
    """A screen the citizen looks into the camera on: the live picture on the left; on the
    right where to look (the camera's picture) beside the title, the instruction in large
    type, then ``below`` (hints, then the buttons: the primary one last, bottom right)."""

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
        self.instruction.setStyleSheet("font-size: 56px;")
        self.instruction.setMinimumHeight(260)
        # Where to look: the camera's picture (the same as on the help slide), beside the
        # title: the column has no height to spare under the instruction's room.
        self.picture = Pictogram(self)
        heading = QHBoxLayout()
        heading.setSpacing(24)
        heading.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignVCenter)
        heading.addWidget(self.title, 1)
        side.addLayout(heading)
        side.addStretch(1)
        side.addWidget(self.instruction)
        side.addStretch(1)
        self.below = side
        layout.addLayout(side, 2)

    def show_live(self) -> None:
        """The camera's newest frame now, and every frame after while shown."""
        self.preview.start()
        self.preview.pull()
        self.preview.update()

    def hideEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        self.preview.stop()


class PhotoLiveScreen(CameraScreen):
    screen_name = "photo_live"

    def __init__(self, frames: FrameSource, parent: QWidget | None = None) -> None:
        super().__init__(frames, parent)
        self.hint = label(self, "hint")
        self.capture = self.big_button("primary")
        self.capture.clicked.connect(lambda: self.emit_intent("capture"))
        self.back = self.big_button()
        self.back.clicked.connect(lambda: self.emit_intent("back"))
        # The primary action at the bottom right, as on every screen.
        for widget in (self.hint, self.back, self.capture):
            self.below.addWidget(widget)
        self._countdown = QElapsedTimer()
        self._tick = QTimer(self)
        self._tick.timeout.connect(self._update_countdown)

    def update_view(self, view: ViewState) -> None:
        shown = view.view
        assert isinstance(shown, PhotoLiveView)
        live = shown.live
        instruction = live.instruction if live is not None else None
        compliant = live is not None and live.compliant
        self.preview.compliant = compliant
        self.preview.has_face = live is not None and live.face is not None
        self.title.setText(self.tr_("photo.live.title"))
        if compliant:
            text = self.tr_("photo.live.ok")
        elif instruction is not None:
            text = (instruction.en if self.language == "en" else "") or instruction.zh
        else:
            text = self.tr_("photo.live.searching")
        colour = theme.GREEN if compliant else theme.AMBER
        self.picture.show_picture(shown.picture, PICTURE_PX)
        self.instruction.setStyleSheet(f"font-size: 56px; color: {colour};")
        self.instruction.setText(text)
        counting = shown.mode == "countdown"
        self.hint.setText(self.tr_("photo.countdown") if counting else self.tr_("photo.free_24h"))
        self.capture.setText(self.tr_("photo.capture"))
        self.capture.setEnabled(not counting)
        self.back.setText(self.tr_("app.back"))
        if counting and not self._tick.isActive():
            self._countdown.start()
            self._tick.start(100)
            self._update_countdown()
        elif not counting:
            self._tick.stop()
            self.preview.countdown = None
        self.show_live()

    def _update_countdown(self) -> None:
        left = 3 - int(self._countdown.elapsed() / 1000)
        self.preview.countdown = max(1, left)
        self.preview.update()

    def hideEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        super().hideEvent(event)
        self._tick.stop()


class PhotoReviewScreen(Screen):
    screen_name = "photo_review"

    def __init__(self, photos: PhotoSource, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._photos = photos
        # Tight vertical spacing: 18 checks, each failed one with its instruction, must leave
        # room for the reason line and the buttons on the 1080 px panel.
        layout = QVBoxLayout(self)
        layout.setContentsMargins(80, 20, 80, 20)
        layout.setSpacing(14)
        self._layout = layout
        self.title = label(self, "title")
        layout.addWidget(self.title)
        row = QHBoxLayout()
        row.setSpacing(50)
        card = QFrame(self)
        card.setObjectName("card")
        photo_box = QVBoxLayout(card)
        self.photo = QLabel(card)
        self.photo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.photo.setFixedSize(390, 520)
        self.note = label(card, "hint")
        photo_box.addWidget(self.photo)
        photo_box.addWidget(self.note)
        row.addWidget(card)
        checks = QFrame(self)
        checks.setObjectName("card")
        self.checks_layout = QGridLayout(checks)
        self.checks_layout.setContentsMargins(40, 20, 40, 20)
        self.checks_layout.setHorizontalSpacing(30)
        self.checks_layout.setVerticalSpacing(2)
        row.addWidget(checks, 1)
        layout.addLayout(row, 1)
        self.reason = label(self, "body")
        self.reason.setStyleSheet("color: #c62828;")
        layout.addWidget(self.reason)
        buttons = QHBoxLayout()
        self.retake = self.big_button()
        self.retake.clicked.connect(lambda: self.emit_intent("retake"))
        self.use = self.big_button("primary")
        self.use.clicked.connect(lambda: self.emit_intent("use"))
        buttons.addWidget(self.retake)
        buttons.addStretch(1)
        buttons.addWidget(self.use)
        layout.addLayout(buttons)
        self._rows: list[QLabel] = []

    def update_view(self, view: ViewState) -> None:
        review = view.view
        assert isinstance(review, PhotoReviewView)
        # Below a banner the longest checklist in larger text needs the gaps' room too.
        tight = self.banner_px > 0
        self._layout.setSpacing(6 if tight else 14)
        edge = 6 if tight else 20
        self.checks_layout.setContentsMargins(40, edge, 40, edge)
        margins = self._layout.contentsMargins()
        margins.setBottom(edge)
        self._layout.setContentsMargins(margins)
        self.title.setText(self.tr_("photo.review.title"))
        jpeg = None if review.missing else self._photos(review.index)
        if jpeg is not None:
            pixmap = QPixmap()
            pixmap.loadFromData(bytes(jpeg), "JPEG")
            self.photo.setPixmap(
                pixmap.scaled(
                    self.photo.size(),
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
        else:
            self.photo.clear()
        self.note.setText(self.tr_("photo.review.best") if review.best_shown else "")
        self._render_checks(review.checks, view.large_text)
        can_submit = review.can_submit
        english = self.language == "en"
        reasons = [(r.en if english else r.zh) or r.zh for r in review.reasons]
        failed = [
            (c.why_en or c.title_en) if english else (c.why_zh or c.title_zh)
            for c in review.checks
            if c.hard and not c.passed
        ]
        self.reason.setVisible(not can_submit)
        self.reason.setText(self._cannot(reasons or failed) if not can_submit else "")
        self.use.setEnabled(can_submit)
        self.use.setText(self.tr_("photo.use"))
        self.retake.setText(self.tr_("photo.retake"))

    def _cannot(self, reasons: list[str]) -> str:
        """The most important reason only: the checklist lists every failure, and all of
        them here would push the buttons off the screen."""
        line = f"{self.tr_('photo.review.cannot')} {reasons[0] if reasons else ''}"
        if len(reasons) > 1:
            line += " " + self.tr_("photo.review.more", n=len(reasons) - 1)
        return line

    def _render_checks(self, checks: tuple[Check, ...], large: bool) -> None:
        """Two columns of rows in the hint size; in larger text a third larger, naming each
        check without its instruction (the reason line below gives the one that matters
        most)."""
        while self.checks_layout.count():
            item = self.checks_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()  # now: deleteLater would leave it drawn under the new rows
                widget.deleteLater()
        self._rows = []
        for row_index in range(self.checks_layout.rowCount()):
            self.checks_layout.setRowStretch(row_index, 0)  # an earlier layout's spacer row
        # Two columns in both sizes: 18 rows of body-sized type fit only so.
        hint = theme.HINT_PX
        columns, size = (2, round(hint * theme.LARGE_TEXT_SCALE)) if large else (2, hint)
        per_column = -(-len(checks) // columns)
        english = self.language == "en"
        # A failed check says why, while a few fail: more would not fit in body-sized type
        # (the line under the list names the one that matters most).
        explain = not large and sum(not c.passed for c in checks) <= _EXPLAINED
        for index, check in enumerate(checks):
            passed = check.passed
            mark = "✔" if passed else ("✘" if check.hard else "!")
            colour = theme.GREEN if passed else (theme.RED if check.hard else theme.AMBER)
            text = f"{mark}  {(check.title_en if english else check.title_zh) or check.title_zh}"
            why = check.why_en if english else check.why_zh
            if not passed and why and explain:
                text += f" — {why}"
            row = QLabel(text, self)
            row.setStyleSheet(f"font-size: {size}px; color: {colour};")
            row.setWordWrap(True)
            self.checks_layout.addWidget(row, index % per_column, index // per_column)
            self._rows.append(row)
        self.checks_layout.setRowStretch(per_column, 1)
