"""The scripted citizen of ``kiosk demo``: the shell's script, then the configured terminal's
own (``kiosk.terminals.<type>.demo``)."""

from __future__ import annotations

from kiosk.config import KioskConfig
from kiosk.terminals.home.demo import shell_script
from kiosk.terminals.registry import terminal_for
from kiosk.terminals.script import Script


def demo_script(config: KioskConfig) -> Script:
    return shell_script(config) + terminal_for(config).demo(config)
