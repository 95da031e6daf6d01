"""The scripted citizen's vocabulary: what they (or the world around them) do, step by step.

Pure data (no Qt) so the same script drives the offscreen demo and the end-to-end tests.
Each terminal writes its own script (``kiosk.terminals.<type>.demo``); ``kiosk.demo`` puts the
one of the configured terminal behind the shell's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiosk.config import KioskConfig


@dataclass(frozen=True)
class Step:
    """One thing the scripted citizen (or the world around them) does."""

    note: str


@dataclass(frozen=True)
class Tap(Step):
    intent: str = "touch"
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Advance(Step):
    """Let time pass on the injected clock (timers fire)."""

    seconds: float = 0.0


@dataclass(frozen=True)
class Expect(Step):
    """Wait (up to ``within_s`` of real time, for device work) until the flow is in ``state``,
    optionally with the 'still there?' overlay shown or not."""

    state: str = ""
    still_there: bool | None = None
    language: str = ""  # shown in this language ("" = any)
    large_text: bool | None = None  # with larger text, or not (None = either)
    within_s: float = 10.0
    # Dotted paths into the screen's data that must hold these values ("live.compliant").
    where: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Act(Step):
    """Something done to the simulated world: place a card, pull paper, move the subject.
    ``action`` names an operation the demo's world offers (see ui.demo.World)."""

    action: str = ""
    args: dict[str, Any] = field(default_factory=dict)


Script = list[Step]
ScriptBuilder = Callable[[KioskConfig], Script]
