"""The renewal terminal's flows with scripted services and a manual clock."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kiosk.core.engine import Event
from kiosk.core.errors import KioskError
from kiosk.machine.ports import IDCARD_DATA, ChipSummary, Printed
from kiosk.machine.receipts import TextLine
from kiosk.terminals.renewal.ports import (
    PERMIT_ACCESS,
    Choice,
    Issued,
    OrderShown,
    PaymentState,
    PermitStanding,
    Verdict,
)
from kiosk.texts import TEXTS
from offline_queue.central_client import CurrentEndorsement, EndorsementOption
from tests.core.flow_rigs import (
    ADULT_BORN,
    SENIOR_BORN,
    Rig,
    card_reader,
    make_rig,
    terminal_config,
)

OPTIONS = (
    EndorsementOption("one_trip", "one", 90, 15),
    EndorsementOption("two_trips", "two", 90, 30),
    EndorsementOption("multi_1y", "multiple", 365, 80),
    EndorsementOption("multi_2y", "multiple", 730, 120),
)
ELIGIBLE = Verdict(
    known=True,
    eligible=True,
    permit_on_record=True,
    options=OPTIONS,
    regions=("HK", "MO"),
    purposes=("individual", "group"),
)


ORDER_ID = "0123456789abcdef0123456789abcdef"
ORDER = OrderShown(ORDER_ID, 120, f"https://pay.example.org/cashier?order={ORDER_ID}", 180)
ISSUED = Issued(
    ORDER_ID,
    "E20261127000001",
    "multi_2y",
    "HK",
    "individual",
    120,
    "2026-11-27",
    "2028-11-26",
    "2026-11-27T10:15:02",
)
UNPAID = PaymentState("unpaid", 170)
ALMOST = PaymentState("unpaid", 50)
PAID = PaymentState("paid", 160)
CHOICE = Choice("HK", "individual", "multi_2y")
GENUINE = ChipSummary("valid", "", "", "C1***")


def rig(*, hanging: tuple[str, ...] = ()) -> Rig:
    services = ("idcard", "central", "chip", "renewal", "printer")
    r = make_rig(terminal_config("renewal"), services, hanging)
    r["central"].answer("eligibility", ELIGIBLE)
    r["chip"].answer("read", GENUINE)
    r["renewal"].answer("order", ORDER)
    r["renewal"].answer("issue", ISSUED)
    r["printer"].answer("print", Printed())
    return r


def to_fee(r: Rig) -> None:
    start(r)
    r.app.post(Event("chip.placed"))
    r.app.intent("region", region="HK")
    r.app.intent("purpose", purpose="individual")
    r.app.intent("trips", trips="multiple")
    r.app.intent("option", option="multi_2y")
    assert r.state == "endorse_fee"


def to_paying(r: Rig) -> None:
    to_fee(r)
    r.app.intent("pay")
    assert r.state == "endorse_paying"


def poll(r: Rig) -> None:
    """Let the paying screen's poll interval pass (2 s by default)."""
    r.clock.advance(2.0)


def start(r: Rig, service: str = "endorse") -> None:
    r.app.intent("start")
    r.app.intent("select", service=service)
    r.app.intent("read")


def buttons(r: Rig) -> list[tuple[str, Any]]:
    return [(b.intent, b.data) for b in r.view.buttons]


