"""The message catalogues: every key defined once (merging fails otherwise), in both
languages, used somewhere, and every key the code shows defined.

"Shown" is read from the source: the key arguments of the calls that take message keys
(``message``, ``Button``, ``Notify``, ``text``, ``tr_``...), literal or a list of literals;
a key chosen at run time (an f-string) must belong to a family its catalogue declares."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.core.i18n import Catalogue, DuplicateMessage, merge
from kiosk.texts import CATALOGUES, TEXTS
from tests.conftest import ROOT

SOURCES = [p for d in ("kiosk", "ui") for p in sorted((ROOT / d).rglob("*.py"))]
CATALOGUE_FILES = {ROOT / "kiosk" / "machine" / "texts.py"} | set(
    (ROOT / "kiosk" / "terminals").glob("*/texts.py")
)
# Callables whose arguments (by position, or by keyword) are message keys.
KEY_ARGUMENTS: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    "message": ((0, 1), ("note", "progress")),
    "MessageView": ((0, 1), ("note", "progress", "title", "body")),
    "Button": ((1,), ("label",)),
    "PinView": ((0, 1, 3), ("title", "body", "error")),
    "Notify": ((0,), ("key",)),
    "notify": ((0,), ()),
    "text": ((0,), ()),
    "tr_": ((0,), ()),
    "outcome_view": ((0, 1), ("progress",)),
    "set_unavailable": ((1,), ()),
}


def _trees() -> Iterator[tuple[Path, ast.AST]]:
    for path in SOURCES:
        yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _literals(node: ast.AST) -> Iterator[ast.AST]:
    """A key argument's literal parts: the node itself, or a list/tuple's items."""
    if isinstance(node, ast.List | ast.Tuple):
        yield from node.elts
    else:
        yield node


def shown_keys() -> tuple[set[str], set[str]]:
    """(literal keys, f-string key prefixes) at the key arguments of the calls above."""
    literals, prefixes = set(), set()
    for _, tree in _trees():
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            spec = KEY_ARGUMENTS.get(_name(call))
            if spec is None:
                continue
            positions, keywords = spec
            args = [a for i, a in enumerate(call.args) if i in positions]
            args += [k.value for k in call.keywords if k.arg in keywords]
            for arg in args:
                for part in _literals(arg):
                    if isinstance(part, ast.Constant) and isinstance(part.value, str):
                        if part.value:
                            literals.add(part.value)
                    elif isinstance(part, ast.JoinedStr):
                        head = part.values[0] if part.values else None
                        if isinstance(head, ast.Constant) and isinstance(head.value, str):
                            prefixes.add(head.value)
    return literals, prefixes


def _all_strings() -> tuple[set[str], set[str]]:
    """Every string constant in the code outside the catalogues, and every f-string's
    constant head."""
    constants, heads = set(), set()
    for path, tree in _trees():
        if path in CATALOGUE_FILES:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                constants.add(node.value)
            elif isinstance(node, ast.JoinedStr) and node.values:
                head = node.values[0]
                if isinstance(head, ast.Constant) and isinstance(head.value, str):
                    heads.add(head.value)
    return constants, heads


def test_a_key_defined_twice_cannot_be_merged() -> None:
    with pytest.raises(DuplicateMessage):
        merge(Catalogue({"a.b": ("甲", "A")}), Catalogue({"a.b": ("乙", "B")}))
    assert len(TEXTS.messages) == sum(len(c.messages) for c in CATALOGUES)


def test_every_message_has_both_languages() -> None:
    for key, (zh, en) in TEXTS.messages.items():
        assert zh.strip() and en.strip(), key
        assert zh != en or key == "app.kiosk_id", key


def test_every_key_shown_is_defined_and_every_family_declared() -> None:
    literals, prefixes = shown_keys()
    assert literals, "no keys found: the scan is broken"
    undefined = sorted(k for k in literals if k not in TEXTS)
    assert undefined == []
    families = {f"{family}." for family in TEXTS.families}
    undeclared = sorted(p for p in prefixes if p not in families)
    assert undeclared == []


def test_every_key_defined_is_used() -> None:
    constants, heads = _all_strings()
    # A family is used where an f-string starts with it, or where its name is handed to
    # the code that adds the last part (``elsewhere_body(ctx, "pickup.elsewhere")``).
    used_families = {f for f in TEXTS.families if f"{f}." in heads or f in constants}
    unused = sorted(
        key
        for key in TEXTS
        if key not in constants and not any(key.startswith(f"{f}.") for f in used_families)
    )
    assert unused == []
