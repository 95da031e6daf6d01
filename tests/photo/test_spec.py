from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from kiosk.config import PhotoSection
from kiosk.photo import PhotoSpec, SpecError, available_specs, load_spec
from kiosk.photo.spec import SPEC_DIR, Number, parse_spec

TEXT = (SPEC_DIR / "cn-exit-entry.toml").read_text(encoding="utf-8")


def test_the_configured_default_spec_loads() -> None:
    spec = load_spec(PhotoSection().spec)
    assert spec.name == "cn-exit-entry" in available_specs()
    assert spec.version
    assert (spec.output.width.value, spec.output.height.value) == (354, 472)
    assert (spec.geometry.ied_min.value, spec.geometry.ied_max.value) == (0.23, 0.33)
    assert (spec.pose.yaw_max.value, spec.pose.pitch_max.value, spec.pose.roll_max.value) == (
        5,
        5,
        8,
    )
    assert (spec.output.min_kb.value, spec.output.max_kb.value) == (20, 80)


def test_every_number_cites_a_known_source() -> None:
    spec = load_spec("cn-exit-entry")
    numbers = re.findall(r"\{ value = [-0-9.]+, source = \"(\w+)\" \}", TEXT)
    assert len(numbers) > 60
    assert set(numbers) <= set(spec.sources)
    bad = TEXT.replace('source = "icao" }', 'source = "hearsay" }', 1)
    with pytest.raises(SpecError, match="unknown sources"):
        parse_spec(bad)


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(SpecError, match=r"pose\.yaw_limit"):
        parse_spec(
            TEXT.replace("[pose]\n", '[pose]\nyaw_limit = { value = 9, source = "kiosk" }\n')
        )
    with pytest.raises(SpecError, match=r"[Ee]xtra"):
        parse_spec(
            TEXT.replace(
                'yaw_max = { value = 5.0, source = "icao" }',
                'yaw_max = { value = 5.0, source = "icao", note = 1 }',
            )
        )


def test_missing_and_inconsistent_values_are_refused() -> None:
    with pytest.raises(SpecError, match="roll_max"):
        parse_spec(TEXT.replace('roll_max = { value = 8.0, source = "icao" }\n', ""))
    with pytest.raises(SpecError, match="aspect"):
        parse_spec(
            TEXT.replace(
                'height = { value = 472, source = "guide" }',
                'height = { value = 500, source = "guide" }',
            )
        )
    with pytest.raises(SpecError, match="measures missing"):
        parse_spec(re.sub(r"^gaze = \{ hard.*\n", "", TEXT, flags=re.M))
    with pytest.raises(SpecError, match="not valid TOML"):
        parse_spec("version = ")


def test_spec_is_frozen() -> None:
    spec = load_spec("cn-exit-entry")
    with pytest.raises(ValidationError):
        spec.pose.yaw_max.value = 50  # type: ignore[misc]
    assert isinstance(spec.pose.yaw_max, Number)
    assert isinstance(spec, PhotoSpec)


def test_unknown_spec_name() -> None:
    with pytest.raises(SpecError, match="no such photo spec"):
        load_spec("xx-nowhere")
