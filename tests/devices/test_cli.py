"""The device CLI: list, check, probe (through simulators), and the standalone simulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from devices.drivers.sam import SamIdCardReader
from kiosk.cli import main
from kiosk.config import TerminalType
from kiosk.machine.devicemap import is_required
from kiosk.terminals.registry import TERMINALS

ROOT = Path(__file__).resolve().parents[2]


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict[str, object]]:
    code = main(argv)
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_required_kinds_per_terminal() -> None:
    def required(terminal: TerminalType) -> frozenset[str]:
        return TERMINALS[terminal].required_devices

    assert required(TerminalType.RENEWAL) == {"idcard", "chip", "printer", "camera"}
    assert required(TerminalType.PHOTO) == {"printer", "camera"}
    assert required(TerminalType.PICKUP) == {"idcard", "printer", "dispenser", "camera"}
    assert not is_required(required(TerminalType.PHOTO), "idcard", None)


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, ["devices", "list", "--json"])
    assert code == 0
    idcard, printer = data["idcard"], data["printer"]
    assert isinstance(idcard, dict) and isinstance(printer, dict)
    assert [d["name"] for d in idcard["drivers"]] == ["sam"]
    assert [d["name"] for d in printer["simulators"]] == ["escpos"]


def test_probe_idcard_through_simulator(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(
        capsys, ["devices", "probe", "idcard", "--driver", "sam", "--sim", "--json"]
    )
    assert code == 0
    for key in ("name", "sex", "nation", "birth_date", "address", "id_number", "issuer"):
        assert data[key]
    assert data["card_type"] == "resident"
    assert data["valid_to"] is None and data["valid_from"] == "2018-06-01"


def test_probe_foreign_card_option(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["devices", "probe", "idcard", "--driver", "sam", "--sim", "--json"]
    code, data = run_json(capsys, [*argv, "--option", "card=foreigner_2017"])
    assert code == 0
    assert data["card_type"] == "foreigner_2017" and data["nationality"] == "USA"


def test_probe_printer_through_simulator(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["devices", "probe", "printer", "--driver", "escpos", "--sim", "--json"]
    code, data = run_json(capsys, argv)
    assert code == 0
    assert data["status_before"]["paper"] == "ok"  # type: ignore[index]
    assert data["status_after"]["cover_open"] is False  # type: ignore[index]
    assert isinstance(data["bytes_sent"], int) and data["bytes_sent"] > 100


def test_probe_missing_port_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["devices", "probe", "idcard", "--driver", "sam", "--json"]
    code, data = run_json(capsys, [*argv, "--port", str(tmp_path / "ttyUSB9")])
    assert code == 1
    assert data["error"] == "idcard.unavailable" and data["recovery"] == "suspend"


def write_config(tmp_path: Path, terminal: str, sections: str) -> Path:
    path = tmp_path / "machine.toml"
    path.write_text(f'[kiosk]\nid = "SZ-TEST-01"\nterminal = "{terminal}"\n\n{sections}\n')
    return path


def test_check_passes_when_required_devices_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        "photo",
        '[devices.printer]\ndriver = "escpos"\nsimulator = true\n\n'
        '[devices.idcard]\ndriver = "sam"\nsimulator = true\n\n'
        '[devices.camera]\ndriver = "opencv"\nsource = "/nonexistent/video"\nrequired = false\n',
    )
    code, data = run_json(capsys, ["devices", "check", str(config), "--json"])
    rows = {row["kind"]: row for row in data["devices"]}  # type: ignore[attr-defined]
    assert rows["printer"]["ok"] and rows["idcard"]["ok"]
    assert rows["idcard"]["required"] is False
    assert rows["camera"]["ok"] is False and rows["camera"]["required"] is False
    assert code == 0 and data["ok"] is True


def test_check_fails_when_a_required_device_fails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        "renewal",
        f'[devices.idcard]\ndriver = "sam"\nport = "{tmp_path}/ttyUSB0"\n\n'
        '[devices.printer]\ndriver = "escpos"\nsimulator = true\n',
    )
    code = main(["devices", "check", str(config)])
    out = capsys.readouterr().out
    assert code == 1
    assert "idcard.unavailable" in out and "not configured" in out and "FAILED" in out


def test_standalone_simulator_serves_until_sigterm() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "sim", "idcard", "--option", "card=foreigner_2023"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert os.path.exists(port)
        reader = SamIdCardReader("idcard", port, poll=False)
        reader.open(timeout_s=2.0)
        try:
            card = reader.read_card(timeout_s=2.0)
        finally:
            reader.close()
        assert card.card_type.value == "foreigner_2023"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        assert not os.path.exists(port)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
