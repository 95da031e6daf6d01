"""The renewal fee and issue against the reference central service on loopback, with a real
outbox: every way a payment can end is journaled and recorded once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests

from central.faults import FaultPlan
from central.server import CentralHandle, start_in_thread
from central.store import make_id_number
from devices.simulators.cards import sample_card
from kiosk.core.errors import KioskError
from kiosk.core.session import Session
from kiosk.machine.central import CentralLink
from kiosk.machine.ports import IDCARD_DATA
from kiosk.terminals.renewal.ports import Choice
from kiosk.terminals.renewal.service import (
    PAYMENT,
    IssuePending,
    PaymentRefunded,
    PaymentUnavailable,
    RenewalService,
    Settled,
    Settler,
)
from offline_queue.central_client import CentralClient
from offline_queue.outbox import Outbox
from offline_queue.transport import CentralTransport
from tests.core.power_cut import kill_at

KIOSK = "SZ-RENEW-T1"
SECRET = b"renewal-service-secret"
ZHANG = make_id_number("440304", "19900101", "135")  # eligible
CHOICE = Choice("HK", "individual", "one_trip")


@pytest.fixture
def central(tmp_path: Path) -> Iterator[CentralHandle]:
    handle = start_in_thread(
        tmp_path / "central.sqlite",
        kiosk_secrets={KIOSK: SECRET},
        today=lambda: date(2026, 11, 27),
    )
    yield handle
    handle.stop()


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "outbox.sqlite", kiosk_id=KIOSK)
    yield box
    box.close()


class Clock:
    """Wall time for the service (``now``) and for the outbox's journal (``clock``)."""

    def __init__(self) -> None:
        self.at = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return self.at.timestamp()


def service(url: str, outbox: Outbox, clock: Clock | None = None) -> RenewalService:
    def client() -> CentralClient:
        return CentralClient(CentralTransport(url, kiosk_id=KIOSK, secret=SECRET), timeout_s=2)

    link = CentralLink(client)
    return RenewalService(outbox, link, kiosk_id=KIOSK, settle_s=600, now=clock or Clock())


def session() -> Session:
    s = Session("test", datetime.now())
    s.put(IDCARD_DATA, sample_card(id_number=ZHANG))
    return s


def pay(central: CentralHandle, order_id: str) -> None:
    """The citizen confirms on the phone (the payment platform, simulated by central)."""
    resp = requests.post(f"{central.url}/v1/admin/payments/{order_id}/pay", timeout=5)
    assert resp.status_code == 200, resp.text


def order(svc: RenewalService) -> str:
    return str(svc.order(CHOICE, session()).order_id)


def paid_order(central: CentralHandle, outbox: Outbox) -> tuple[RenewalService, str]:
    """A service and an order of its that the citizen has paid."""
    svc = service(central.url, outbox)
    order_id = order(svc)
    pay(central, order_id)
    return svc, order_id


def open_orders(outbox: Outbox) -> list[str]:
    return [e.ref for e in outbox.unfinished() if e.action == PAYMENT]


def outcome(outbox: Outbox, order_id: str) -> str | None:
    with outbox.transaction() as tx:
        entry = tx.journal_last(order_id, (PAYMENT,))
    return None if entry is None else entry.outcome


def kinds(outbox: Outbox) -> list[str]:
    return [e.kind for e in outbox.entries()]


def test_order_pay_issue_records_the_endorsement_once(
    central: CentralHandle, outbox: Outbox
) -> None:
    svc = service(central.url, outbox)
    made = svc.order(CHOICE, session())
    order_id = made.order_id
    assert made.amount_cny == 15 and order_id in made.pay_url
    assert open_orders(outbox) == [order_id]  # journaled before the code is shown
    assert svc.status(order_id, None).status == "unpaid"
    pay(central, order_id)
    assert svc.status(order_id, None).status == "paid"
    issued = svc.issue(order_id, CHOICE, None, session())
    assert issued.endorsement_no.startswith("E") and issued.fee_cny == 15
    assert issued.issued_at == "2026-11-27T10:00:00+00:00"  # the service's clock
    assert ZHANG not in repr(issued)  # the flow never sees the ID number
    again = svc.issue(order_id, CHOICE, None, session())
    assert again.endorsement_no == issued.endorsement_no  # a replay, not a second one
    assert kinds(outbox) == ["renewal.endorsed"] and open_orders(outbox) == []
    assert outcome(outbox, order_id) == "issued"
    assert central.store.stats()["endorsements"] == 1
    svc.close()


