"""Every CI gate, in order; exits non-zero if any fails.

Lint, format, types and the import-layer contract first (fast), then the PyInstaller bundle
and its self-test, then the test suite last so its summary closes the output.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def gates() -> list[tuple[str, list[str]]]:
    skip_bundle = os.environ.get("KIOSK_SKIP_BUNDLE") == "1"
    steps = [
        ("ruff lint", [str(BIN / "ruff"), "check", "."]),
        ("ruff format", [str(BIN / "ruff"), "format", "--check", "."]),
        ("mypy strict", [str(BIN / "mypy")]),
        ("import layers", [str(BIN / "lint-imports")]),
    ]
    if not skip_bundle:
        steps.append(("bundle + selftest", [sys.executable, "scripts/build_bundle.py"]))
    steps.append(("pytest", [sys.executable, "-m", "pytest", *sys.argv[1:]]))
    return steps


def main() -> int:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONDONTWRITEBYTECODE="1")
    failed: list[str] = []
    for name, command in gates():
        start = time.monotonic()
        print(f"\n=== {name}: {' '.join(command)}", flush=True)
        code = subprocess.call(command, cwd=ROOT, env=env)
        took = time.monotonic() - start
        verdict = "ok" if code == 0 else f"FAILED ({code})"
        print(f"=== {name}: {verdict} in {took:.1f} s", flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed gates: {', '.join(failed)}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
