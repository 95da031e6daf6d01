"""ID-photo compliance: spec, quality engine, output encoder (Qt-free)."""

from __future__ import annotations

from kiosk.photo.engine import Assessment, Measure, PhotoEngine, Requirement, requirements
from kiosk.photo.spec import PhotoSpec, SpecError, load_spec

__all__ = [
    "Assessment",
    "Measure",
    "PhotoEngine",
    "PhotoSpec",
    "Requirement",
    "SpecError",
    "load_spec",
    "requirements",
]
