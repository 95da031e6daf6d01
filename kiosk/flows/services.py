"""Registers the service flows of every terminal type with the terminal flow."""

from __future__ import annotations

from kiosk.flows import photo, pickup, renewal

__all__ = ["photo", "pickup", "renewal"]
