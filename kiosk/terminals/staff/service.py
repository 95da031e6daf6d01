"""Staff mode at the machine: a PIN behind a hidden long press, then the machine's status and
the few things staff do there (send the queue now, take the kiosk out of service and back,
shut it down). The kiosk has no keyboard, so this is the only way in without a laptop.

The PIN is kept as a keyed, salted PBKDF2-SHA256 hash in the configuration (``kiosk staff
pin-hash --config FILE``; the key is the machine's staff key, kiosk/terminals/staff/key.py);
staff mode is off without one. Wrong PINs count towards a lockout that grows with each
lockout in a row, and every sign-in, lockout and action is a staff alert, so central's
monitoring sees who did what when. The check runs on the service's own worker: a PBKDF2 of
this strength takes a good part of a second, which the touch screen must not wait for.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from kiosk.config import KioskConfig
from kiosk.core.clock import Clock
from kiosk.core.pins import (
    DEMO_PIN,
    ITERATIONS,
    MIN_ITERATIONS,
    NUMBER_DIGITS,
    SCHEME,
    StaffKey,
    b64,
    hash_pin,
    parse_pin_hash,
    verify_pin,
)
from kiosk.terminals.staff.key import key_mismatch
from kiosk.terminals.staff.ports import MachinePort, MachineStatus, SignInAnswer
from offline_queue.errors import QueueError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignIn:
    accepted: bool
    attempts_left: int
    locked_s: float  # > 0: no PIN is checked for this number for this long
    just_locked: bool = False  # this attempt was the last one allowed
    streak: int = 0  # with a lockout: its place among the lockouts in a row (1: the first)
    locked_until: datetime | None = None  # with a lockout: when it ends (wall clock)
    unavailable: str = ""  # why no PIN can be checked at all (no usable staff key)
    demo_pin: bool = False  # the published demo PIN, typed at a machine in service


class GateStore(Protocol):
    """Where the gate keeps its count across restarts (the outbox's meta table)."""

    def get_meta(self, name: str) -> str | None: ...

    def set_meta(self, values: Mapping[str, str]) -> None: ...


@dataclass(frozen=True)
class LockoutPolicy:
    """``max_attempts`` wrong PINs lock a staff number for ``lockout_s``; each further lockout
    in a row (no right PIN between) twice as long as the one before, up to
    ``max_lockout_s``."""

    max_attempts: int
    lockout_s: float
    max_lockout_s: float

    def lockout(self, streak: int) -> float:
        return min(self.lockout_s * 2.0 ** min(max(streak, 1) - 1, 32), self.max_lockout_s)


@dataclass(frozen=True)
class _Claim:
    """One staff number's record (the machine's one PIN: the number "")."""

    wrong: int = 0  # wrong PINs since its last lockout or right PIN
    streak: int = 0  # lockouts in a row since its last right PIN
    until: float = 0.0  # monotonic end of its lockout


_GATE_META = "staff.gate"
_RECORD_VERSION = 2
_UNKNOWN_KEPT = 64  # numbers nobody has, kept (the oldest give way): the record stays small
_MOST_STREAK = 64  # beyond, the lockout is at its cap anyway
_MOST_RECORD_CHARS = 256 * 1024  # 500 members and 64 others take about 40 KiB
_NUMBER = re.compile(f"^[0-9]{{{NUMBER_DIGITS[0]},{NUMBER_DIGITS[1]}}}$")
_MALFORMED = "?"  # a number the pad cannot type: all such attempts share one record


class StaffGate:
    """Counts wrong PINs per staff number and locks the number guessed at. Thread-safe.

    Where staff have numbers (``[[staff.members]]``), a stranger guessing at the pad locks
    only the number they guess at: the colleagues' sign-in is untouched, and a number nobody
    has is counted like any other (an unknown number costs a PBKDF2 too, so neither timing
    nor lockouts tell which numbers exist). With the machine's one PIN, everyone shares one
    record, so a stranger can lock it - for ``max_lockout_s`` at most (see
    docs/threat-model.md). A member's own sign-in clears only their own record, so they
    cannot guess a colleague's PIN a few tries at a time.

    Lockouts run on the monotonic clock, so setting the wall clock does not end one. With a
    ``store``, the records are kept (ends as wall-clock times, the only time that survives a
    restart), so switching the machine off and on buys no guesses. A record read back is
    bounded (never more than ``max_lockout_s`` left: a clock set back). A record that cannot
    be read or makes no sense fails closed: every number is locked for ``max_lockout_s``,
    and ``keep_in`` says why, for a staff alert - a reset would hand a guesser fresh tries.
    """

    def __init__(
        self,
        credentials: Mapping[str, str],
        key: StaffKey | None,
        clock: Clock,
        policy: LockoutPolicy,
        *,
        demo_allowed: bool = False,
        unavailable: str = "",
    ) -> None:
        # Staff number -> PIN hash; "" is the machine's one PIN when there are no numbers.
        self._credentials = dict(credentials)
        self._key = key
        self._unavailable = unavailable or ("" if key is not None else "no staff key")
        self._unknown = _decoy_hash(self._credentials.values(), key) if key else ""
        self._clock = clock
        self._policy = policy
        self._demo_allowed = demo_allowed
        self._claims: dict[str, _Claim] = {}  # least recently changed first
        self._all_until = 0.0  # monotonic: every number locked until then (fail closed)
        self._store: GateStore | None = None
        self._lock = threading.Lock()

    @property
    def unavailable(self) -> str:
        """Why no PIN can be checked ("": they can)."""
        return self._unavailable

    def is_staff(self, number: str) -> bool:
        return number in self._credentials

    def keep_in(self, store: GateStore) -> str | None:
        """Keep the records in ``store``, reading back what the previous run left. Returns
        why that could not be read (every number is then locked), or None."""
        with self._lock:
            self._store = store
            try:
                saved = store.get_meta(_GATE_META)
                if saved is None:  # a new machine (or a new outbox)
                    return None
                all_left, claims = _read_record(saved, self._policy, self._wall())
            except (ValueError, TypeError, RecursionError, QueueError) as exc:
                return self._fail_closed(exc)
            now = self._clock.monotonic()
            self._all_until = now + all_left if all_left > 0 else 0.0
            self._claims = {
                number: _Claim(wrong, streak, now + left if left > 0 else 0.0)
                for number, (wrong, streak, left) in claims.items()
            }
            return None

    def _fail_closed(self, exc: Exception) -> str:
        lock_s = self._policy.max_lockout_s
        log.error("staff sign-in record unreadable (%s): locked for %.0f s", exc, lock_s)
        self._claims = {}
        self._all_until = self._clock.monotonic() + lock_s
        self._save()  # a valid record again: locked, and the count from zero after
        return (
            f"the staff sign-in record could not be read ({str(exc)[:120]}): staff sign-in "
            f"is locked for {math.ceil(lock_s / 60)} min"
        )

    def sign_in(self, pin: str, number: str = "") -> SignIn:
        if self._key is None:
            return SignIn(False, 0, 0.0, unavailable=self._unavailable)
        number = number if number == "" or _NUMBER.match(number) else _MALFORMED
        with self._lock:
            now = self._clock.monotonic()
            if now < self._all_until:
                return self._locked(self._all_until - now, 0)
            claim = self._claims.get(number, _Claim())
            if now < claim.until:
                return self._locked(claim.until - now, claim.streak)
            matched = self._verify(number, pin)
            # The published PIN never opens a machine in service, whatever its hashes say.
            demo = matched and pin == DEMO_PIN and not self._demo_allowed
            if matched and not demo:
                if self._claims.pop(number, None) is not None:
                    self._save()
                return SignIn(True, self._policy.max_attempts, 0.0)
            claim = replace(claim, wrong=claim.wrong + 1)
            if claim.wrong < self._policy.max_attempts:
                self._put(number, claim)
                return SignIn(False, self._policy.max_attempts - claim.wrong, 0.0, demo_pin=demo)
            streak = min(claim.streak + 1, _MOST_STREAK)
            lock_s = self._policy.lockout(streak)
            self._put(number, _Claim(0, streak, now + lock_s))
            return replace(self._locked(lock_s, streak), just_locked=True, demo_pin=demo)

    def _locked(self, left_s: float, streak: int) -> SignIn:
        until = self._clock.now() + timedelta(seconds=left_s)
        return SignIn(False, 0, left_s, streak=streak, locked_until=until)

    def _verify(self, number: str, pin: str) -> bool:
        assert self._key is not None
        stored = self._credentials.get(number)
        # An unknown number costs as much as a wrong PIN: timing tells nothing about which
        # numbers exist.
        matched = verify_pin(pin, stored if stored is not None else self._unknown, self._key)
        return matched and stored is not None

    def _put(self, number: str, claim: _Claim) -> None:
        self._claims.pop(number, None)
        self._claims[number] = claim  # the most recent last
        unknown = [n for n in self._claims if n not in self._credentials]
        for old in unknown[: max(0, len(unknown) - _UNKNOWN_KEPT)]:
            del self._claims[old]
        self._save()

    def _wall(self) -> float:
        return self._clock.now().timestamp()

    def _save(self) -> None:
        if self._store is None:
            return
        now, wall = self._clock.monotonic(), self._wall()

        def ends(until: float) -> float:
            return wall + (until - now) if until > now else 0.0

        record = {
            "v": _RECORD_VERSION,
            "all_until": ends(self._all_until),
            "claims": {
                number: {"wrong": c.wrong, "streak": c.streak, "until": ends(c.until)}
                for number, c in self._claims.items()
            },
        }
        try:
            self._store.set_meta({_GATE_META: json.dumps(record)})
        except QueueError as exc:
            # A full disk must not stop staff signing in; the count still holds in memory.
            log.warning("staff sign-in record not saved: %s", exc)


Saved = tuple[int, int, float]  # wrong, streak, seconds of lockout left


def _read_record(text: str, policy: LockoutPolicy, wall: float) -> tuple[float, dict[str, Saved]]:
    """The machine-wide lockout left and each number's record, from what ``_save`` wrote (or
    the previous version's ``{"wrong": ..., "locked_until": ...}``). Raises ValueError for
    anything else: the caller fails closed."""
    if len(text) > _MOST_RECORD_CHARS:
        raise ValueError("a record larger than any the gate writes")
    saved = json.loads(text)
    if not isinstance(saved, dict):
        raise ValueError("not a record")
    if "v" not in saved:
        return _read_old_record(saved, policy, wall)
    if saved.get("v") != _RECORD_VERSION or set(saved) != {"v", "all_until", "claims"}:
        raise ValueError("not a record of this version")
    claims = saved["claims"]
    if not isinstance(claims, dict) or len(claims) > _UNKNOWN_KEPT + 1_000:
        raise ValueError("claims are not a mapping of a sane size")
    out: dict[str, Saved] = {}
    for number, claim in claims.items():
        if not (number in ("", _MALFORMED) or _NUMBER.match(number)):
            raise ValueError("a staff number that cannot be")
        if not isinstance(claim, dict) or set(claim) != {"wrong", "streak", "until"}:
            raise ValueError("a claim is not a record")
        wrong = _count(claim["wrong"], 10_000)
        streak = _count(claim["streak"], _MOST_STREAK)
        left = _left(claim["until"], wall, policy)
        out[number] = (min(wrong, policy.max_attempts - 1), streak, left)
    return _left(saved["all_until"], wall, policy), out


def _read_old_record(
    saved: dict[str, Any], policy: LockoutPolicy, wall: float
) -> tuple[float, dict[str, Saved]]:
    """The previous version's record: counts per number (or one count), one lockout for all."""
    if set(saved) - {"wrong", "locked_until"}:
        raise ValueError("not a record")
    wrong = saved.get("wrong", {})
    counts = {"": wrong} if isinstance(wrong, int) and not isinstance(wrong, bool) else wrong
    if not isinstance(counts, dict):
        raise ValueError("wrong-PIN counts are not a mapping")
    out: dict[str, Saved] = {}
    for number, count in counts.items():
        if not (number == "" or _NUMBER.match(str(number))):
            raise ValueError("a staff number that cannot be")
        out[str(number)] = (min(_count(count, 10_000), policy.max_attempts - 1), 0, 0.0)
    return _left(saved.get("locked_until", 0.0), wall, policy), out


def _count(value: object, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
        raise ValueError(f"{value!r} is not a count")
    return value


def _left(until: object, wall: float, policy: LockoutPolicy) -> float:
    """Seconds of a saved lockout left: never more than the longest lockout (a clock set
    back makes an old end look far away)."""
    if isinstance(until, bool) or not isinstance(until, int | float):
        raise ValueError(f"{until!r} is not a time")
    if not math.isfinite(until) or until < 0:
        raise ValueError(f"{until!r} is not a time")
    return min(max(0.0, float(until) - wall), policy.max_lockout_s)


def _decoy_hash(hashes: Iterable[str], key: StaffKey) -> str:
    """A hash no PIN matches (random salt and digest, this machine's key id), as costly to
    check as the dearest of the configured ones: made without running PBKDF2."""
    parsed = [p for p in map(parse_pin_hash, hashes) if p is not None]
    iterations = max((p.iterations for p in parsed), default=ITERATIONS)
    return "$".join((SCHEME, key.key_id, str(iterations), b64(os.urandom(16)), b64(os.urandom(32))))


def staff_gate(
    config: KioskConfig, clock: Clock, key: StaffKey | None, key_problem: str = ""
) -> StaffGate:
    """The gate for ``config`` with the machine's staff key (None: ``key_problem`` says why
    there is none, and no PIN can be checked)."""
    s = config.staff
    policy = LockoutPolicy(s.max_attempts, s.lockout_s, s.max_lockout_s)
    if key is None:
        return StaffGate({}, None, clock, policy, unavailable=key_problem or "no staff key")
    mismatch = key_mismatch(config, key)
    if mismatch is not None:
        return StaffGate({}, None, clock, policy, unavailable=mismatch)
    credentials = dict(s.credentials)
    if s.demo_pin:  # the demo set-up's PIN, keyed like any other (cheaply: it is published)
        demo = hash_pin(DEMO_PIN, key, iterations=MIN_ITERATIONS, allow_demo=True)
        credentials = {"": demo}
    return StaffGate(credentials, key, clock, policy, demo_allowed=s.demo_pin)


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
        if result.demo_pin:
            self._machine.alert(
                "staff.demo_pin", "the published demo PIN was typed at a machine in service"
            )
        if result.just_locked:
            self._machine.alert("staff.pin_locked", self._locked_message(result, number))
        until = result.locked_until
        return SignInAnswer(
            result.accepted,
            number if result.accepted else "",
            result.attempts_left,
            math.ceil(result.locked_s / 60) if result.locked_s > 0 else 0,
            until.astimezone().strftime("%H:%M") if until is not None else "",
            bool(result.unavailable),
        )

    def _locked_message(self, result: SignIn, number: str) -> str:
        """For central: whose sign-in is locked, for how long, and how many lockouts in a
        row (a rising count is someone guessing)."""
        if number and self._gate.is_staff(number):
            whom = f"staff number {number}'s sign-in"
        elif number:
            whom = f"sign-in with number {number} (no such staff number)"
        else:
            whom = "staff mode"
        minutes = math.ceil(result.locked_s / 60)
        return (
            f"wrong staff PINs: {whom} locked for {minutes} min (lockout {result.streak} in a row)"
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
