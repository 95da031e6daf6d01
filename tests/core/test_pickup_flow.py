"""The pickup flow with scripted services and a manual clock: steps, timeouts, failures,
deferred out-of-service, and the session wiped on every way out."""

from __future__ import annotations

from kiosk.core.engine import Event
from kiosk.core.errors import KioskError
from kiosk.machine.receipts import Slip, TextLine
from kiosk.terminals.pickup.ports import DeliveryOrdered, Document, DocumentsFound, Handover
from offline_queue.central_client import DocumentsElsewhere
from tests.core.flow_rigs import Rig, make_rig, terminal_config

DOCS = (
    Document("D1", "hk_macau_permit", "A01"),
    Document("D2", "passport", "A02"),
)
SERVICES = ("idcard", "central", "pickup", "printer")


def rig(*, hanging: tuple[str, ...] = (), documents: int = 1) -> Rig:
    config = terminal_config(
        "pickup", devices={"dispenser": {"driver": "crt591", "take_timeout_s": 20}}
    )
    r = make_rig(config, SERVICES, hanging)
    r["central"].answer("documents_ready", DocumentsFound(True, DOCS[:documents]))
    return r


def to_confirm(r: Rig) -> None:
    r.app.intent("start")
    r.app.intent("select", service="pickup")
    assert r.state == "pickup_identify"
    r.app.post(Event("idcard.placed", {}))
    assert r.state == "pickup_confirm", r.state


def _lines(slip: Slip) -> list[str]:
    return [item.text for item in slip.items if isinstance(item, TextLine)]


def test_a_document_is_collected_and_a_receipt_printed() -> None:
    r = rig()
    to_confirm(r)
    assert r.view.code == "D1" and r.view.body == ("pickup.kind.hk_macau_permit",)
    session = r.app.runner.session
    assert session is not None and session.keys() == ["idcard"]
    r["pickup"].answer("hand_over", Handover("D1", taken=True))
    r.app.intent("collect")
    assert r.state == "pickup_done"
    assert r["pickup"].calls == [("hand_over", (DOCS[0], 20.0, None))]
    (slip,) = r["printer"].asked("print")[0]
    assert any("D1" in line for line in _lines(slip))
    r.app.intent("finished")
    assert r.state == "attract" and session.keys() == [] and session.ended_reason == "done"


def test_two_documents_come_out_one_at_a_time() -> None:
    r = rig(documents=2)
    to_confirm(r)
    assert r.view.values == {"count": 2} and r.view.progress == "pickup.confirm.more"
    r["pickup"].answer("hand_over", Handover("D1", True), Handover("D2", True))
    r.app.intent("collect")
    assert r.state == "pickup_confirm" and r.view.code == "D2" and not r.view.progress
    r.app.intent("collect")
    assert r.state == "pickup_done"
    assert [document.document_no for document, *_ in r["pickup"].asked("hand_over")] == [
        "D1",
        "D2",
    ]
    (slip,) = r["printer"].asked("print")[0]
    assert sum("Document no." in line for line in _lines(slip)) == 2


def test_not_taken_goes_to_the_counter_and_staff_are_alerted() -> None:
    r = rig()
    to_confirm(r)
    r["pickup"].answer("hand_over", Handover("D1", taken=False))
    r.app.intent("collect")
    assert r.state == "pickup_retained" and r.view.tone == "warn"
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
    assert r.state == "pickup_central_down" and r.view.title == "central.down.title"
    assert not r["pickup"].calls
    r.clock.advance(8.0 * 3)
    assert r.state == "attract"


def test_no_document_and_no_record_are_told_apart() -> None:
    r = rig()
    r["central"].answer("documents_ready", DocumentsFound(True, (), withheld=1))
    r.app.intent("start")
    r.app.intent("select", service="pickup")
    r.app.intent("read")
    assert r.state == "pickup_none" and r.view.body == ("pickup.withheld.body",)
    r.app.intent("finished")
    r2 = rig()
    r2["central"].answer("documents_ready", DocumentsFound(known=False))
    r2.app.intent("start")
    r2.app.intent("select", service="pickup")
    r2.app.intent("read")
    assert r2.state == "pickup_unknown"


def test_an_unreadable_card_can_be_tried_again() -> None:
    r = rig()
    r["idcard"].answer("read", KioskError("no card", code="idcard.no_card"))
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
    assert r.state == "pickup_failed" and r.view.tone == "error"
    assert [a.code for a in r.alerts] == ["pickup.dispense_failed"]


