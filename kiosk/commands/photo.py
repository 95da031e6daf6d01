"""``kiosk photo check|make IMAGE``: run the photo engine on a still image."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kiosk.config import PhotoSection
from kiosk.photo.engine import Assessment, PhotoEngine
from kiosk.photo.models import Image, ModelUnavailable
from kiosk.photo.output import PhotoNotCompliant, make_photo
from kiosk.photo.spec import SpecError, load_spec
from kiosk.photo.still import ImageRefused, read_still

DEFAULT_SPEC = PhotoSection().spec


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("photo", help="ID-photo compliance tools")
    sub = parser.add_subparsers(dest="photo_command", required=True)
    check = sub.add_parser(
        "check",
        help="assess a still image against the photo spec",
        description="Assess a still image against the photo spec. A file is judged alone: "
        "eyes count as open above the spec's shut-eye limit, so a half-closed lid may pass "
        "here that the kiosk refuses (its captures are judged against the citizen's own "
        "open-eye level over the live session; docs/benchmarks.md, photo engine).",
    )
    check.add_argument("image")
    check.add_argument("--spec", default=DEFAULT_SPEC, help="photo spec name or TOML path")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(handler=_check)
    make = sub.add_parser("make", help="write the photo that would be submitted")
    make.add_argument("image")
    make.add_argument("--out", required=True, help="output JPEG file")
    make.add_argument("--spec", default=DEFAULT_SPEC, help="photo spec name or TOML path")
    make.set_defaults(handler=_make)


def _assess(args: argparse.Namespace) -> tuple[PhotoEngine, Image, Assessment] | int:
    """Engine, frame and full assessment of ``args.image``, or an exit code on error."""
    try:
        spec = load_spec(args.spec)
        engine = PhotoEngine(spec)
    except (SpecError, ModelUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        # The header's declared size is checked before anything is decoded.
        frame = read_still(args.image)
    except ImageRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return engine, frame, engine.analyse(frame, full=True)


def _check(args: argparse.Namespace) -> int:
    loaded = _assess(args)
    if isinstance(loaded, int):
        return loaded
    engine, _, assessment = loaded
    if args.json:
        print(json.dumps(assessment.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(f"spec {engine.spec.name} {engine.spec.version}")
        print(f"{'measure':24} {'score':>6} {'pass':5} {'hard':5} {'raw':>10}  instruction")
        for m in assessment.measures:
            raw = "-" if m.raw is None else f"{m.raw:.4g}"
            text = "" if m.passed else f"{m.instruction_zh} / {m.instruction_en}"
            verdict = "yes" if m.passed else "NO"
            kind = "hard" if m.hard else "adv"
            print(f"{m.name:24} {m.score:6.1f} {verdict:5} {kind:5} {raw:>10}  {text}")
        top = assessment.top_instruction()
        if top is not None:
            print(f"first fix: {top.instruction_zh} / {top.instruction_en}")
        compliant = str(assessment.compliant).lower()
        print(f"compliant: {compliant}  overall score {assessment.overall_score:.1f}")
    return 0 if assessment.compliant else 1


def _make(args: argparse.Namespace) -> int:
    loaded = _assess(args)
    if isinstance(loaded, int):
        return loaded
    engine, frame, assessment = loaded
    try:
        photo = make_photo(frame, assessment, engine.spec)
    except PhotoNotCompliant as exc:
        print("cannot make a compliant photo:", file=sys.stderr)
        for zh, en in exc.reasons:
            print(f"  - {zh} / {en}", file=sys.stderr)
        return 1
    Path(args.out).write_bytes(photo.jpeg)
    print(
        f"{args.out}: {photo.width}x{photo.height} px, {photo.dpi} dpi, "
        f"{photo.size_kb:.1f} KB, JPEG quality {photo.quality}, spec {photo.spec_version}"
    )
    return 0
