"""The fleet console against a real store (SQLite and PostgreSQL) and over real HTTP: the
forecast's arithmetic on usage history kept in the store, remote commands through heartbeats,
alert acknowledgements, sign-in with lockout, sessions, CSRF and roles."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from central.console import forecast, views
from central.console.auth import hash_password
from central.server import CentralHandle, start_in_thread
from central.store import CentralStore
from central.store.fleet import COMMAND_TTL_S
from offline_queue.transport import CentralTransport

HOUR = 3600.0
T0 = 1_700_000_000.0  # in the past: staff marks are stamped with the real time
PICKUP = "SZ-FT-K01"  # holds three documents in the demo data
PASSWORD = "correct horse battery"


@pytest.fixture
def store(central_db: str) -> Iterator[CentralStore]:
    s = CentralStore(central_db)
    yield s
    s.close()


def usage(lines: int, *, dispensed: int = 0, captures: int = 0, near_end: bool = False) -> Any:
    return {
        "kiosk": {"terminal": "pickup", "place": "Futian"},
        "usage": {
            "counters": {
                "receipt_lines": lines,
                "receipts": lines // 20,
                "cards_dispensed": dispensed,
                "captures": captures,
            },
            "paper": {"near_end": near_end, "capacity_lines": 20_000, "near_end_lines": 1_000},
            "bin": {"capacity": 30},
        },
    }


def outlooks(store: CentralStore, kiosk: str, body: Any, now: float, lead_h: float = 24.0) -> Any:
    found = views.outlooks(
        store,
        kiosk,
        usage=body["usage"],
        terminal="pickup",
        stock=store.fleet.stock().get(kiosk, {}),
        lead_h=lead_h,
        now=now,
    )
    return {o.consumable: o for o in found}


def test_the_forecast_is_worked_out_from_the_usage_history_in_the_store(
    store: CentralStore,
) -> None:
    # Five hours: 300 lines and 2 documents an hour, a sample every 30 minutes.
    for i in range(11):
        body = usage(5_000 + 150 * i, dispensed=40 + i, captures=2)
        store.fleet.on_heartbeat(PICKUP, body, now=T0 + i * 1800)
    now = T0 + 10 * 1800
    o = outlooks(store, PICKUP, body, now)
    # The first report counts as a full roll: 1,500 lines used since.
    assert o["paper"].left == 18_500
    assert o["paper"].per_hour == pytest.approx(300)
    assert o["paper"].hours_left == pytest.approx(18_500 / 300)
    assert not o["paper"].warn
    assert o["bin"].left == 30 and o["bin"].hours_left is None  # nothing captured lately
    assert o["stock"].left == 3 and o["stock"].per_hour == pytest.approx(2)
    assert o["stock"].hours_left == pytest.approx(1.5) and o["stock"].warn
    # A longer lead time warns about the paper too.
    assert outlooks(store, PICKUP, body, now, lead_h=72)["paper"].warn


def test_near_end_caps_what_is_left_and_a_new_roll_starts_afresh(store: CentralStore) -> None:
    store.fleet.on_heartbeat("K-A", usage(0), now=T0)
    store.fleet.on_heartbeat("K-A", usage(6_000), now=T0 + 2 * HOUR)
    body = usage(12_000, near_end=True)
    store.fleet.on_heartbeat("K-A", body, now=T0 + 4 * HOUR)
    o = outlooks(store, "K-A", body, T0 + 4 * HOUR)
    assert o["paper"].left == 1_000  # the sensor's reserve, not the 8,000 the count says
    assert o["paper"].per_hour == pytest.approx(3_000)
    assert o["paper"].warn
    # The roll is changed: the sensor clears, what is left counts from here.
    store.fleet.on_heartbeat("K-A", usage(12_100), now=T0 + 5 * HOUR)
    body = usage(12_600)
    store.fleet.on_heartbeat("K-A", body, now=T0 + 6 * HOUR)
    o = outlooks(store, "K-A", body, T0 + 6 * HOUR)
    assert o["paper"].left == 20_000 - 500
    assert o["paper"].per_hour == pytest.approx(12_600 / 6)
    # Staff mark the bin emptied on the console: counted from the last report.
    store.fleet.on_heartbeat("K-A", usage(12_600, captures=25), now=T0 + 7 * HOUR)
    assert store.fleet.replenished("K-A", "bin", "alice")
    assert store.fleet.last_mark("K-A", "bin") is not None
    body = usage(12_600, captures=27)
    assert outlooks(store, "K-A", body, T0 + 7 * HOUR)["bin"].left == 28


def test_a_counter_reset_counts_from_zero() -> None:
    samples = [(0.0, {"c": 100}), (HOUR, {"c": 160}), (2 * HOUR, {"c": 20}), (3 * HOUR, {"c": 50})]
    assert forecast.usage_per_hour(samples, "c") == pytest.approx((60 + 20 + 30) / 3)
    assert forecast.usage_per_hour(samples[:1], "c") is None
    assert forecast.usage_per_hour([(0.0, {"c": 1}), (60.0, {"c": 9})], "c") is None


def test_the_round_list_groups_by_hall(store: CentralStore) -> None:
    for kiosk, hall, lines in (
        ("K-1", "Hall A", 19_500),
        ("K-2", "Hall A", 100),
        ("K-3", "B", 19_900),
    ):
        for i in range(3):
            body = usage(i * lines // 2)
            body["kiosk"]["place"] = hall
            store.fleet.on_heartbeat(kiosk, body, now=T0 + i * HOUR)
    round_ = forecast.round_list(
        (k, hall, list(outlooks(store, k, usage(lines), T0 + 2 * HOUR).values()))
        for k, hall, lines in (
            ("K-1", "Hall A", 19_500),
            ("K-2", "Hall A", 100),
            ("K-3", "B", 19_900),
        )
    )
    assert round_["Hall A"]["paper_rolls"] == 1
    assert [i["kiosk_id"] for i in round_["Hall A"]["items"] if i["consumable"] == "paper"] == [
        "K-1"
    ]
    assert round_["B"]["paper_rolls"] == 1


def test_a_command_goes_out_until_its_outcome_is_reported(store: CentralStore) -> None:
    command = store.fleet.request_command("K-A", "test_print", "alice")
    assert store.fleet.on_heartbeat("K-B", {}) == []  # another machine's
    assert store.fleet.on_heartbeat("K-A", {}) == [{"id": command, "action": "test_print"}]
    assert store.fleet.on_heartbeat("K-A", {}) == [{"id": command, "action": "test_print"}]
    # Another machine cannot report on it.
    store.fleet.on_heartbeat("K-B", {"command_results": [{"id": command, "ok": True}]})
    body = {"command_results": [{"id": command, "ok": False, "detail": "paper out"}]}
    assert store.fleet.on_heartbeat("K-A", body) == []
    [row] = store.fleet.commands("K-A")
    assert (row["state"], row["result"]) == ("failed", "failed: paper out")
    audit = [a for a in store.fleet.audit_log() if a["command_id"] == command]
    assert [(a["username"], a["action"], a["result"]) for a in audit] == [
        ("alice", "command.test_print", "failed: paper out")
    ]
    late = store.fleet.request_command("K-A", "send_now", "alice")
    future = store.fleet.commands("K-A")[0]["requested_at"] + COMMAND_TTL_S + 1
    assert store.fleet.on_heartbeat("K-A", {}, now=future) == []
    assert {c["id"]: c["state"] for c in store.fleet.commands("K-A")}[late] == "expired"
    with pytest.raises(ValueError):
        store.fleet.request_command("K-A", "format_disk", "alice")


def test_an_alert_is_acknowledged_once_with_its_note(store: CentralStore) -> None:
    alert = {"id": "a1", "code": "citizen.help", "message": "help", "at": "2026-01-01T10:00:00"}
    store.heartbeat("K-A", {"status": {}, "alerts": [alert]})
    [row] = store.fleet.alert_list(open_only=True)
    assert store.fleet.acknowledge(row["id"], "alice", "went over, helped with the form")
    assert not store.fleet.acknowledge(row["id"], "bob", "me too")
    assert store.fleet.alert_list(open_only=True) == []
    [kept] = store.fleet.alert_list(open_only=False)
    assert (kept["acked_by"], kept["note"]) == ("alice", "went over, helped with the form")


# ---------------------------------------------------------------------------- over HTTP
@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[CentralHandle]:
    handle = start_in_thread(tmp_path / "central.sqlite", kiosk_secrets={PICKUP: b"s" * 32})
    handle.store.fleet.add_user("alice", hash_password(PASSWORD), "operator")
    handle.store.fleet.add_user("victor", hash_password(PASSWORD), "viewer")
    yield handle
    handle.stop()


def sign_in(url: str, user: str, password: str) -> tuple[requests.Session, requests.Response]:
    s = requests.Session()
    page = s.get(url + "/console/login", timeout=10)
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    data = {"csrf": token.group(1), "username": user, "password": password}
    return s, s.post(url + "/console/login", data=data, allow_redirects=False, timeout=10)


def csrf_of(s: requests.Session, url: str) -> str:
    page = s.get(url + "/console/fleet", timeout=10)
    found = re.search(r'name="csrf" content="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_nothing_answers_without_a_session(gateway: CentralHandle) -> None:
    url = gateway.url
    page = requests.get(url + "/console/fleet", allow_redirects=False, timeout=10)
    assert page.status_code == 303 and page.headers["location"] == "/console/login"
    for path in ("/console/api/fleet", "/console/api/alerts", "/console/api/audit"):
        assert requests.get(url + path, timeout=10).status_code == 401
    command = requests.post(
        url + f"/console/api/kiosks/{PICKUP}/commands", json={"action": "send_now"}, timeout=10
    )
    assert command.status_code == 401
    assert gateway.store.fleet.commands() == []


def test_sign_in_is_refused_then_locked_after_repeated_failures(gateway: CentralHandle) -> None:
    for _ in range(4):
        _, answer = sign_in(gateway.url, "alice", "wrong password!")
        assert answer.status_code == 401 and "console_session" not in answer.cookies
    _, answer = sign_in(gateway.url, "alice", "wrong password!")
    assert answer.status_code == 401
    # Locked: even the right password is refused, and the page says why.
    _, answer = sign_in(gateway.url, "alice", PASSWORD)
    assert answer.status_code == 401 and "锁定" in answer.text
    _, answer = sign_in(gateway.url, "nobody", PASSWORD)
    assert answer.status_code == 401
    actions = [a["action"] for a in gateway.store.fleet.audit_log()]
    assert "sign_in.locked" in actions and "sign_in" not in actions


def test_sessions_csrf_and_roles(gateway: CentralHandle) -> None:
    url = gateway.url
    # A sign-in form posted from elsewhere (no matching cookie) is refused.
    stranger = requests.post(
        url + "/console/login",
        data={"csrf": "x", "username": "alice", "password": PASSWORD},
        allow_redirects=False,
        timeout=10,
    )
    assert stranger.status_code == 403
    s, answer = sign_in(url, "alice", PASSWORD)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = s.get(url + "/console/fleet", timeout=10)
    assert "script-src 'self'" in page.headers["content-security-policy"]
    token = csrf_of(s, url)
    CentralTransport(url, kiosk_id=PICKUP, secret=b"s" * 32).json_request(
        "POST", "/v1/heartbeat", {"status": {}}
    )
    path = url + f"/console/api/kiosks/{PICKUP}/commands"
    body = {"action": "send_now"}
    assert s.post(path, json=body, timeout=10).status_code == 403  # no token
    assert (
        s.post(path, json=body, headers={"X-CSRF-Token": "x" * 43}, timeout=10).status_code == 403
    )
    other = {"X-CSRF-Token": token, "Origin": "https://evil.example"}
    assert s.post(path, json=body, headers=other, timeout=10).status_code == 403
    assert s.post(path, json=body, headers={"X-CSRF-Token": token}, timeout=10).status_code == 201
    unknown = url + "/console/api/kiosks/SZ-NOWHERE-9/commands"
    assert (
        s.post(unknown, json=body, headers={"X-CSRF-Token": token}, timeout=10).status_code == 404
    )
    # A viewer sees, but does not act.
    v, _ = sign_in(url, "victor", PASSWORD)
    assert v.get(url + "/console/api/fleet", timeout=10).status_code == 200
    assert (
        v.post(path, json=body, headers={"X-CSRF-Token": csrf_of(v, url)}, timeout=10).status_code
        == 403
    )
    # Signing out ends the session.
    assert s.post(url + "/console/logout", headers={"X-CSRF-Token": token}, timeout=10).ok
    assert s.get(url + "/console/api/fleet", timeout=10).status_code == 401


def test_the_daily_upkeep_forgets_old_usage_history(store: CentralStore) -> None:
    store.fleet.on_heartbeat("K-A", usage(100), now=T0)
    store.fleet.on_heartbeat("K-A", usage(200), now=T0 + 40 * 86_400)
    done = store.fleet.purge(T0 + 40 * 86_400)
    assert done["usage_samples_deleted"] == 1
    assert [at for at, _ in store.fleet.samples("K-A", 0.0)] == [T0 + 40 * 86_400]
