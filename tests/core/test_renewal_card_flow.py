"""The renewal flows of a machine with a card module, with scripted services and a manual
clock: after payment the permit is inserted, written and printed, and handed back, each step
on its own screen; every way it fails says what happened to the money and what to do; the
reprint service; nobody is ever stuck (cancel, timeouts)."""

from __future__ import annotations

from kiosk.core.calls import Failure
from kiosk.core.engine import Event
from kiosk.core.errors import KioskError
from kiosk.terminals.renewal.ports import CARD_STEP, CardIssued, Reprinted
from kiosk.texts import TEXTS
from tests.core.flow_rigs import Rig, make_rig, terminal_config
from tests.core.test_renewal_flow import ELIGIBLE, GENUINE, ISSUED, ORDER, PAID, poll, to_paying

DONE = CardIssued(ISSUED, printed=True, returned="taken")


def rig(*, hanging: tuple[str, ...] = ("rewriter",)) -> Rig:
    config = terminal_config(
        "renewal", devices={"rewriter": {"driver": "tcp300", "port": "/dev/null"}}
    )
    services = ("idcard", "central", "chip", "renewal", "printer", "rewriter", "rewriter.cancel")
    r = make_rig(config, services, hanging)
    r["central"].answer("eligibility", ELIGIBLE)
    r["chip"].answer("read", GENUINE)
    r["renewal"].answer("order", ORDER)
    r["renewal"].answer("status", PAID)
    r["rewriter.cancel"].answer("cancel_insert", None)
    return r


def paid(r: Rig) -> None:
    to_paying(r)
    poll(r)
    assert r.state == "endorse_card"


def step(r: Rig, name: str) -> None:
    r.app.post(Event(CARD_STEP, {"step": name}))


def answer(r: Rig, reply: object) -> None:
    r.app.post(Event("endorse.card.ok", reply=reply))


def fail(r: Rig, code: str) -> None:
    r.app.post(Event("endorse.card.failed", reply=Failure(code, "")))


def text(key: str, **values: object) -> str:
    return TEXTS.text(key, "en", **values)


def test_after_payment_the_permit_goes_in_is_written_printed_and_handed_back() -> None:
    r = rig()
    paid(r)
    assert [op for op, _ in r["renewal"].calls] == ["order", "status"]  # central issues later
    step(r, "insert")
    assert (r.state, r.view.title) == ("endorse_card_insert", "card.insert.title")
    assert [b.intent for b in r.view.buttons] == ["cancel"]
    step(r, "held")
    assert r.state == "endorse_card_writing"
    step(r, "writing")
    assert r.state == "endorse_card_writing"
    marks = r.view.values
    assert (marks["authorising"], marks["writing"], marks["printing"]) == ("✓", "▶", "·")
    assert text("card.step.writing", **marks).startswith("▶")
    r.app.intent("home")  # the card is inside: no leaving now
    assert r.state == "endorse_card_writing"
    step(r, "printing")
    step(r, "take")
    assert (r.state, r.view.title) == ("endorse_card_take", "card.take.title")
    answer(r, DONE)
    assert r.state == "endorse_done"
    assert "endorse.done.card" in r.view.body and "endorse.done.record" not in r.view.body
    assert r.view.tone == "ok" and r["printer"].asked("print")  # the payment slip


def test_a_card_kept_or_a_back_not_printed_is_said_on_the_last_screen() -> None:
    r = rig()
    paid(r)
    answer(r, CardIssued(ISSUED, printed=False, returned="captured"))
    assert r.state == "endorse_done"
    assert {"endorse.done.card_unprinted", "card.captured"} <= set(r.view.body)
    assert r.view.tone == "warn"


