"""A kiosk runs for weeks: handling events must not keep anything per event (no transcript,
no growing list of ignored events). 100,000 events, memory flat."""

from __future__ import annotations

import tracemalloc

from kiosk.core.engine import Event
from kiosk.terminals.photo.ports import LIVE_EVENT, Instruction, LiveCoaching
from tests.core.flow_rigs import make_rig, terminal_config

WARM_UP = 10_000
EVENTS = 100_000


def _feed(r: object, count: int) -> None:
    coaching = (
        LiveCoaching(
            False, Instruction("请靠近一点", "Come closer", "head_size"), (0.4, 0.3, 0.2, 0.3)
        ),
        LiveCoaching(True, None, (0.4, 0.3, 0.2, 0.3)),
    )
    app = r.app
    for n in range(count):
        app.runner.handle(Event(LIVE_EVENT, reply=coaching[n % 2]))  # live coaching, 25 a second
        if n % 10 == 0:
            app.intent("touch")  # the citizen moves
        if n % 100 == 0:
            app.runner.handle(Event("nobody.listens"))  # an event no state takes


def test_a_hundred_thousand_events_leave_memory_flat() -> None:
    r = make_rig(terminal_config("photo"), ("idcard", "photo", "printer"))
    r.app.intent("start")
    r.app.intent("select", service="photo")
    r.app.intent("skip")
    assert r.state == "photo_live"
    _feed(r, WARM_UP)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        _feed(r, EVENTS)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 64 * 1024, f"{grown} bytes more after {EVENTS} events"
    assert r.state == "photo_live" and len(r.app.flow.ignored) <= 20
