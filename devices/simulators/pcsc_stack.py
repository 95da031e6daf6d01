"""A private PC/SC stack without hardware: pcscd with the vsmartcard vpcd reader driver,
into which any vpcd card (the virtual travel document) is inserted. Used by the tests, the
benchmark and the demo mode (with the card: chip_stack.PcscChipSimulator).

pcsc-lite 1.9 (Debian 12) fixes the daemon's socket and pid file at /run/pcscd (the client
library honours PCSCLITE_CSOCK_NAME but the daemon does not), so two daemons cannot coexist:
:meth:`PcscStack.start` refuses when another pcscd runs, unless told to reuse it. The reader
configuration is private though (``pcscd --config DIR``), so the vpcd port is ours to choose.
Processes are stopped by the PID we started, never by name.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Protocol

from smartcard import scard

from devices.simulators.base import Simulator

log = logging.getLogger(__name__)

DEFAULT_PORT = 35963  # vpcd's first slot in Debian's reader configuration

PID_FILE = Path("/run/pcscd/pcscd.pid")
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
FRIENDLY_NAME = "Virtual PCD"


class PcscStackError(RuntimeError):
    """The PC/SC stack could not be started (pcscd missing, another one running...)."""


class VpcdCard(Protocol):
    """A card that plugs into vpcd's socket (the virtual travel document)."""

    port: int

    def start(self, timeout_s: float = 10.0) -> str: ...

    def stop(self) -> None: ...


def running_pcscd() -> int | None:
    """PID of a live pcscd, from its pid file or the process table; None when none runs."""
    candidates: list[int] = []
    with contextlib.suppress(OSError, ValueError):
        candidates.append(int(PID_FILE.read_text().strip()))
    proc = Path("/proc")
    if proc.is_dir():
        for entry in proc.iterdir():
            if entry.name.isdigit():
                try:
                    if (entry / "comm").read_text().strip() == "pcscd":
                        candidates.append(int(entry.name))
                except OSError:
                    continue
    for pid in candidates:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        # field 3 is the state; zombies (Z) and dead (X) tasks do not serve anyone
        state = stat.rsplit(")", 1)[-1].split()[0]
        if state not in ("Z", "X") and "(pcscd)" in stat:
            return pid
    return None


def list_readers() -> list[str]:
    """Reader names from pcscd; empty when the daemon is absent or has no readers."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return []
    try:
        hresult, readers = scard.SCardListReaders(context, [])
        return list(readers) if hresult == scard.SCARD_S_SUCCESS else []
    finally:
        scard.SCardReleaseContext(context)


def card_present(reader: str) -> bool:
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return False
    try:
        hresult, states = scard.SCardGetStatusChange(
            context, 0, [(reader, scard.SCARD_STATE_UNAWARE)]
        )
        if hresult != scard.SCARD_S_SUCCESS or not states:
            return False
        return bool(states[0][1] & scard.SCARD_STATE_PRESENT)
    finally:
        scard.SCardReleaseContext(context)


def wait_for_card(reader: str, present: bool = True, timeout_s: float = 10.0) -> None:
    """Block until ``reader`` reports a card (or, with ``present=False``, no card)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if card_present(reader) == present:
            return
        time.sleep(0.02)
    state = "a card" if present else "no card"
    raise PcscStackError(f"reader {reader!r} did not report {state} within {timeout_s:.0f} s")


