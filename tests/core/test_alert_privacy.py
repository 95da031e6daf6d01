"""Staff alerts are kept in clear (in the outbox until delivered, in the log): no alert may be
built from a citizen's ID number, name or a document number. A tripwire over the source: every
``Alert(code, message)`` and ``staff_alert(code, message)`` whose message mentions such a field
fails this test."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PERSONAL = {"document_no", "id_number", "birth_date", "address", "mrz", "photo_wlt"}
# ``name`` is personal on a card (``card.name``), not on an event or a device (``event.name``).
CARDS = {"card", "idcard", "holder", "citizen", "document"}


def _alert_messages(tree: ast.AST) -> list[ast.expr]:
    messages = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or len(node.args) < 2:
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if called in ("Alert", "staff_alert"):
            messages.append(node.args[1])
    return messages


def _mentions(expr: ast.expr) -> set[str]:
    found = set()
    for node in ast.walk(expr):
        if isinstance(node, ast.Name) and node.id in PERSONAL:
            found.add(node.id)
        elif isinstance(node, ast.Attribute) and node.attr in PERSONAL:
            found.add(node.attr)
        elif isinstance(node, ast.Attribute) and node.attr == "name":
            if isinstance(node.value, ast.Name) and node.value.id in CARDS:
                found.add(f"{node.value.id}.name")
        elif isinstance(node, ast.Constant) and node.value in PERSONAL:
            found.add(str(node.value))
    return found


def test_no_alert_message_is_built_from_personal_data() -> None:
    offenders = []
    checked = 0
    for path in sorted([*ROOT.glob("kiosk/**/*.py"), *ROOT.glob("ui/**/*.py")]):
        for message in _alert_messages(ast.parse(path.read_text(), str(path))):
            checked += 1
            if found := _mentions(message):
                offenders.append(f"{path.relative_to(ROOT)}:{message.lineno} {sorted(found)}")
    assert checked >= 10  # the walk found the kiosk's alerts
    assert offenders == []


def test_the_tripwire_catches_a_document_number() -> None:
    source = (
        "def retained(event):\n"
        "    document_no = event.data.get('document_no', '')\n"
        "    return [Alert('pickup.retained', f'document {document_no} not taken')]\n"
        "kiosk.staff_alert('pickup.uncertain', 'of ' + card.id_number)\n"
        "kiosk.staff_alert('citizen.help', f'{card.name} asks for help at {event.name}')\n"
    )
    found = sorted(sorted(_mentions(m)) for m in _alert_messages(ast.parse(source)))
    assert found == [["card.name"], ["document_no"], ["id_number"]]