def test_eligible_citizen_chooses_pays_by_phone_and_gets_the_endorsement_and_slip() -> None:
    r = rig()
    start(r)
    assert r.state == "endorse_permit"
    r.app.post(Event("chip.placed"))
    assert r.state == "endorse_region"
    assert r["chip"].calls == [("read", (PERMIT_ACCESS,))]
    assert buttons(r)[1:] == [("region", {"region": "HK"}), ("region", {"region": "MO"})]
    r.app.intent("region", region="TW")  # not offered: ignored
    assert r.state == "endorse_region"
    r.app.intent("region", region="HK")
    r.app.intent("purpose", purpose="individual")
    assert r.state == "endorse_trips"
    fees = [b.values["fee"] for b in r.view.buttons[1:]]
    assert fees == [15, 30, 80]  # multiple trips: "from" the cheapest validity
    r.app.intent("trips", trips="multiple")
    assert r.state == "endorse_validity"
    assert [b.data["option"] for b in r.view.buttons[1:]] == ["multi_1y", "multi_2y"]
    r.app.intent("option", option="multi_2y")
    assert r.state == "endorse_fee" and r.view.values == {"fee": 120}
    assert "endorse.fee.body" in r.view.body
    r.app.intent("back")  # back to the validity just chosen, not to the trips
    assert r.state == "endorse_validity"
    r.app.intent("option", option="multi_2y")
    r.app.intent("pay")
    assert r.state == "endorse_paying"
    assert r["renewal"].calls == [("order", (CHOICE,))]
    assert r.view.values == {"amount": 120, "minutes": 3}
    assert r.view.image_png.startswith(b"\x89PNG")  # the payment link as a QR code
    r["renewal"].answer("status", UNPAID, ALMOST, PAID)
    poll(r)
    assert r.state == "endorse_paying"  # not paid yet: the code stays up
    assert r.view.values["minutes"] == 3  # 170 s left
    poll(r)
    assert r.view.values["minutes"] == 1  # 50 s left
    poll(r)
    assert r.state == "endorse_done"
    assert r["renewal"].calls[-1] == ("issue", (ORDER_ID, CHOICE, None))
    (slip,) = r["printer"].asked("print")[0]
    assert slip.title == "E20261127000001"
    lines = [i.text for i in slip.items if isinstance(i, TextLine)]
    assert "金额 Amount: 120 元 CNY" in lines and f"订单号 Order: {ORDER_ID}" in lines
    assert "时间 Time: 2026-11-27 10:15:02" in lines
    assert r.view.code == "E20261127000001" and "endorse.done.slip" in r.view.body
    r.app.intent("finished")
    assert r.state == "attract" and r.app.runner.session is None


def test_a_single_trip_goes_straight_to_its_fee() -> None:
    r = rig()
    start(r)
    r.app.intent("read")
    r.app.intent("region", region="MO")
    r.app.intent("purpose", purpose="group")
    r.app.intent("trips", trips="two")
    assert r.state == "endorse_fee" and r.view.values == {"fee": 30}
    assert r.view.body[:3] == ("query.region.MO", "purpose.group", "option.two_trips")
    r.app.intent("back")
    assert r.state == "endorse_trips"


def test_a_refusal_names_every_reason_and_the_next_steps() -> None:
    r = rig()
    reasons = ["endorsement_still_valid", "permit_validity_too_short"]
    r["central"].answer("eligibility", replace(ELIGIBLE, eligible=False, reasons=tuple(reasons)))
    start(r)
    assert r.state == "endorse_refused"
    body = r.view.body
    assert [f"endorse.reason.{x}" for x in reasons] == list(body[:2])
    assert [f"endorse.next.{x}" for x in reasons] == list(body[-2:])
    assert all(key in TEXTS for key in body if key)
    assert not r["chip"].calls
    r.clock.advance(8.0 * 4)
    assert r.state == "attract"


def test_a_chip_that_is_not_genuine_is_refused_with_its_reason() -> None:
    r = rig()
    r["chip"].answer("read", replace(GENUINE, passive_auth="hash_mismatch"))
    start(r)
    r.app.intent("read")
    assert r.state == "endorse_chip_refused" and r.view.body == ("chip.pa.hash_mismatch",)
    assert "chip.pa.hash_mismatch" in TEXTS and r.view.tone == "error"


