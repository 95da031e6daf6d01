"""Staff mode at the machine: the PIN and its lockout, the status staff see, and what their
buttons do (out of service and back, send now, shut down), driven through the flow."""

from __future__ import annotations

import io
import logging
import sys
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from kiosk import cli
from kiosk.app import KioskApp, Machine
from kiosk.config import ConfigError, KioskConfig, parse_config
from kiosk.core.clock import ManualClock
from kiosk.core.engine import Event
from kiosk.core.pins import MIN_ITERATIONS, StaffKey, hash_pin, valid_pin_hash, verify_pin
from kiosk.core.runner import Dispatcher, InlineExecutor, QueueDispatcher
from kiosk.terminals.staff.flow import STAFF_LOCKED, STAFF_PIN
from kiosk.terminals.staff.flow import STAFF_SCREEN as STAFF
from kiosk.terminals.staff.ports import STAFF as STAFF_PORT
from kiosk.terminals.staff.service import LockoutPolicy, StaffGate, _decoy_hash
from kiosk.terminals.terminal import Equipment
from kiosk.texts import text
from kiosk.wiring import flow_runner
from offline_queue.outbox import Outbox
from tests.core.clocks import WallClock
from tests.disk import DiskFailing

PIN = "975310"
WRONG = "135792"
KEY = StaffKey(b"k" * 32)  # the machine's staff key (a file in the data directory)
# The fewest iterations a configuration accepts: the tests check the logic, not PBKDF2's cost.
PIN_HASH = hash_pin(PIN, KEY, iterations=MIN_ITERATIONS)
OTHER_PIN = "864209"
OTHER_HASH = hash_pin(OTHER_PIN, KEY, iterations=MIN_ITERATIONS)
POLICY = LockoutPolicy(max_attempts=3, lockout_s=300, max_lockout_s=1800)


def gate(credentials: dict[str, str], clock: object, **policy: float) -> StaffGate:
    return StaffGate(credentials, KEY, clock, replace(POLICY, **policy))  # type: ignore[arg-type]


def staff_config(tmp_path: Path, **staff: object) -> KioskConfig:
    return parse_config(
        {
            "kiosk": {"id": "STAFF-1", "terminal": "photo", "data_dir": str(tmp_path)},
            "staff": {"pin_hash": PIN_HASH, **staff},
        }
    )


def kiosk(
    config: KioskConfig,
    clock: ManualClock,
    machine: Machine | None = None,
    dispatcher: Dispatcher | None = None,
    worker: object = None,
) -> KioskApp:
    """A strict kiosk (an unhandled event raises) whose staff service answers at once, or
    on ``worker``; the machine's staff key is ``KEY`` unless ``machine`` says otherwise."""
    runner = flow_runner(config, clock, clock, dispatcher, strict=True)
    machine = machine or Machine()
    if machine.staff_key is None and not machine.staff_key_problem:
        machine.staff_key = KEY
    app = KioskApp(config, runner, machine)
    assert app.staff is not None
    app.runner.attach(STAFF_PORT, app.staff, worker or InlineExecutor())
    return app


def staff_app(
    tmp_path: Path, machine: Machine | None = None, **staff: object
) -> tuple[KioskApp, ManualClock, list[str]]:
    clock = ManualClock()
    app = kiosk(staff_config(tmp_path, **staff), clock, machine)
    alerts: list[str] = []
    app.runner.on_alert(lambda alert: alerts.append(alert.code))
    app.start()
    return app, clock, alerts


def state(app: KioskApp) -> str:
    assert app.view is not None
    return app.view.state


def lines(app: KioskApp, language: str = "en") -> list[str]:
    assert app.view is not None
    values = dict(app.view.view.values)
    return [text(key, language, **values) for key in app.view.view.body]


