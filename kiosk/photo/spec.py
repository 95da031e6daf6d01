"""The photo specification: versioned data, validated on load.

Each threshold is a :class:`Number` carrying its source, so the engine never holds a magic
number of its own. Specs live in ``kiosk/photo/specs/<name>.toml``; the kiosk configuration
selects one by name (``[photo] spec``).
"""

from __future__ import annotations

import logging
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

log = logging.getLogger(__name__)

SPEC_DIR = Path(__file__).with_name("specs")

MeasureName = Literal[
    "face_count",
    "head_size",
    "centring",
    "yaw",
    "pitch",
    "roll",
    "eye_occlusion",
    "eyes_open",
    "mouth_closed",
    "expression",
    "glare",
    "gaze",
    "underexposure",
    "overexposure",
    "sharpness",
    "background_uniformity",
    "background_colour",
    "illumination",
    "colour_cast",
]
MEASURE_NAMES: tuple[str, ...] = get_args(MeasureName)

InstructionKey = Literal[
    "no_face",
    "face_count",
    "closer",
    "back",
    "move_left",
    "move_right",
    "move_up",
    "move_down",
    "turn_left",
    "turn_right",
    "chin_down",
    "chin_up",
    "roll",
    "eye_occlusion",
    "eyes_open",
    "mouth_closed",
    "expression",
    "glare",
    "gaze",
    "underexposure",
    "overexposure",
    "sharpness",
    "background_uniformity",
    "background_colour",
    "illumination",
    "colour_cast",
]
INSTRUCTION_KEYS: tuple[str, ...] = get_args(InstructionKey)


