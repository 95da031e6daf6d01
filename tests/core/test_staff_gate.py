"""Offline PIN guessing and the lockout (issue 24, item 11): the PIN hash is keyed with the
machine's staff key, kept outside the configuration; PINs have at least 6 digits; lockouts
grow in a row up to a bound, lock only the number guessed at, tell central, and a sign-in
record that cannot be read means locked, not a fresh count."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk import cli
from kiosk.app import KioskApp, Machine
from kiosk.config import ConfigError, load_config, parse_config
from kiosk.core.clock import ManualClock
from kiosk.core.pins import (
    DEMO_PIN,
    MIN_ITERATIONS,
    PIN_DIGITS,
    StaffKey,
    hash_pin,
    parse_pin_hash,
    pin_problem,
    verify_pin,
)
from kiosk.core.runner import InlineExecutor
from kiosk.terminals.staff.flow import STAFF_LOCKED, STAFF_PIN, STAFF_SCREEN
from kiosk.terminals.staff.key import StaffKeyError, machine_staff_key, open_staff_key
from kiosk.terminals.staff.ports import STAFF
from kiosk.terminals.staff.service import LockoutPolicy, StaffGate
from kiosk.texts import text
from kiosk.wiring import assemble, flow_runner
from offline_queue.outbox import Outbox
from tests.conftest import ROOT
from tests.disk import DiskFailing

PIN = "975310"
WRONG = "135792"
KEY = StaffKey(b"k" * 32)
PIN_HASH = hash_pin(PIN, KEY, iterations=MIN_ITERATIONS)
POLICY = LockoutPolicy(max_attempts=3, lockout_s=300, max_lockout_s=1800)


def config_with(tmp_path: Path, **staff: object) -> dict[str, object]:
    return {
        "kiosk": {"id": "STAFF-1", "terminal": "photo", "data_dir": str(tmp_path)},
        "staff": staff or {"pin_hash": PIN_HASH},
    }


def started(
    tmp_path: Path, machine: Machine, **staff: object
) -> tuple[KioskApp, ManualClock, list[tuple[str, str]]]:
    clock = ManualClock()
    config = parse_config(config_with(tmp_path, **staff))
    app = KioskApp(config, flow_runner(config, clock, clock, strict=True), machine)
    alerts: list[tuple[str, str]] = [(a["code"], a["message"]) for a in app.heartbeat()["alerts"]]
    app.runner.on_alert(lambda alert: alerts.append((alert.code, alert.message)))
    if app.staff is not None:
        app.runner.attach(STAFF, app.staff, InlineExecutor())
    app.start()
    return app, clock, alerts


def outbox_in(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox.sqlite", kiosk_id="STAFF-1", key=b"o" * 32)


# --- the keyed hash ----------------------------------------------------------------------------


def test_a_hash_from_the_configuration_alone_tells_a_guesser_nothing() -> None:
    """What the probe did in 123 s - PBKDF2 over every PIN with the salt and count from the
    file - finds nothing: the digest depends on the key, which is not in the file."""
    stored = hash_pin(PIN, KEY, iterations=MIN_ITERATIONS)
    parts = parse_pin_hash(stored)
    assert parts is not None and parts.key_id == KEY.key_id
    unkeyed = hashlib.pbkdf2_hmac("sha256", PIN.encode(), parts.salt, parts.iterations)
    assert unkeyed != parts.digest  # the right PIN, unkeyed: no match
    assert not verify_pin(PIN, stored, StaffKey(os.urandom(32)))  # another machine's key
    assert verify_pin(PIN, stored, KEY)
    assert KEY.key_id not in repr(KEY) and "kkkk" not in repr(KEY)  # no secret in a log


def test_pins_have_at_least_six_digits_and_are_not_the_first_guesses() -> None:
    assert PIN_DIGITS[0] >= 6
    for weak in ("2468", "24680", "111111", "121212", "123456", "987654", "890123", DEMO_PIN):
        assert pin_problem(weak) is not None, weak
        with pytest.raises(ValueError):
            hash_pin(weak, KEY)
    for good in ("975310", "240613", "31415926"):
        assert pin_problem(good) is None


def test_an_unkeyed_hash_from_before_is_refused_with_what_to_do(tmp_path: Path) -> None:
    old = (
        "pbkdf2-sha256$600000$UOvnNg+KMnVaYte0rVboKQ==$HUz1XsmY7YBljNVOahZLjDaGQrd7oFteNr60JvAgCuU="
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(config_with(tmp_path, pin_hash=old))
    assert "kiosk staff pin-hash --config" in " ".join(caught.value.problems)


def test_the_staff_key_is_a_private_file_made_once(tmp_path: Path) -> None:
    path = tmp_path / "data" / "staff.key"
    key, made = open_staff_key(path)
    assert made and (path.stat().st_mode & 0o777) == 0o600
    again, made_again = open_staff_key(path)
    assert again == key and not made_again
    path.chmod(0o640)  # readable by the group: a secret no more
    with pytest.raises(StaffKeyError, match="group/others"):
        open_staff_key(path)
    path.chmod(0o600)
    path.write_bytes(b"short")
    with pytest.raises(StaffKeyError, match="32 bytes"):
        open_staff_key(path)


def test_hashes_made_on_another_machine_are_named_as_such(tmp_path: Path) -> None:
    config = parse_config(config_with(tmp_path))  # hashed with KEY; this machine has another
    with pytest.raises(StaffKeyError, match=f"made with staff key {KEY.key_id}"):
        machine_staff_key(config)
    assert (tmp_path / "staff.key").exists()  # the machine's own key was made meanwhile


def test_config_check_on_the_machine_tells_a_foreign_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(
        f'[kiosk]\nid = "STAFF-1"\nterminal = "photo"\ndata_dir = "{tmp_path}"\n'
        f'[staff]\npin_hash = "{PIN_HASH}"\n'
    )
    assert cli.main(["config", "check", str(path)]) == 0  # no key here yet: only a note
    assert "no staff key" in capsys.readouterr().err
    open_staff_key(tmp_path / "staff.key")  # this machine's own key
    assert cli.main(["config", "check", str(path)]) == 1
    assert f"made with staff key {KEY.key_id}" in capsys.readouterr().err
    (tmp_path / "staff.key").write_bytes(KEY.secret)  # the key they were made with
    assert cli.main(["config", "check", str(path)]) == 0


def test_pin_hash_migrates_a_configuration_refused_for_its_old_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A machine's configuration with the old 4-digit PIN's unkeyed hash no longer loads; the
    command still finds the machine's key through it and prints the new line."""
    old = (
        "pbkdf2-sha256$600000$UOvnNg+KMnVaYte0rVboKQ==$HUz1XsmY7YBljNVOahZLjDaGQrd7oFteNr60JvAgCuU="
    )
    machine = tmp_path / "kiosk.toml"
    head = f'[kiosk]\nid = "STAFF-1"\nterminal = "photo"\ndata_dir = "{tmp_path / "var"}"\n'
    machine.write_text(head + f'[staff]\npin_hash = "{old}"\n')
    with pytest.raises(ConfigError):
        load_config(machine)
    monkeypatch.setattr("sys.stdin", io.StringIO("2468\n"))  # the old PIN: too short now
    assert cli.main(["staff", "pin-hash", "--config", str(machine)]) == 1
    assert "6-12 digits" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("240613\n"))
    assert cli.main(["staff", "pin-hash", "--config", str(machine)]) == 0
    machine.write_text(head + capsys.readouterr().out)
    config = load_config(machine)
    key = machine_staff_key(config)
    assert verify_pin("240613", config.staff.pin_hash, key)


