"""The kiosk window: frameless, fullscreen, no way out for a citizen.

It owns the header (title, clock, language, call staff), a stack of screens and the
'still there?' overlay, renders each ViewState the core publishes, and forwards intents.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.runner import ViewState
from kiosk.texts import text
from ui.guide import JourneyBar
from ui.screens.attract import AttractScreen
from ui.screens.base import Screen, label
from ui.screens.base import card as make_card
from ui.screens.menu import MenuScreen
from ui.screens.message import MessageScreen
from ui.screens.out_of_service import OutOfServiceScreen
from ui.screens.pin import PinScreen
from ui.theme import AMBER, DESIGN_HEIGHT, DESIGN_WIDTH, HINT_PX, large_text_sheet

log = logging.getLogger(__name__)

STAFF_HOLD_MS = 3000
_KIOSK_LABEL_MAX_PX = 240
Intent = Callable[[str, dict[str, Any]], None]
Monotonic = Callable[[], float]
HeaderStatus = Callable[[], tuple[str, dict[str, Any]] | None]  # i18n key and values, or None


class KioskLock(QObject):
    """Application-wide filter: no context menus, no keyboard (the kiosk has none; a
    keyboard plugged in by someone must not quit or switch the app)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        kind = event.type()
        if kind == QEvent.Type.ContextMenu:
            return True
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease, QEvent.Type.ShortcutOverride):
            return isinstance(event, QKeyEvent)
        return False


class StillThereOverlay(QWidget):
    def __init__(self, parent: QWidget, intent: Intent, monotonic: Monotonic) -> None:
        super().__init__(parent)
        self.setObjectName("overlay")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._intent = intent
        self._monotonic = monotonic
        self._until = 0.0
        self.language = "zh"
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        card, inner = make_card(self, 60, 30)
        card.setFixedWidth(1100)
        self.title = label(card, "title")
        self.body = label(card, "body")
        self.countdown = label(card, "title")
        self.countdown.setStyleSheet(f"font-size: 120px; color: {AMBER};")
        row = QHBoxLayout()
        self.end = QPushButton(card)
        self.end.clicked.connect(lambda: self._intent("home", {}))
        self.cont = QPushButton(card)
        self.cont.setObjectName("primary")
        self.cont.clicked.connect(lambda: self._intent("still_here", {}))
        row.addWidget(self.end)
        row.addWidget(self.cont)
        for widget in (self.title, self.countdown, self.body):
            inner.addWidget(widget)
        inner.addLayout(row)
        layout.addWidget(card, alignment=Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)
        self._tick = QTimer(self)
        self._tick.timeout.connect(self.refresh)
        self.hide()

    def show_until(self, until: float, language: str) -> None:
        self._until, self.language = until, language
        self.setGeometry(self.parentWidget().rect())
        self.refresh()
        self.show()
        self.raise_()
        self._tick.start(200)

    def dismiss(self) -> None:
        self._tick.stop()
        self.hide()

    def seconds_left(self) -> int:
        return max(0, round(self._until - self._monotonic()))

    def refresh(self) -> None:
        seconds = self.seconds_left()
        self.title.setText(text("idle.title", self.language))
        self.body.setText(text("idle.body", self.language, seconds=seconds))
        self.countdown.setText(str(seconds))
        self.cont.setText(text("idle.continue", self.language))
        self.end.setText(text("idle.end", self.language))


