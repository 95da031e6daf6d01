"""Staff signing in at the machine, for the terminals' scripts."""

from __future__ import annotations

from typing import Any

from kiosk.core.pins import DEMO_PIN
from kiosk.terminals.script import Expect, Script, Tap


def staff_sign_in(shows: str, where: dict[str, Any]) -> Script:
    """Staff hold the kiosk number, enter the sample configurations' PIN, and see ``shows``."""
    return [
        Tap("staff hold the kiosk number in the header", intent="staff"),
        Expect("the staff PIN pad", state="staff_pin"),
        Tap("staff enter the demo PIN", intent="pin", data={"pin": DEMO_PIN}),
        Expect(shows, state="staff", where=where, within_s=10),
    ]
