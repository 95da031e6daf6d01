"""The offline queue's modules import each other in one direction only: no import circles,
the outbox knows nothing of delivery, and each part of the outbox and of the sync worker
sits above the parts it uses."""

from __future__ import annotations

import grimp
import pytest

PACKAGE = "offline_queue"

# Upper layers may import lower ones, never the other way; modules of one layer do not
# import each other.
LAYERS = {
    "offline_queue.outbox": [
        {"box", "salvage"},
        {"writing", "delivery", "staff", "views", "integrity"},
        {"journal", "room", "files", "schema"},
        {"database"},
        {"records"},
    ],
    "offline_queue.sync": [
        {"worker"},
        {"pipeline"},
        {"uploads"},
        {"wire", "link", "settings"},
    ],
}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(PACKAGE)


def _imports(graph: grimp.ImportGraph, module: str) -> set[str]:
    return {m for m in graph.find_modules_directly_imported_by(module) if m.startswith(PACKAGE)}


def test_no_import_circles(graph: grimp.ImportGraph) -> None:
    """Tarjan's strongly connected components: any with more than one module is a circle."""
    modules = sorted(m for m in graph.modules if m.startswith(PACKAGE))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in _imports(graph, module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    assert circles == []


def test_the_outbox_knows_nothing_of_delivery(graph: grimp.ImportGraph) -> None:
    outbox = {m for m in graph.modules if m.startswith("offline_queue.outbox")}
    for module in outbox:
        forbidden = {
            m
            for m in _imports(graph, module)
            if m.startswith(("offline_queue.sync", "offline_queue.transport"))
            or m == "offline_queue.central_client"
        }
        assert forbidden == set(), module


@pytest.mark.parametrize("container", sorted(LAYERS))
def test_parts_sit_above_what_they_use(graph: grimp.ImportGraph, container: str) -> None:
    layers = LAYERS[container]
    rank = {f"{container}.{name}": n for n, layer in enumerate(layers) for name in layer}
    parts = {m for m in graph.modules if m.startswith(container + ".")}
    assert parts == set(rank), "every module of the package has its place in LAYERS"
    wrong = [
        (module, used)
        for module in parts
        for used in _imports(graph, module)
        if used in rank and rank[used] <= rank[module]
    ]
    assert wrong == []
