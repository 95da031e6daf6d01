"""Start-up benchmark: process start to the attract screen shown (offscreen), and the peak
RSS of the running kiosk once its (simulated) devices have opened.

Prints one JSON object. Runs from source, and from the PyInstaller bundle when dist/kiosk
exists. Targets: < 2 s from source, < 3 s from the bundle, < 250 MB RSS.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def measure(command: list[str]) -> dict[str, float]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    times, rss, settled = [], [], []
    for _ in range(RUNS):
        start = time.monotonic()
        out = subprocess.run(
            command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=True
        ).stdout
        figures = json.loads(out.strip().splitlines()[-1])
        if figures["screen"] != "attract" or not figures["visible"]:
            raise RuntimeError(f"attract screen not shown: {figures}")
        times.append(figures["shown_monotonic"] - start)
        rss.append(figures["max_rss_mb"])
        settled.append(figures["devices_settled_s"])
    return {
        "start_to_attract_s_median": round(statistics.median(times), 3),
        "start_to_attract_s_max": round(max(times), 3),
        "devices_ready_after_attract_s_median": statistics.median(settled),
        "peak_rss_mb_max": max(rss),
        "runs": RUNS,
    }


def main() -> None:
    args = ["run", "--terminal", "photo", "--exit-when-shown"]
    result: dict[str, object] = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.system()}, "
        f"Python {platform.python_version()}",
        "source": measure([sys.executable, "-m", "ui.main", *args]),
        "targets": {"source_s": 2.0, "bundle_s": 3.0, "rss_mb": 250},
    }
    bundle = ROOT / "dist" / "kiosk" / "kiosk"
    if bundle.exists():
        result["bundle"] = measure([str(bundle), *args])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
