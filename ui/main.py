"""Console entry point of ``kiosk``: the core CLI plus the commands that need Qt."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from kiosk.cli import main as core_main

UI_COMMAND_MODULES = ("ui.commands",)


def main(argv: Sequence[str] | None = None) -> int:
    return core_main(argv, extra_modules=UI_COMMAND_MODULES)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
