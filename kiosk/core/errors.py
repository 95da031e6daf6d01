"""Errors of the application core. Each carries a stable code and a recovery action, like
the device layer's, so one mapping decides what the citizen sees and what staff are told."""

from __future__ import annotations


class KioskError(Exception):
    code = "kiosk.error"
    recovery = "reset"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
