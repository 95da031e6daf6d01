"""Look and feel for a public touchscreen: large type readable from 60 cm, touch targets of
at least 15 mm, high contrast, a CJK font that renders Chinese everywhere.

The type scale (docs/ui.md) is for a 1080p panel read standing at arm's length: every text a
citizen reads is at least ``BODY_MIN_PX`` in normal mode (``LARGE_TEXT_SCALE`` times that in
larger text), titles at least ``TITLE_MIN_PX``; only technical codes for staff (``CODE_PX``)
are smaller. Colours of text meet WCAG AA on the backgrounds they are used on (tested over
every demo screen: tests/ui/test_audit.py)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

from PySide6.QtGui import QFont, QFontDatabase

log = logging.getLogger(__name__)

# Design resolution: a 1080p panel; its physical size is configured (``[screen]``), and the
# smallest touch target in pixels follows from it (``touch_min_px``).
DESIGN_WIDTH = 1920
DESIGN_HEIGHT = 1080
TOUCH_MIN_MM = 15.0
# Buttons are taller than 15 mm on any panel the configuration allows (at most 12 px/mm,
# a 7-inch 1080p panel, gives 180 px; a 21.5-inch one 61 px): elderly users need more.
TOUCH_MIN_PX = 96

# The type scale, in pixels at the design resolution (docs/ui.md).
BODY_MIN_PX = 28  # the floor for anything a citizen reads
TITLE_MIN_PX = 44
DISPLAY_PX = 72  # attract and out-of-service titles
TITLE_PX = 52  # a step's title
BUTTON_PX = 34
BODY_PX = 30  # body lines
HINT_PX = 28  # reminders, secondary lines, the header's step line
CODE_PX = 22  # technical codes for staff, after the plain words (the one exception)

NAVY = "#0b3d6b"
BLUE = "#1565c0"
LIGHT = "#f4f7fb"
LIGHT_BLUE = "#dbe7f5"
GREEN = "#2e7d32"
RED = "#c62828"
# Orange text (#ef6c00) is 3:1 on white, 2.8:1 on the page: warnings use a darker amber that
# is 4.8:1 on both, and it is also the banners' background under white text.
AMBER = "#b45309"
GREY = "#455a64"
TEXT = "#1a1a1a"


def touch_min_px(px_per_mm: float) -> int:
    """The smallest touch target, in pixels, that is ``TOUCH_MIN_MM`` on a panel with this
    many pixels per millimetre (``ScreenSection.px_per_mm``), and never under our own."""
    return max(TOUCH_MIN_PX, math.ceil(TOUCH_MIN_MM * px_per_mm))


CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
CJK_FAMILIES = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "WenQuanYi Zen Hei")


def load_fonts() -> str:
    """Register a CJK font and return the family to use. Registering the file explicitly
    makes rendering independent of fontconfig's cache (and works inside the bundle)."""
    for path in CJK_FONT_CANDIDATES:
        if Path(path).exists():
            font_id = QFontDatabase.addApplicationFont(path)
            families = QFontDatabase.applicationFontFamilies(font_id) if font_id >= 0 else []
            if families:
                return families[0]
    available = set(QFontDatabase.families())
    for family in CJK_FAMILIES:
        if family in available:
            return family
    log.error("no CJK font found: Chinese text will not render (install fonts-wqy-microhei)")
    return QFont().defaultFamily()


# Larger text for elderly citizens and poor sight: the type a flow uses, a third larger. Set on
# the window, these rules win over the application's (Qt prefers the nearer style sheet).
LARGE_TEXT_SCALE = 1.3


def large_text_sheet(scale: float = LARGE_TEXT_SCALE) -> str:
    def px(size: int) -> int:
        return round(size * scale)

    return f"""
    QLabel#title {{ font-size: {px(TITLE_PX)}px; }}
    QLabel#body {{ font-size: {px(BODY_PX)}px; }}
    QLabel#hint {{ font-size: {px(HINT_PX)}px; }}
    QLabel#slow {{ font-size: {px(BODY_PX)}px; }}
    QLabel#codes {{ font-size: {CODE_PX}px; }}
    QPushButton {{ font-size: {px(BUTTON_PX)}px; }}
    QPushButton#service {{ font-size: {px(44)}px; min-height: 140px; padding: 16px 40px; }}
    QPushButton#header {{ font-size: {BODY_PX}px; }}
    """


def stylesheet(family: str, touch_px: int = TOUCH_MIN_PX) -> str:
    """The application's style: ``touch_px`` is the smallest button height (at least
    ``TOUCH_MIN_PX``, more on a small panel where 15 mm takes more pixels)."""
    touch_px = max(touch_px, TOUCH_MIN_PX)
    return f"""
    * {{ font-family: "{family}"; color: {TEXT}; }}
    QWidget#root {{ background: {LIGHT}; }}
    QWidget#header {{ background: {NAVY}; }}
    QWidget#header QLabel {{ color: white; font-size: {BODY_PX}px; }}
    QLabel#title {{ font-size: {TITLE_PX}px; font-weight: bold; color: {NAVY}; }}
    QLabel#body {{ font-size: {BODY_PX}px; }}
    QLabel#hint {{ font-size: {HINT_PX}px; color: {GREY}; }}
    QLabel#slow {{ font-size: {BODY_PX}px; color: {AMBER}; }}
    QLabel#codes {{ font-size: {CODE_PX}px; color: {GREY}; }}
    QWidget#header QLabel#journey_step {{ font-size: {BODY_PX}px; font-weight: bold; }}
    QWidget#header QLabel#journey_next {{ font-size: {HINT_PX}px; }}
    QPushButton {{
        font-size: {BUTTON_PX}px; min-height: {touch_px}px; min-width: {touch_px}px;
        padding: 12px 36px;
        border-radius: 16px; background: white; border: 3px solid {BLUE}; color: {BLUE};
    }}
    QPushButton:pressed {{ background: #e3f2fd; }}
    QPushButton:disabled {{ color: #5f6368; border-color: #bdbdbd; }}
    QPushButton#primary {{ background: {BLUE}; color: white; }}
    QPushButton#primary:disabled {{ background: #cfd8dc; border-color: #cfd8dc; color: #37474f; }}
    QPushButton#danger {{ background: {RED}; color: white; border-color: {RED}; }}
    QPushButton#header {{
        background: transparent; color: white; border: 2px solid white; font-size: {BODY_PX}px;
        min-height: {touch_px}px; max-height: {touch_px}px; padding: 0px 28px;
    }}
    QPushButton#service {{ padding: 24px 40px; min-height: 200px; font-size: 44px; }}
    QFrame#card {{ background: white; border-radius: 24px; }}
    QWidget#overlay {{ background: rgba(0, 0, 0, 150); }}
    """
