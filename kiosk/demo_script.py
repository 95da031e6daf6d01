"""The scripted citizen of ``kiosk demo``: what they do, step by step, per terminal type.

Pure data (no Qt) so the same script drives the offscreen demo and the end-to-end tests.
Grow it as the flows grow.
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
    within_s: float = 10.0


@dataclass(frozen=True)
class Act(Step):
    """Something done to the simulated world: place a card, pull paper, move the subject.
    ``action`` names an operation the demo's world offers (see ui.demo.World)."""

    action: str = ""
    args: dict[str, Any] = field(default_factory=dict)


Script = list[Step]
ScriptBuilder = Callable[[KioskConfig], Script]


def shell_script(config: KioskConfig) -> Script:
    """attract -> menu -> language switch -> idle timeout -> attract."""
    t = config.timeouts
    return [
        Expect("the attract loop is showing", state="attract"),
        Tap("a citizen touches the screen", intent="start"),
        Expect("the service menu appears, in Chinese", state="menu"),
        Tap("the citizen switches to English", intent="language", data={"language": "en"}),
        Expect("the menu is shown in English", state="menu"),
        Advance("the citizen walks away", seconds=t.idle_s),
        Expect("the kiosk asks 'still there?' with a countdown", state="menu", still_there=True),
        Advance("the countdown runs halfway", seconds=t.still_there_s / 2),
        Expect("the countdown is still running", state="menu", still_there=True),
        Advance("nobody answers", seconds=t.still_there_s / 2),
        Expect("the session ends and the attract loop returns", state="attract", still_there=False),
        Tap("the next citizen prefers Chinese", intent="language", data={"language": "zh"}),
        Expect("the attract loop is in Chinese again", state="attract"),
    ]


# Service scripts appended after the shell script, per terminal type (registered by flows).
SERVICE_SCRIPTS: dict[str, list[ScriptBuilder]] = {"renewal": [], "photo": [], "pickup": []}


def demo_script(config: KioskConfig) -> Script:
    script = shell_script(config)
    for builder in SERVICE_SCRIPTS[config.kiosk.terminal.value]:
        script += builder(config)
    return script
