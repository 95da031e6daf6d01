"""The renewal terminal's flows with scripted services and a manual clock."""

from __future__ import annotations

from typing import Any

from kiosk.errors import KioskError
from kiosk.i18n import MESSAGES
from tests.core.flow_rigs import Rig, make_rig, terminal_config

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


def rig(*, hanging: tuple[str, ...] = ()) -> Rig:
    r = make_rig(terminal_config("renewal"), ("idcard", "central", "chip"), hanging)
    r["central"].answer("eligibility", ELIGIBLE)
    r["chip"].answer("read", {"passive_auth": "valid"})
    return r


def start(r: Rig, service: str = "endorse") -> None:
    r.app.intent("start")
    r.app.intent("select", service=service)
    r.app.intent("read")


def buttons(r: Rig) -> list[tuple[str, Any]]:
    return [(b["intent"], b.get("data")) for b in r.data["buttons"]]


def test_eligible_citizen_chooses_and_is_sent_to_pay_at_the_counter() -> None:
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
