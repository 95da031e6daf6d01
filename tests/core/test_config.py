from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import ConfigError, TerminalType, load_config
from tests.conftest import ROOT

SAMPLES = sorted((ROOT / "configs").glob("*.toml"))

GOOD = """
[kiosk]
id = "SZ-FT-P01"
terminal = "photo"
[devices.printer]
driver = "escpos"
port = "/dev/ttyS0"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value.problems


def test_every_sample_config_is_valid_and_covers_every_terminal() -> None:
    terminals = {load_config(path).kiosk.terminal for path in SAMPLES}
    assert terminals == set(TerminalType)


def test_good_config_becomes_frozen_typed_objects(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.kiosk.terminal is TerminalType.PHOTO
    assert config.devices.printer is not None
    assert config.devices.printer.baud == 115_200
    assert config.timeouts.idle_s == 60.0
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises its own frozen error
        config.kiosk.id = "OTHER"  # type: ignore[misc]


def test_unknown_key_is_named_with_its_path(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD + "colour = 'red'\n")
    assert found == ["devices.printer.colour: unknown key"]


def test_unknown_section_is_named(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD + "[devices.scanner]\ndriver = 'x'\n")
    assert found == ["devices.scanner: unknown key"]


def test_wrong_type_is_named_and_not_coerced(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace('port = "/dev/ttyS0"', 'baud = "9600"'))
    assert len(found) == 1 and found[0].startswith("devices.printer.baud: ")


def test_bool_is_not_taken_for_a_number(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD + "[timeouts]\nidle_s = true\n")
    assert found[0].startswith("timeouts.idle_s: ")


def test_missing_values_are_named(tmp_path: Path) -> None:
    found = problems(tmp_path, "[kiosk]\nid = 'SZ-1'\n[devices.camera]\nsource = '0'\n")
    assert "kiosk.terminal: missing value" in found
    assert "devices.camera.driver: missing value" in found


def test_bad_enum_and_range_are_named(tmp_path: Path) -> None:
    text = GOOD.replace('"photo"', '"bus"') + "[timeouts]\nidle_s = -1\n"
    found = problems(tmp_path, text)
    assert any(p.startswith("kiosk.terminal: ") for p in found)
    assert any(p.startswith("timeouts.idle_s: ") for p in found)


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    assert problems(tmp_path, "[kiosk\n")[0].startswith("not valid TOML")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "absent.toml")
    assert "cannot read file" in info.value.problems[0]


def test_cli_config_check_exit_codes(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "ui.main", "config", "check", str(SAMPLES[0])],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert ok.returncode == 0, ok.stderr
    bad = write(tmp_path, GOOD + "colour = 1\n")
    result = subprocess.run(
        [sys.executable, "-m", "ui.main", "config", "check", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert "devices.printer.colour: unknown key" in result.stderr
