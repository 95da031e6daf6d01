"""Staff commands' access to the machine's records (its outbox) without a running kiosk."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from kiosk.config import ConfigError
from offline_queue.errors import QueueError

T = TypeVar("T")


def on_records(open_: Callable[[], T], work: Callable[[T], int], close: Callable[[T], None]) -> int:
    """Run a staff command's ``work`` on what ``open_`` gives (a service over the machine's
    outbox): a bad configuration, or an outbox that cannot be opened, read or written, is a
    message on stderr and exit status 1."""
    try:
        records = open_()
    except (ConfigError, QueueError) as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        return work(records)
    except QueueError as exc:
        print(f"not recorded: {exc}", file=sys.stderr)
        return 1
    finally:
        close(records)
