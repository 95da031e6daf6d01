from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from PIL import Image as PilImage

from kiosk.cli import main
from tests.photo.variants import DEFECTS, Clean


@pytest.fixture
def clean_file(tmp_path: Path, cleans: dict[str, Clean]) -> Path:
    path = tmp_path / "clean.png"
    cv2.imwrite(str(path), cleans["grace_hopper"].frame)
    return path


def test_check_json(clean_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["photo", "check", str(clean_file), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["compliant"] is True
    names = {m["name"] for m in data["measures"]}
    assert {"sharpness", "yaw", "background_colour", "face_count"} <= names
    assert all({"score", "passed", "raw", "instruction_en"} <= set(m) for m in data["measures"])


def test_check_text_on_a_defect(
    tmp_path: Path, cleans: dict[str, Clean], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "blur.png"
    cv2.imwrite(str(path), DEFECTS["blur"][1](cleans["astronaut"]))
    assert main(["photo", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "compliant: false" in out
    assert "Please hold still" in out


def test_make_writes_the_photo(clean_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "photo.jpg"
    assert main(["photo", "make", str(clean_file), "--out", str(out)]) == 0
    assert PilImage.open(out).size == (354, 472)


def test_make_refuses_with_reasons(
    tmp_path: Path, cleans: dict[str, Clean], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "small.png"
    cv2.imwrite(str(path), DEFECTS["too_small"][1](cleans["astronaut"]))
    out = tmp_path / "photo.jpg"
    assert main(["photo", "make", str(path), "--out", str(out)]) == 1
    assert "Please move closer" in capsys.readouterr().err
    assert not out.exists()


def test_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["photo", "check", str(tmp_path / "missing.png")]) == 2
    assert main(["photo", "check", str(tmp_path / "missing.png"), "--spec", "nowhere"]) == 2
    assert "no such photo spec" in capsys.readouterr().err
