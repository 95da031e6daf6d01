"""Driver settings are validated by from_settings (ConfigurationError naming the key)."""

from __future__ import annotations

import pytest

from devices.base import ConfigurationError
from devices.drivers.escpos import EscPosPrinter
from devices.drivers.sam import SamIdCardReader


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({}, "port"),
        ({"port": ""}, "port"),
        ({"port": "/dev/ttyS0", "poll_s": 0.1}, "poll_s"),
        ({"port": "/dev/ttyS0", "baud": 12_345}, "baud"),
        ({"port": "/dev/ttyS0", "baud": "115200"}, "baud"),
        ({"port": "/dev/ttyS0", "timeout_s": True}, "timeout_s"),
    ],
)
def test_idcard_settings_rejected(settings: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigurationError, match=key):
        SamIdCardReader.from_settings("idcard", settings)


def test_printer_settings() -> None:
    printer = EscPosPrinter.from_settings(
        "printer", {"port": "socket://127.0.0.1:9100", "columns": 32, "pace": True}
    )
    assert printer.columns == 32
    with pytest.raises(ConfigurationError, match="columns"):
        EscPosPrinter.from_settings("printer", {"port": "/dev/ttyS0", "columns": 8})


def test_unknown_url_scheme_is_a_configuration_error() -> None:
    printer = EscPosPrinter.from_settings("printer", {"port": "nosuch://x"})
    with pytest.raises(ConfigurationError):
        printer.open(timeout_s=0.5)