class KioskWindow(QWidget):
    """Thread: GUI thread only."""

    def __init__(
        self,
        intent: Intent,
        monotonic: Monotonic,
        *,
        kiosk_id: str = "",
        languages: tuple[str, ...] = ("zh", "en"),
        header_status: HeaderStatus | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("root")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setWindowFlags(Qt.WindowType.FramelessWindowHint | Qt.WindowType.Window)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.resize(DESIGN_WIDTH, DESIGN_HEIGHT)
        self._intent = intent
        self._allow_close = False
        self._kiosk_id = kiosk_id
        self._languages = languages
        self._header_status = header_status
        self.language = languages[0] if languages else "zh"
        self._large_text = False
        self.view: ViewState | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._build_header())
        self.notice = QLabel(self)
        self.notice.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.notice.setStyleSheet(
            f"background: {AMBER}; color: white; font-size: 34px; padding: 18px;"
        )
        self.notice.hide()
        # Floats over the top of the screen below the header instead of taking a row of the
        # layout: a row would push a full screen past the panel's 1080 px.
        self.stack = QStackedWidget(self)
        layout.addWidget(self.stack, 1)
        self.screens: dict[str, Screen] = {}
        screens = (
            AttractScreen(),
            MenuScreen(),
            MessageScreen(),
            OutOfServiceScreen(),
            PinScreen(),
        )
        for screen in screens:
            self.add_screen(screen)
        self.overlay = StillThereOverlay(self, self.forward, monotonic)
        self._clock_timer = QTimer(self)
        self._clock_timer.timeout.connect(self._update_clock)
        self._clock_timer.start(1000)

    def _build_header(self) -> QWidget:
        header = QWidget(self)
        self.header = header
        header.setObjectName("header")
        header.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        header.setFixedHeight(124)
        row = QHBoxLayout(header)
        row.setContentsMargins(40, 14, 40, 14)
        row.setSpacing(14)
        self.app_title = QLabel(header)
        self.app_title.setStyleSheet("font-size: 40px; font-weight: bold;")
        self.kiosk_label = QLabel(header)
        # Staff hold the kiosk number to sign in: nothing shows it, and a citizen who rests a
        # finger there by chance meets a PIN pad with a Back button.
        self.staff_hold = QTimer(self)
        self.staff_hold.setSingleShot(True)
        self.staff_hold.setInterval(STAFF_HOLD_MS)
        self.staff_hold.timeout.connect(lambda: self.forward("staff", {}))
        self.kiosk_label.installEventFilter(self)
        self.clock = QLabel(header)
        # A standing condition staff should see (offline too long); checked with the clock.
        self.status_label = QLabel(header)
        self.status_label.setStyleSheet(
            f"background: {AMBER}; color: white; font-size: {HINT_PX}px; padding: 4px 14px;"
            " border-radius: 18px;"
        )
        # During a service: the citizen's step, where the kiosk number and clock stand
        # between citizens (staff sign in only from the attract loop, menu or out of service).
        self.journey = JourneyBar(header)
        self.status_label.hide()
        self.language_button = QPushButton(header)
        self.language_button.setObjectName("header")
        self.language_button.clicked.connect(self._toggle_language)
        self.text_size_button = QPushButton(header)
        self.text_size_button.setObjectName("header")
        self.text_size_button.clicked.connect(
            lambda: self.forward("large_text", {"on": not self._large_text})
        )
        self.staff_button = QPushButton(header)
        self.staff_button.setObjectName("header")
        self.staff_button.clicked.connect(lambda: self.forward("call_staff", {}))
        row.addWidget(self.app_title)
        row.addSpacing(30)
        row.addWidget(self.kiosk_label)
        row.addWidget(self.journey)
        row.addStretch(1)
        row.addWidget(self.status_label, 0, Qt.AlignmentFlag.AlignVCenter)
        row.addSpacing(20)
        row.addWidget(self.clock)
        row.addSpacing(30)
        row.addWidget(self.text_size_button)
        row.addWidget(self.language_button)
        row.addWidget(self.staff_button)
        return header

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.kiosk_label:
            if event.type() == QEvent.Type.MouseButtonPress:
                self.staff_hold.start()
            elif event.type() == QEvent.Type.MouseButtonRelease:
                self.staff_hold.stop()
        return False

    def add_screen(self, screen: Screen) -> None:
        self.screens[screen.screen_name] = screen
        self.stack.addWidget(screen)
        screen.intent.connect(self.forward)

    def forward(self, name: str, data: dict[str, Any]) -> None:
        self._intent(name, data)

    def render(self, view: ViewState) -> None:
        self.view = view
        self.language = view.language
        self._apply_text_size(view.large_text)
        screen = self.screens.get(view.screen)
        if screen is None:
            log.error("no screen named %s; showing the message screen", view.screen)
            screen = self.screens["message"]
        journey = view.view.journey
        # Hide before showing: for a moment both would be wider than the panel, and the
        # window would grow to hold them.
        if journey is not None:
            self.kiosk_label.hide()
            self.clock.hide()
        self.journey.show_progress(journey, self.language)
        if journey is None:
            self.kiosk_label.show()
            self.clock.show()
        self.notice.setText(text(view.notice, self.language) if view.notice else "")
        self.notice.setVisible(view.notice is not None)
        screen.banner_px = self.notice.sizeHint().height() if view.notice else 0
        screen.render(view)
        self.stack.setCurrentWidget(screen)
        self._render_header()
        self._place_notice()
        if view.still_there_until is not None:
            self.overlay.show_until(view.still_there_until, view.language)
        else:
            self.overlay.dismiss()

    def _render_header(self) -> None:
        self.app_title.setText(text("app.title", self.language))
        # A kiosk id may be 32 characters: elided, it cannot push the header's buttons away.
        label = text("app.kiosk_id", self.language, kiosk_id=self._kiosk_id)
        metrics = self.kiosk_label.fontMetrics()
        elided = metrics.elidedText(label, Qt.TextElideMode.ElideMiddle, _KIOSK_LABEL_MAX_PX)
        self.kiosk_label.setText(elided)
        self.language_button.setText(text("app.language", self.language))
        self.language_button.setVisible(len(self._languages) > 1)
        self.staff_button.setText(text("app.call_staff", self.language))
        size_key = "app.normal_text" if self._large_text else "app.large_text"
        self.text_size_button.setText(text(size_key, self.language))
        self._update_clock()

    def _apply_text_size(self, large: bool) -> None:
        """Restyle only on a change: re-polishing every widget costs tens of milliseconds."""
        if large == self._large_text:
            return
        self._large_text = large
        self.setStyleSheet(large_text_sheet() if large else "")

    def _update_clock(self) -> None:
        from datetime import datetime

        self.clock.setText(datetime.now().strftime("%Y-%m-%d %H:%M"))
        status = self._header_status() if self._header_status is not None else None
        self.status_label.setVisible(status is not None)
        if status is not None:
            self.status_label.setText(text(status[0], self.language, **status[1]))

    def _toggle_language(self) -> None:
        index = self._languages.index(self.language) if self.language in self._languages else 0
        self.forward("language", {"language": self._languages[(index + 1) % len(self._languages)]})

    def current_screen(self) -> Screen:
        widget = self.stack.currentWidget()
        assert isinstance(widget, Screen)
        return widget

    def allow_close(self) -> None:
        """Staff shutdown (service menu or SIGTERM) may close the window; citizens cannot."""
        self._allow_close = True

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self._allow_close:
            event.accept()
        else:
            event.ignore()

    def resizeEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        if self.overlay.isVisible():
            self.overlay.setGeometry(self.rect())
        self._place_notice()

    def _place_notice(self) -> None:
        if not self.notice.isVisible():
            return
        self.notice.setGeometry(
            0, self.header.height(), self.width(), self.notice.sizeHint().height()
        )
        self.notice.raise_()


def install_kiosk_lock(app: QApplication) -> KioskLock:
    lock = KioskLock(app)
    app.installEventFilter(lock)
    return lock
