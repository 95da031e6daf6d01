"""Build the one-folder PyInstaller bundle and run its self-test (a CI gate)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    start = time.monotonic()
    build = subprocess.call(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(ROOT / "dist"),
            "--workpath",
            str(ROOT / "build"),
            "kiosk.spec",
        ],
        cwd=ROOT,
    )
    if build != 0:
        print("bundle build failed", file=sys.stderr)
        return build
    built = time.monotonic() - start
    exe = ROOT / "dist" / "kiosk" / "kiosk"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [str(exe), "selftest"], capture_output=True, text=True, env=env, timeout=120, cwd="/"
    )
    print(result.stdout.strip())
    if result.returncode != 0:
        print(result.stderr[-4000:], file=sys.stderr)
        return result.returncode
    report = json.loads(result.stdout.strip().splitlines()[-1])
    if not report.get("frozen"):
        print("self-test did not run from the bundle", file=sys.stderr)
        return 1
    print(f"bundle built in {built:.0f} s and passed its self-test")
    return 0


if __name__ == "__main__":
    sys.exit(main())
