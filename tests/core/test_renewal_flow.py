"""The renewal terminal's flows with scripted services and a manual clock."""

from __future__ import annotations

from typing import Any

from kiosk.core.errors import KioskError
from kiosk.core.i18n import MESSAGES
from tests.core.flow_rigs import (
    ADULT_BORN,
    SENIOR_BORN,
    Rig,
    card_reader,
    make_rig,
    terminal_config,
)

OPTIONS = [
    {"code": "one_trip", "trips": "one", "validity_days": 90, "fee_cny": 15},
    {"code": "two_trips", "trips": "two", "validity_days": 90, "fee_cny": 30},
    {"code": "multi_1y", "trips": "multiple", "validity_days": 365, "fee_cny": 80},
    {"code": "multi_2y", "trips": "multiple", "validity_days": 730, "fee_cny": 120},
]
ELIGIBLE = {
    "known": True,
    "eligible": True,
    "reasons": [],
    "options": OPTIONS,
    "regions": ["HK", "MO"],
    "purposes": ["individual", "group"],
    "permit_on_record": True,
}


ORDER_ID = "0123456789abcdef0123456789abcdef"
ORDER = {
    "order_id": ORDER_ID,
    "amount_cny": 120,
    "pay_url": f"https://pay.example.org/cashier?order={ORDER_ID}",
    "expires_in_s": 180,
}
ISSUED = {
    "order_id": ORDER_ID,
    "endorsement_no": "E20261127000001",
    "option": "multi_2y",
    "region": "HK",
    "purpose": "individual",
    "fee_cny": 120,
    "valid_from": "2026-11-27",
    "valid_until": "2028-11-26",
    "issued_at": "2026-11-27T10:15:02",
}
UNPAID = {"status": "unpaid", "expires_in_s": 170}
ALMOST = {"status": "unpaid", "expires_in_s": 50}
PAID = {"status": "paid", "expires_in_s": 160}


def rig(*, hanging: tuple[str, ...] = ()) -> Rig:
    services = ("idcard", "central", "chip", "renewal", "printer")
    r = make_rig(terminal_config("renewal"), services, hanging)
    r["central"].answer("eligibility", ELIGIBLE)
    r["chip"].answer("read", {"passive_auth": "valid"})
    r["renewal"].answer("order", ORDER)
    r["renewal"].answer("issue", ISSUED)
    r["printer"].answer("print", {"printed": True, "warnings": []})
    return r


def to_fee(r: Rig) -> None:
    start(r)
    r.app.device_event("chip.placed", {})
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
    return [(b["intent"], b.get("data")) for b in r.data["buttons"]]


def test_eligible_citizen_chooses_pays_by_phone_and_gets_the_endorsement_and_slip() -> None:
    r = rig()
    start(r)
    assert r.state == "endorse_permit"
    r.app.device_event("chip.placed", {})
    assert r.state == "endorse_region"
    assert r["chip"].calls == [("read", {"access_session_key": "permit_access"})]
    assert buttons(r)[1:] == [("region", {"region": "HK"}), ("region", {"region": "MO"})]
    r.app.intent("region", region="TW")  # not offered: ignored
    assert r.state == "endorse_region"
    r.app.intent("region", region="HK")
    r.app.intent("purpose", purpose="individual")
    assert r.state == "endorse_trips"
    fees = [b["values"]["fee"] for b in r.data["buttons"][1:]]
    assert fees == [15, 30, 80]  # multiple trips: "from" the cheapest validity
    r.app.intent("trips", trips="multiple")
    assert r.state == "endorse_validity"
    assert [b["data"]["option"] for b in r.data["buttons"][1:]] == ["multi_1y", "multi_2y"]
    r.app.intent("option", option="multi_2y")
    assert r.state == "endorse_fee" and r.data["values"] == {"fee": 120}
    assert "endorse.fee.body" in r.data["body"]
    r.app.intent("back")  # back to the validity just chosen, not to the trips
    assert r.state == "endorse_validity"
    r.app.intent("option", option="multi_2y")
    r.app.intent("pay")
    assert r.state == "endorse_paying"
    assert r["renewal"].calls == [
        ("order", {"region": "HK", "purpose": "individual", "option": "multi_2y"})
    ]
    assert r.data["values"] == {"amount": 120, "minutes": 3}
    assert r.data["image_png"].startswith(b"\x89PNG")  # the payment link as a QR code
    r["renewal"].answer("status", UNPAID, ALMOST, PAID)
    poll(r)
    assert r.state == "endorse_paying"  # not paid yet: the code stays up
    assert r.data["values"]["minutes"] == 3  # 170 s left
    poll(r)
    assert r.data["values"]["minutes"] == 1  # 50 s left
    poll(r)
    assert r.state == "endorse_done"
    issue = r["renewal"].calls[-1]
    assert issue == (
        "issue",
        {"order_id": ORDER_ID, "region": "HK", "purpose": "individual", "option": "multi_2y"},
    )
    slip = r["printer"].calls[0][1]["receipt"]
    assert slip["title"] == "E20261127000001"
    lines = [i.get("text", "") for i in slip["items"]]
    assert "金额 Amount: 120 元 CNY" in lines and f"订单号 Order: {ORDER_ID}" in lines
    assert "时间 Time: 2026-11-27 10:15:02" in lines
    assert r.data["code"] == "E20261127000001" and "endorse.done.slip" in r.data["body"]
    r.app.intent("finished")
    assert r.state == "attract" and r.app.runner.session is None


