"""Appointment check-in with scripted services and a manual clock: scanned or typed,
central's answers (ticket, refusals, unknown, silent), the ticket printed or shown as a QR
code, and a way back and a deadline at every step."""

from __future__ import annotations

from typing import Any

from kiosk.core.engine import Event
from kiosk.core.errors import KioskError
from kiosk.machine.receipts import QrCode, Slip, TextLine
from kiosk.terminals.appointment.numbers import from_qr, is_appointment_no, luhn_digit
from kiosk.terminals.appointment.ports import AppointmentTicket, CheckedIn, Scanned
from tests.core.flow_rigs import Rig, make_rig, terminal_config

SERVICES = ("idcard", "printer", "appointment_scanner", "appointment_desk")
NUMBER = "483920175" + luhn_digit("483920175")


def ticket(status: str = "checked_in", **more: Any) -> AppointmentTicket:
    fields: dict[str, Any] = {
        "status": status,
        "appointment_no": NUMBER,
        "service": "passport",
        "counter": "5",
        "slot_at": "2026-11-27T10:20",
        "ticket_no": "V007" if status == "checked_in" else None,
        "ahead": 2 if status == "checked_in" else None,
        **more,
    }
    return AppointmentTicket(**fields)


def rig(*, camera: bool = True, terminal: str = "photo", hanging: tuple[str, ...] = ()) -> Rig:
    devices = {"camera": {"driver": "opencv"}} if camera else {}
    r = make_rig(terminal_config(terminal, devices=devices), SERVICES, hanging)
    r["appointment_desk"].answer("check_in", CheckedIn(True, ticket()))
    return r


def to_check_in(r: Rig) -> None:
    r.app.intent("start")
    assert "appointment" in [item.key for item in r.view.services]
    r.app.intent("select", service="appointment")


def _lines(slip: Slip) -> list[str]:
    return [item.text for item in slip.items if isinstance(item, TextLine)]


def test_numbers_carry_a_check_digit_and_qr_codes_are_told_apart() -> None:
    assert is_appointment_no(NUMBER)
    for i in range(10):  # any one digit mistyped is caught
        wrong = NUMBER[:i] + str((int(NUMBER[i]) + 3) % 10) + NUMBER[i + 1 :]
        assert not is_appointment_no(wrong)
    assert from_qr(f"APPT:{NUMBER}") == NUMBER and from_qr(f" {NUMBER}\n") == NUMBER
    assert from_qr("https://pay.example.org/cashier/123") is None
    assert from_qr(f"APPT:{NUMBER[:-1]}{(int(NUMBER[-1]) + 1) % 10}") is None


def test_a_scanned_code_is_checked_in_and_a_priority_ticket_printed() -> None:
    r = rig()
    r["appointment_scanner"].answer("scan", Scanned(NUMBER))
    to_check_in(r)
    assert r.state == "appt_done"
    assert r["appointment_desk"].asked("check_in") == [(NUMBER,)]
    assert r.view.code == "V007" and r.view.values["counter"] == "5"
    assert r.view.values["ahead"] == 2 and r.view.values["time"] == "10:20"
    (slip,) = r["printer"].asked("print")[0]
    lines = _lines(slip)
    assert any("V007" in line for line in lines) and any("5" in line for line in lines)
    assert any(isinstance(item, QrCode) and "V007" in item.data for item in slip.items)
    assert r.app.runner.session is None  # no personal data: no session
    r.app.intent("finished")
    assert r.state == "attract"


def test_typed_numbers_are_checked_before_central_is_asked() -> None:
    r = rig()
    r["appointment_scanner"].answer("scan", Scanned(stopped=True))
    to_check_in(r)
    assert r.state == "appt_scan"
    r.app.intent("type")
    assert r.state == "appt_number" and r.view.error is None
    r.app.intent("number", number=NUMBER[:-1] + str((int(NUMBER[-1]) + 1) % 10))
    assert r.state == "appt_number" and r.view.error == "appointment.number.wrong"
    assert r["appointment_desk"].asked("check_in") == []
    r.app.intent("number", number=NUMBER)
    assert r.state == "appt_done"


def test_a_scan_that_reads_nothing_offers_the_pad_and_says_why() -> None:
    r = rig()
    r["appointment_scanner"].answer("scan", Scanned(foreign=2))
    to_check_in(r)
    assert r.state == "appt_number" and r.view.note == "appointment.scan.foreign"
    r.app.intent("scan")
    r["appointment_scanner"].answer("scan", KioskError("no picture", code="appointment.x"))
    r.app.intent("back")
    r.app.intent("select", service="appointment")
    assert r.state == "appt_number" and r.view.note == "appointment.scan.no_camera"
    assert [a.code for a in r.alerts] == ["appointment.no_camera"]


