"""What the screen shows, checked against the design rules (docs/ui.md): every text fits its
place, is as large as the type scale says, contrasts with what is behind it (WCAG AA, measured
on the rendered pixels), shows no raw code, every button is a touch target of at least 15 mm,
and the primary action is at the bottom right.

The scripted demo audits every screen it records in every offered language
(``audit.json`` beside the screenshots); tests read it and check single screens directly.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget

from ui.theme import BODY_MIN_PX, TITLE_MIN_PX

# WCAG 2.x AA: 4.5:1, or 3:1 for large text (24 px, or 18.7 px bold).
AA_NORMAL, AA_LARGE = 4.5, 3.0
LARGE_PX, LARGE_BOLD_PX = 24.0, 18.66
# Labels allowed below the body size: technical codes for staff, in small type.
SMALL_ALLOWED = frozenset({"codes"})
# A message key or a code shown instead of words: "device.printer", "paper_out".
RAW_CODE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b|\b[a-z]{2,}(?:\.[a-z_]{2,})+\b")
TITLE_NAMES = frozenset({"title"})


@dataclass(frozen=True)
class Finding:
    rule: str  # fit | size | contrast | raw_code | touch | primary
    widget: str  # object name and class
    text: str
    detail: str


def _linear(levels: np.ndarray) -> np.ndarray:
    c = levels.astype(np.float64) / 255.0
    return np.asarray(np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4))


# An sRGB level's linear value, looked up (a screenshot has two million pixels).
_LINEAR = _linear(np.arange(256))
_WEIGHTS = (0.2126, 0.7152, 0.0722)


def _luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG relative luminance of N x 3 sRGB levels."""
    r, g, b = (_LINEAR[rgb[:, i]] * w for i, w in enumerate(_WEIGHTS))
    return np.asarray(r + g + b)


def contrast(a: float, b: float) -> float:
    hi, lo = max(a, b), min(a, b)
    return (hi + 0.05) / (lo + 0.05)


def image_array(image: QImage) -> np.ndarray:
    """The grabbed window as an H x W x 3 array."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = rgb.width(), rgb.height(), rgb.bytesPerLine()
    data = np.frombuffer(rgb.constBits(), dtype=np.uint8, count=stride * height)
    return data.reshape(height, stride)[:, : width * 3].reshape(height, width, 3).copy()


_BINS = 2000  # luminance steps when finding a region's background


def luminance_map(pixels: np.ndarray) -> np.ndarray:
    """Each pixel's relative luminance (WCAG), once per screenshot."""
    return _luminance(pixels.reshape(-1, 3)).reshape(pixels.shape[:2])


def text_contrast(lum: np.ndarray) -> float | None:
    """The contrast of the text in a region (its luminances) with its background: the
    background is the region's most frequent luminance, the text the one farthest from it
    (glyph cores are drawn in the text colour; anti-aliased edges lie between)."""
    if lum.size == 0:
        return None
    steps = np.rint(lum.ravel() * (_BINS - 1)).astype(np.int64)
    background = float(np.argmax(np.bincount(steps, minlength=_BINS))) / (_BINS - 1)
    return max(contrast(background, float(lum.min())), contrast(background, float(lum.max())))


def _text_of(widget: QWidget) -> str:
    if isinstance(widget, QLabel | QAbstractButton):
        return widget.text()
    return ""


def _name(widget: QWidget) -> str:
    return f"{type(widget).__name__}#{widget.objectName()}"


def _px(widget: QWidget) -> float:
    font = widget.font()
    if font.pixelSize() > 0:
        return float(font.pixelSize())
    return font.pointSizeF() * widget.logicalDpiY() / 72.0


def _shown(widget: QWidget, top: QWidget) -> bool:
    return widget.isVisibleTo(top) and widget.width() > 0 and widget.height() > 0


def audit_window(top: QWidget, image: QImage, *, large_text: bool, touch_px: int) -> list[Finding]:
    """Every finding on the window ``top`` as rendered in ``image`` (its grab)."""
    pixels = image_array(image)
    findings: list[Finding] = []
    # Under the 'still there?' overlay the screen is dimmed on purpose: only the overlay counts.
    overlay = top.findChild(QWidget, "overlay")
    front = overlay if overlay is not None and overlay.isVisible() else top
    for widget in front.findChildren(QWidget):
        if not _shown(widget, top) or not _text_of(widget).strip():
            continue
        findings += _audit_text(widget, top, pixels, large_text)
    findings += _audit_buttons(top, touch_px)
    return findings