def test_pin_hash_round_trip_and_refusals() -> None:
    stored = hash_pin("135790", KEY)
    assert valid_pin_hash(stored) and stored.startswith(f"pbkdf2-sha256-keyed${KEY.key_id}$600000$")
    assert verify_pin("135790", stored, KEY)
    assert not verify_pin("135791", stored, KEY)
    assert hash_pin("135790", KEY) != stored  # salted
    for bad in ("12345", "1234567890123", "12a456", "１３５７９０"):
        with pytest.raises(ValueError):
            hash_pin(bad, KEY)
    with pytest.raises(ValueError):
        hash_pin("135790", KEY, iterations=MIN_ITERATIONS - 1)
    for broken in ("", "246810", "pbkdf2-sha256-keyed$x$a$b$c", stored.replace("$", "$$", 1)):
        assert not valid_pin_hash(broken) and not verify_pin("135790", broken, KEY)


def test_a_configuration_with_an_unreadable_pin_hash_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        staff_config(tmp_path, pin_hash="246810")
    assert "staff" in " ".join(caught.value.problems)


def test_the_demo_pin_only_beside_the_demo_central(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"kiosk": {"id": "STAFF-1", "terminal": "photo"}, "staff": {"demo_pin": True}})
    assert "demo" in " ".join(caught.value.problems)
    config = parse_config(
        {
            "kiosk": {"id": "STAFF-1", "terminal": "photo"},
            "central": {"embedded": True},
            "staff": {"demo_pin": True},
        }
    )
    assert config.staff.enabled and config.staff.credentials == {}


def test_without_a_pin_there_is_no_staff_mode(tmp_path: Path) -> None:
    clock = ManualClock()
    config = parse_config({"kiosk": {"id": "STAFF-1", "terminal": "photo"}})
    app = KioskApp(config, flow_runner(config, clock, clock), Machine())
    app.start()
    app.intent("staff")
    assert app.staff is None and state(app) == "attract"


def test_wrong_pins_lock_staff_mode_even_for_the_right_one() -> None:
    clock = ManualClock()
    staff = gate({"": PIN_HASH}, clock)
    assert [staff.sign_in(WRONG).attempts_left for _ in range(2)] == [2, 1]
    third = staff.sign_in(WRONG)
    assert (third.accepted, third.just_locked, third.locked_s) == (False, True, 300)
    clock.advance(299)
    assert not staff.sign_in(PIN).accepted  # the right PIN, but locked
    clock.advance(1)
    assert staff.sign_in(PIN).accepted


def test_a_restart_does_not_buy_more_guesses(tmp_path: Path) -> None:
    clock = ManualClock()
    outbox = Outbox(tmp_path / "outbox.sqlite", kiosk_id="STAFF-1", key=b"k" * 32)
    try:
        first = gate({"": PIN_HASH}, clock)
        first.keep_in(outbox)
        assert first.sign_in(WRONG).attempts_left == 2
        assert first.sign_in(WRONG).attempts_left == 1
        after_restart = gate({"": PIN_HASH}, clock)
        assert after_restart.keep_in(outbox) is None
        assert after_restart.sign_in(WRONG).just_locked
        again = gate({"": PIN_HASH}, clock)
        again.keep_in(outbox)
        assert not again.sign_in(PIN).accepted  # still locked after another restart
        clock.advance(300)
        assert again.sign_in(PIN).accepted
    finally:
        outbox.close()


def test_setting_the_wall_clock_does_not_end_a_lockout() -> None:
    clock = WallClock()
    staff = gate({"": PIN_HASH}, clock, max_attempts=1)
    assert staff.sign_in(WRONG).just_locked
    clock.at += timedelta(hours=2)  # an NTP step, or a hand on the clock
    assert not staff.sign_in(PIN).accepted
    clock.mono += 300
    assert staff.sign_in(PIN).accepted