def test_an_unreadable_chip_can_be_retried_and_a_hanging_reader_times_out() -> None:
    r = rig()
    r["chip"].answer("read", KioskError("no card", code="chip.no_card"))
    start(r)
    r.app.intent("read")
    assert r.state == "endorse_chip_failed"
    r2 = rig(hanging=("chip",))
    start(r2)
    r2.app.intent("read")
    assert r2.state == "endorse_chip_reading"
    r2.clock.advance(30.0)
    assert r2.state == "endorse_chip_failed"


def test_central_down_or_no_record_never_guess() -> None:
    r = rig()
    r["central"].answer("eligibility", KioskError("down", code="central.unreachable"))
    start(r)
    assert r.state == "endorse_central_down"
    r2 = rig()
    r2["central"].answer("eligibility", Verdict(known=False))
    start(r2)
    assert r2.state == "endorse_unknown"


def test_query_shows_the_endorsement_and_permit_validity() -> None:
    r = rig()
    endorsement = CurrentEndorsement("two_trips", "HK", "two", "2026-10-28", "2027-01-26", True)
    status = PermitStanding(True, "2035-02-13", 3000, endorsement)
    r["central"].answer("permit_status", status)
    start(r, "query")
    assert r.state == "query_result"
    assert r.view.body == (
        "query.region.HK",
        "query.valid",
        "query.trips.two",
        "query.trips_note",
        "query.permit",
    )
    assert r.view.values["valid_until"] == "2027-01-26"
    r["central"].answer("permit_status", replace(status, endorsement=None))
    r.app.intent("finished")
    start(r, "query")
    assert r.view.body == ("query.none", "query.permit")


def test_walking_away_mid_choice_wipes_the_session() -> None:
    r = rig()
    start(r)
    r.app.intent("read")
    session = r.app.runner.session
    assert session is not None and session.has(IDCARD_DATA)
    r.clock.advance(60.0 + 15.0)
    assert r.state == "attract" and session.keys() == []


def test_a_citizen_of_60_or_over_gets_twice_the_time_until_the_session_ends() -> None:
    r = rig()
    r["idcard"].answer("read", card_reader(SENIOR_BORN))
    start(r)
    assert r.state == "endorse_permit"
    assert r.app.view is not None and r.app.view.notice == "app.more_time"  # told, once
    r.app.intent("home")  # gone at once: the banner goes with them
    assert r.state == "attract" and r.app.view.notice is None
    r["idcard"].answer("read", card_reader(SENIOR_BORN))
    start(r)
    r.clock.advance(60.0)
    assert r.app.view is not None and r.app.view.still_there_until is None
    r.clock.advance(60.0)  # 120 s: now asked, with 30 s to answer
    assert r.app.view is not None and r.app.view.still_there_until is not None
    r.clock.advance(29.0)
    assert r.state == "endorse_permit"
    r.clock.advance(1.0)
    assert r.state == "attract"
    # The next citizen starts with the usual times again.
    r["idcard"].answer("read", card_reader(ADULT_BORN))
    start(r)
    assert r.state == "endorse_permit" and r.app.view is not None
    assert r.app.view.notice is None
    r.clock.advance(60.0)
    assert r.app.view is not None and r.app.view.still_there_until is not None


def test_cancelling_an_unpaid_order_charges_nothing() -> None:
    r = rig()
    to_paying(r)
    r["renewal"].answer("cancel", PaymentState("cancelled", 0))
    r.app.intent("cancel")
    assert r.state == "endorse_cancelled"
    assert r["renewal"].calls[-1] == ("cancel", (ORDER_ID,))
    assert r.view.body == ("endorse.nothing_charged",)
    assert not any(op == "issue" for op, _ in r["renewal"].calls)


def test_the_end_button_while_paying_cancels_and_a_late_payment_is_still_issued() -> None:
    r = rig()
    to_paying(r)
    r["renewal"].answer("cancel", PAID)  # paid on the phone just before the cancel
    r.app.intent("home")
    assert r.state == "endorse_done"
    assert [op for op, _ in r["renewal"].calls] == ["order", "cancel", "issue"]


