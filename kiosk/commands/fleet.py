"""``kiosk fleet kiosks | simulate | demo``: simulated machines for central's fleet console.

- ``kiosks --kiosks N --out FILE``: a kiosks file (``KIOSK_ID SECRET`` per line, 0600) for
  ``kiosk central serve --kiosks-file FILE``, naming N simulated machines.
- ``simulate --kiosks N --central URL --kiosks-file FILE``: the N machines, each sending
  signed heartbeats like a real kiosk's (queue counts, devices, staff alerts, usage counters,
  the outcome of remote commands) every few seconds, with citizens served at random, paper
  running low, faults and calls for staff. Remote actions from the console are carried out
  by the kiosk's own command handler (``kiosk.machine.commands``).
- ``demo``: the two above plus a gateway (a child process, like the embedded one) and a
  console account; prints the console's address and the account.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk.machine.commands import RemoteCommands
from kiosk.machine.receipts import Slip
from kiosk.machine.usage import CAPTURE_BIN, PAPER_NEAR_END_LINES, PAPER_ROLL_LINES
from offline_queue.errors import CentralError
from offline_queue.sync import send_heartbeat
from offline_queue.transport import CentralTransport

HALLS = (
    "福田出入境服务大厅 / Futian Exit-Entry Hall",
    "南山出入境服务大厅 / Nanshan Exit-Entry Hall",
    "罗湖出入境服务大厅 / Luohu Exit-Entry Hall",
)
TERMINALS = ("photo", "pickup", "renewal")
DEVICES = {
    "photo": ("camera", "printer"),
    "pickup": ("idcard", "dispenser", "printer", "camera"),
    "renewal": ("idcard", "chip", "printer"),
}
RECEIPT_LINES = {"photo": 28, "pickup": 22, "renewal": 40}
RARE_ALERTS = ("citizen.help", "identity.unusable", "identity.failed", "printer.receipt_failed")
DEMO_USER = "demo"


def kiosk_ids(n: int) -> list[tuple[str, str, str]]:
    """(id, terminal type, hall) of N simulated machines, spread over the halls."""
    out = []
    for i in range(n):
        terminal = TERMINALS[i % len(TERMINALS)]
        hall = HALLS[(i // len(TERMINALS)) % len(HALLS)]
        out.append((f"SIM-{terminal[0].upper()}{i + 1:03d}", terminal, hall))
    return out


@dataclass
class SimulatedKiosk:
    """One machine's state, changed a little at every step."""

    kiosk_id: str
    terminal: str
    place: str
    rng: random.Random
    counters: dict[str, int] = field(default_factory=dict)
    paper_used: int = 0
    paused: bool = False
    pending: int = 0
    dead: int = 0
    alerts: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        names = ("receipt_lines", "receipts", "cards_dispensed", "captures")
        self.counters = {k: self.rng.randrange(0, 5000) for k in names}
        # Rolls part used, so the round list has something to say from the start.
        self.paper_used = self.rng.randrange(0, PAPER_ROLL_LINES)

    # --- what staff can do from the console (MachineControl) -----------------------------
    def pause(self) -> None:
        with self.lock:
            self.paused = True

    def resume(self) -> None:
        with self.lock:
            self.paused = False

    def sync(self) -> None:
        with self.lock:
            self.pending = 0

    def test_print(self, slip: Slip) -> None:
        with self.lock:
            if self.paper_used >= PAPER_ROLL_LINES:
                raise RuntimeError("paper out")
            self._print(len(slip.items) + 4)

    # --- life at the machine --------------------------------------------------------------
    def _print(self, lines: int) -> None:
        self.counters["receipt_lines"] += lines
        self.counters["receipts"] += 1
        self.paper_used = min(PAPER_ROLL_LINES, self.paper_used + lines)

    def _alert(self, code: str, message: str) -> None:
        self.alerts.append(
            {
                "id": uuid.uuid4().hex,
                "code": code,
                "message": message,
                "at": datetime.now().isoformat(timespec="seconds"),
            }
        )

    def step(self, busy: float) -> None:
        """A few seconds of the machine's day; ``busy``: chance that a citizen is served."""
        with self.lock:
            out_of_paper = self.paper_used >= PAPER_ROLL_LINES
            if self.paused or out_of_paper or self.rng.random() > busy:
                return
            near_before = self._near_end()
            self._print(RECEIPT_LINES[self.terminal] + self.rng.randrange(0, 8))
            self.pending += 1
            if self.terminal == "pickup":
                self.counters["cards_dispensed"] += 1
                if self.rng.random() < 0.08:
                    self.counters["captures"] += 1
                    self._alert("pickup.retained", "a document was not taken; captured")
            if self._near_end() and not near_before:
                self._alert("printer.paper_near_end", "device needs attention")
            if self.paper_used >= PAPER_ROLL_LINES:
                self._alert("printer.fault", "paper out")
            if self.rng.random() < 0.02:
                code = self.rng.choice(RARE_ALERTS)
                self._alert(code, f"simulated: {code}")
            if self.rng.random() < 0.01:
                self.dead += 1

    def _near_end(self) -> bool:
        return self.paper_used >= PAPER_ROLL_LINES - PAPER_NEAR_END_LINES

    def heartbeat(self, results: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(status, extra) as a real kiosk sends them."""
        with self.lock:
            out = self.paper_used >= PAPER_ROLL_LINES
            devices = {
                kind: {"usable": True, "required": True, "detail": "", "statistics": {}}
                for kind in DEVICES[self.terminal]
            }
            if out:
                devices["printer"].update(usable=False, detail="paper out")
            elif self._near_end():
                devices["printer"]["detail"] = "paper near end"
            causes = (["staff"] if self.paused else []) + (["device.printer"] if out else [])
            usage: dict[str, Any] = {
                "counters": dict(self.counters),
                "paper": {
                    "near_end": self._near_end() and not out,
                    "capacity_lines": PAPER_ROLL_LINES,
                    "near_end_lines": PAPER_NEAR_END_LINES,
                },
            }
            if self.terminal == "pickup":
                usage["bin"] = {"capacity": CAPTURE_BIN}
            status = {"pending": self.pending, "dead": self.dead, "inflight": 0}
            extra = {
                "devices": devices,
                "alerts": list(self.alerts),
                "alerts_dropped": 0,
                "out_of_service": causes,
                "kiosk": {"terminal": self.terminal, "place": self.place},
                "usage": usage,
                "command_results": results,
            }
        return status, extra

    def delivered(self, extra: dict[str, Any]) -> None:
        sent = {a["id"] for a in extra["alerts"]}
        with self.lock:
            self.alerts = [a for a in self.alerts if a["id"] not in sent]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("fleet", help="simulated machines for the fleet console")
    sub = parser.add_subparsers(dest="fleet_command", required=True)
    kiosks = sub.add_parser("kiosks", help="write a kiosks file for N simulated machines")
    kiosks.add_argument("--kiosks", type=int, default=20)
    kiosks.add_argument("--out", type=Path, required=True)
    kiosks.set_defaults(handler=_kiosks)
    simulate = sub.add_parser("simulate", help="feed a gateway with N simulated machines")
    simulate.add_argument("--kiosks", type=int, default=20)
    simulate.add_argument("--central", required=True, help="the gateway's URL")
    simulate.add_argument("--kiosks-file", type=Path, required=True)
    simulate.add_argument("--interval-s", type=float, default=3.0, help="between heartbeats")
    simulate.add_argument("--busy", type=float, default=0.5, help="chance of a citizen a step")
    simulate.add_argument("--duration-s", type=float, default=None, help="stop after this")
    simulate.add_argument("--seed", type=int, default=None)
    simulate.set_defaults(handler=_simulate)
    demo = sub.add_parser("demo", help="a gateway with the console and N simulated machines")
    demo.add_argument("--kiosks", type=int, default=20)
    demo.add_argument("--port", type=int, default=8788)
    demo.add_argument("--data", type=Path, default=Path("var/fleet"))
    demo.set_defaults(handler=_demo)


def _kiosks(args: argparse.Namespace) -> int:
    write_kiosks_file(args.out, args.kiosks)
    print(f"wrote {args.out} ({args.kiosks} simulated machines)")
    return 0


def write_kiosks_file(path: Path, n: int) -> None:
    """The simulated machines' secrets (kept if the file names them already)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    known = read_kiosks_file(path) if path.exists() else {}
    lines = [
        f"{kiosk_id} {known.get(kiosk_id) or secrets.token_hex(32)}"
        for kiosk_id, _, _ in kiosk_ids(n)
    ]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write("# simulated machines for the fleet console (kiosk fleet kiosks)\n")
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)


