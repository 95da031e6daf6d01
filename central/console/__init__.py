"""The fleet console: a web page on the central gateway where the bureau's staff see every
machine (state, devices, today's work, consumables and their forecast), the staff alerts as
they come in, and act on a machine remotely (docs/console.md).

- ``routes``: the pages and the JSON API (an ``APIRouter`` the gateway includes) and their
  guard policies; ``auth``: sign-in, sessions, CSRF, roles, lockout; ``views``: what the
  pages show; ``forecast``: the consumables forecast; ``texts``: the words, Chinese and
  English; ``cli``: staff accounts from the command line.
"""

from __future__ import annotations

from central.console.routes import CONSOLE_POLICIES, add_console

__all__ = ["CONSOLE_POLICIES", "add_console"]
