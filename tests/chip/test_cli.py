"""`kiosk sim chip` and `kiosk devices probe chip` end to end through pcscd."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from devices.simulators.pcsc_stack import PcscStack, wait_for_card
from devices.simulators.vcard import DEFAULT_MRZ
from ui.main import main

PROBE = ["devices", "probe", "chip", "--driver", "pcsc", "--port"]


def test_simulator_command_then_probe_command(
    pcsc_stack: PcscStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trust = tmp_path / "csca.pem"
    codes: list[int] = []
    sim = threading.Thread(
        target=lambda: codes.append(
            main(
                [
                    "sim",
                    "chip",
                    "--port",
                    str(pcsc_stack.port),
                    "--seconds",
                    "1.5",
                    "--dg2-bytes",
                    "20000",
                    "--trust-out",
                    str(trust),
                ]
            )
        )
    )
    sim.start()
    try:
        wait_for_card(pcsc_stack.reader_name, True, 10)
        capsys.readouterr()
        code = main(
            [
                "devices",
                "probe",
                "chip",
                "--driver",
                "pcsc",
                "--port",
                pcsc_stack.reader_name,
                "--trust-store",
                str(trust),
                "--json",
                "--mrz",
                *DEFAULT_MRZ,
            ]
        )
        out = json.loads(capsys.readouterr().out)
    finally:
        sim.join(60)
        wait_for_card(pcsc_stack.reader_name, False, 60)
    assert code == 0 and codes == [0]
    assert out["ok"] is True
    assert out["mrz"]["document_number"] == "C12345678"
    assert out["dg2"]["format"] == "jpeg" and out["dg2"]["image_bytes"] == 20000
    assert out["passive_authentication"]["result"] == "valid"
    assert out["time_s"] > 0


def test_probe_command_reports_device_errors(
    pcsc_stack: PcscStack, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*PROBE, pcsc_stack.reader_name, "--json", "--mrz", *DEFAULT_MRZ])
    assert code == 1
    assert json.loads(capsys.readouterr().out) == {
        "ok": False,
        "error": "chip.no_card",
        "recovery": "none",
        "message": "no document on the chip reader",
    }


def test_probe_command_rejects_a_bad_mrz(
    pcsc_stack: PcscStack, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = [DEFAULT_MRZ[0][:-1] + "7", *DEFAULT_MRZ[1:]]
    bad[0] = bad[0][:14] + "1" + bad[0][15:]  # wrong document-number check digit
    code = main([*PROBE, pcsc_stack.reader_name, "--json", "--mrz", *bad])
    assert code == 1
    assert json.loads(capsys.readouterr().out)["error"] == "chip.mrz_invalid"