def test_cancelling_an_unpaid_order_closes_it(central: CentralHandle, outbox: Outbox) -> None:
    svc = service(central.url, outbox)
    order_id = order(svc)
    assert svc.cancel(order_id, None).status == "cancelled"
    assert open_orders(outbox) == [] and kinds(outbox) == []
    assert outcome(outbox, order_id) == "cancelled"
    # Too late to pay a cancelled order.
    resp = requests.post(f"{central.url}/v1/admin/payments/{order_id}/pay", timeout=5)
    assert resp.status_code == 409
    svc.close()


def test_cancel_after_paying_keeps_the_order_for_the_issue(
    central: CentralHandle, outbox: Outbox
) -> None:
    svc, order_id = paid_order(central, outbox)
    assert svc.cancel(order_id, None).status == "paid"
    assert open_orders(outbox) == [order_id]
    svc.issue(order_id, CHOICE, None, session())
    assert open_orders(outbox) == []
    svc.close()


def test_an_issue_central_refuses_is_refunded_and_recorded(
    central: CentralHandle, outbox: Outbox
) -> None:
    svc, order_id = paid_order(central, outbox)
    other = replace(CHOICE, option="two_trips")  # not what was paid for: central refuses
    with pytest.raises(PaymentRefunded):
        svc.issue(order_id, other, None, session())
    assert kinds(outbox) == ["renewal.refunded"] and open_orders(outbox) == []
    assert svc.status(order_id, None).status == "refunded"
    svc.close()


def issue_without_an_answer(
    central: CentralHandle, outbox: Outbox, fault: str
) -> tuple[RenewalService, str]:
    """A paid order whose issue request meets ``fault`` (error: not done; reset: done, but
    the answer is lost): the order stays open and nothing is recorded yet."""
    svc, order_id = paid_order(central, outbox)
    central.faults.set(FaultPlan(once={fault: 1}, paths=("/v1/endorsements",)))
    with pytest.raises(IssuePending):
        svc.issue(order_id, CHOICE, None, session())
    assert open_orders(outbox) == [order_id] and kinds(outbox) == []
    return svc, order_id


def test_an_issue_without_an_answer_stays_open_until_settled(
    central: CentralHandle, outbox: Outbox
) -> None:
    svc, order_id = issue_without_an_answer(central, outbox, "error")
    # At start-up (or once the order is old) it is refunded: the citizen was never told
    # it had worked.
    assert svc.reconcile(everything=True) == [Settled(order_id, "refunded")]
    assert kinds(outbox) == ["renewal.refunded"] and open_orders(outbox) == []
    svc.close()


def test_an_endorsement_issued_but_whose_answer_was_lost_is_recorded_as_issued(
    central: CentralHandle, outbox: Outbox
) -> None:
    svc, order_id = issue_without_an_answer(central, outbox, "reset")
    assert central.store.stats()["endorsements"] == 1  # central did issue it
    assert svc.reconcile(everything=True) == [Settled(order_id, "issued")]
    assert kinds(outbox) == ["renewal.endorsed"] and open_orders(outbox) == []
    svc.close()


@pytest.fixture
def clocked(central: CentralHandle, tmp_path: Path) -> Iterator[tuple[Clock, RenewalService]]:
    """A service whose outbox journal and own timestamps follow a test clock."""
    clock = Clock()
    with Outbox(tmp_path / "clocked.sqlite", kiosk_id=KIOSK, clock=clock) as outbox:
        svc = service(central.url, outbox, clock)
        yield clock, svc
        svc.close()


def test_only_old_orders_are_settled_without_the_citizen(
    clocked: tuple[Clock, RenewalService],
) -> None:
    clock, svc = clocked
    outbox = svc.outbox
    order_id = order(svc)
    assert svc.reconcile() == []  # the citizen may still be paying
    clock.at += timedelta(seconds=601)
    assert svc.reconcile() == [Settled(order_id, "cancelled")]
    assert open_orders(outbox) == []


def test_orders_central_cannot_be_asked_about_stay_open_and_staff_hear_once(
    central: CentralHandle, clocked: tuple[Clock, RenewalService]
) -> None:
    clock, svc = clocked
    outbox = svc.outbox
    order_id = order(svc)
    alerts: list[tuple[str, str]] = []
    settler = Settler(svc, lambda work: work(), lambda c, m: alerts.append((c, m)), every_s=0)
    central.faults.set(FaultPlan(rates={"error": 1.0}))
    settler.start()  # at start-up: every open order
    clock.at += timedelta(seconds=601)
    settler.tick()  # later: the old ones
    assert open_orders(outbox) == [order_id]
    assert alerts == [
        (
            "renewal.unsettled",
            f"payment order {order_id} cannot be settled yet (central not answering)",
        )
    ]
    central.faults.set(FaultPlan())
    pay(central, order_id)
    settler.tick()
    assert open_orders(outbox) == []
    assert alerts[-1] == ("renewal.refunded", f"payment order {order_id} refunded (settled)")
    assert len(alerts) == 2


