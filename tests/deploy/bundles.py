"""Small stand-ins for the PyInstaller bundle (dist/kiosk): a directory with an executable
``kiosk`` that runs the project's real entry point (``ui.main``) from this source tree, as the
bundle's does from its own copy, and reports this directory as its bundle (as
``sys.executable``'s directory is in a frozen build). A behaviour makes one misbehave the
way a bad release would."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.conftest import ROOT

BEHAVIOURS = ("good", "bad-selftest", "crash", "migrate-then-crash")

LAUNCHER = """#!{python}
import json, os, sqlite3, sys
HERE = os.path.dirname(os.path.realpath(__file__))
BEHAVIOUR = {behaviour!r}
sys.path.insert(0, {root!r})
command = sys.argv[1:2]
if BEHAVIOUR == "bad-selftest" and command == ["selftest"]:
    print(json.dumps({{"ok": False, "failures": {{"kiosk.cli": "ImportError: broken"}}}}))
    sys.exit(1)
if BEHAVIOUR in ("crash", "migrate-then-crash") and command == ["run"]:
    if BEHAVIOUR == "migrate-then-crash":
        # What a newer release does on its first start: migrate the outbox to its schema.
        from kiosk.config import load_config
        from kiosk.machine.backend import data_path, open_outbox
        from offline_queue.outbox import SCHEMA_VERSION
        config = load_config(os.environ["KIOSK_CONFIG"])
        open_outbox(config).close()
        with sqlite3.connect(data_path(config, config.queue.db)) as conn:
            conn.execute(f"PRAGMA user_version={{SCHEMA_VERSION + 1}}")
    print("kiosk: fatal error at start-up", file=sys.stderr)
    sys.exit(1)
import kiosk.supervision
kiosk.supervision.bundle_path = lambda: HERE
from ui.main import main
sys.exit(main())
"""


def make_bundle(directory: Path, behaviour: str = "good") -> Path:
    assert behaviour in BEHAVIOURS
    directory.mkdir(parents=True)
    exe = directory / "kiosk"
    exe.write_text(
        LAUNCHER.format(python=sys.executable, behaviour=behaviour, root=str(ROOT)),
        encoding="utf-8",
    )
    exe.chmod(0o755)
    (directory / "_internal").mkdir()  # what a one-folder build has beside its executable
    (directory / "_internal" / "base_library.zip").write_bytes(os.urandom(64))
    return directory