def _audit_text(widget: QWidget, top: QWidget, pixels: np.ndarray, large: bool) -> list[Finding]:
    shown = _text_of(widget)
    name = _name(widget)
    found: list[Finding] = []

    def add(rule: str, detail: str) -> None:
        found.append(Finding(rule, name, shown[:80], detail))

    size = _px(widget)
    # The floor is the normal mode's: larger text enlarges the screen's type, not the
    # header's (it keeps its height so that every screen fits the panel).
    floor = BODY_MIN_PX - 0.5
    if widget.objectName() in TITLE_NAMES:
        floor = max(floor, TITLE_MIN_PX - 0.5)
    if widget.objectName() not in SMALL_ALLOWED and size < floor:
        add("size", f"{size:.0f} px < {floor + 0.5:.0f} px")
    if widget.objectName() not in SMALL_ALLOWED and RAW_CODE.search(shown):
        add("raw_code", RAW_CODE.search(shown).group(0))  # type: ignore[union-attr]
    overflow = _overflow(widget)
    if overflow:
        add("fit", overflow)
    ratio = _contrast_of(widget, top, pixels)
    bold = widget.font().bold()
    needed = AA_LARGE if size >= (LARGE_BOLD_PX if bold else LARGE_PX) else AA_NORMAL
    if ratio is not None and ratio < needed:
        add("contrast", f"{ratio:.2f} < {needed}")
    return found


def _overflow(widget: QWidget) -> str:
    """Why the text does not fit its widget, or ''."""
    if isinstance(widget, QAbstractButton):
        hint = widget.sizeHint()
        if hint.width() > widget.width() + 1 or hint.height() > widget.height() + 1:
            return f"needs {hint.width()}x{hint.height()}, has {widget.width()}x{widget.height()}"
        return ""
    assert isinstance(widget, QLabel)
    room = widget.contentsRect()
    metrics = widget.fontMetrics()
    if widget.wordWrap():
        # heightForWidth takes and gives the whole label's size, its padding and border
        # included: compared with the contents alone, a padded label never fits.
        needed = widget.heightForWidth(widget.width())
        if needed > widget.height() + 2:
            return f"needs {needed} px of height, has {widget.height()}"
        return ""
    widest = max(metrics.horizontalAdvance(line) for line in widget.text().split("\n"))
    if widest > room.width() + 1:
        return f"needs {widest} px of width, has {room.width()}"
    return ""


def _contrast_of(widget: QWidget, top: QWidget, pixels: np.ndarray) -> float | None:
    rect = widget.contentsRect()
    if isinstance(widget, QAbstractButton):
        rect = rect.adjusted(16, 8, -16, -8)  # inside the border and its rounded corners
    origin = widget.mapTo(top, QPoint(0, 0))
    area = QRect(rect.topLeft() + origin, rect.size()).intersected(
        QRect(0, 0, pixels.shape[1], pixels.shape[0])
    )
    if area.isEmpty():
        return None
    region = pixels[area.top() : area.bottom() + 1, area.left() : area.right() + 1]
    return text_contrast(luminance_map(region))


def _audit_buttons(top: QWidget, touch_px: int) -> list[Finding]:
    findings: list[Finding] = []
    buttons = [b for b in top.findChildren(QAbstractButton) if _shown(b, top)]
    for button in buttons:
        if min(button.width(), button.height()) < touch_px:
            findings.append(
                Finding(
                    "touch",
                    _name(button),
                    button.text()[:80],
                    f"{button.width()}x{button.height()} < {touch_px} px",
                )
            )
    findings += _primary_bottom_right(top, buttons)
    return findings


def _primary_bottom_right(top: QWidget, buttons: list[QAbstractButton]) -> list[Finding]:
    """A screen with a primary action has one at the bottom right of its buttons (the
    header's are the window's, not the screen's)."""
    header = top.findChild(QWidget, "header")
    own = [b for b in buttons if header is None or not header.isAncestorOf(b)]
    overlay = top.findChild(QWidget, "overlay")
    if overlay is not None and overlay.isVisible():
        own = [b for b in own if overlay.isAncestorOf(b)]
    if not own:
        return []
    primaries = [b for b in own if b.objectName() == "primary"]
    if not primaries:
        return []

    def corner(button: QAbstractButton) -> tuple[int, int]:
        place = button.mapTo(top, QPoint(button.width(), button.height()))
        return place.y(), place.x()

    bottom = max(corner(b)[0] for b in own)
    lowest = [b for b in own if corner(b)[0] >= bottom - 4]
    right = max(lowest, key=lambda b: corner(b)[1])
    if right.objectName() == "primary":
        return []
    return [
        Finding(
            "primary",
            _name(right),
            right.text()[:80],
            f"bottom-right is not a primary action ({primaries[0].text()!r} is)",
        )
    ]


def as_dicts(findings: list[Finding]) -> list[dict[str, str]]:
    return [asdict(f) for f in findings]