def test_without_a_camera_the_pad_comes_first() -> None:
    r = rig(camera=False, terminal="pickup")
    to_check_in(r)
    assert r.state == "appt_number"
    assert [b.intent for b in r.view.buttons] == ["back"]


def test_refusals_say_why_and_when() -> None:
    for status, title, values in (
        ("too_early", "appointment.too_early.title", {"opens_at": "11:00"}),
        ("too_late", "appointment.too_late.title", {}),
        ("other_day", "appointment.other_day.title", {"date": "2026-11-27"}),
        ("served", "appointment.served.title", {}),
    ):
        r = rig()
        extra = {"opens_at": "11:00"} if status == "too_early" else {}
        r["appointment_desk"].answer("check_in", CheckedIn(True, ticket(status, **extra)))
        r["appointment_scanner"].answer("scan", Scanned(NUMBER))
        to_check_in(r)
        assert r.state == "appt_refused" and r.view.title == title, status
        assert all(r.view.values[k] == v for k, v in values.items())
        assert r["printer"].asked("print") == []


def test_unknown_numbers_may_be_typed_again() -> None:
    r = rig()
    r["appointment_desk"].answer("check_in", CheckedIn(False))
    r["appointment_scanner"].answer("scan", Scanned(NUMBER))
    to_check_in(r)
    assert r.state == "appt_not_found"
    r.app.intent("retype")
    assert r.state == "appt_number"


def test_central_silent_or_failing_says_so_and_returns_to_the_menu() -> None:
    r = rig(hanging=("appointment_desk",))
    r["appointment_scanner"].answer("scan", Scanned(NUMBER))
    to_check_in(r)
    assert r.state == "appt_checking"
    r.clock.advance(r.app.config.central.timeout_s * 2 + 1)
    assert r.state == "appt_central_down"
    r.clock.advance(r.app.config.timeouts.message_s * 3 + 1)
    assert r.state == "menu"
    r2 = rig()
    r2["appointment_desk"].answer("check_in", KioskError("down", code="central.unreachable"))
    r2["appointment_scanner"].answer("scan", Scanned(NUMBER))
    to_check_in(r2)
    assert r2.state == "appt_central_down"


def test_no_printer_shows_the_ticket_as_a_qr_code() -> None:
    r = rig()
    r["printer"].answer("print", KioskError("paper out", code="printer.paper_out"))
    r["appointment_scanner"].answer("scan", Scanned(NUMBER))
    to_check_in(r)
    assert r.state == "appt_no_ticket"
    assert r.view.code == "V007" and r.view.image_png and r.view.image_png[:4] == b"\x89PNG"
    assert [a.code for a in r.alerts] == ["printer.receipt_failed"]


def test_a_late_scan_answer_is_ignored_and_every_step_has_a_way_back() -> None:
    r = rig(hanging=("appointment_scanner",))
    to_check_in(r)
    assert r.state == "appt_scan"
    r.app.intent("back")
    assert r.state == "menu"
    r.app.post(Event("appointment.scan.ok", reply=Scanned(NUMBER)))  # too late: ignored
    assert r.state == "menu"
    r.app.intent("select", service="appointment")
    r.clock.advance(r.app.config.appointment.scan_s + 11)
    assert r.state == "appt_number" and r.view.note == "appointment.scan.unread"
    r.app.intent("home")
    assert r.state == "attract"


def test_out_of_service_waits_until_the_ticket_is_shown() -> None:
    r = rig(hanging=("printer",))
    r["appointment_scanner"].answer("scan", Scanned(NUMBER))
    to_check_in(r)
    assert r.state == "appt_printing"
    r.app.post(Event("kiosk.unavailable", {"reason_key": "oos.device"}))
    r.app.intent("home")
    assert r.state == "appt_printing"
    r.clock.advance(r.app.config.timeouts.device_s + 1)
    assert r.state == "appt_no_ticket"


def test_each_step_says_where_the_citizen_is_and_a_wait_says_what_takes_time() -> None:
    r = rig(hanging=("appointment_desk", "appointment_scanner"))
    to_check_in(r)
    assert r.state == "appt_scan"
    scan = r.view.journey
    assert scan is not None and (scan.step, scan.steps) == (1, 3)
    assert (scan.name, scan.next) == ("appointment.stage.find", "appointment.stage.check")
    assert r.view.picture is not None and r.view.picture.value == "qr_scan"
    r.app.intent("type")
    typed = r.view.journey
    assert r.state == "appt_number" and typed is not None and typed.step == 1
    r.app.intent("number", number=NUMBER)
    checking = r.view.journey
    assert r.state == "appt_checking" and checking is not None and checking.step == 2
    assert r.view.waiting is not None and r.view.waiting.slow == "central.slow"
