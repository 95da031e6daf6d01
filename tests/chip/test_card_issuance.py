"""The endorsement onto the permit as one journaled action, against real parts: the card
module's driver and its simulator (loopback TCP), the chip through pcscd to a virtual permit
personalised with the demo issuer key, central on loopback HTTP holding that key, a real
outbox. Every way it can end says what happened to the money and to the card; a power cut
after any step (a child process killed there) is resumed or refunded at the next start,
never written, issued or charged twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from central import issuer
from central.server import CentralHandle, start_in_thread
from devices.simulators.pcsc_stack import PcscStack
from devices.simulators.tcp300 import Tcp300Simulator
from devices.simulators.vcard import VirtualTravelDocument
from kiosk.terminals.renewal.card import CARD, CardError
from kiosk.terminals.renewal.service import PAYMENT
from offline_queue.outbox import Outbox
from tests.core.power_cut import kill_at

from .card_rig import CHOICE, KIOSK, SECRET, KioskParts, build, paid_order, session_for
from .conftest import CardFactory

TODAY = date(2026, 11, 27)


@pytest.fixture
def central(tmp_path: Path) -> Iterator[CentralHandle]:
    handle = start_in_thread(
        tmp_path / "central.sqlite",
        kiosk_secrets={KIOSK: SECRET},
        today=lambda: TODAY,
        issuer_key=issuer.DEMO_MASTER_KEY,
    )
    yield handle
    handle.stop()


@pytest.fixture
def module() -> Iterator[Tcp300Simulator]:
    sim = Tcp300Simulator(transport="tcp", insert_after_s=0.2, take_after_s=0.2)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def permit(insert_card: CardFactory) -> VirtualTravelDocument:
    return insert_card()  # the demo permit, personalised with the demo issuer key


@pytest.fixture
def kiosk(
    tmp_path: Path,
    central: CentralHandle,
    module: Tcp300Simulator,
    pcsc_stack: PcscStack,
    permit: VirtualTravelDocument,
) -> Iterator[KioskParts]:
    parts = build(tmp_path / "outbox.sqlite", central.url, module.port, pcsc_stack.reader_name)
    yield parts
    parts.close()


def outcome(outbox: Outbox, order_id: str, action: str) -> str | None:
    with outbox.transaction() as tx:
        entry = tx.journal_last(order_id, (action,))
    return None if entry is None else entry.outcome


def kinds(outbox: Outbox) -> list[str]:
    return [e.kind for e in outbox.entries()]


def printed_dots(module: Tcp300Simulator) -> int:
    card = module.last_card
    assert card is not None
    return int(np.count_nonzero(card.film))


def test_a_paid_renewal_is_written_printed_and_handed_back(
    kiosk: KioskParts,
    central: CentralHandle,
    module: Tcp300Simulator,
    permit: VirtualTravelDocument,
) -> None:
    session = session_for(kiosk)
    order_id = paid_order(kiosk, central.url, session)
    done = kiosk.card.issue_card(order_id, CHOICE, {"decision": "match"}, session)
    assert (done.printed, done.returned) == (True, "taken")
    [record] = permit.endorsements()
    assert record.endorsement_no == done.issued.endorsement_no and record.sequence == 1
    assert (record.region.value, record.purpose.value, record.trips) == ("HK", "individual", 1)
    assert printed_dots(module) > 2000 and module.taken and not module.captured
    assert kiosk.steps() == [
        "insert",
        "held",
        "authorising",
        "writing",
        "verifying",
        "printing",
        "take",
    ]
    assert outcome(kiosk.outbox, order_id, PAYMENT) == "issued"
    assert outcome(kiosk.outbox, order_id, CARD) == "taken"
    assert kinds(kiosk.outbox) == ["renewal.endorsed", "renewal.card_returned"]
    assert central.store.chips.state(KIOSK, order_id)["written"]
    assert central.store.stats()["endorsements"] == 1
    # never again for the same payment
    with pytest.raises(Exception, match=r"not open|before"):
        kiosk.card.issue_card(order_id, CHOICE, None, session)
    assert len(permit.endorsements()) == 1


def test_nobody_inserting_the_permit_is_refunded(
    tmp_path: Path,
    central: CentralHandle,
    module: Tcp300Simulator,
    pcsc_stack: PcscStack,
    permit: VirtualTravelDocument,
) -> None:
    module.auto_insert(None)
    parts = build(
        tmp_path / "outbox.sqlite", central.url, module.port, pcsc_stack.reader_name, insert_s=1.5
    )
    try:
        session = session_for(parts)
        order_id = paid_order(parts, central.url, session)
        with pytest.raises(CardError) as failed:
            parts.card.issue_card(order_id, CHOICE, None, session)
        assert (failed.value.code, failed.value.refunded) == ("renewal.no_card", True)
        assert central.store.payment_status(KIOSK, order_id)["status"] == "refunded"
        assert outcome(parts.outbox, order_id, PAYMENT) == "refunded"
        assert kinds(parts.outbox) == ["renewal.refunded"]
        assert permit.endorsements() == [] and central.store.stats()["endorsements"] == 0
    finally:
        parts.close()


def test_a_chip_that_refuses_centrals_cryptogram_is_refunded_and_handed_back(
    tmp_path: Path,
    central: CentralHandle,
    module: Tcp300Simulator,
    pcsc_stack: PcscStack,
    insert_card: CardFactory,
) -> None:
    card = insert_card(issuer_master_key=bytes(range(1, 33)))  # another issuer's chip
    parts = build(tmp_path / "outbox.sqlite", central.url, module.port, pcsc_stack.reader_name)
    try:
        session = session_for(parts)
        order_id = paid_order(parts, central.url, session)
        with pytest.raises(CardError) as failed:
            parts.card.issue_card(order_id, CHOICE, None, session)
        assert (failed.value.code, failed.value.refunded) == ("renewal.chip_failed", True)
        assert card.endorsements() == []
        state = central.store.chips.state(KIOSK, order_id)
        assert state["voided"] and state["status"] == "refunded"
        assert central.store.permit_status(session_id_number())["endorsement"] is None
        assert module.taken and printed_dots(module) == 0  # nothing printed on it
        assert outcome(parts.outbox, order_id, CARD) == "refunded:taken"
    finally:
        parts.close()


def test_a_card_found_in_the_module_at_start_up_is_handed_back_or_captured(
    kiosk: KioskParts, module: Tcp300Simulator
) -> None:
    from devices.simulators.tcp300 import PermitCard

    module.auto_take(None)
    module.present_card(PermitCard("left behind"))
    kiosk.rewriter.insert(timeout_s=5)  # taken in, then the kiosk restarted
    assert kiosk.card.recover() == []
    assert [c.label for c in module.captured] == ["left behind"]
    assert {code for code, _ in kiosk.alerts} == {"renewal.card_found", "renewal.card_captured"}


def session_id_number() -> str:
    from .card_rig import ZHANG

    return ZHANG


# (step the power is cut after, money's end, records on the chip)
CUTS = [
    ("journaled", "refunded", 0),  # the permit never went in
    ("card_held", "issued", 1),  # in the module: resumed at start-up
    ("authorised", "issued", 1),  # central's record not written yet: the same slot again
    ("written", "issued", 1),  # on the chip, the kiosk never recorded it: confirmed, not rewritten
    ("recorded", "issued", 1),  # recorded, not printed: printed and handed back
    ("printed", "issued", 1),
    ("ejected", "issued", 1),  # waiting in the slot
]


@pytest.mark.parametrize(("stop_at", "money", "records"), CUTS)
def test_a_power_cut_at_any_step_is_resumed_or_refunded_never_twice(
    tmp_path: Path,
    central: CentralHandle,
    module: Tcp300Simulator,
    pcsc_stack: PcscStack,
    permit: VirtualTravelDocument,
    stop_at: str,
    money: str,
    records: int,
) -> None:
    path = tmp_path / "outbox.sqlite"
    args = [str(path), central.url, module.port, pcsc_stack.reader_name]
    steps = kill_at("tests.chip.card_crash_child", args, stop_at)
    order_id = steps[-1][1]
    parts = build(path, central.url, module.port, pcsc_stack.reader_name)  # the restart
    try:
        done = parts.card.recover()
        assert len(done) == 1 and done[0].startswith(order_id), done
        assert parts.card.recover() == []  # settled once, not at every start
        assert parts.outbox.unfinished() == []
        assert outcome(parts.outbox, order_id, PAYMENT) == money
        assert len(permit.endorsements()) == records
        status = central.store.payment_status(KIOSK, order_id)["status"]
        assert status == ("paid" if money == "issued" else "refunded")
        assert central.store.stats()["endorsements"] == records
        if records:
            assert central.store.chips.state(KIOSK, order_id)["written"]
            assert printed_dots(module) > 2000  # the back shows it
        card = module.last_card
        if stop_at == "journaled":
            assert card is None  # never asked for
        else:
            assert card is not None and (card in module.taken or card in module.captured)
        assert module.card is None  # nothing left in the module
    finally:
        parts.close()
