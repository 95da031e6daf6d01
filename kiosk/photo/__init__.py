"""ID-photo compliance: spec, quality engine, output encoder (Qt-free)."""

from __future__ import annotations

from kiosk.photo.engine import Assessment, Measure, PhotoEngine, Requirement, requirements
from kiosk.photo.live import LiveTracker
from kiosk.photo.models import Box, FaceLandmarks, ModelUnavailable
from kiosk.photo.output import PhotoNotCompliant, PhotoOutput, make_photo
from kiosk.photo.spec import PhotoSpec, SpecError, available_specs, load_spec
from kiosk.photo.still import ImageRefused, decode_still, read_still
from kiosk.photo.stillness import StillnessTracker

__all__ = [
    "Assessment",
    "Box",
    "FaceLandmarks",
    "ImageRefused",
    "LiveTracker",
    "Measure",
    "ModelUnavailable",
    "PhotoEngine",
    "PhotoNotCompliant",
    "PhotoOutput",
    "PhotoSpec",
    "Requirement",
    "SpecError",
    "StillnessTracker",
    "available_specs",
    "decode_still",
    "load_spec",
    "make_photo",
    "read_still",
    "requirements",
]
