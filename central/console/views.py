"""What the console's pages show, built from the store: the fleet (each machine's state,
devices, today's work, consumables and their forecast), open alerts, the round list."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from central.console import forecast, texts
from central.console.forecast import Outlook
from central.store import CentralStore

LEAD_H = "lead_h"
DEFAULT_LEAD_H = 24.0
OFFLINE_AFTER_S = "offline_after_s"
DEFAULT_OFFLINE_AFTER_S = 900.0  # three missed heartbeats at the kiosk's 5 minutes
RATE_TTL_S = 60.0  # usage rates are worked out again at most once a minute per machine

_rates: weakref.WeakKeyDictionary[CentralStore, dict[str, tuple[float, dict[str, Any]]]] = (
    weakref.WeakKeyDictionary()
)
_rates_lock = threading.Lock()


def lead_hours(store: CentralStore) -> float:
    return float(store.fleet.setting(LEAD_H, str(DEFAULT_LEAD_H)))


def _samples(store: CentralStore, kiosk_id: str, now: float) -> list[tuple[float, Any]]:
    """The machine's usage history, read again at most once a minute: the console polls
    every few seconds, the history changes by a row a minute."""
    with _rates_lock:
        cache = _rates.setdefault(store, {})
        hit = cache.get(kiosk_id)
    if hit is not None and now - hit[0] < RATE_TTL_S:
        samples: list[tuple[float, Any]] = hit[1]["samples"]
        return samples
    samples = store.fleet.samples(kiosk_id, now - forecast.WINDOW_S)
    # Only the points the rates need: the window's samples reduced to counter values.
    with _rates_lock:
        _rates.setdefault(store, {})[kiosk_id] = (now, {"samples": samples})
    return samples


def outlooks(
    store: CentralStore,
    kiosk_id: str,
    *,
    usage: Mapping[str, Any],
    terminal: str,
    stock: Mapping[str, int],
    lead_h: float,
    now: float,
) -> list[Outlook]:
    samples = _samples(store, kiosk_id, now)
    found: list[Outlook] = []
    mark = store.fleet.last_mark(kiosk_id, "paper")
    paper = forecast.paper_outlook(usage, samples, mark[1] if mark else None, lead_h)
    if paper is not None:
        found.append(paper)
    mark = store.fleet.last_mark(kiosk_id, "bin")
    bin_ = forecast.bin_outlook(usage, samples, mark[1] if mark else None, lead_h)
    if bin_ is not None:
        found.append(bin_)
    if terminal == "pickup":
        found.append(forecast.stock_outlook(sum(stock.values()), samples, lead_h))
    return found


def _midnight(now: float) -> float:
    return datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0).timestamp()


def fleet(store: CentralStore, lang: str, now: float | None = None) -> dict[str, Any]:
    """The whole fleet page's data."""
    now = time.time() if now is None else now
    lead_h = lead_hours(store)
    offline_after = float(store.fleet.setting(OFFLINE_AFTER_S, str(DEFAULT_OFFLINE_AFTER_S)))
    stock = store.fleet.stock()
    today = store.fleet.counts_since(_midnight(now))
    commands: dict[str, list[dict[str, Any]]] = {}
    for c in store.fleet.commands(limit=500):
        commands.setdefault(str(c["kiosk_id"]), []).append(c)
    machines = []
    rounds: list[tuple[str, str, list[Outlook]]] = []
    for kiosk_id, beat in sorted(store.fleet.kiosks().items()):
        machine = _machine(kiosk_id, beat, lang, now, offline_after)
        body = beat["body"]
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        found = outlooks(
            store,
            kiosk_id,
            usage=usage,
            terminal=machine["terminal"],
            stock=stock.get(kiosk_id, {}),
            lead_h=lead_h,
            now=now,
        )
        machine["consumables"] = [o.as_json() for o in found]
        machine["slots"] = stock.get(kiosk_id, {})
        done = today.get(kiosk_id, {})
        machine["today"] = {
            name: sum(done.get(k, 0) for k in kinds) for name, kinds in texts.TODAY_KINDS.items()
        }
        machine["commands"] = [_command(c) for c in commands.get(kiosk_id, [])[:3]]
        machines.append(machine)
        rounds.append((kiosk_id, machine["hall"], found))
    return {
        "now": now,
        "lead_h": lead_h,
        "machines": machines,
        "alerts": alerts(store, lang, open_only=True, limit=200),
        "round": forecast.round_list(rounds),
    }


def _machine(
    kiosk_id: str, beat: Mapping[str, Any], lang: str, now: float, offline_after: float
) -> dict[str, Any]:
    body = beat["body"]
    info = body.get("kiosk") if isinstance(body.get("kiosk"), dict) else {}
    status = body.get("status") if isinstance(body.get("status"), dict) else {}
    causes = [str(s) for s in body.get("out_of_service") or [] if isinstance(s, str)]
    if now - beat["at"] > offline_after:
        state = "offline"
    elif causes or status.get("outbox") == "refused":
        state = "out_of_service"
    else:
        state = "in_service"
    devices = []
    raw_devices = body.get("devices") if isinstance(body.get("devices"), dict) else {}
    for kind, d in sorted(raw_devices.items()):
        if isinstance(d, dict):
            devices.append(
                {
                    "kind": kind,
                    "name": texts.device_name(kind, lang),
                    "ok": d.get("usable") is True,
                    "detail": str(d.get("detail") or "")[:120],
                }
            )
    terminal = str(info.get("terminal") or "unknown")
    return {
        "id": kiosk_id,
        "terminal": terminal if terminal in ("photo", "pickup", "renewal") else "unknown",
        "hall": str(info.get("place") or "-")[:120],
        "state": state,
        "causes": [texts.cause_words(c, lang) for c in causes],
        "last_contact": beat["at"],
        "backlog": _int(status.get("pending")),
        "failed": _int(status.get("dead")),
        "devices": devices,
    }


def _command(c: Mapping[str, Any]) -> dict[str, Any]:
    state = "waiting" if c["state"] == "pending" else str(c["state"])
    return {
        "id": c["id"],
        "action": c["action"],
        "state": state,
        "by": c["requested_by"],
        "at": c["requested_at"],
        "result": c["result"],
    }


def alerts(
    store: CentralStore, lang: str, *, open_only: bool, limit: int = 500
) -> list[dict[str, Any]]:
    return [
        {
            "id": int(a["id"]),
            "kiosk_id": a["kiosk_id"],
            "code": a["code"],
            "words": texts.alert_words(str(a["code"]), lang),
            "message": a["message"],
            "raised_at": a["raised_at"],
            "received_at": a["received_at"],
            "acked_by": a["acked_by"],
            "acked_at": a["acked_at"],
            "note": a["note"],
        }
        for a in store.fleet.alert_list(open_only=open_only, limit=limit)
    ]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
