"""Every terminal type, in one place: the configuration's ``kiosk.terminal`` picks one."""

from __future__ import annotations

from collections.abc import Mapping

from kiosk.config import KioskConfig, TerminalType
from kiosk.terminals.photo.terminal import TERMINAL as PHOTO
from kiosk.terminals.pickup.terminal import TERMINAL as PICKUP
from kiosk.terminals.renewal.terminal import TERMINAL as RENEWAL
from kiosk.terminals.terminal import Terminal

TERMINALS: Mapping[TerminalType, Terminal] = {t.type: t for t in (PHOTO, PICKUP, RENEWAL)}


def terminal_for(config: KioskConfig) -> Terminal:
    return TERMINALS[config.kiosk.terminal]
