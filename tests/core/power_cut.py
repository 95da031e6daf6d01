"""Run a crash-test child process until it reports a step, then SIGKILL it: a power cut
right after that step, with nothing of what would follow."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.conftest import ROOT


def kill_at(module: str, args: list[str], stop_at: str) -> list[list[str]]:
    """Start ``python -m module *args``; each line it prints is a step (its first word the
    step's name, then details). Kill it once it has printed ``stop_at``; return the steps."""
    child = subprocess.Popen(
        [sys.executable, "-m", module, *args, stop_at],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    steps: list[list[str]] = []
    try:
        assert child.stdout is not None
        while not steps or steps[-1][0] != stop_at:
            line = child.stdout.readline().split()
            assert line, f"child ended early after {steps}"
            steps.append(line)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    return steps
