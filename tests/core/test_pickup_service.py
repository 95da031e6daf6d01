"""The journaled pickup handover against the CRT-591 simulator over a real pty and a real
SQLite outbox, including a process killed with SIGKILL at each step of a dispense."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from devices.drivers.crt591 import Crt591Dispenser
from devices.simulators.crt591 import Crt591Simulator
from kiosk.core.engine import Event
from kiosk.core.errors import KioskError
from kiosk.core.session import Session
from kiosk.machine.ports import IDCARD_DATA
from kiosk.terminals.pickup.ports import Document, Handover
from kiosk.terminals.pickup.service import DispenseUncertain, DocumentWithheld, PickupService
from offline_queue.outbox import Outbox
from tests.core.power_cut import kill_at

KIOSK = "K-TEST-01"
DOC = Document("D202611270001", "hk_macau_permit", "A01")


@dataclass
class Rig:
    sim: Crt591Simulator
    service: PickupService
    outbox: Outbox
    posted: list[Event]

    def kinds(self) -> list[str]:
        return [e.kind for e in self.outbox.entries()]

    def payloads(self) -> list[dict[str, object]]:
        return [c.payload for c in self.outbox.claim(100, 60.0)]

    def outcomes(self) -> list[str | None]:
        with self.outbox.transaction() as tx:
            rows = tx.execute("SELECT outcome FROM journal ORDER BY id").fetchall()
        return [r[0] for r in rows]


def open_rig(path: Path, **sim_options: object) -> Iterator[Rig]:
    options: dict[str, object] = {"initialised": True, "move_s": 0.02, **sim_options}
    with Crt591Simulator(**options) as sim:  # type: ignore[arg-type]
        dispenser = Crt591Dispenser.from_settings(
            "dispenser", {"port": sim.port, "baud": 9600, "take_timeout_s": 0.5}
        )
        dispenser.open(timeout_s=3)
        outbox = Outbox(path, kiosk_id=KIOSK)
        posted: list[Event] = []
        service = PickupService(outbox, lambda: dispenser, KIOSK, 0.5, 5.0, post=posted.append)
        try:
            yield Rig(sim, service, outbox, posted)
        finally:
            outbox.close()
            dispenser.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from open_rig(tmp_path / "outbox.sqlite")


def test_taken_records_the_handover_and_completes_the_journal_in_one_commit(rig: Rig) -> None:
    rig.sim.auto_take(0.1)
    unfinished_at_gate = []

    def at_gate(event: Event) -> None:
        unfinished_at_gate.extend(e.ref for e in rig.outbox.unfinished())  # durable by now
        assert rig.sim.mechanics.dispensed == 1

    rig.service.post = at_gate
    result = rig.service.hand_over(DOC, None, None, None)
    assert unfinished_at_gate == [DOC.document_no]
    assert result.taken is True and not rig.outbox.unfinished()
    assert rig.kinds() == ["pickup.handover"] and rig.outcomes() == ["taken"]
    assert rig.payloads()[0]["document_no"] == DOC.document_no
    assert rig.sim.mechanics.dispensed == 1


def test_the_citizens_id_number_goes_into_the_encrypted_record(rig: Rig) -> None:
    from datetime import datetime

    from devices.simulators.cards import sample_card

    session = Session("pickup", datetime.now())
    card = sample_card()
    session.put(IDCARD_DATA, card)
    rig.sim.auto_take(0.05)
    rig.service.hand_over(DOC, None, None, session)
    assert rig.posted == [Event("pickup.at_gate", {"document_no": DOC.document_no})]
    assert rig.payloads()[0]["id_number"] == card.id_number
    files = [rig.outbox.path, Path(f"{rig.outbox.path}-wal")]
    at_rest = b"".join(f.read_bytes() for f in files if f.exists())
    assert card.id_number.encode() not in at_rest
    # The journal of the dispense names the document by pseudonym only.
    assert str(DOC.document_no).encode() not in at_rest


def test_not_taken_is_captured_and_recorded_as_retained(rig: Rig) -> None:
    result = rig.service.hand_over(DOC, None, None, None)
    assert result == Handover(DOC.document_no, taken=False)
    assert rig.sim.mechanics.bin_count == 1
    assert rig.kinds() == ["pickup.retained"] and rig.outcomes() == ["captured"]


def test_a_document_is_never_dispensed_twice(rig: Rig) -> None:
    rig.sim.auto_take(0.05)
    rig.service.hand_over(DOC, None, None, None)
    with pytest.raises(DocumentWithheld):
        rig.service.hand_over(DOC, None, None, None)
    assert rig.sim.mechanics.dispensed == 1 and rig.service.withheld(DOC.document_no)
    assert not rig.service.withheld("D-OTHER")


def test_a_jam_leaves_the_document_uncertain_and_withheld_until_staff_release_it(
    rig: Rig,
) -> None:
    rig.sim.jam_next_dispense()
    with pytest.raises(DispenseUncertain) as caught:
        rig.service.hand_over(DOC, None, None, None)
    assert caught.value.code == "pickup.uncertain" and not rig.posted
    assert rig.kinds() == ["pickup.uncertain"] and rig.outcomes() == ["uncertain"]
    assert rig.service.withheld(DOC.document_no)
    rig.service.release(DOC.document_no)
    assert not rig.service.withheld(DOC.document_no)


def test_an_operation_without_a_document_number_moves_nothing(rig: Rig) -> None:
    with pytest.raises(KioskError) as caught:
        rig.service.hand_over(Document("", "passport", ""), None, None, None)
    assert caught.value.code == "pickup.no_document"
    assert rig.sim.mechanics.dispensed == 0 and not rig.outbox.unfinished()


@pytest.mark.parametrize("stop_at", ["journal_begun", "at_gate", "taken"])
def test_killed_mid_dispense_is_recovered_without_dispensing_again(
    tmp_path: Path, stop_at: str
) -> None:
    path = tmp_path / "outbox.sqlite"
    kill_at("tests.core.pickup_crash_child", [str(path), DOC.document_no], stop_at)
    for rig in open_rig(path):  # the restarted kiosk, with its dispenser
        assert [e.ref for e in rig.outbox.unfinished()] == [DOC.document_no]
        assert rig.service.recover() == [DOC.document_no]
        assert not rig.outbox.unfinished() and rig.kinds() == ["pickup.uncertain"]
        assert rig.service.recover() == []  # recovered once, not at every start
        with pytest.raises(DocumentWithheld):
            rig.service.hand_over(DOC, None, None, None)
        assert rig.sim.mechanics.dispensed == 0


def test_staff_list_and_release_withheld_documents(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiosk.cli import main

    config = tmp_path / "pickup.toml"
    config.write_text(
        f'[kiosk]\nid = "{KIOSK}"\nterminal = "pickup"\ndata_dir = "{tmp_path}"\n',
        encoding="utf-8",
    )
    for rig in open_rig(tmp_path / "outbox.sqlite"):
        rig.sim.auto_take(0.05)
        rig.service.hand_over(DOC, None, None, None)
        rig.service.hand_over(replace(DOC, document_no="D-2"), None, None, None)
    capsys.readouterr()
    assert main(["pickup", "withheld", "--config", str(config), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == [
        {"document_no": DOC.document_no, "outcome": "taken"},
        {"document_no": "D-2", "outcome": "taken"},
    ]
    assert main(["pickup", "release", "D-2", "--config", str(config)]) == 0
    assert main(["pickup", "release", "D-2", "--config", str(config)]) == 1  # not withheld now
    capsys.readouterr()
    assert main(["pickup", "withheld", "--config", str(config), "--json"]) == 0
    assert [d["document_no"] for d in json.loads(capsys.readouterr().out)] == [DOC.document_no]


def test_staff_load_and_unload_tell_central_where_a_document_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the outbox to a real central on loopback: after ``load`` this machine offers
    the document at its slot; after ``unload`` it waits at the counter; an unknown number is
    refused and dead-lettered, so staff see it in ``kiosk queue list``."""
    from datetime import date

    from central.server import start_in_thread
    from central.store import make_id_number
    from kiosk.cli import main
    from kiosk.config import load_config
    from kiosk.machine.backend import data_path, open_sync_worker
    from offline_queue.auth import load_or_create_secret

    config_file = tmp_path / "pickup.toml"
    config_file.write_text(
        f'[kiosk]\nid = "{KIOSK}"\nterminal = "pickup"\ndata_dir = "{tmp_path}"\n',
        encoding="utf-8",
    )
    config = load_config(config_file)
    secret = load_or_create_secret(data_path(config, "central.secret"))
    zhou = make_id_number("440307", "19920420", "567")  # her permit is seeded in SZ-FT-K02
    central = start_in_thread(
        tmp_path / "central.sqlite", kiosk_secrets={KIOSK: secret}, today=lambda: date(2026, 11, 27)
    )
    worker = open_sync_worker(config, central.url)
    try:
        [elsewhere] = central.store.documents_ready(zhou, KIOSK)["elsewhere"]
        assert elsewhere["kiosk_id"] == "SZ-FT-K02"
        number = "D202611270003"
        args = ["--config", str(config_file)]
        assert main(["pickup", "load", number, "--slot", "C09", *args]) == 0
        assert main(["pickup", "load", "D-NOT-FINISHED", "--slot", "C10", *args]) == 0
        assert worker.drain(max_seconds=10) == 1
        [doc] = central.store.documents_ready(zhou, KIOSK)["documents"]
        assert (doc["document_no"], doc["slot"]) == (number, "C09")
        [dead] = worker.outbox.entries("dead")
        assert dead.kind == "pickup.loaded" and "no finished document" in (dead.last_error or "")

        assert main(["pickup", "unload", number, *args]) == 0
        assert worker.drain(max_seconds=10) == 1
        ready = central.store.documents_ready(zhou, KIOSK)
        assert ready["documents"] == [] and ready["elsewhere"] == [{"kiosk_id": None, "count": 1}]
        assert "queued for central" in capsys.readouterr().out
    finally:
        worker.transport.close()
        worker.outbox.close()
        central.stop()
