"""The identity step's camera screen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from kiosk.core.views import Button, View
from kiosk.terminals.identity.ports import FaceAdvice


@dataclass(frozen=True)
class FaceCheckView(View):
    """The live camera with the face check's instruction (one try of ``tries``)."""

    screen: ClassVar[str] = "face_check"
    advice: FaceAdvice | None = None
    attempt: int = 1
    tries: int = 3
    buttons: tuple[Button, ...] = ()