def test_sign_in_from_the_attract_loop_and_out_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app, _, alerts = staff_app(tmp_path)
    app.intent("staff")
    assert state(app) == STAFF_PIN and app.view is not None and app.view.screen == "pin"
    app.intent("pin", pin=WRONG)
    assert state(app) == STAFF_PIN
    assert app.view.view.error == "staff.pin.wrong"
    assert app.view.view.values == {"attempts_left": 2}
    app.intent("pin", pin=PIN)
    assert state(app) == STAFF and alerts == ["staff.sign_in"]
    assert lines(app)[0] == "Central system: answering"
    assert "Waiting to send: 0" in lines(app)[1]
    assert lines(app)[-1] == "Service: in service"
    # The PIN went from the intent to the service: nowhere to be read afterwards.
    assert PIN not in repr(app.flow.context) and PIN not in caplog.text
    assert all(PIN not in a["message"] for a in app.heartbeat()["alerts"])
    app.intent("back")
    assert state(app) == "attract"
    app.runner.handle(Event("staff.status.ok"))  # a reply that comes late: no effect
    assert state(app) == "attract"


def test_three_wrong_pins_lock_and_tell_central_for_how_long(tmp_path: Path) -> None:
    app, clock, alerts = staff_app(tmp_path, lockout_s=120)
    app.intent("language", language="en")
    app.intent("staff")
    for _ in range(3):
        app.intent("pin", pin=WRONG)
    assert state(app) == STAFF_LOCKED and alerts == ["staff.pin_locked"]
    until = (clock.now() + timedelta(seconds=120)).astimezone().strftime("%H:%M")
    assert app.view is not None and app.view.view.values == {"minutes": 2, "until": until}
    assert lines(app) == [
        f"Too many wrong PINs. Try again in 2 min (after {until}). Central has been told."
    ]
    [alert] = app.heartbeat()["alerts"]
    assert alert["message"] == (
        "wrong staff PINs: staff mode locked for 2 min (lockout 1 in a row)"
    )
    clock.advance(app.config.timeouts.message_s * 2)
    assert state(app) == "attract"
    app.intent("staff")
    app.intent("pin", pin=PIN)
    assert state(app) == STAFF_LOCKED  # still locked: the right PIN does not help
    app.set_unavailable("device.printer", "oos.device", device="printer", detail="paper out")
    app.set_available("device.printer")  # a device coming and going: the message stays
    assert state(app) == STAFF_LOCKED


def test_the_hold_means_nothing_in_the_middle_of_a_service(tmp_path: Path) -> None:
    app, _, _ = staff_app(tmp_path)
    app.intent("start")
    app.intent("select", service="photo")
    serving = state(app)
    app.intent("staff")
    assert state(app) == serving


def test_the_status_follows_out_of_service_applied_on_the_flow_thread(tmp_path: Path) -> None:
    """As in the kiosk: the staff service answers on its worker, the change and the answer
    reach the flow through the dispatcher, in whatever order the threads make."""
    clock = ManualClock()
    dispatcher = QueueDispatcher()
    worker = ThreadPoolExecutor(1)
    app = kiosk(staff_config(tmp_path), clock, dispatcher=dispatcher, worker=worker)
    app.start()

    def shows(last_line: str) -> None:
        deadline = time.monotonic() + 60
        while not (state(app) == STAFF and app.view and app.view.view.buttons):
            assert time.monotonic() < deadline, state(app)
            dispatcher.drain(wait_s=0.02)
        while lines(app)[-1] != last_line:
            assert time.monotonic() < deadline, lines(app)[-1]
            dispatcher.drain(wait_s=0.02)

    try:
        app.intent("staff")
        app.intent("pin", pin=PIN)
        shows("Service: in service")
        app.intent("staff_pause")
        shows("Service: taken out of service by staff")
        assert "staff" in app.unavailable
        app.intent("staff_resume")
        shows("Service: in service")
        assert "staff" not in app.unavailable
    finally:
        worker.shutdown()


