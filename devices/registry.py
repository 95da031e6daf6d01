"""The explicit table of drivers and simulators, by device kind and name.

Entries are import paths, resolved only when a driver is chosen, so the application core can
select drivers by configured name without importing any driver module, and the packager
(kiosk.spec) can read every module from this one table.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from devices.base import ConfigurationError


@dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    target: str  # "package.module:Attribute"
    summary: str

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    def load(self) -> object:
        module_name, _, attr = self.target.partition(":")
        module = importlib.import_module(module_name)
        return getattr(module, attr)


# Kinds: idcard, chip, printer, dispenser, camera, rewriter.
DRIVERS: tuple[Entry, ...] = (
    Entry("idcard", "sam", "devices.drivers.sam:SamIdCardReader", "SAM_V ID card reader (serial)"),
    Entry("printer", "escpos", "devices.drivers.escpos:EscPosPrinter", "ESC/POS receipt printer"),
    Entry(
        "chip",
        "pcsc",
        "devices.drivers.pcsc_chip:PcscChipReader",
        "Travel-document chip over PC/SC (pyscard): BAC, 3DES secure messaging, passive auth",
    ),
    Entry("dispenser", "crt591", "devices.drivers.crt591:Crt591Dispenser", "Creator CRT-591"),
    Entry("dispenser", "k720", "devices.drivers.k720:K720Dispenser", "KYT/TTCE K720"),
    Entry("camera", "opencv", "devices.drivers.opencv_camera:OpenCvCamera", "OpenCV capture"),
    Entry(
        "rewriter",
        "tcp300",
        "devices.drivers.tcp300:Tcp300Rewriter",
        "Card transport + rewritable-film printer, Star TCP300II command set (serial)",
    ),
)

SIMULATORS: tuple[Entry, ...] = (
    Entry("idcard", "sam", "devices.simulators.sam:SamSimulator", "SAM_V reader on a pty"),
    Entry("printer", "escpos", "devices.simulators.escpos:EscPosSimulator", "ESC/POS on a pty"),
    Entry(
        "chip",
        "pcsc",
        "devices.simulators.chip_stack:PcscChipSimulator",
        "pcscd + vpcd reader + virtual travel document (start() returns the reader name)",
    ),
    Entry(
        "chip",
        "vcard",
        "devices.simulators.vcard:VirtualTravelDocument",
        "Virtual travel-permit chip on vpcd's socket",
    ),
    Entry("dispenser", "crt591", "devices.simulators.crt591:Crt591Simulator", "CRT-591 on a pty"),
    Entry("dispenser", "k720", "devices.simulators.k720:K720Simulator", "K720 on a pty"),
    Entry("camera", "opencv", "devices.simulators.camera:CameraSimulator", "rendered video"),
    Entry(
        "rewriter",
        "tcp300",
        "devices.simulators.tcp300:Tcp300Simulator",
        "TCP300II card rewriter on a pty; renders the card's back as PNG",
    ),
)


def find(table: tuple[Entry, ...], kind: str, name: str) -> Entry:
    for entry in table:
        if entry.kind == kind and entry.name == name:
            return entry
    known = ", ".join(sorted(e.name for e in table if e.kind == kind)) or "none"
    raise ConfigurationError(f"no {kind} entry named {name!r} (known: {known})")


def driver(kind: str, name: str) -> Entry:
    return find(DRIVERS, kind, name)


def simulator(kind: str, name: str) -> Entry:
    return find(SIMULATORS, kind, name)


def all_modules() -> list[str]:
    """Every module named by the registry, for the packager and the self-test."""
    return sorted({e.module for e in DRIVERS + SIMULATORS})