def read_kiosks_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="ascii").splitlines():
        kiosk_id, _, secret = line.strip().partition(" ")
        if kiosk_id and not kiosk_id.startswith("#") and secret:
            out[kiosk_id] = secret.strip()
    return out


class Simulation:
    """The simulated machines, each on a thread of its own sending heartbeats."""

    def __init__(
        self,
        central: str,
        kiosks_file: Path,
        n: int,
        *,
        interval_s: float,
        busy: float,
        seed: int | None,
    ) -> None:
        known = read_kiosks_file(kiosks_file)
        rng = random.Random(seed)
        self.machines = []
        for kiosk_id, terminal, hall in kiosk_ids(n):
            if kiosk_id not in known:
                raise SystemExit(f"{kiosk_id} is not in {kiosks_file}: kiosk fleet kiosks first")
            machine = SimulatedKiosk(kiosk_id, terminal, hall, random.Random(rng.random()))
            self.machines.append((machine, known[kiosk_id].encode()))
        self.central = central
        self.interval_s = interval_s
        self.busy = busy
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for machine, secret in self.machines:
            thread = threading.Thread(
                target=self._run, args=(machine, secret), name=machine.kiosk_id, daemon=True
            )
            thread.start()
            self.threads.append(thread)

    def _run(self, machine: SimulatedKiosk, secret: bytes) -> None:
        transport = CentralTransport(self.central, kiosk_id=machine.kiosk_id, secret=secret)
        wake = threading.Event()
        commands = RemoteCommands(machine.kiosk_id, machine, machine.test_print, on_done=wake.set)
        try:
            while not self.stop.is_set():
                machine.step(self.busy)
                status, extra = machine.heartbeat(commands.pending())
                try:
                    answer = send_heartbeat(transport, status, extra)
                except CentralError as exc:
                    print(f"{machine.kiosk_id}: {exc}", file=sys.stderr)
                else:
                    machine.delivered(extra)
                    commands.delivered(extra)
                    commands.received(answer)
                jitter = machine.rng.uniform(0.8, 1.2) * self.interval_s
                wake.wait(jitter)
                wake.clear()
                if self.stop.is_set():
                    break
        finally:
            commands.close()
            transport.close()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)


