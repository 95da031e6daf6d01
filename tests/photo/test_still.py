"""Images from outside are refused from their header when they declare too many pixels."""

from __future__ import annotations

import io
import resource
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PilImage

from kiosk.cli import main
from kiosk.photo.still import MAX_PIXELS, ImageRefused, declared_size, decode_still, read_still


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A tiny valid JPEG whose frame header (SOF0) is patched to claim width x height."""
    buf = io.BytesIO()
    PilImage.new("RGB", (8, 8), (200, 190, 180)).save(buf, "JPEG", quality=40)
    data = bytearray(buf.getvalue())
    sof = data.find(b"\xff\xc0")
    assert sof > 0
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    PilImage.new("RGB", (width, height), (10, 20, 30)).save(buf, "PNG")
    return buf.getvalue()


def test_header_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    bomb = _jpeg_declaring(30000, 30000)
    assert len(bomb) < 1000
    path = tmp_path / "bomb.jpg"
    path.write_bytes(bomb)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.process_time()
    with pytest.raises(ImageRefused, match="too large"):
        read_still(path)
    # Decoding it would take seconds and gigabytes; reading the header takes neither.
    assert time.process_time() - started < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 100_000  # KiB


def test_limit_applies_just_above_and_below() -> None:
    assert declared_size(_jpeg_declaring(8000, 6000)) == (8000, 6000)
    with pytest.raises(ImageRefused, match="48,000,000 pixels"):
        decode_still(_jpeg_declaring(8000, 6000))
    assert MAX_PIXELS < 8000 * 6000
    with pytest.raises(ImageRefused, match="too large"):
        decode_still(_png(40, 30), max_pixels=1000)
    frame = decode_still(_png(40, 30))
    assert frame.shape == (30, 40, 3) and frame.dtype == np.uint8
    assert tuple(frame[0, 0]) == (30, 20, 10)  # BGR


def test_not_an_image_and_oversized_files(tmp_path: Path) -> None:
    with pytest.raises(ImageRefused, match="not a readable image"):
        decode_still(b"GIF89a but not really" * 3)
    with pytest.raises(ImageRefused, match="file too large"):
        decode_still(_png(4, 4), max_bytes=10)
    with pytest.raises(ImageRefused, match="cannot read image"):
        read_still(tmp_path / "missing.jpg")


def test_cli_refuses_the_bomb_with_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bomb.jpg"
    path.write_bytes(_jpeg_declaring(30000, 30000))
    out = tmp_path / "photo.jpg"
    started = time.monotonic()
    assert main(["photo", "check", str(path)]) == 2
    assert main(["photo", "make", str(path), "--out", str(out)]) == 2
    assert time.monotonic() - started < 60  # generous: the engine's models load here
    err = capsys.readouterr().err
    assert err.count("image too large") == 2 and "not decoded" in err
    assert not out.exists()


def test_engine_refuses_an_oversized_frame() -> None:
    from kiosk.photo import PhotoEngine, load_spec

    engine = PhotoEngine(load_spec("cn-exit-entry"))
    # A view with a huge shape but no memory behind it (strides of 0).
    huge = np.lib.stride_tricks.as_strided(
        np.zeros(3, np.uint8), shape=(9000, 9000, 3), strides=(0, 0, 1)
    )
    with pytest.raises(ValueError, match="over the limit"):
        engine.analyse(huge)
