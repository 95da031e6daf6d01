"""``kiosk queue recover`` on real damaged files: every readable entry is copied into a fresh
outbox, what was lost is named, and the fresh outbox delivers in order."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from central.server import start_in_thread
from kiosk.cli import main
from offline_queue import Attachment, Outbox
from offline_queue.errors import OutboxDamaged
from offline_queue.outbox import PAYLOAD_DAMAGED
from offline_queue.outbox.integrity import marker_path
from offline_queue.outbox.salvage import salvage
from tests.queue.damage import (
    damage_payload,
    damage_state,
    keys_on_page,
    leaf_pages,
    overwrite_page,
    settle,
)

KIOSK = "KIOSK-LOCAL"
SECRET = b"cli-secret"


def _recover(capsys: pytest.CaptureFixture[str], db: Path, *extra: str) -> dict[str, object]:
    code = main(["queue", "recover", "--db", str(db), "--json", *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in out + err
    report: dict[str, object] = json.loads(out)
    return report


def _drain(tmp_path: Path, db: Path) -> list[str]:
    """Deliver everything deliverable to a fresh central; the keys it got, in order."""
    secret = db.with_suffix(".secret")
    secret.write_bytes(SECRET)
    secret.chmod(0o600)
    central = start_in_thread(tmp_path / "central.sqlite", kiosk_secrets={KIOSK: SECRET})
    try:
        main(["queue", "drain", "--db", str(db), "--central", central.url])
        return [t["key"] for t in central.store.transactions()]
    finally:
        central.stop()


def test_recover_copies_every_readable_entry_and_names_the_lost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "outbox.sqlite"
    with Outbox(db, kiosk_id=KIOSK) as box:
        with box.transaction() as tx:
            keys = [
                tx.put(
                    "k.v",
                    {"n": n, "pad": "p" * 200},
                    attachments=[Attachment("photo.jpg", b"J" * 300)] if n % 50 == 0 else (),
                )
                for n in range(1000)
            ]
        box.journal_begin("dispense", "C12345678")
        photo_no = box.next_sequence("photo")
        delivered = box.claim(10, 30)
        box.ack([(e, "201") for e in delivered])
        settle(box)
        page = leaf_pages(db, "entries")[len(leaf_pages(db, "entries")) // 2]
        on_page = keys_on_page(box, page)
    assert on_page and not set(on_page) & {e.key for e in delivered}
    overwrite_page(db, page)
    with pytest.raises(OutboxDamaged):
        Outbox(db, kiosk_id=KIOSK)

    report = _recover(capsys, db)
    lost = [e["key"] for e in report["lost"]]  # type: ignore[union-attr]
    assert sorted(lost) == sorted(on_page)
    assert report["entries_copied"] == 1000 - len(on_page)
    assert report["undelivered_copied"] == 990 - len(on_page)
    assert report["journal_copied"] == 1 and report["sequences"] == {"photo": photo_no}
    assert report["nothing_lost"] is False and report["problems"]
    damaged = Path(str(report["damaged_copy"]))
    assert damaged.exists() and stat.S_IMODE(damaged.stat().st_mode) == 0o600
    with Outbox(db, kiosk_id=KIOSK) as box:
        assert box.check_integrity().ok
        assert box.counts().pending == 990 - len(on_page)
        assert [e.ref for e in box.unfinished()] == ["C12345678"]
        assert box.next_sequence("photo") == photo_no + 1  # numbers go on, never again
        new_key = box.put("k.v", {"n": "after"})
    assert new_key not in keys  # a new epoch: no key of the old file can come back
    expected = [k for k in keys[10:] if k not in on_page] + [new_key]
    assert _drain(tmp_path, db) == expected


def test_recover_in_text_lists_the_lost_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "outbox.sqlite"
    with Outbox(db, kiosk_id=KIOSK) as box:
        with box.transaction() as tx:
            for n in range(300):
                tx.put("k.v", {"n": n, "pad": "p" * 200})
        settle(box)
        page = leaf_pages(db, "entries")[1]
        on_page = keys_on_page(box, page)
    overwrite_page(db, page)
    assert main(["queue", "recover", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    for key in on_page:
        assert f"LOST             {key} (kind unknown): its row cannot be read" in out
    assert "report every LOST key to central" in out


def test_a_damaged_payload_is_kept_as_a_dead_letter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "outbox.sqlite"
    with Outbox(db, kiosk_id=KIOSK) as box:
        keys = [box.put("k.v", {"n": n}, stream="s") for n in range(5)]
        damage_payload(box, keys[2])
    report = _recover(capsys, db)
    assert [(e["key"], e["state"]) for e in report["dead_letters"]] == [(keys[2], "dead")]  # type: ignore[union-attr, index]
    assert report["undelivered_copied"] == 4 and report["lost"] == []
    with Outbox(db, kiosk_id=KIOSK) as box:
        info = box.entry(keys[2])
        assert info.state == "dead" and (info.last_error or "").startswith(PAYLOAD_DAMAGED)
    assert _drain(tmp_path, db) == keys[:2]  # its stream waits behind it


def test_an_entry_whose_attachment_is_damaged_becomes_a_dead_letter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "outbox.sqlite"
    with Outbox(db, kiosk_id=KIOSK) as box:
        fine = box.put("kiosk.note", {"n": 1}, attachments=[Attachment("p.jpg", b"a" * 99)])
        bad = box.put("kiosk.note", {"n": 2}, attachments=[Attachment("p.jpg", b"b" * 99)])
        file = box._conn.execute(
            "SELECT file FROM attachments WHERE entry_key=?", (bad,)
        ).fetchone()[0]
    target = db.with_name(db.name + ".attachments") / file
    data = bytearray(target.read_bytes())
    data[40] ^= 0xFF
    target.write_bytes(bytes(data))
    report = _recover(capsys, db)
    assert [e["key"] for e in report["dead_letters"]] == [bad]  # type: ignore[union-attr, index]
    assert report["attachments_copied"] == 2
    assert _drain(tmp_path, db) == [fine]


def test_invalid_states_are_repaired_in_the_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "outbox.sqlite"
    with Outbox(db, kiosk_id=KIOSK) as box:
        keys = [box.put("k.v", {"n": n}) for n in range(3)]
        damage_state(box, keys[1])
    report = _recover(capsys, db)
    assert [e["key"] for e in report["dead_letters"]] == [keys[1]]  # type: ignore[union-attr, index]
    with Outbox(db, kiosk_id=KIOSK) as box:
        assert box.open_alerts == () and box.entry(keys[1]).state == "dead"


def test_a_0_byte_outbox_is_set_aside_for_an_empty_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "outbox.sqlite"
    Outbox(db, kiosk_id=KIOSK).close()
    db.write_bytes(b"")
    report = _recover(capsys, db)
    assert report["entries_copied"] == 0 and report["problems"] == ["0-byte file"]
    with Outbox(db, kiosk_id=KIOSK) as box:
        assert box.counts().pending == 0


def test_with_the_key_lost_for_good_an_empty_outbox_lists_what_is_gone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "outbox.sqlite"
    with Outbox(db, kiosk_id=KIOSK) as box:
        keys = [box.put("k.v", {"n": n}) for n in range(4)]
        [first] = box.claim(1, 30)
        box.ack([(first, "201")])
        box.journal_begin("payment", "ORDER-1")
    (tmp_path / "outbox.key").unlink()
    assert main(["queue", "recover", "--db", str(db)]) == 1  # not without saying so
    assert "--key-lost" in capsys.readouterr().err
    report = _recover(capsys, db, "--key-lost")
    assert sorted(e["key"] for e in report["dead_letters"]) == sorted(keys[1:])  # type: ignore[union-attr, index]
    assert report["journal_lost"] == 1 and report["unfinished_actions_lost"] == 1
    assert [n["code"] for n in report["opened"]] == ["queue.key_replaced"]  # type: ignore[union-attr, index]
    with Outbox(db, kiosk_id=KIOSK) as box:  # a new key: nothing sealed is left
        assert box.counts().dead == 3 and box.counts().sent == 1
        fresh = box.put("k.v", {"n": "new"})
    assert _drain(tmp_path, db) == [fresh]


def test_an_interrupted_recovery_keeps_the_outbox_closed_until_it_is_finished(
    tmp_path: Path,
) -> None:
    db = tmp_path / "outbox.sqlite"
    with Outbox(db, kiosk_id=KIOSK) as box:
        keys = [box.put("k.v", {"n": n}) for n in range(3)]
    # The recovery's first steps, then a power cut: the marker names where the file went.
    marker = marker_path(db)
    marker.write_text(json.dumps({"aside": "outbox.sqlite.damaged-x", "started_at": 0}))
    os.rename(db, tmp_path / "outbox.sqlite.damaged-x")
    with pytest.raises(OutboxDamaged) as info:
        Outbox(db, kiosk_id=KIOSK)  # never a new, empty outbox in its place
    assert "interrupted" in str(info.value) and not db.exists()
    report = salvage(db)
    assert report.entries_copied == 3 and report.nothing_lost
    assert not marker.exists()
    with Outbox(db, kiosk_id=KIOSK) as box:
        assert [e.key for e in box.claim(10, 30)] == keys


def test_recover_refuses_an_outbox_in_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "outbox.sqlite"
    with Outbox(db, kiosk_id=KIOSK, busy_timeout_s=0.5) as box, box.transaction() as tx:
        tx.put("k.v", {"n": 1})  # a kiosk in the middle of a write
        assert main(["queue", "recover", "--db", str(db)]) == 1
        assert "in use: stop the kiosk" in capsys.readouterr().err
    assert db.exists() and not marker_path(db).exists()