def test_staff_take_the_machine_out_of_service_and_back(tmp_path: Path) -> None:
    app, _, alerts = staff_app(tmp_path)
    app.intent("start")
    app.intent("staff")  # from the menu too
    app.intent("pin", pin=PIN)
    app.intent("staff_pause")
    assert state(app) == STAFF  # staff stay in staff mode meanwhile
    assert lines(app)[-1] == "Service: taken out of service by staff"
    assert app.view is not None
    assert "staff_resume" in [b.intent for b in app.view.view.buttons]
    app.intent("back")
    assert state(app) == "out_of_service"
    assert app.view.view.reason_key == "oos.staff"
    app.intent("staff")  # staff mode is reachable while out of service
    app.intent("pin", pin=PIN)
    app.intent("staff_resume")
    app.intent("back")
    assert state(app) == "attract"
    assert alerts == ["staff.sign_in", "staff.out_of_service", "staff.sign_in", "staff.in_service"]


def test_status_shows_the_queue_devices_faults_and_a_silent_central(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite", kiosk_id="STAFF-1", key=b"k" * 32)
    app, _, _ = staff_app(tmp_path, Machine(outbox=outbox))
    try:
        outbox.put("photo.captured", {"n": 1})
        outbox.put("photo.captured", {"n": 2})
        app.set_central_link(False)
        app.set_unavailable("device.printer", "oos.device", device="printer", detail="paper out")
        app.intent("staff")
        app.intent("pin", pin=PIN)
        assert lines(app, "zh")[-1] == "服务状态：暂停（凭条打印机）"
        app.intent("language", language="en")  # names follow the screen's language
        shown = lines(app)
        assert shown[0].startswith("Central system: NOT answering")
        assert shown[1].startswith("Waiting to send: 2 (the oldest for 0 min); failed: 0")
        assert shown[-1] == "Service: OUT (Receipt printer)"
        app.intent("language", language="zh")
        assert lines(app, "zh")[0].startswith("中心系统：无应答")
    finally:
        outbox.close()


@contextmanager
def signed_in_with_a_refused_entry(
    tmp_path: Path,
) -> Iterator[tuple[KioskApp, Outbox, str, list[str]]]:
    """Staff signed in on a machine whose outbox holds one entry central refused for good."""
    outbox = Outbox(tmp_path / "outbox.sqlite", kiosk_id="STAFF-1", key=b"k" * 32)
    app, _, alerts = staff_app(tmp_path, Machine(outbox=outbox))
    try:
        refused = outbox.put("photo.captured", {"n": 1})
        outbox.bury(outbox.claim(1, lease_s=30)[0], "central.http_422: refused")
        app.intent("staff")
        app.intent("pin", pin=PIN)
        yield app, outbox, refused, alerts
    finally:
        outbox.close()


def test_staff_send_the_failed_transactions_again(tmp_path: Path) -> None:
    with signed_in_with_a_refused_entry(tmp_path) as (app, outbox, refused, alerts):
        assert "failed: 1" in lines(app)[1]
        assert app.view is not None
        assert "staff_redrive" in [b.intent for b in app.view.view.buttons]
        app.intent("staff_redrive")
        assert outbox.entry(refused).state == "pending"
        assert state(app) == STAFF and app.view.view.note == "staff.redrive.started"
        assert "failed: 0" in lines(app)[1]
        # Nothing failed any more: the button goes.
        assert "staff_redrive" not in [b.intent for b in app.view.view.buttons]
        assert alerts == ["staff.sign_in", "staff.redrive"]


def test_a_send_again_that_fails_says_so_and_central_hears_nothing(tmp_path: Path) -> None:
    with signed_in_with_a_refused_entry(tmp_path) as (app, outbox, refused, alerts):
        disk = DiskFailing(
            outbox._conn, "UPDATE entries SET state='pending'", 1, "database or disk is full"
        )
        outbox._conn = disk  # type: ignore[assignment]
        app.intent("staff_redrive")
        assert state(app) == STAFF and app.view is not None
        assert app.view.view.note == "staff.redrive.failed"
        note = text("staff.redrive.failed", "en", **dict(app.view.view.values))
        assert note.startswith("Could not queue them again: ") and "full" in note
        assert outbox.entry(refused).state == "dead" and "failed: 1" in lines(app)[1]
        assert alerts == ["staff.sign_in"]


def test_a_pickup_machine_shows_the_documents_to_reconcile(tmp_path: Path) -> None:
    app, _, _ = staff_app(tmp_path, Machine(equipment=Equipment(to_reconcile=lambda: 2)))
    app.intent("language", language="en")
    app.intent("staff")
    app.intent("pin", pin=PIN)
    assert "Documents to check: 2 (captured, or hand-over unconfirmed" in lines(app)[-2]


def members_app(tmp_path: Path) -> tuple[KioskApp, list[str]]:
    clock = ManualClock()
    config = parse_config(
        {
            "kiosk": {"id": "STAFF-1", "terminal": "photo", "data_dir": str(tmp_path)},
            "staff": {
                "members": [
                    {"number": "1024", "pin_hash": PIN_HASH},
                    {"number": "2048", "pin_hash": OTHER_HASH},
                ]
            },
        }
    )
    app = kiosk(config, clock)
    messages: list[str] = []
    app.runner.on_alert(lambda alert: messages.append(alert.message))
    app.start()
    return app, messages


def test_members_sign_in_with_their_number_and_own_pin_and_are_named(tmp_path: Path) -> None:
    app, messages = members_app(tmp_path)
    app.intent("language", language="en")
    app.intent("staff")
    assert app.view is not None and app.view.view.ask_number is True
    app.intent("pin", number="2048", pin=PIN)  # another member's PIN: refused
    assert state(app) == STAFF_PIN and app.view.view.values == {"attempts_left": 2}
    app.intent("pin", number="4096", pin=PIN)  # a number nobody has: refused the same way
    assert state(app) == STAFF_PIN and app.view.view.values == {"attempts_left": 2}
    app.intent("pin", number="1024", pin=PIN)
    assert state(app) == STAFF and lines(app)[0] == "Signed in: staff 1024"
    app.intent("staff_pause")
    assert messages == ["staff 1024 signed in at the machine", "staff 1024: out_of_service"]
    app.intent("back")
    app.intent("staff")
    app.intent("pin", number="2048", pin=OTHER_PIN)
    assert lines(app)[0] == "Signed in: staff 2048"


def test_a_member_cannot_guess_a_colleagues_pin_between_own_sign_ins() -> None:
    clock = ManualClock()
    staff = gate({"1024": PIN_HASH, "2048": OTHER_HASH}, clock)
    assert staff.sign_in("111111", "2048").attempts_left == 2
    assert staff.sign_in("222222", "2048").attempts_left == 1
    assert staff.sign_in(PIN, "1024").accepted  # their own: clears their count only
    assert staff.sign_in("333333", "2048").just_locked  # the third guess at 2048's PIN locks
    assert not staff.sign_in(OTHER_PIN, "2048").accepted


def test_an_unknown_number_costs_what_the_dearest_known_one_does() -> None:
    cheap = OTHER_HASH
    dear = hash_pin(OTHER_PIN, KEY, iterations=MIN_ITERATIONS * 2)
    decoy = _decoy_hash([cheap, dear], KEY)
    assert valid_pin_hash(decoy) and decoy.split("$")[2] == str(MIN_ITERATIONS * 2)
    assert decoy.split("$")[1] == KEY.key_id  # checked like a real one, not refused at once
    assert not verify_pin(OTHER_PIN, decoy, KEY) and _decoy_hash([cheap, dear], KEY) != decoy


def test_a_member_without_a_pin_hash_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        parse_config(
            {
                "kiosk": {"id": "STAFF-1", "terminal": "photo"},
                "staff": {"members": [{"number": "1024", "pin_hash": ""}]},
            }
        )


def test_with_the_machines_one_pin_the_alerts_say_staff_at_the_machine(tmp_path: Path) -> None:
    app = kiosk(staff_config(tmp_path), ManualClock())
    messages: list[str] = []
    app.runner.on_alert(lambda alert: messages.append(alert.message))
    app.start()
    app.intent("staff")
    app.intent("pin", pin=PIN)
    app.intent("staff_sync")
    assert messages == ["staff signed in at the machine", "staff at the machine: sync"]


def test_send_now_and_shut_down(tmp_path: Path) -> None:
    stopped: list[bool] = []
    app, _, alerts = staff_app(tmp_path, Machine(shutdown=lambda: stopped.append(True)))
    app.intent("staff")
    app.intent("pin", pin=PIN)
    app.intent("staff_sync")  # no sync worker here: nothing to wake, the status comes back
    assert state(app) == STAFF and app.view is not None
    assert app.view.view.note == "staff.sync.started"
    app.intent("staff_refresh")
    assert state(app) == STAFF and app.view.view.note is None
    app.intent("staff_shutdown")
    assert stopped == [] and app.view is not None  # once: asks to press again
    assert app.view.view.buttons[0].label == "staff.shutdown_confirm"
    app.intent("staff_sync")  # anything else in between: asks again
    app.intent("staff_shutdown")
    assert stopped == []
    app.intent("staff_shutdown")
    assert stopped == [True]
    assert alerts == ["staff.sign_in", "staff.sync", "staff.sync", "staff.shutdown"]


def test_a_test_print_without_a_printer_says_why(tmp_path: Path) -> None:
    app, _, _ = staff_app(tmp_path)
    app.intent("staff")
    app.intent("pin", pin=PIN)
    app.intent("staff_test_print")
    assert state(app) == STAFF and app.view is not None
    assert app.view.view.note == "staff.test_print.failed"
    assert app.view.view.values["detail"] == "printer"  # no printer service here
    app.intent("back")
    app.intent("staff")
    app.intent("pin", pin=PIN)
    assert app.view.view.note is None  # a new visit starts clean


def test_the_pin_screen_gives_up_after_a_minute(tmp_path: Path) -> None:
    app, clock, _ = staff_app(tmp_path)
    app.intent("staff")
    clock.advance(60)
    assert state(app) == "attract"


@pytest.mark.parametrize("number", [None, "1024"])
def test_pin_hash_prints_a_section_the_configuration_accepts(
    number: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    machine = tmp_path / "kiosk.toml"
    data = tmp_path / "data"
    machine.write_text(f'[kiosk]\nid = "STAFF-1"\nterminal = "photo"\ndata_dir = "{data}"\n')
    monkeypatch.setattr("sys.stdin", io.StringIO("135790\n"))
    argv = [
        "staff",
        "pin-hash",
        "--config",
        str(machine),
        *(["--number", number] if number else []),
    ]
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert "135790" not in out + err
    staff = tomllib.loads(out)["staff"]
    config = parse_config(
        {"kiosk": {"id": "STAFF-1", "terminal": "photo", "data_dir": str(data)}, "staff": staff}
    )
    assert list(config.staff.credentials) == [number or ""]
    # Made with the machine's key, which the first use made (0600) and said so.
    key_file = data / "staff.key"
    assert (key_file.stat().st_mode & 0o777) == 0o600 and "made now" in err
    key = StaffKey(key_file.read_bytes())
    assert verify_pin("135790", config.staff.credentials[number or ""], key)
    assert not verify_pin("135790", config.staff.credentials[number or ""], KEY)


def test_pin_hash_refuses_a_bad_number_before_asking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("135790\n"))
    argv = ["staff", "pin-hash", "--key-file", str(tmp_path / "staff.key"), "--number", "12"]
    assert cli.main(argv) == 1
    assert "3-8 digits" in capsys.readouterr().err
    assert sys.stdin.read() == "135790\n"  # refused before the PIN was read
