"""What every part of the store shares: the refusal error, canonical JSON and the
fingerprints that make replays recognisable, the fee table and name patterns."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from central.idnumber import check_char

# The demo's pickup machine (configs/pickup.toml), where the seeded documents are loaded.
DEMO_PICKUP_KIOSK = "SZ-FT-K01"
LOCAL_PROVINCE = "44"  # the administration's own province (Guangdong in the demo data)
VALIDITY_MARGIN_DAYS = 20  # permit must outlive the endorsement by about 20 days
MAX_SCHEMA_VERSION = 2
KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$")
ORDER_ID_RE = re.compile(r"[0-9a-f]{32}")
UPLOAD_ID_RE = ORDER_ID_RE


@dataclass(frozen=True)
class Option:
    code: str
    trips: str
    validity_days: int
    fee_cny: int


# Fees published for the non-tax revenue system (domain.md).
OPTIONS = (
    Option("one_trip", "one", 90, 15),
    Option("two_trips", "two", 90, 30),
    Option("multi_1y", "multiple", 365, 80),
    Option("multi_2y", "multiple", 730, 120),
    Option("multi_3y", "multiple", 1095, 160),
    Option("multi_5y", "multiple", 1825, 240),
)
REGIONS = ("HK", "MO")
PURPOSES = ("individual", "group", "family_visit", "business")


class Refused(Exception):
    """A request the service answers with an error status and a JSON reason."""

    # Positional-only, so ``extra`` may carry a field named ``status`` (an order's state).
    def __init__(self, status: int, error: str, /, **extra: Any) -> None:
        super().__init__(error)
        self.status = status
        self.body = {"error": error, **extra}


def make_id_number(region6: str, birth: str, serial3: str) -> str:
    first17 = region6 + birth + serial3
    return first17 + check_char(first17)


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_text(value: Any) -> str:
    return _CANONICAL.encode(value)


def fingerprint_text(item: dict[str, Any], payload: str) -> str:
    """``canonical({attachments, kind, payload, schema_version, stream})`` as text, with
    the payload serialised once by the caller (it is most of an entry's bytes). Stored
    fingerprints depend on it byte for byte: a change turns stored replays into conflicts."""
    attachments = [
        {"name": a["name"], "sha256": a["sha256"], "size": a["size"]} for a in item["attachments"]
    ]
    enc = _CANONICAL.encode
    return (
        f'{{"attachments":{enc(attachments)},"kind":{enc(item["kind"])},"payload":{payload},'
        f'"schema_version":{enc(item["schema_version"])},"stream":{enc(item["stream"])}}}'
    )


def stored_text(item: dict[str, Any], payload: str) -> str:
    """The entry as received, for the record: its other fields, then the payload text."""
    rest = canonical_text({k: v for k, v in item.items() if k != "payload"})
    return f'{rest[:-1]},"payload":{payload}}}'


def stored_response(key: str, seq: int, status: int, response: str) -> dict[str, Any]:
    """The answer stored for a key; empty for an ingested transaction, whose answer is
    derived from its sequence number."""
    if response:
        return dict(json.loads(response))
    return {"key": key, "status": int(status), "ref": f"T{seq:010d}"}


def receipt_code(photo_number: str) -> str:
    digest = hashlib.sha256(photo_number.encode()).digest()
    return base64.b32encode(digest)[:10].decode()
