"""The simulators speak the reference bytes to any host, not just to our drivers: a plain
pyserial port sends raw frames and checks the raw answers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import serial

from devices.printer import PaperState
from devices.samv import Command, command_frame, response_frame
from devices.simulators.escpos import EscPosSimulator
from devices.simulators.pcsc_stack import pid_alive
from devices.simulators.sam import SamSimulator
from tests.conftest import ROOT


def ask(port: serial.Serial, data: bytes, answer_len: int) -> bytes:
    port.reset_input_buffer()
    port.write(data)
    return bytes(port.read(answer_len))


def test_printer_simulator_answers_real_time_status() -> None:
    with EscPosSimulator() as sim, serial.Serial(sim.port, 115_200, timeout=1.0) as port:
        assert ask(port, b"\x10\x04\x01\x10\x04\x02\x10\x04\x03\x10\x04\x04", 4) == bytes.fromhex(
            "12 12 12 12"
        )
        sim.set_paper(near_end_after=0)
        assert ask(port, b"\x10\x04\x04", 1) == b"\x1e"
        assert ask(port, b"\x1d\x72\x01", 1) == b"\x0c"  # GS r 1: near-end sensor bits
        sim.set_paper(out_after=0)
        answers = ask(port, b"\x10\x04\x01\x10\x04\x02\x10\x04\x04", 3)
        assert answers == bytes.fromhex("1A 32 72")
        sim.set_cover(True)
        assert ask(port, b"\x10\x04\x02", 1)[0] & 0x04
        assert all(b & 0x93 == 0x12 for b in ask(port, b"\x10\x04\x03", 1))
        assert sim.state.paper is PaperState.OUT


def test_printer_simulator_records_raw_job() -> None:
    job = (
        b"\x1b\x40\x1b\x61\x01\x1b\x45\x01"
        + b"\x1c\x26"
        + "回执".encode("gb18030")
        + b"\x1c\x2e\n\x1b\x45\x00"
        + b"\x1d\x28\x6b\x06\x00\x31\x50\x30ABC\x1d\x28\x6b\x03\x00\x31\x51\x30"
        + b"\x1d\x6b\x49\x06{BAB12"
        + b"\x1d\x76\x30\x00\x01\x00\x02\x00\xff\x00"
        + b"\x1b\x64\x03\x1d\x56\x00"
    )
    with EscPosSimulator() as sim, serial.Serial(sim.port, 115_200, timeout=1.0) as port:
        port.write(job)
        assert ask(port, b"\x10\x04\x01", 1) == b"\x12"  # answered after the job was parsed
        kinds = [(item.kind, item.text) for item in sim.printed]
        assert kinds == [
            ("text", "回执"),
            ("qr", "ABC"),
            ("code128", "AB12"),
            ("image", ""),
            ("feed", ""),
            ("cut", ""),
        ]
        assert sim.printed[0].bold and sim.printed[0].align == 1
        assert (sim.printed[3].width, sim.printed[3].height) == (8, 2)
        assert sim.parser.unknown == []


def test_sam_simulator_answers_reference_frames() -> None:
    with SamSimulator() as sim, serial.Serial(sim.port, 115_200, timeout=1.0) as port:
        assert ask(port, command_frame(Command.FIND_CARD), 11) == bytes.fromhex(
            "AA AA AA 96 69 00 04 00 00 80 84"
        )
        sim.place_card()
        assert ask(port, command_frame(Command.FIND_CARD), 15) == bytes.fromhex(
            "AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97"
        )
        assert ask(port, command_frame(Command.SELECT_CARD), 19) == response_frame(0x90, bytes(8))
        answer = ask(port, command_frame(Command.READ_TEXT_PHOTO), 1295)
        assert len(answer) == 1295 and answer[:10] == bytes.fromhex("AA AA AA 96 69 05 08 00 00 90")
        bad = bytearray(command_frame(Command.FIND_CARD))
        bad[-1] ^= 0xFF
        assert ask(port, bytes(bad), 11) == response_frame(0x10)


def test_a_daemon_child_ends_when_its_program_dies_of_an_exception(tmp_path: Path) -> None:
    """pcscd is started this way: a demo or test that stops on an exception must not leave
    it running (the next start would find "another pcscd" and refuse)."""
    program = (
        "import sys\n"
        "from pathlib import Path\n"
        "from devices.simulators.pcsc_stack import spawn_daemon\n"
        f"child = spawn_daemon(['sleep', '60'], Path({str(tmp_path / 'log')!r}))\n"
        "print(child.pid, flush=True)\n"
        "raise RuntimeError('the program fails')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "the program fails" in run.stderr
    pid = int(run.stdout.split()[0])
    deadline = time.monotonic() + 60
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid)
