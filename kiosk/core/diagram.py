"""Mermaid state diagrams generated from flow definitions (kept in docs/flows.md)."""

from __future__ import annotations

from typing import Any

from kiosk.core.engine import IGNORE, SAME, TIMEOUT, FlowDefinition


def _id(name: str) -> str:
    return name.replace(".", "_").replace("-", "_")


def mermaid(definition: FlowDefinition[Any]) -> str:
    lines = ["stateDiagram-v2", f"    [*] --> {_id(definition.initial)}"]
    everywhere = {(t.event, t.target) for t in definition.everywhere if t.target != IGNORE}
    for state in definition.states.values():
        for t in state.transitions:
            if t.target in (SAME, IGNORE):
                continue  # internal: nothing moves
            label = t.label or t.event
            if t.event == TIMEOUT:
                label = "timeout"
            lines.append(f"    {_id(state.name)} --> {_id(t.target)}: {label}")
        if state.idle:
            lines.append(
                f"    {_id(state.name)} --> {_id(definition.idle_target)}: idle + no answer"
            )
    for event, target in sorted(everywhere):
        lines.append(f"    note right of {_id(target)}: from any state on {event}")
    return "\n".join(lines)
