"""Lay out the text of the card's back (the printed endorsement) as the 1-bit image a card
rewriter prints: PRINT_WIDTH x PRINT_HEIGHT dots, black = printed.

Chinese needs a CJK font: the first of FONT_CANDIDATES that exists (the bootstrap installs
WenQuanYi Micro Hei), else the one given; without any, Pillow's built-in font (ASCII only)
is used and a warning logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from devices.rewriter import DOTS_PER_MM, PRINT_HEIGHT, PRINT_WIDTH

log = logging.getLogger(__name__)

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
_FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class BackLine:
    """One line of the back. ``size_mm``: cap height of the type, about 2.5-4 mm on a card."""

    text: str
    size_mm: float = 3.0
    bold: bool = False


def render_back(
    lines: Sequence[BackLine | str],
    *,
    margin_mm: float = 1.5,
    line_gap_mm: float = 1.0,
    font_path: str | None = None,
) -> Image.Image:
    """The lines top to bottom, left aligned, clipped to the printable area."""
    image = Image.new("1", (PRINT_WIDTH, PRINT_HEIGHT), 1)
    draw = ImageDraw.Draw(image)
    margin = round(margin_mm * DOTS_PER_MM)
    y = margin
    for entry in lines:
        line = BackLine(entry) if isinstance(entry, str) else entry
        size = max(8, round(line.size_mm * DOTS_PER_MM * 1.25))
        font = _font(size, font_path)
        stroke = 1 if line.bold else 0
        draw.text((margin, y), line.text, font=font, fill=0, stroke_width=stroke, stroke_fill=0)
        y += size + round(line_gap_mm * DOTS_PER_MM)
        if y >= PRINT_HEIGHT:
            log.warning("card back: %d lines do not all fit", len(lines))
            break
    return image


@lru_cache(maxsize=16)
def _font(size: int, font_path: str | None) -> _FontType:
    candidates = (font_path,) if font_path else FONT_CANDIDATES
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return ImageFont.truetype(candidate, size)
    log.warning("card back: no CJK font found; Chinese text will not print")
    return ImageFont.load_default(size)
