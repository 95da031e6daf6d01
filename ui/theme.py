"""Look and feel for a public touchscreen: large type readable from 60 cm, touch targets of
at least 15 mm, high contrast, a CJK font that renders Chinese everywhere."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtGui import QFont, QFontDatabase

log = logging.getLogger(__name__)

# Design resolution: a 1080p 21-inch portrait/landscape panel (about 105 px per inch).
DESIGN_WIDTH = 1920
DESIGN_HEIGHT = 1080
TOUCH_MIN_PX = 96  # >= 15 mm at 105 ppi is 62 px; kiosks use more for elderly users
BODY_PX = 30
TITLE_PX = 52
BUTTON_PX = 34

NAVY = "#0b3d6b"
BLUE = "#1565c0"
LIGHT = "#f4f7fb"
GREEN = "#2e7d32"
RED = "#c62828"
AMBER = "#ef6c00"
TEXT = "#1a1a1a"

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
    QLabel#hint {{ font-size: {px(BODY_PX - 4)}px; }}
    QPushButton {{ font-size: {px(BUTTON_PX)}px; }}
    QPushButton#service {{ font-size: {px(44)}px; min-height: 140px; padding: 16px 40px; }}
    QPushButton#header {{ font-size: {BODY_PX}px; }}
    """


def stylesheet(family: str) -> str:
    return f"""
    * {{ font-family: "{family}"; color: {TEXT}; }}
    QWidget#root {{ background: {LIGHT}; }}
    QWidget#header {{ background: {NAVY}; }}
    QWidget#header QLabel {{ color: white; font-size: {BODY_PX}px; }}
    QLabel#title {{ font-size: {TITLE_PX}px; font-weight: bold; color: {NAVY}; }}
    QLabel#body {{ font-size: {BODY_PX}px; }}
    QLabel#hint {{ font-size: {BODY_PX - 4}px; color: #455a64; }}
    QPushButton {{
        font-size: {BUTTON_PX}px; min-height: {TOUCH_MIN_PX}px; padding: 12px 36px;
        border-radius: 16px; background: white; border: 3px solid {BLUE}; color: {BLUE};
    }}
    QPushButton:pressed {{ background: #e3f2fd; }}
    QPushButton:disabled {{ color: #9e9e9e; border-color: #bdbdbd; }}
    QPushButton#primary {{ background: {BLUE}; color: white; }}
    QPushButton#primary:disabled {{ background: #b0bec5; border-color: #b0bec5; }}
    QPushButton#danger {{ background: {RED}; color: white; border-color: {RED}; }}
    QPushButton#header {{
        background: transparent; color: white; border: 2px solid white; font-size: {BODY_PX}px;
        min-height: {TOUCH_MIN_PX}px; max-height: {TOUCH_MIN_PX}px; padding: 0px 28px;
    }}
    QPushButton#service {{ padding: 24px 40px; min-height: 200px; font-size: 44px; }}
    QFrame#card {{ background: white; border-radius: 24px; }}
    QWidget#overlay {{ background: rgba(0, 0, 0, 150); }}
    """
