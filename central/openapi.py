"""The gateway's OpenAPI document, generated from the code: ``python -m central.openapi``
writes docs/central-openapi.json (``--check`` fails if the file differs; a test does the
same). Beside what FastAPI derives from the routes and models, each operation says who may
call it and its body limit (``x-access``, ``x-max-body``), from the guard's policies."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from central.app import POLICIES, build_api

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "central-openapi.json"


def document() -> dict[str, Any]:
    api = build_api()
    doc = api.openapi()
    doc["components"].setdefault("securitySchemes", {})["kioskSignature"] = {
        "type": "apiKey",
        "in": "header",
        "name": "X-Kiosk-Signature",
        "description": "hex HMAC-SHA256 with the kiosk's secret over "
        "'v1\\nMETHOD\\n/path?query\\ntimestamp\\nhex(SHA-256(body))', with X-Kiosk-Id and "
        "X-Kiosk-Timestamp (Unix seconds, within 300 s); docs/sync.md, 'Request signing'",
    }
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            policy = POLICIES[(method.upper(), path)]
            operation["x-access"] = policy.access.value
            operation["x-max-body"] = policy.max_body
            if policy.access.value == "kiosk":
                operation["security"] = [{"kioskSignature": []}]
    return doc


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the file is not current")
    parser.add_argument("--out", type=Path, default=DOCUMENT)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date: python -m central.openapi", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
