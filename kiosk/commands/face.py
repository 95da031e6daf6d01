"""``kiosk face verify REFERENCE_IMAGE PROBE_IMAGE [--json]``: 1:1 face comparison of two
still images (no liveness: that needs the live camera, see kiosk/face/verifier.py).

Exit codes: 0 when the two faces were compared (match or not: read ``match``), 2 on an
error (unreadable or refused image, no face, models missing) with the reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys

from kiosk.face.images import ImageRefused, read_file
from kiosk.face.verifier import THRESHOLD, FaceVerifier, NoFace
from kiosk.photo.models import ModelUnavailable


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("face", help="face verification tools")
    sub = parser.add_subparsers(dest="face_command", required=True)
    verify = sub.add_parser(
        "verify", help="compare the face in a probe image with a reference (document) photo"
    )
    verify.add_argument("reference", help="reference image (document photo: JPEG, JPEG 2000...)")
    verify.add_argument("probe", help="probe image (a camera frame or photo)")
    verify.add_argument(
        "--threshold",
        type=float,
        default=THRESHOLD,
        help=f"match when the distance is at most this (default {THRESHOLD})",
    )
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.set_defaults(handler=_verify)


def _verify(args: argparse.Namespace) -> int:
    try:
        # Both files are read and checked before the models load: a bad file fails fast.
        reference_image = read_file(args.reference)
        probe_image = read_file(args.probe)
        verifier = FaceVerifier(threshold=args.threshold)
        reference = verifier.reference(reference_image, "reference")
        result = verifier.compare(reference, probe_image)
    except (ImageRefused, NoFace, ModelUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        verdict = "MATCH" if result.match else "NO MATCH"
        print(f"{verdict}: distance {result.score:.4f} (match at <= {result.threshold}),"
              f" model {result.model}, {result.elapsed_ms:.0f} ms")  # fmt: skip
    return 0