def _simulate(args: argparse.Namespace) -> int:
    simulation = Simulation(
        args.central,
        args.kiosks_file,
        args.kiosks,
        interval_s=args.interval_s,
        busy=args.busy,
        seed=args.seed,
    )
    simulation.start()
    print(f"{args.kiosks} simulated machines sending to {args.central}; Ctrl-C stops", flush=True)
    try:
        simulation.stop.wait(args.duration_s)
    finally:
        simulation.close()
    return 0


def _demo(args: argparse.Namespace) -> int:
    """A gateway (child process) with the console, a demo account and N machines."""
    data: Path = args.data
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    kiosks_file = data / "kiosks"
    write_kiosks_file(kiosks_file, args.kiosks)
    db = data / "central.sqlite"
    password = secrets.token_urlsafe(9)
    central = [sys.executable, "-m", "central"]
    added = subprocess.run(
        [*central, "console", "user", "add", DEMO_USER, "--role", "admin", "--db", str(db)],
        input=password + "\n",
        text=True,
        capture_output=True,
        check=False,
    )
    if added.returncode != 0:
        subprocess.run(
            [*central, "console", "user", "password", DEMO_USER, "--db", str(db)],
            input=password + "\n",
            text=True,
            capture_output=True,
            check=True,
        )
    url = f"http://127.0.0.1:{args.port}"
    gateway = subprocess.Popen(
        [
            *central,
            *("serve", "--db", str(db), "--port", str(args.port)),
            *("--kiosks-file", str(kiosks_file), "--exit-with-stdin"),
        ],
        stdin=subprocess.PIPE,
    )
    try:
        _wait_for(url, gateway)
        print(f"fleet console: {url}/console/  account: {DEMO_USER}  password: {password}")
        simulation = Simulation(url, kiosks_file, args.kiosks, interval_s=3.0, busy=0.5, seed=None)
        simulation.start()
        print(f"{args.kiosks} simulated machines feed it; Ctrl-C stops", flush=True)
        try:
            gateway.wait()
        finally:
            simulation.close()
    finally:
        if gateway.poll() is None:
            gateway.terminate()
            gateway.wait(20)
    return 0


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the gateway did not start")
        try:
            if requests.get(url + "/v1/health", timeout=2).ok:
                return
        except requests.RequestException:
            time.sleep(0.3)
    raise SystemExit("the gateway did not answer within 60 s")