def test_a_single_trip_goes_straight_to_its_fee() -> None:
    r = rig()
    start(r)
    r.app.intent("read")
    r.app.intent("region", region="MO")
    r.app.intent("purpose", purpose="group")
    r.app.intent("trips", trips="two")
    assert r.state == "endorse_fee" and r.data["values"] == {"fee": 30}
    assert r.data["body"][:3] == ["query.region.MO", "purpose.group", "option.two_trips"]
    r.app.intent("back")
    assert r.state == "endorse_trips"


def test_a_refusal_names_every_reason_and_the_next_steps() -> None:
    r = rig()
    reasons = ["endorsement_still_valid", "permit_validity_too_short"]
    r["central"].answer("eligibility", {**ELIGIBLE, "eligible": False, "reasons": reasons})
    start(r)
    assert r.state == "endorse_refused"
    body = r.data["body"]
    assert [f"endorse.reason.{x}" for x in reasons] == body[:2]
    assert [f"endorse.next.{x}" for x in reasons] == body[-2:]
    assert all(key in MESSAGES for key in body if key)
    assert not r["chip"].calls
    r.clock.advance(8.0 * 4)
    assert r.state == "attract"


def test_a_chip_that_is_not_genuine_is_refused_with_its_reason() -> None:
    r = rig()
    r["chip"].answer("read", {"passive_auth": "hash_mismatch"})
    start(r)
    r.app.intent("read")
    assert r.state == "endorse_chip_refused" and r.data["body"] == "chip.pa.hash_mismatch"
    assert "chip.pa.hash_mismatch" in MESSAGES and r.data["tone"] == "error"


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
    r2["central"].answer("eligibility", {"known": False})
    start(r2)
    assert r2.state == "endorse_unknown"


def test_query_shows_the_endorsement_and_permit_validity() -> None:
    r = rig()
    status = {
        "known": True,
        "permit_expiry": "2035-02-13",
        "permit_days_left": 3000,
        "endorsement": {
            "option": "two_trips",
            "region": "HK",
            "trips": "two",
            "valid_from": "2026-10-28",
            "valid_until": "2027-01-26",
            "valid": True,
        },
    }
    r["central"].answer("permit_status", status)
    start(r, "query")
    assert r.state == "query_result"
    assert r.data["body"] == [
        "query.region.HK",
        "query.valid",
        "query.trips.two",
        "query.trips_note",
        "query.permit",
    ]
    assert r.data["values"]["valid_until"] == "2027-01-26"
    r["central"].answer("permit_status", {**status, "endorsement": None})
    r.app.intent("finished")
    start(r, "query")
    assert r.data["body"] == ["query.none", "query.permit"]


def test_walking_away_mid_choice_wipes_the_session() -> None:
    r = rig()
    start(r)
    r.app.intent("read")
    session = r.app.runner.session
    assert session is not None and session.has("idcard")
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
    r["renewal"].answer("cancel", {"status": "cancelled", "expires_in_s": 0})
    r.app.intent("cancel")
    assert r.state == "endorse_cancelled"
    assert r["renewal"].calls[-1] == ("cancel", {"order_id": ORDER_ID})
    assert r.data["body"] == ["endorse.nothing_charged"]
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
    r["renewal"].answer("status", {"status": "expired", "expires_in_s": 0})
    poll(r)
    assert r.state == "endorse_expired"
    assert r.data["body"] == ["endorse.nothing_charged", "endorse.again"]


def test_no_order_no_payment_the_citizen_is_told_nothing_was_charged() -> None:
    r = rig()
    to_fee(r)
    r["renewal"].answer("order", KioskError("down", code="renewal.payment_unavailable"))
    r.app.intent("pay")
    assert r.state == "endorse_pay_unavailable"
    assert r.data["body"][0] == "endorse.nothing_charged"


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
    assert r.data["values"] == {"amount": 120}
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
    assert "endorse.done.no_slip" in r.data["body"] and r.data["code"] == "E20261127000001"
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
