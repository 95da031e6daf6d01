"""Documents generated from code stay in step with it."""

from __future__ import annotations

from kiosk.commands.flows import flows_markdown
from tests.conftest import ROOT


def test_flow_diagrams_in_docs_are_current() -> None:
    current = (ROOT / "docs" / "flows.md").read_text(encoding="utf-8")
    assert current == flows_markdown(), "run: kiosk flows diagram --out docs/flows.md"


def test_readme_states_the_two_commands_and_ci_uses_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "bash scripts/bootstrap.sh run" in readme
    assert "bash scripts/bootstrap.sh test" in readme
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/bootstrap.sh test" in ci
