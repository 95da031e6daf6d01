from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kiosk import cli
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


# --- bad input (issue 24, item 12): clean errors, sane bounds ---------------------------------


def with_key(section: str, key: str, value: str) -> str:
    """GOOD with ``key = value`` in ``[section]``."""
    header = f"[{section}]\n"
    if header in GOOD:
        return GOOD.replace(header, f"{header}{key} = {value}\n", 1)
    return GOOD + f"{header}{key} = {value}\n"


def check(capsys: pytest.CaptureFixture[str], path: Path) -> str:
    """``kiosk config check`` in process: exit 1 and what it printed (an exception would
    fail the test: a traceback is what the probe found)."""
    assert cli.main(["config", "check", str(path)]) == 1
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("encoding", "said"),
    [("utf-16", "UTF-16"), ("utf-16-le", "NUL bytes"), ("utf-32", "UTF-32"), ("gb18030", "UTF-8")],
)
def test_a_file_that_is_not_utf8_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], encoding: str, said: str
) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_bytes(with_key("kiosk", "place", '"福田出入境服务大厅"').encode(encoding))
    assert said in check(capsys, path)


def test_a_utf8_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert load_config(path).kiosk.id == "SZ-FT-P01"


def test_a_bad_byte_is_named_by_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_bytes(GOOD.encode() + b'[photo]\nspec = "cn\xffx"\n')
    assert "byte 0xff at line 9, column 11" in check(capsys, path)


@pytest.mark.parametrize("depth", [40, 600, 5_000])
def test_deeply_nested_arrays_are_refused_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], depth: int
) -> None:
    path = write(tmp_path, with_key("kiosk", "place", "[" * depth + "]" * depth))
    assert "nested deeper than" in check(capsys, path)


def test_what_is_not_a_file_of_text_is_refused_without_reading_it_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "not a regular file" in check(capsys, Path("/dev/zero"))
    big = tmp_path / "big.toml"
    big.write_bytes(GOOD.encode() + b"#" * (2 << 20) + b"\n")
    assert "larger than 1 MiB" in check(capsys, big)


def test_pin_hash_iterations_have_an_upper_bound(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """10^9 iterations would hang the check (and every sign-in) for minutes."""
    salt, digest = "UOvnNg+KMnVaYte0rVboKQ==", "HUz1XsmY7YBljNVOahZLjDaGQrd7oFteNr60JvAgCuU="
    for pin_hash in (
        f"pbkdf2-sha256$1000000000${salt}${digest}",  # as the probe wrote it
        f"pbkdf2-sha256-keyed$0badc0de$1000000000${salt}${digest}",
    ):
        path = write(tmp_path, GOOD + f'[staff]\npin_hash = "{pin_hash}"\n')
        assert "staff.pin_hash" in check(capsys, path)


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("kiosk", "data_dir", '"var/../../etc"'),
        ("kiosk", "data_dir", '"var\\u0000x"'),
        ("queue", "db", '"../../etc/passwd"'),
        ("queue", "key_file", '"/etc/shadow"'),
        ("queue", "db", '"outbox\\u0000.sqlite"'),
        ("staff", "key_file", '"../staff.key"'),
        ("central", "secret_file", '"/etc/kiosk/../../root/secret"'),
        ("central", "ca_bundle", '"ca\\u0000.pem"'),
        ("kiosk", "place", '"Hall\\u001b@"'),  # an ESC/POS command on every receipt
        ("kiosk", "place", '"Hall\\nforged log line"'),
        ("photo", "spec", '"../../etc/passwd"'),
        ("photo", "spec", '"cn\\u0000"'),
        ("devices.camera", "driver", '"opencv\\u0000"'),
        ("devices.idcard", "port", '"/dev/../etc/x"'),
        ("devices.chip", "reader", '"("'),
    ],
)
def test_traversal_and_control_characters_are_refused_in_paths_and_names(
    tmp_path: Path, section: str, key: str, value: str
) -> None:
    found = problems(tmp_path, with_key(section, key, value))
    assert any(p.startswith(f"{section}.{key}: ") for p in found), found


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("staff", "lockout_s", "1e-6"),
        ("staff", "lockout_s", "1e9"),
        ("staff", "max_lockout_s", "1e9"),
        ("timeouts", "idle_s", "1e-6"),
        ("timeouts", "message_s", "nan"),
        ("timeouts", "still_there_s", "inf"),
        ("central", "heartbeat_s", "0.001"),
        ("central", "timeout_s", "1e-9"),
        ("queue", "lease_s", "1e-6"),
        ("queue", "offline_warn_h", "1e-9"),
        ("payment", "settle_s", "0.5"),
    ],
)
def test_absurd_durations_are_refused(tmp_path: Path, section: str, key: str, value: str) -> None:
    found = problems(tmp_path, with_key(section, key, value))
    assert any(p.startswith(f"{section}.{key}: ") for p in found), found


def test_a_lockout_longer_than_its_bound_is_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD + "[staff]\nlockout_s = 600\nmax_lockout_s = 300\n")
    assert any("max_lockout_s" in p for p in found)


def test_a_utf16_file_gives_a_clean_error_from_the_command(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_bytes(GOOD.encode("utf-16"))
    result = subprocess.run(
        [sys.executable, "-m", "ui.main", "config", "check", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "the file is UTF-16 text: save it as UTF-8" in result.stderr