def test_the_take_screen_shows_when_the_document_is_at_the_gate() -> None:
    r = rig(hanging=("pickup",))
    to_confirm(r)
    r.app.intent("collect")
    r.app.post(Event("pickup.at_gate", {"document_no": "D1"}))
    assert r.state == "pickup_take" and r.view.values == {"seconds": 20}
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


def _looked_up(found: DocumentsFound) -> Rig:
    r = rig()
    r["central"].answer("documents_ready", found)
    r.app.intent("start")
    r.app.intent("select", service="pickup")
    r.app.intent("read")
    return r


def test_documents_held_elsewhere_are_named_not_offered() -> None:
    k02, k03, counter = (
        DocumentsElsewhere("SZ-FT-K02", 1),
        DocumentsElsewhere("K03", 1),
        DocumentsElsewhere(None, 2),
    )
    cases = [
        ((k02,), "pickup.elsewhere.machine", "SZ-FT-K02"),
        ((counter,), "pickup.elsewhere.counter", ""),
        ((k03, DocumentsElsewhere("K02", 1), counter), "pickup.elsewhere.both", "K02, K03"),
    ]
    for elsewhere, body, machines in cases:
        r = _looked_up(DocumentsFound(True, (), elsewhere=elsewhere))
        assert r.state == "pickup_none" and r.view.body == (body,)
        assert r.view.values["machines"] == machines
        assert r.view.values["machines_zh"] == machines.replace(", ", "、")
        assert not r["pickup"].calls
    # Staff must check one first: the counter message wins, they know where the rest is.
    r = _looked_up(DocumentsFound(True, (), withheld=1, elsewhere=(k02,)))
    assert r.view.body == ("pickup.withheld.body",)


def test_after_a_handover_the_citizen_hears_of_documents_elsewhere() -> None:
    r = _looked_up(DocumentsFound(True, DOCS[:1], elsewhere=(DocumentsElsewhere(None, 1),)))
    assert r.state == "pickup_confirm"
    r["pickup"].answer("hand_over", Handover("D1", True))
    r.app.intent("collect")
    assert r.state == "pickup_done" and r.view.body == ("pickup.done.elsewhere.counter",)


def _with_address(documents: int = 2) -> Rig:
    r = rig(documents=documents)
    found = DocumentsFound(True, DOCS[:documents], address="广东省深圳市福田区金田路36号")
    r["central"].answer("documents_ready", found)
    return r


def test_delivery_shows_its_own_steps_after_the_shared_ones() -> None:
    r = _with_address()
    to_confirm(r)
    confirm = r.view.journey
    assert confirm is not None and (confirm.name, confirm.next) == (
        "pickup.stage.confirm",
        "pickup.stage.take",
    )
    r.app.intent("deliver")
    journey = r.view.journey
    assert journey is not None and journey.step == confirm.step + 1
    assert (journey.name, journey.next) == ("pickup.stage.address", "pickup.stage.slip")
    assert journey.steps == confirm.steps  # address and slip instead of take and receipt


def test_taking_one_then_ordering_delivery_of_the_next_still_prints_the_receipt() -> None:
    r = _with_address()
    to_confirm(r)
    r["pickup"].answer("hand_over", Handover("D1", True))
    r.app.intent("collect")
    assert r.state == "pickup_confirm" and r.view.code == "D2"
    r["pickup"].answer("order_delivery", DeliveryOrdered("EMS-1", "D2"))
    r.app.intent("deliver")
    r.app.intent("confirm")
    assert r.state == "pickup_delivery_done"
    (slip,) = r["printer"].asked("print")[0]  # the delivery's confirmation
    assert any("EMS-1" in line for line in _lines(slip))
    r.app.intent("finished")
    assert r.state == "pickup_done"  # the receipt for the permit she took, printed first
    receipt = r["printer"].asked("print")[1][0]
    assert any("D1" in line for line in _lines(receipt))
    assert not any("D2" in line for line in _lines(receipt))


def test_leaving_the_second_document_for_later_prints_the_first_ones_receipt() -> None:
    r = rig(documents=2)
    to_confirm(r)
    assert r.view.buttons[0].label == "app.cancel"
    r["pickup"].answer("hand_over", Handover("D1", True))
    r.app.intent("collect")
    assert r.view.buttons[0].label == "flow.finish"
    r.app.intent("back")
    assert r.state == "pickup_done"
    (receipt,) = r["printer"].asked("print")[0]
    assert any("D1" in line for line in _lines(receipt))