def test_an_order_that_expires_unpaid_says_nothing_was_charged() -> None:
    r = rig()
    to_paying(r)
    r["renewal"].answer("status", PaymentState("expired", 0))
    poll(r)
    assert r.state == "endorse_expired"
    assert r.view.body == ("endorse.nothing_charged", "endorse.again")


def test_no_order_no_payment_the_citizen_is_told_nothing_was_charged() -> None:
    r = rig()
    to_fee(r)
    r["renewal"].answer("order", KioskError("down", code="renewal.payment_unavailable"))
    r.app.intent("pay")
    assert r.state == "endorse_pay_unavailable"
    assert r.view.body[0] == "endorse.nothing_charged"


def test_central_silent_while_paying_ends_in_unconfirmed_and_alerts_staff() -> None:
    r = rig()
    to_paying(r)
    r["renewal"].answer("status", KioskError("down", code="renewal.payment_unavailable"))
    for _ in range(9):
        poll(r)
        assert r.state == "endorse_paying"  # a missed check is retried
    poll(r)
    assert r.state == "endorse_unconfirmed"
    assert r.alerts[-1].code == "renewal.unconfirmed" and ORDER_ID in r.alerts[-1].message


def test_a_missed_check_followed_by_an_answer_starts_counting_again() -> None:
    r = rig()
    to_paying(r)
    down = KioskError("down", code="renewal.payment_unavailable")
    r["renewal"].answer("status", *([down] * 9), UNPAID, *([down] * 9), PAID)
    for _ in range(20):
        poll(r)
    assert r.state == "endorse_done"


def test_an_endorsement_refused_after_payment_is_refunded_and_said_so() -> None:
    r = rig()
    to_paying(r)
    r["renewal"].answer("status", PAID)
    r["renewal"].answer("issue", KioskError("refused", code="renewal.refunded"))
    poll(r)
    assert r.state == "endorse_refunded"
    assert r.view.values == {"amount": 120}
    assert r.alerts[-1].code == "renewal.refunded"


def test_an_issue_central_does_not_confirm_ends_unconfirmed() -> None:
    r = rig(hanging=("printer",))
    to_paying(r)
    r["renewal"].answer("status", PAID)
    r["renewal"].answer("issue", KioskError("timeout", code="renewal.issue_pending"))
    poll(r)
    assert r.state == "endorse_unconfirmed"
    assert r.alerts[-1].code == "renewal.unconfirmed"


def test_a_slip_that_cannot_be_printed_still_shows_the_endorsement() -> None:
    r = rig(hanging=("printer",))
    to_paying(r)
    r["renewal"].answer("status", PAID)
    poll(r)
    assert r.state == "endorse_printing"
    r.clock.advance(30.0)  # the printer never answers
    assert r.state == "endorse_done"
    assert "endorse.done.no_slip" in r.view.body and r.view.code == "E20261127000001"
    assert r.alerts[-1].code == "printer.receipt_failed"
    # The printer is found out of paper while the citizen reads the number: not cut off.
    r.app.set_unavailable("device.printer", "oos.device", device="printer")
    assert r.state == "endorse_done"
    r.app.intent("finished")
    assert r.state == "out_of_service"


def test_money_moving_states_ignore_the_end_button_and_a_failing_device() -> None:
    r = rig(hanging=("renewal",))
    to_fee(r)
    r.app.intent("pay")
    assert r.state == "endorse_ordering"
    r.app.intent("home")
    assert r.state == "endorse_ordering"
    r.app.set_unavailable("device.printer", "oos.device", device="printer")
    assert r.state == "endorse_ordering"
    r.clock.advance(20.0)  # central never answered: nothing was shown, nothing charged
    assert r.state == "endorse_pay_unavailable"
    r.app.intent("finished")
    assert r.state == "out_of_service"  # applied once the citizen is done
