"""The soak's harness itself, briefly: forty sessions of each terminal type with a fault
or two, each ending in a screen its script allows, no citizen's data in any log line
(the full 10,000-session run and its figures: bench/soak.py, docs/benchmarks.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT


def test_a_short_soak_ends_every_session_in_a_defined_screen() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "soak.py"),
            "--sessions",
            "120",
            "--sample-every",
            "20",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
    )
    assert done.stdout, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for terminal, result in report["terminals"].items():
        assert "error" not in result, (terminal, result)
        assert result["undefined"] == [], terminal
        assert result["defined"] == result["sessions"] == 40
        assert result["personal_data_in_logs"] == 0, result["leaks_sample"]
        assert result["log_records_scanned"] > 0
        # Faults were injected: each terminal's fault sessions ran.
        assert result["faults"], terminal
        end = result["outbox_at_end"]
        assert end["sent"] > 0 and end["pending"] == end["dead"] == 0
        assert end["missing_at_central"] == end["stored_twice_at_central"] == 0
    assert done.returncode == 0
