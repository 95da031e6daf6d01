"""Staff mode at the machine: a PIN behind a hidden long press, then the machine's status and
the few things staff do there (send the queue now, take the kiosk out of service and back,
shut it down). The kiosk has no keyboard, so this is the only way in without a laptop.

The PIN is kept as a salted PBKDF2-SHA256 hash in the configuration (``kiosk staff
pin-hash`` makes one); staff mode is off without one. Wrong PINs count towards a lockout, and
every sign-in, lockout and action is a staff alert, so central's monitoring sees who did what
when. The check runs on the service's own worker: a PBKDF2 of this strength takes tens of
milliseconds, which the touch screen must not wait for.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from kiosk.core.clock import Clock
from kiosk.core.pins import ITERATIONS, SCHEME, b64, valid_pin_hash, verify_pin
from kiosk.terminals.staff.ports import MachinePort, MachineStatus, SignInAnswer
from offline_queue.errors import QueueError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignIn:
    accepted: bool
    attempts_left: int
    locked_s: float  # > 0: no PIN is checked for this long
    just_locked: bool = False  # this attempt was the last one allowed


class GateStore(Protocol):
    """Where the gate keeps its count across restarts (the outbox's meta table)."""

    def get_meta(self, name: str) -> str | None: ...

    def set_meta(self, values: Mapping[str, str]) -> None: ...


_GATE_META = "staff.gate"


class StaffGate:
    """Counts wrong PINs; once ``max_attempts`` have been wrong, refuses every PIN (right or
    wrong) for ``lockout_s``. Thread-safe.

    Wrong PINs are counted per staff number, and the lockout starts when they add up to
    ``max_attempts``: a member's own sign-in clears only their own count, so they cannot
    guess a colleague's PIN a few tries at a time. An unknown number is counted and costs a
    PBKDF2 like any other.

    The lockout runs on the monotonic clock, so setting the wall clock does not end it. With a
    ``store``, the counts and the lockout's end (wall-clock, the only time that survives a
    restart) are kept, so that switching the machine off and on buys no more guesses. What is
    read back is bounded: never more than ``lockout_s`` left (a clock set back, a corrupt row),
    never a negative count.
    """

    def __init__(
        self, credentials: Mapping[str, str], clock: Clock, max_attempts: int, lockout_s: float
    ) -> None:
        # Staff number -> PIN hash; "" is the machine's one PIN when there are no numbers.
        self._credentials = dict(credentials)
        self._unknown = _decoy_hash(self._credentials.values())
        self._clock = clock
        self._max = max_attempts
        self._lockout_s = lockout_s
        self._wrong: dict[str, int] = {}
        self._locked_until = 0.0  # monotonic
        self._store: GateStore | None = None
        self._lock = threading.Lock()

    def keep_in(self, store: GateStore) -> None:
        with self._lock:
            self._store = store
            try:
                saved = json.loads(store.get_meta(_GATE_META) or "{}")
                wrong = _counts(saved.get("wrong", {}))
                left = float(saved.get("locked_until", 0.0)) - self._clock.now().timestamp()
            except (ValueError, TypeError, AttributeError, OverflowError, QueueError) as exc:
                log.warning("staff sign-in count not read (%s): starting from zero", exc)
                return
            self._wrong = _bounded(wrong, self._max - 1)
            if math.isfinite(left) and left > 0:
                self._locked_until = self._clock.monotonic() + min(left, self._lockout_s)

    def sign_in(self, pin: str, number: str = "") -> SignIn:
        with self._lock:
            now = self._clock.monotonic()
            if now < self._locked_until:
                return SignIn(False, 0, self._locked_until - now)
            if self._verify(number, pin):
                self._keep({k: n for k, n in self._wrong.items() if k != number}, 0.0)
                return SignIn(True, self._max - sum(self._wrong.values()), 0.0)
            wrong = {**self._wrong, number: self._wrong.get(number, 0) + 1}
            if sum(wrong.values()) >= self._max:
                self._keep({}, now + self._lockout_s)
                return SignIn(False, 0, self._lockout_s, just_locked=True)
            self._keep(wrong, 0.0)
            return SignIn(False, self._max - sum(wrong.values()), 0.0)

    def _verify(self, number: str, pin: str) -> bool:
        stored = self._credentials.get(number)
        # An unknown number costs as much as a wrong PIN: timing tells nothing about which
        # numbers exist.
        matched = verify_pin(pin, stored if stored is not None else self._unknown)
        return matched and stored is not None

    def _keep(self, wrong: dict[str, int], locked_until: float) -> None:
        changed = (wrong, locked_until) != (self._wrong, self._locked_until)
        self._wrong, self._locked_until = wrong, locked_until
        if self._store is None or not changed:
            return
        left = max(0.0, locked_until - self._clock.monotonic())
        wall = self._clock.now().timestamp() + left if left else 0.0
        state = json.dumps({"wrong": wrong, "locked_until": wall})
        try:
            self._store.set_meta({_GATE_META: state})
        except QueueError as exc:  # a full disk must not stop staff signing in
            log.warning("staff sign-in count not saved: %s", exc)


def _decoy_hash(hashes: Iterable[str]) -> str:
    """A hash no PIN matches (random salt and digest), as costly to check as the dearest of
    the configured ones: made without running PBKDF2."""
    iterations = max(
        (int(h.split("$")[1]) for h in hashes if valid_pin_hash(h)), default=ITERATIONS
    )
    return "$".join((SCHEME, str(iterations), b64(os.urandom(16)), b64(os.urandom(32))))


def _counts(saved: object) -> dict[str, int]:
    if isinstance(saved, int):  # a single count, as kept before counts were per number
        return {"": saved}
    if not isinstance(saved, dict):
        raise ValueError("wrong-PIN counts are not a mapping")
    return {str(number): int(count) for number, count in saved.items()}


def _bounded(wrong: dict[str, int], most: int) -> dict[str, int]:
    """No negative counts, and never more in all than the last guess before the lockout."""
    out: dict[str, int] = {}
    for number, count in sorted(wrong.items()):
        take = min(max(count, 0), most - sum(out.values()))
        if take > 0:
            out[number] = take
    return out


class StaffService:
    """``StaffPort``: sign-in through the gate, the machine's status, and the buttons' work,
    which the machine (the application, owner of every part) does. Each action is done first
    and then told to central, so central hears of what was done, not of what failed."""

    def __init__(self, gate: StaffGate, machine: MachinePort) -> None:
        self._gate = gate
        self._machine = machine

    def sign_in(self, pin: str, number: str) -> SignInAnswer:
        result = self._gate.sign_in(pin, number)
        if result.accepted:
            who = f"staff {number}" if number else "staff"
            self._machine.alert("staff.sign_in", f"{who} signed in at the machine")
        elif result.just_locked:
            self._machine.alert("staff.pin_locked", "wrong staff PINs: staff mode locked")
        return SignInAnswer(
            result.accepted,
            number if result.accepted else "",
            result.attempts_left,
            max(1, round(result.locked_s / 60)) if result.locked_s else 0,
        )

    def status(self) -> MachineStatus:
        return self._machine.status()

    def sync(self, by: str) -> MachineStatus:
        return self._done("sync", self._machine.sync, by)

    def redrive(self, by: str) -> MachineStatus:
        def redrive() -> None:
            log.info("staff sent %d failed transactions again", self._machine.redrive())

        return self._done("redrive", redrive, by)

    def pause(self, by: str) -> MachineStatus:
        return self._done("out_of_service", self._machine.pause, by)

    def resume(self, by: str) -> MachineStatus:
        return self._done("in_service", self._machine.resume, by)

    def shutdown(self, by: str) -> MachineStatus:
        return self._done("shutdown", self._machine.shutdown, by)

    def _done(self, action: str, work: Callable[[], None], by: str) -> MachineStatus:
        work()
        self._machine.alert(f"staff.{action}", f"{_who(by)}: {action}")
        return self._machine.status()


def _who(number: str) -> str:
    return f"staff {number}" if number else "staff at the machine"