class SpecError(Exception):
    """The named spec does not exist or is not valid; ``problems`` lists why."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Number(_Frozen):
    value: float = Field(description="The threshold or target.")
    source: str = Field(min_length=1, description="Key of [sources] this number comes from.")

    def __float__(self) -> float:
        return self.value

    @property
    def int(self) -> int:
        return round(self.value)


class OutputSpec(_Frozen):
    width: Number
    height: Number
    min_width: Number
    max_width: Number
    min_height: Number
    max_height: Number
    aspect_width: Number
    aspect_height: Number
    dpi: Number
    min_dpi: Number
    max_dpi: Number
    bits_per_pixel: Number
    min_kb: Number
    max_kb: Number
    min_quality: Number
    max_quality: Number
    max_upscale: Number

    @model_validator(mode="after")
    def _consistent(self) -> OutputSpec:
        w, h = self.width.value, self.height.value
        if not (self.min_width.value <= w <= self.max_width.value):
            raise ValueError("output.width outside min_width..max_width")
        if not (self.min_height.value <= h <= self.max_height.value):
            raise ValueError("output.height outside min_height..max_height")
        if (
            abs(w * self.aspect_height.value - h * self.aspect_width.value)
            > self.aspect_height.value
        ):
            raise ValueError("output.width/height do not follow the aspect ratio")
        if not (self.min_dpi.value <= self.dpi.value <= self.max_dpi.value):
            raise ValueError("output.dpi outside min_dpi..max_dpi")
        if self.bits_per_pixel.value != 24:
            raise ValueError("output.bits_per_pixel: only 24-bit RGB JPEG is produced")
        if self.min_kb.value >= self.max_kb.value:
            raise ValueError("output.min_kb must be below max_kb")
        return self


class GeometrySpec(_Frozen):
    ied_min: Number
    ied_max: Number
    head_min: Number
    head_max: Number
    head_target: Number
    eye_x_min: Number
    eye_x_max: Number
    eye_y_min: Number
    eye_y_max: Number
    eye_y_target: Number
    crown_factor: Number


class CaptureSpec(_Frozen):
    head_min: Number
    head_max: Number
    centre_tolerance: Number
    second_face_max: Number
    face_min_confidence: Number
    still_movement_max: Number
    still_seconds: Number
    live_window_s: Number
    talking_share_min: Number
    eyes_reference_s: Number


class PoseSpec(_Frozen):
    yaw_max: Number
    pitch_max: Number
    roll_max: Number
    pitch_offset: Number
    pitch_spread: Number
    depth_scale: Number


class FaceSpec(_Frozen):
    eyes_open_min: Number
    eyes_open_relative: Number
    mouth_gap_max: Number
    teeth_share_max: Number
    smile_width_max: Number
    smile_corner_max: Number
    gaze_max: Number
    glare_value_min: Number
    glare_rise: Number
    glare_edge_min: Number
    glare_share_max: Number
    occlusion_contrast_min: Number


class LabColour(_Frozen):
    l: Number  # noqa: E741 - CIELAB channel name
    a: Number
    b: Number


class BackgroundSpec(_Frozen):
    sobel_max: Number
    lab_spread_max: Number
    gradient_max: Number
    colour_distance_max: Number
    allowed: tuple[str, ...] = Field(min_length=1)
    colours: dict[str, LabColour]

    @model_validator(mode="after")
    def _allowed_known(self) -> BackgroundSpec:
        unknown = [name for name in self.allowed if name not in self.colours]
        if unknown:
            raise ValueError(f"background.allowed names unknown colours: {unknown}")
        return self


class LightSpec(_Frozen):
    symmetry_min: Number
    dark_level: Number
    bright_level: Number
    under_share_max: Number
    over_share_max: Number
    mean_min: Number
    mean_max: Number
    sharpness_min: Number
    sharpness_ied_px: Number
    cheek_a_min: Number
    cheek_a_max: Number
    cheek_b_min: Number
    cheek_b_max: Number


class MeasureRule(_Frozen):
    hard: bool = Field(description="A failure blocks submission (advisory otherwise).")
    priority: int = Field(ge=1, description="Lower is more important.")
    title_zh: str = Field(min_length=1, description="Requirement shown on the review screen.")
    title_en: str = Field(min_length=1)


class Instruction(_Frozen):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class PhotoSpec(_Frozen):
    name: str
    version: str = Field(min_length=1)
    title_zh: str
    title_en: str
    sources: dict[str, str]
    output: OutputSpec
    geometry: GeometrySpec
    capture: CaptureSpec
    pose: PoseSpec
    face: FaceSpec
    background: BackgroundSpec
    light: LightSpec
    measures: dict[MeasureName, MeasureRule]
    instructions: dict[InstructionKey, Instruction]

    @model_validator(mode="after")
    def _complete(self) -> PhotoSpec:
        missing = [m for m in MEASURE_NAMES if m not in self.measures]
        if missing:
            raise ValueError(f"measures missing: {missing}")
        missing = [k for k in INSTRUCTION_KEYS if k not in self.instructions]
        if missing:
            raise ValueError(f"instructions missing: {missing}")
        bad = sorted({n.source for n in _numbers(self)} - set(self.sources))
        if bad:
            raise ValueError(f"numbers cite unknown sources: {bad}")
        return self

    def rule(self, measure: str) -> MeasureRule:
        return self.measures[measure]  # type: ignore[index]

    def instruction(self, key: str) -> Instruction:
        return self.instructions[key]  # type: ignore[index]


def _numbers(model: BaseModel) -> list[Number]:
    found: list[Number] = []
    for value in model.__dict__.values():
        items = value.values() if isinstance(value, dict) else [value]
        for item in items:
            if isinstance(item, Number):
                found.append(item)
            elif isinstance(item, BaseModel):
                found.extend(_numbers(item))
    return found


def available_specs() -> list[str]:
    return sorted(p.stem for p in SPEC_DIR.glob("*.toml"))


def parse_spec(text: str, source: str = "<text>") -> PhotoSpec:
    """Parse and validate spec TOML text (raises :class:`SpecError`)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(source, [f"not valid TOML: {exc}"]) from exc
    try:
        return PhotoSpec.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()
        ]
        raise SpecError(source, problems) from exc


@lru_cache(maxsize=8)
def load_spec(name: str) -> PhotoSpec:
    """Load the spec ``name`` (a file stem in ``kiosk/photo/specs`` or a path to a TOML file)."""
    path = Path(name) if name.endswith(".toml") else SPEC_DIR / f"{name}.toml"
    if not path.is_file():
        raise SpecError(name, [f"no such photo spec (known: {', '.join(available_specs())})"])
    spec = parse_spec(path.read_text(encoding="utf-8"), str(path))
    log.info("photo spec %s version %s loaded", spec.name, spec.version)
    return spec