class PcscStack(Simulator):
    """pcscd in the foreground with a private vpcd reader configuration."""

    def __init__(
        self,
        *,
        port: int = DEFAULT_PORT,
        reuse_running: bool = False,
        pcscd: str = "pcscd",
        startup_timeout_s: float = 15.0,
        apdu_log: bool = False,
    ) -> None:
        self.port = port
        self.reuse_running = reuse_running
        self.pcscd = pcscd
        self.startup_timeout_s = startup_timeout_s
        self.apdu_log = apdu_log
        self.pid: int | None = None
        self.workdir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        # vpcd names its two slots "<FRIENDLYNAME> 00 00" (port) and "... 00 01" (port + 1)
        self.reader_name = f"{FRIENDLY_NAME} 00 00"

    @property
    def log_file(self) -> Path | None:
        return self.workdir / "pcscd.log" if self.workdir else None

    def start(self) -> str:
        """Start pcscd (or adopt a running one when allowed); returns the reader name."""
        other = running_pcscd()
        if other is not None:
            if self.reuse_running:
                # its vpcd listens where its reader.conf says: 35963 in Debian's default
                log.info("using the running pcscd (pid %d), vpcd port %d", other, self.port)
                self._wait_for_reader()
                return self.reader_name
            raise PcscStackError(
                f"another pcscd (pid {other}) is running; pcsc-lite 1.9 cannot run two daemons"
                " side by side (fixed /run/pcscd socket). Stop it first."
            )
        binary = shutil.which(self.pcscd) or shutil.which(self.pcscd, path="/usr/sbin:/sbin")
        if binary is None:
            raise PcscStackError("pcscd is not installed (apt-get install pcscd vsmartcard-vpcd)")
        if not VPCD_DRIVER.exists():
            raise PcscStackError(f"vpcd reader driver missing: {VPCD_DRIVER}")
        self.workdir = Path(tempfile.mkdtemp(prefix="kiosk-pcscd-"))
        conf = self.workdir / "reader.conf.d"
        conf.mkdir()
        (conf / "vpcd").write_text(
            f'FRIENDLYNAME "{FRIENDLY_NAME}"\n'
            f"DEVICENAME   /dev/null:0x{self.port:04X}\n"
            f"LIBPATH      {VPCD_DRIVER}\n"
            f"CHANNELID    0x{self.port:04X}\n"
        )
        args = [binary, "--foreground", "--config", str(conf)]
        if self.apdu_log:
            args += ["--apdu", "--debug"]
        assert self.log_file is not None
        self._process = spawn_daemon(args, self.log_file)
        self.pid = self._process.pid
        log.info("pcscd started (pid %d, vpcd port %d)", self.pid, self.port)
        try:
            self._wait_for_reader()
        except PcscStackError:
            self.stop()
            raise
        return self.reader_name

    def _wait_for_reader(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-800:] if self.log_file else ""
                raise PcscStackError(f"pcscd exited with {self._process.returncode}: {tail}")
            if self.reader_name in list_readers():
                return
            time.sleep(0.05)
        raise PcscStackError(f"pcscd did not offer {self.reader_name!r} in time")

    def stop(self) -> None:
        """Stop the pcscd we started (by its PID) and remove the private directory."""
        process, self._process = self._process, None
        if process is not None:
            end_daemon(process)
            log.info("pcscd stopped (pid %d)", process.pid)
        self.pid = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def insert(self, card: VpcdCard, timeout_s: float = 10.0) -> None:
        """Insert ``card`` on this stack's vpcd port and wait until pcscd sees it."""
        card.port = self.port
        card.start(timeout_s)
        wait_for_card(self.reader_name, True, timeout_s)

    def remove(self, card: VpcdCard, timeout_s: float = 10.0) -> None:
        card.stop()
        wait_for_card(self.reader_name, False, timeout_s)


def spawn_daemon(args: list[str], log_file: Path) -> subprocess.Popen[bytes]:
    """Start a daemon child (output to ``log_file``) that ends with this interpreter: a
    program that stops on an exception must not leave it running, or the next start finds
    "another pcscd" and refuses. (A SIGKILLed parent still leaves it; ``start`` names it.)"""
    with open(log_file, "wb") as out:
        process = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    atexit.register(end_daemon, process)
    return process


def end_daemon(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 5 s; a no-op once it has ended (so the exit hook may
    stay registered: ``atexit.unregister`` would drop the hooks of every daemon)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def free_port_pair(preferred: int = DEFAULT_PORT) -> int:
    """A base port with it and the next one free on loopback (vpcd listens on both)."""
    import socket

    def free(port: int) -> bool:
        with socket.socket() as probe:
            try:
                probe.bind(("0.0.0.0", port))  # vpcd binds every interface
            except OSError:
                return False
            return True

    if free(preferred) and free(preferred + 1):
        return preferred
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port < 65535 and free(port) and free(port + 1):
            return port
    raise PcscStackError("no free pair of ports for vpcd")