def test_cancelling_the_wait_for_the_permit_refunds_and_says_so() -> None:
    r = rig()
    paid(r)
    step(r, "insert")
    r.app.intent("cancel")
    assert r["rewriter.cancel"].asked("cancel_insert") == [()]
    assert r.view.body == ("card.cancelling",) and r.view.buttons == ()
    fail(r, "renewal.no_card")
    assert (r.state, r.view.title) == ("endorse_card_refunded", "card.failed.no_card.title")
    assert "card.refunded" in r.view.body and r.view.values["amount"] == ORDER.amount_cny
    assert any(a.code == "renewal.refunded" for a in r.alerts)
    r.app.intent("finished")
    assert r.state == "attract"


def test_a_reversed_card_is_asked_for_again() -> None:
    r = rig()
    paid(r)
    step(r, "insert")
    step(r, "reversed")
    assert r.state == "endorse_card_insert" and "card.reversed.body" in r.view.body


def test_each_failure_names_what_to_do_and_a_jam_calls_staff() -> None:
    for code, title in (
        ("renewal.card_refused", "card.failed.card_refused.title"),
        ("renewal.chip_failed", "card.failed.chip_failed.title"),
        ("renewal.card_jam", "card.failed.card_jam.title"),
        ("device.weird", "card.failed.other.title"),
    ):
        r = rig()
        paid(r)
        step(r, "held")
        fail(r, code)
        assert (r.state, r.view.title) == ("endorse_card_refunded", title), code
        jam = [a for a in r.alerts if a.code == "renewal.card_jam"]
        assert bool(jam) == (code == "renewal.card_jam")


def test_central_silent_leaves_the_order_to_be_settled_and_staff_told() -> None:
    r = rig()
    paid(r)
    fail(r, "renewal.card_pending")
    assert r.state == "endorse_unconfirmed"
    assert any(a.code == "renewal.unconfirmed" for a in r.alerts)


def test_a_card_module_that_never_answers_ends_unconfirmed_never_stuck() -> None:
    r = rig()
    paid(r)
    step(r, "insert")
    r.clock.advance(90 + 30 + 8 * 30 + 1)  # the whole issuance's time, and then some
    assert r.state == "endorse_unconfirmed"
    r.app.intent("finished")
    assert r.state == "attract"


def test_the_service_answers_in_one_go_when_it_is_quick() -> None:
    r = rig(hanging=())
    r["rewriter"].answer("issue_card", DONE)
    paid_quickly = to_paying
    paid_quickly(r)
    poll(r)
    assert r.state == "endorse_done"


def test_reprint_reads_the_chip_checks_it_and_prints_again_for_free() -> None:
    r = rig(hanging=())
    r["rewriter"].answer("reprint", Reprinted("E20261127000001", "2028-11-26", True, True, "taken"))
    r.app.intent("start")
    r.app.intent("select", service="reprint")
    r.app.intent("read")
    assert r.state == "reprint_done"
    assert r.view.code == "E20261127000001" and "reprint.done.valid" in r.view.body
    assert r["renewal"].calls == []  # free: no payment order
    r["rewriter"].answer("reprint", KioskError("no record", code="renewal.no_endorsement"))
    r.app.intent("finished")
    r.app.intent("start")
    r.app.intent("select", service="reprint")
    r.app.intent("read")
    assert (r.state, r.view.title) == ("reprint_failed", "card.failed.no_endorsement.title")
    assert "reprint.free" in r.view.body


def test_reprint_steps_and_cancel() -> None:
    r = rig()
    r.app.intent("start")
    r.app.intent("select", service="reprint")
    r.app.intent("read")
    assert r.state == "reprint_card"
    step(r, "insert")
    assert r.view.title == "reprint.insert.title"
    r.app.intent("cancel")
    assert r["rewriter.cancel"].asked("cancel_insert") == [()]
    r.app.post(Event("reprint.card.failed", reply=Failure("renewal.no_card", "")))
    assert (r.state, r.view.title) == ("reprint_failed", "card.failed.no_card.title")


def test_a_machine_without_a_card_module_offers_no_reprint() -> None:
    from tests.core.test_renewal_flow import rig as plain_rig

    r = plain_rig()
    r.app.intent("start")
    assert [item.key for item in r.view.services] == ["endorse", "query", "appointment"]
