"""Registers the service flows of every terminal type with the terminal flow."""

from __future__ import annotations

from kiosk.terminals.photo import flow as photo
from kiosk.terminals.pickup import flow as pickup
from kiosk.terminals.renewal import flow as renewal

__all__ = ["photo", "pickup", "renewal"]
