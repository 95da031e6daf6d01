"""The pickup flow with scripted services and a manual clock: steps, timeouts, failures,
deferred out-of-service, and the session wiped on every way out."""

from __future__ import annotations

from kiosk.core.engine import Event
from kiosk.core.errors import KioskError
from tests.core.flow_rigs import Rig, make_rig, terminal_config

DOCS = [
    {"document_no": "D1", "kind": "hk_macau_permit", "slot": "A01"},
    {"document_no": "D2", "kind": "passport", "slot": "A02"},
]
SERVICES = ("idcard", "central", "pickup", "printer")


def rig(*, hanging: tuple[str, ...] = (), documents: int = 1) -> Rig:
    config = terminal_config(
        "pickup", devices={"dispenser": {"driver": "crt591", "take_timeout_s": 20}}
    )
    r = make_rig(config, SERVICES, hanging)
    r["central"].answer("documents_ready", {"known": True, "documents": DOCS[:documents]})
    return r


def to_confirm(r: Rig) -> None:
    r.app.intent("start")
    r.app.intent("select", service="pickup")
    assert r.state == "pickup_identify"
    r.app.device_event("idcard.placed", {})
    assert r.state == "pickup_confirm", r.state


def test_a_document_is_collected_and_a_receipt_printed() -> None:
    r = rig()
    to_confirm(r)
    assert r.data["code"] == "D1" and r.data["body"] == "pickup.kind.hk_macau_permit"
    session = r.app.runner.session
    assert session is not None and session.has("idcard")
    r["pickup"].answer("hand_over", {"taken": True, "document_no": "D1"})
    r.app.intent("collect")
    assert r.state == "pickup_done"
    assert [op for op, _ in r["pickup"].calls] == ["hand_over"]
    assert r["pickup"].calls[0][1] == {**DOCS[0], "timeout_s": 20}
    receipt = r["printer"].calls[0][1]["receipt"]
    assert any("D1" in str(item.get("text", "")) for item in receipt["items"])
    r.app.intent("finished")
    assert r.state == "attract" and session.keys() == [] and session.ended_reason == "done"


def test_two_documents_come_out_one_at_a_time() -> None:
    r = rig(documents=2)
    to_confirm(r)
    assert r.data["values"] == {"count": 2} and r.data["progress"] == "pickup.confirm.more"
    r["pickup"].answer("hand_over", {"taken": True})
    r.app.intent("collect")
    assert r.state == "pickup_confirm" and r.data["code"] == "D2" and not r.data["progress"]
    r.app.intent("collect")
    assert r.state == "pickup_done"
    dispensed = [a["document_no"] for op, a in r["pickup"].calls if op == "hand_over"]
    assert dispensed == ["D1", "D2"]
    receipt = r["printer"].calls[0][1]["receipt"]
    assert sum("Document no." in str(i.get("text", "")) for i in receipt["items"]) == 2


def test_not_taken_goes_to_the_counter_and_staff_are_alerted() -> None:
    r = rig()
    to_confirm(r)
    r["pickup"].answer("hand_over", {"taken": False, "captured": True, "document_no": "D1"})
    r.app.intent("collect")
    assert r.state == "pickup_retained" and r.data["tone"] == "warn"
    assert [a.code for a in r.alerts] == ["pickup.retained"]
    assert not r["printer"].calls
    r.clock.advance(8.0 * 3)
    assert r.state == "attract" and r.app.runner.session is None


def test_central_unreachable_says_go_to_the_counter_never_guesses() -> None:
    r = rig()
    r["central"].answer("documents_ready", KioskError("down", code="central.unreachable"))
    r.app.intent("start")
    r.app.intent("select", service="pickup")
    r.app.intent("read")
    assert r.state == "pickup_central_down" and r.data["title"] == "central.down.title"
    assert not r["pickup"].calls
    r.clock.advance(8.0 * 3)
    assert r.state == "attract"


def test_no_document_and_no_record_are_told_apart() -> None:
    r = rig()
    r["central"].answer("documents_ready", {"known": True, "documents": [], "withheld": 1})
    r.app.intent("start")
    r.app.intent("select", service="pickup")
    r.app.intent("read")
    assert r.state == "pickup_none" and r.data["body"] == "pickup.withheld.body"
    r.app.intent("finished")
    r2 = rig()
    r2["central"].answer("documents_ready", {"known": False})
    r2.app.intent("start")
    r2.app.intent("select", service="pickup")
    r2.app.intent("read")
    assert r2.state == "pickup_unknown"