def test_no_order_when_central_is_down_and_bad_requests_are_refused(
    central: CentralHandle, outbox: Outbox
) -> None:
    svc = service(central.url, outbox)
    central.faults.set(FaultPlan(rates={"error": 1.0}))
    with pytest.raises(PaymentUnavailable):
        svc.order(CHOICE, session())
    assert open_orders(outbox) == []
    with pytest.raises(KioskError) as bad:
        svc.status("../../admin", None)
    assert bad.value.code == "renewal.no_order"
    with pytest.raises(KioskError) as no_card:
        svc.order(CHOICE, None)
    assert no_card.value.code == "central.no_idcard"
    svc.close()


def test_staff_list_and_settle_open_orders(
    central: CentralHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiosk.cli import main

    data = tmp_path / "kiosk"
    data.mkdir()
    (data / "central.secret").write_bytes(SECRET)
    (data / "central.secret").chmod(0o600)
    config = tmp_path / "renewal.toml"
    config.write_text(
        f'[kiosk]\nid = "{KIOSK}"\nterminal = "renewal"\ndata_dir = "{data}"\n',
        encoding="utf-8",
    )
    with Outbox(data / "outbox.sqlite", kiosk_id=KIOSK, key_file=data / "outbox.key") as box:
        svc = service(central.url, box)
        paid, unpaid = order(svc), order(svc)
        svc.close()
    pay(central, paid)
    capsys.readouterr()
    assert main(["renewal", "orders", "--config", str(config), "--json"]) == 0
    assert [o["order_id"] for o in json.loads(capsys.readouterr().out)] == [paid, unpaid]
    settle = ["renewal", "settle", "--config", str(config), "--central", central.url, "--json"]
    central.faults.set(FaultPlan(rates={"error": 1.0}))
    assert main(settle) == 2  # central not answering: still open, try again later
    capsys.readouterr()
    central.faults.set(FaultPlan())
    assert main(settle) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"order_id": paid, "outcome": "refunded"},
        {"order_id": unpaid, "outcome": "cancelled"},
    ]
    assert main(["renewal", "orders", "--config", str(config)]) == 0
    assert capsys.readouterr().out == ""


# A power cut at each step of a paid renewal: (step the child stops at, what settling the
# order at the next start does, the record the outbox then holds, endorsements at central).
CRASHES = [
    ("journaled", "cancelled", [], 0),  # the code was on screen, nobody paid
    ("paid", "refunded", ["renewal.refunded"], 0),  # paid, the issue never asked for
    ("issued", "issued", ["renewal.endorsed"], 1),  # central issued, the kiosk never heard
    ("recorded", None, ["renewal.endorsed"], 1),  # all done, nothing left to settle
]


@pytest.mark.parametrize(("stop_at", "settled", "records", "endorsements"), CRASHES)
def test_a_power_cut_at_any_step_neither_loses_money_nor_issues_twice(
    central: CentralHandle,
    tmp_path: Path,
    stop_at: str,
    settled: str | None,
    records: list[str],
    endorsements: int,
) -> None:
    path = tmp_path / "outbox.sqlite"
    steps = kill_at("tests.core.renewal_crash_child", [str(path), central.url], stop_at)
    order_id = steps[-1][1]
    with Outbox(path, kiosk_id=KIOSK) as outbox:  # the restarted kiosk
        svc = service(central.url, outbox)
        expected = [] if settled is None else [Settled(order_id, settled)]
        assert svc.reconcile(everything=True) == expected
        assert svc.reconcile(everything=True) == []  # settled once, not at every start
        assert kinds(outbox) == records and open_orders(outbox) == []
        svc.close()
    assert central.store.stats()["endorsements"] == endorsements
    status = central.store.payment_status(KIOSK, order_id)["status"]
    assert status == {"cancelled": "cancelled", "refunded": "refunded"}.get(str(settled), "paid")


def test_a_settle_tick_after_the_worker_stopped_is_harmless(
    central: CentralHandle, outbox: Outbox
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    worker = ThreadPoolExecutor(1)
    settler = Settler(service(central.url, outbox), worker.submit, lambda c, m: None, every_s=0)
    worker.shutdown()
    settler.tick()  # the backend's watch may tick once more while the kiosk stops