def test_pin_hash_as_a_provisioning_script_uses_it() -> None:
    """``echo PIN | kiosk staff pin-hash --key-file F``, as a script on the machine runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "ui.main", "staff", "pin-hash", "--config", "/nonexistent.toml"],
        input="240613\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "cannot read file" in result.stderr


# --- the lockout -------------------------------------------------------------------------------


def lock(gate: StaffGate, number: str = "") -> float:
    """Wrong PINs until the number locks; how long it locked for."""
    for _ in range(POLICY.max_attempts):
        result = gate.sign_in(WRONG, number)
    assert result.just_locked
    return result.locked_s


def test_each_lockout_in_a_row_is_longer_up_to_a_bound() -> None:
    clock = ManualClock()
    gate = StaffGate({"": PIN_HASH}, KEY, clock, POLICY)
    lengths = []
    for _ in range(6):
        lengths.append(lock(gate))
        clock.advance(lengths[-1])
    assert lengths == [300, 600, 1200, 1800, 1800, 1800]
    assert gate.sign_in(PIN).accepted  # the right PIN ends the row
    assert lock(gate) == 300


def test_a_stranger_guessing_locks_the_number_guessed_at_not_the_colleagues() -> None:
    clock = ManualClock()
    other = hash_pin("864209", KEY, iterations=MIN_ITERATIONS)
    gate = StaffGate({"1024": PIN_HASH, "2048": other}, KEY, clock, POLICY)
    assert lock(gate, "2048") == 300
    assert not gate.sign_in("864209", "2048").accepted  # 2048 is locked, right PIN or not
    assert lock(gate, "5555") == 300  # a number nobody has locks the same way
    for number in ("7777", "8888", "3333", "4444"):  # the stranger tries more numbers
        lock(gate, number)
    assert gate.sign_in(PIN, "1024").accepted  # the colleague gets in throughout
    assert gate.is_staff("2048") and not gate.is_staff("5555")
    clock.advance(300)
    assert gate.sign_in("864209", "2048").accepted  # and 2048 after their lockout


def test_a_stranger_keeps_the_one_pin_locked_no_longer_than_the_bound() -> None:
    clock = ManualClock()
    gate = StaffGate({"": PIN_HASH}, KEY, clock, POLICY)
    for _ in range(20):  # a stranger comes back for hours
        clock.advance(lock(gate))
    lock(gate)  # and goes
    clock.advance(POLICY.max_lockout_s)
    assert gate.sign_in(PIN).accepted


def test_unknown_numbers_do_not_grow_the_record_without_bound(tmp_path: Path) -> None:
    clock = ManualClock()
    outbox = outbox_in(tmp_path)
    try:
        gate = StaffGate({"1024": PIN_HASH}, KEY, clock, POLICY)
        gate.keep_in(outbox)
        gate.sign_in(WRONG, "1024")
        for number in range(100_000, 100_200):
            gate.sign_in(WRONG, str(number))
        record = json.loads(outbox.get_meta("staff.gate") or "{}")
        assert len(record["claims"]) <= 65 and record["claims"]["1024"]["wrong"] == 1
    finally:
        outbox.close()


@pytest.mark.parametrize(
    "saved",
    [
        "not json",
        "[]",
        '{"v": 2, "all_until": 0}',
        '{"v": 2, "all_until": 0, "claims": {"": {"wrong": -5, "streak": 0, "until": 0}}}',
        '{"v": 2, "all_until": 0, "claims": {"": {"wrong": 1, "streak": 0, "until": NaN}}}',
        '{"v": 2, "all_until": Infinity, "claims": {}}',
        '{"v": 2, "all_until": 0, "claims": {"x1": {"wrong": 1, "streak": 0, "until": 0}}}',
        '{"v": 3, "all_until": 0, "claims": {}}',
        '{"wrong": -1000, "locked_until": 0}',  # the previous version's record, damaged
        '{"wrong": 0, "locked_until": Infinity}',
        pytest.param("[" * 100_000 + "]" * 100_000, id="deeper-than-the-json-reader-goes"),
    ],
)
def test_a_record_that_makes_no_sense_means_locked_and_an_alert(tmp_path: Path, saved: str) -> None:
    outbox = outbox_in(tmp_path)
    try:
        outbox.set_meta({"staff.gate": saved})
        app, clock, alerts = started(tmp_path, Machine(outbox=outbox, staff_key=KEY))
        assert [code for code, _ in alerts] == ["staff.gate_record"]
        assert "locked for 30 min" in alerts[0][1]
        app.intent("staff")
        app.intent("pin", pin=PIN)
        assert app.flow.state == STAFF_LOCKED  # the right PIN too: no fresh count
        # The record is valid again (locked): a restart does not undo it either.
        restarted = StaffGate({"": PIN_HASH}, KEY, clock, POLICY)
        assert restarted.keep_in(outbox) is None
        assert not restarted.sign_in(PIN).accepted
        clock.advance(POLICY.max_lockout_s)
        assert restarted.sign_in(PIN).accepted  # bounded: staff get back in
    finally:
        outbox.close()


def test_an_unreadable_record_means_locked(tmp_path: Path) -> None:
    outbox = outbox_in(tmp_path)
    try:
        outbox._conn = DiskFailing(outbox._conn, "SELECT value FROM meta", 1)  # type: ignore[assignment]
        gate = StaffGate({"": PIN_HASH}, KEY, ManualClock(), POLICY)
        problem = gate.keep_in(outbox)
        assert problem is not None and "could not be read" in problem
        assert gate.sign_in(PIN).locked_s == POLICY.max_lockout_s
    finally:
        outbox.close()


@pytest.mark.parametrize(
    ("saved", "locked_s", "attempts_left"),
    [
        # Saved when the clock read 25 years later (a dead RTC battery now): at most the bound.
        ('{"wrong": 0, "locked_until": 1e12}', 1800, 0),
        ('{"wrong": 99, "locked_until": 0}', 300, 0),  # at most the last allowed guess
        ('{"wrong": {"": 1}, "locked_until": 0}', 0, 1),  # the previous version's record
        (
            '{"v": 2, "all_until": 0, "claims": {"": {"wrong": 2, "streak": 3, "until": 0}}}',
            1800,
            0,
        ),
    ],
)
def test_a_saved_record_is_read_back_within_bounds(
    tmp_path: Path, saved: str, locked_s: float, attempts_left: int
) -> None:
    outbox = outbox_in(tmp_path)
    try:
        outbox.set_meta({"staff.gate": saved})
        gate = StaffGate({"": PIN_HASH}, KEY, ManualClock(), POLICY)
        assert gate.keep_in(outbox) is None
        result = gate.sign_in(WRONG)
        assert (result.attempts_left, round(result.locked_s)) == (attempts_left, locked_s)
    finally:
        outbox.close()


def test_escalation_survives_a_restart(tmp_path: Path) -> None:
    clock = ManualClock()
    outbox = outbox_in(tmp_path)
    try:
        gate = StaffGate({"": PIN_HASH}, KEY, clock, POLICY)
        gate.keep_in(outbox)
        clock.advance(lock(gate))
        after = StaffGate({"": PIN_HASH}, KEY, clock, POLICY)
        after.keep_in(outbox)
        assert lock(after) == 600  # the second in a row, though the machine restarted
    finally:
        outbox.close()


# --- at the machine ----------------------------------------------------------------------------


def test_lockouts_in_a_row_tell_central_how_long_and_which(tmp_path: Path) -> None:
    other = hash_pin("864209", KEY, iterations=MIN_ITERATIONS)
    members = [{"number": "1024", "pin_hash": PIN_HASH}, {"number": "2048", "pin_hash": other}]
    app, clock, alerts = started(tmp_path, Machine(staff_key=KEY), members=members)
    app.intent("language", language="en")
    for number in ("2048", "2048", "9999"):
        app.intent("staff")
        for _ in range(3):
            app.intent("pin", number=number, pin=WRONG)
        assert app.flow.state == STAFF_LOCKED
        assert app.view is not None
        minutes = app.view.view.values["minutes"]
        shown = text("staff.locked.body", "en", **dict(app.view.view.values))
        assert shown.startswith(f"Too many wrong PINs. Try again in {minutes} min (after ")
        clock.advance(minutes * 60)
    assert [m for code, m in alerts if code == "staff.pin_locked"] == [
        "wrong staff PINs: staff number 2048's sign-in locked for 5 min (lockout 1 in a row)",
        "wrong staff PINs: staff number 2048's sign-in locked for 10 min (lockout 2 in a row)",
        "wrong staff PINs: sign-in with number 9999 (no such staff number) locked for 5 min "
        "(lockout 1 in a row)",
    ]
    app.intent("staff")
    app.intent("pin", number="1024", pin=PIN)
    assert app.flow.state == STAFF_SCREEN


def test_without_a_usable_staff_key_no_pin_opens_and_central_is_told(tmp_path: Path) -> None:
    problem = "the staff PIN hashes were made with staff key 0badc0de, ..."
    app, _, alerts = started(tmp_path, Machine(staff_key_problem=problem))
    assert alerts == [("staff.key", f"staff sign-in unavailable: {problem}")]
    app.intent("staff")
    app.intent("pin", pin=PIN)
    assert app.flow.state == STAFF_LOCKED and app.view is not None
    assert app.view.view.body == ("staff.unavailable.body",)


def test_the_published_demo_pin_never_opens_a_machine_in_service(tmp_path: Path) -> None:
    demo = hash_pin(DEMO_PIN, KEY, iterations=MIN_ITERATIONS, allow_demo=True)
    app, _, alerts = started(tmp_path, Machine(staff_key=KEY), pin_hash=demo)
    app.intent("staff")
    app.intent("pin", pin=DEMO_PIN)
    assert app.flow.state == STAFF_PIN and "staff.demo_pin" in [code for code, _ in alerts]


def test_the_demo_set_up_opens_with_the_demo_pin_and_makes_its_key(tmp_path: Path) -> None:
    """``bash scripts/bootstrap.sh run`` with a sample configuration: the key is made in the
    data directory at the first start, the demo PIN opens staff mode."""
    config = load_config(ROOT / "configs" / "photo.toml")
    config = config.model_copy(
        update={"kiosk": config.kiosk.model_copy(update={"data_dir": str(tmp_path)})}
    )
    clock = ManualClock()
    kiosk = assemble(config, clock, clock, devices=False)
    try:
        assert ((tmp_path / "staff.key").stat().st_mode & 0o777) == 0o600
        assert kiosk.app.staff is not None
        kiosk.app.runner.attach(STAFF, kiosk.app.staff, InlineExecutor())
        kiosk.start()
        kiosk.app.intent("staff")
        kiosk.app.intent("pin", pin=DEMO_PIN)
        assert kiosk.app.flow.state == STAFF_SCREEN
    finally:
        kiosk.stop()