def test_an_unreadable_card_can_be_tried_again() -> None:
    r = rig()
    r["idcard"].answers["read"] = [KioskError("no card", code="idcard.no_card")]
    r.app.intent("start")
    r.app.intent("select", service="pickup")
    r.app.intent("read")
    assert r.state == "pickup_read_failed"
    r.app.intent("back")
    assert r.state == "menu"


def test_a_hanging_dispenser_times_out_and_home_cannot_interrupt_it() -> None:
    r = rig(hanging=("pickup",))
    to_confirm(r)
    r.app.intent("collect")
    assert r.state == "pickup_dispensing"
    r.app.intent("home")
    assert r.state == "pickup_dispensing"  # a document may be moving
    r.clock.advance(30.0 + 5.0)
    assert r.state == "pickup_failed" and r.data["tone"] == "error"
    assert [a.code for a in r.alerts] == ["pickup.dispense_failed"]


def test_the_take_screen_shows_when_the_document_is_at_the_gate() -> None:
    r = rig(hanging=("pickup",))
    to_confirm(r)
    r.app.intent("collect")
    r.app.post(Event("pickup.at_gate", {"document_no": "D1"}))
    assert r.state == "pickup_take" and r.data["values"] == {"seconds": 20}
    r.app.intent("home")
    assert r.state == "pickup_take"
    r.clock.advance(20 + 30 + 5)  # the service never answered: staff must look
    assert r.state == "pickup_failed" and [a.code for a in r.alerts] == ["pickup.dispense_failed"]


def test_out_of_service_waits_until_the_citizen_has_their_document() -> None:
    r = rig(hanging=("pickup",))
    to_confirm(r)
    r.app.intent("collect")
    r.app.set_unavailable("device.printer", "oos.device", device="printer")
    assert r.state == "pickup_dispensing"
    r.clock.advance(35.0)
    assert r.state == "pickup_failed"
    r.app.intent("finished")
    assert r.state == "out_of_service"


def test_walking_away_at_the_confirmation_ends_the_session() -> None:
    r = rig()
    to_confirm(r)
    session = r.app.runner.session
    r.clock.advance(60.0)
    assert r.app.view is not None and r.app.view.still_there_until is not None
    r.clock.advance(15.0)
    assert r.state == "attract" and session is not None and session.keys() == []
    assert not r["pickup"].calls


def _looked_up(answer: dict[str, object]) -> Rig:
    r = rig()
    r["central"].answer("documents_ready", {"known": True, **answer})
    r.app.intent("start")
    r.app.intent("select", service="pickup")
    r.app.intent("read")
    return r


def test_documents_held_elsewhere_are_named_not_offered() -> None:
    cases = [
        ([{"kiosk_id": "SZ-FT-K02", "count": 1}], "pickup.elsewhere.machine", "SZ-FT-K02"),
        ([{"kiosk_id": None, "count": 2}], "pickup.elsewhere.counter", ""),
        (
            [{"kiosk_id": "K03", "count": 1}, {"kiosk_id": "K02", "count": 1}, {"kiosk_id": None}],
            "pickup.elsewhere.both",
            "K02, K03",
        ),
    ]
    for elsewhere, body, machines in cases:
        r = _looked_up({"documents": [], "elsewhere": elsewhere})
        assert r.state == "pickup_none" and r.data["body"] == body
        assert r.data["values"]["machines"] == machines
        assert r.data["values"]["machines_zh"] == machines.replace(", ", "、")
        assert not r["pickup"].calls
    # Staff must check one first: the counter message wins, they know where the rest is.
    r = _looked_up({"documents": [], "withheld": 1, "elsewhere": cases[0][0]})
    assert r.data["body"] == "pickup.withheld.body"


def test_after_a_handover_the_citizen_hears_of_documents_elsewhere() -> None:
    r = _looked_up({"documents": DOCS[:1], "elsewhere": [{"kiosk_id": None, "count": 1}]})
    assert r.state == "pickup_confirm"
    r["pickup"].answer("hand_over", {"taken": True, "document_no": "D1"})
    r.app.intent("collect")
    assert r.state == "pickup_done" and r.data["body"] == "pickup.done.elsewhere.counter"
