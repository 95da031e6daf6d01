"""``kiosk face verify`` end to end, through the real command line entry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.face.clips import Scenes
from tests.face.test_verify import png_declaring


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory, scene: Scenes) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("documents")
    paths = {
        "jpeg": folder / "dg2.jpg",
        "jp2": folder / "dg2.jp2",
        "other": folder / "other.jpg",
    }
    paths["jpeg"].write_bytes(scene.document_jpeg)
    paths["jp2"].write_bytes(scene.document_jpeg2000)
    paths["other"].write_bytes(scene.other_document)
    return paths


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = main(["face", "verify", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_match_json(
    documents: dict[str, Path], files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, data = run_json(capsys, str(documents["jpeg"]), str(files["obama"]))
    assert code == 0
    assert set(data) == {"match", "score", "threshold", "model", "elapsed_ms"}
    assert data["match"] is True
    assert isinstance(data["score"], float) and isinstance(data["threshold"], float)
    assert data["score"] <= data["threshold"]  # type: ignore[operator]
    assert isinstance(data["model"], str) and "resnet" in data["model"]
    assert isinstance(data["elapsed_ms"], float) and data["elapsed_ms"] > 0


def test_jpeg2000_reference_and_mismatch(
    documents: dict[str, Path], files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, data = run_json(capsys, str(documents["jp2"]), str(files["obama2"]))
    assert (code, data["match"]) == (0, True)
    code, data = run_json(capsys, str(documents["other"]), str(files["obama2"]))
    assert (code, data["match"]) == (0, False)  # compared: the answer is in the JSON
    assert data["score"] > data["threshold"]  # type: ignore[operator]


def test_errors_exit_non_zero_with_a_clear_message(
    documents: dict[str, Path],
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reference = str(documents["jpeg"])
    assert main(["face", "verify", reference, str(files["free-mountain-vector-01.jpg"])]) == 2
    assert "no face found in the probe image" in capsys.readouterr().err
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    assert main(["face", "verify", reference, str(text), "--json"]) == 2
    captured = capsys.readouterr()
    assert "not a readable image" in captured.err and captured.out == ""
    assert main(["face", "verify", reference, str(tmp_path / "missing.jpg")]) == 2
    assert "cannot be read" in capsys.readouterr().err
    bomb = tmp_path / "huge.png"
    bomb.write_bytes(png_declaring(50000, 50000))
    assert main(["face", "verify", str(bomb), reference]) == 2
    assert "refused before decoding" in capsys.readouterr().err


def test_console_script(documents: dict[str, Path], files: dict[str, Path]) -> None:
    """The installed ``kiosk`` entry point (through ui.main) prints the JSON line."""
    kiosk = Path(sys.executable).with_name("kiosk")
    done = subprocess.run(
        [str(kiosk), "face", "verify", str(documents["jpeg"]), str(files["obama3"]), "--json"],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["match"] is True
