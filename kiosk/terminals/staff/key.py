"""The machine's staff key: 32 random bytes in a 0600 file in the data directory
(``staff.key_file``), with which every staff PIN hash of this machine is keyed
(kiosk/core/pins.py). It is made by the first ``kiosk staff pin-hash --config FILE`` on the
machine, or by the kiosk's first start; it is never in the configuration, so that a copy of
the configuration (a backup, a support ticket, a laptop) is no use to a PIN guesser.
"""

from __future__ import annotations

import logging
from pathlib import Path

from kiosk.config import KioskConfig
from kiosk.core.pins import KEY_BYTES, StaffKey, new_staff_key
from offline_queue.crypto import read_private_file
from offline_queue.errors import KeyFileError

log = logging.getLogger(__name__)


class StaffKeyError(Exception):
    """The staff key cannot be used: unreadable, readable by others, the wrong size, or not
    the one the configured PIN hashes were made with."""


def open_staff_key(path: Path, *, create: bool = True) -> tuple[StaffKey, bool]:
    """The key in ``path`` and whether it was made just now (``create``: when absent; its
    directory too, 0700). Refuses a file others can read or that another user owns."""
    made = False

    def make() -> bytes:
        nonlocal made
        made = True
        return new_staff_key()

    if not create and not path.exists():
        raise StaffKeyError(f"no staff key at {path}")
    try:
        if create:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        secret = read_private_file(path, make)
    except (KeyFileError, OSError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise StaffKeyError(f"staff key {path}: {detail}") from None
    if len(secret) != KEY_BYTES:
        raise StaffKeyError(f"staff key {path} must hold exactly {KEY_BYTES} bytes")
    if made:
        log.info("made the machine's staff key %s", path)
    return StaffKey(secret), made


def key_mismatch(config: KioskConfig, key: StaffKey) -> str | None:
    """Why the configured PIN hashes cannot be checked with ``key`` (None: they can)."""
    wanted = config.staff.key_id
    if wanted is None or wanted == key.key_id:
        return None
    return (
        f"the staff PIN hashes were made with staff key {wanted}, but this machine's key "
        f"({config.staff_key_file}) is {key.key_id}: make them again on this machine with "
        "`kiosk staff pin-hash --config FILE`"
    )


def machine_staff_key(config: KioskConfig) -> StaffKey:
    """The key for staff mode on this machine, made on first use; raises StaffKeyError when
    it cannot be used (the gate then refuses every PIN and central is told)."""
    key, _ = open_staff_key(config.staff_key_file)
    problem = key_mismatch(config, key)
    if problem is not None:
        raise StaffKeyError(problem)
    return key
