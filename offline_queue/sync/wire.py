"""The batch exchange with central on the wire: the request body built from leased entries,
and the answer checked and read into one (status, detail) per entry key.

    POST /v1/transactions/batch  {"entries": [{key, kind, schema_version, stream,
                                  created_at, attachments: [...], payload}, ...]}
    -> 200 {"results": [{"key", "status", "ref" | "error"}, ...]}
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from offline_queue.errors import CentralError
from offline_queue.outbox import ClaimedEntry
from offline_queue.transport import Response

BATCH_PATH = "/v1/transactions/batch"
# Per-entry statuses: retried with backoff, or at once (an earlier entry of its stream
# failed in the same batch); any other 4xx is a refusal for good.
RETRYABLE = frozenset({408, 409, 429})
DEPENDENCY_FAILED = 424

_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

Uploads = dict[tuple[str, int], str]  # (entry key, attachment position) -> upload id
Outcomes = dict[str, tuple[int, str]]  # entry key -> (status, ref or error)


def batch_body(entries: Sequence[ClaimedEntry], uploads: Uploads) -> bytes:
    """The request body. Assembled from pieces: each string through the JSON encoder, the
    stored payload (already compact JSON) spliced in as it is; no per-entry dict and dumps."""
    items = []
    for e in entries:
        attachments = "[]"
        if e.attachments:
            attachments = _JSON.encode(
                [
                    {
                        "name": a.name,
                        "content_type": a.content_type,
                        "size": a.size,
                        "sha256": a.sha256,
                        "upload": uploads[(a.entry_key, a.position)],
                    }
                    for a in e.attachments
                ]
            )
        head = (
            f'{{"key":{_JSON.encode(e.key)},"kind":{_JSON.encode(e.kind)},'
            f'"schema_version":{int(e.schema_version)},"stream":{_JSON.encode(e.stream)},'
            f'"created_at":{float(e.created_at)!r},"attachments":{attachments},"payload":'
        )
        items.append(head.encode() + e.payload_json + b"}")
    return b'{"entries":[' + b",".join(items) + b"]}"


def parse_results(resp: Response, entries: Sequence[ClaimedEntry]) -> Outcomes:
    """Validate the batch answer; anything unexpected fails the attempt (retryable)."""
    data = resp.json()
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise CentralError("central answer lacks 'results'", code="central.bad_response")
    out: Outcomes = {}
    for item in results:
        if not (
            isinstance(item, dict)
            and isinstance(item.get("key"), str)
            and isinstance(item.get("status"), int)
            and not isinstance(item.get("status"), bool)
            and 200 <= item["status"] <= 599
        ):
            raise CentralError("malformed result in central answer", code="central.bad_response")
        detail = item.get("ref") or item.get("error") or ""
        out[item["key"]] = (item["status"], str(detail)[:200])
    missing = [e.key for e in entries if e.key not in out]
    if missing:
        raise CentralError(
            f"central answer misses {len(missing)} entries", code="central.bad_response"
        )
    return out
