"""The scripted citizen on the shell every terminal shares, and the seeded citizens of the
reference central service the terminals' scripts use."""

from __future__ import annotations

from kiosk.config import KioskConfig
from kiosk.terminals.script import Advance, Expect, Script, Tap


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
        Expect(
            "the session ends; the attract loop returns in the first language",
            state="attract",
            still_there=False,
            language="zh",
        ),
    ]


# Seeded citizens of the reference central service (central/store.py).
CHEN_WEI = {"region": "440304", "birth": "19900307", "serial": 123, "name": "陈伟"}
WANG_FANG = {"region": "440305", "birth": "20000101", "serial": 789, "name": "王芳"}
ZHAO_LEI = {"region": "440303", "birth": "19770615", "serial": 234, "name": "赵磊"}
ZHOU_MIN = {"region": "440307", "birth": "19920420", "serial": 567, "name": "周敏"}
# Owner of the simulator's default virtual permit chip (C12345678).
ZHANG_SAN = {"region": "440304", "birth": "19900101", "serial": 135, "name": "张三"}
