"""Identity at the machine: 1:1 face verification against the document photo, with
liveness (Qt-free). See docs/face.md."""

from __future__ import annotations

from kiosk.face.images import ImageRefused
from kiosk.face.liveness import Challenge, LivenessPolicy
from kiosk.face.recognizer import MODEL_VERSION, FaceRecognizer
from kiosk.face.texts import Instruction
from kiosk.face.verifier import (
    THRESHOLD,
    Comparison,
    Decision,
    FaceVerifier,
    IdentityCheck,
    IdentityPolicy,
    IdentityResult,
    LivenessReport,
    NoFace,
    Phase,
    Progress,
    Reference,
    run_clip,
)

__all__ = [
    "MODEL_VERSION",
    "THRESHOLD",
    "Challenge",
    "Comparison",
    "Decision",
    "FaceRecognizer",
    "FaceVerifier",
    "IdentityCheck",
    "IdentityPolicy",
    "IdentityResult",
    "ImageRefused",
    "Instruction",
    "LivenessPolicy",
    "LivenessReport",
    "NoFace",
    "Phase",
    "Progress",
    "Reference",
    "run_clip",
]
