"""Attachments uploaded resumably before the entry that references them (tus 1.0 core +
creation + checksum). The upload's location is stored in the outbox before the first byte
is sent, so after a crash or a dropped connection the next attempt asks central for its
offset and continues from there."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from offline_queue.errors import AttachmentLost, CentralError
from offline_queue.outbox import AttachmentRef, ClaimedEntry, Outbox
from offline_queue.sync.wire import Uploads
from offline_queue.transport import CentralTransport, Response, raise_for_status

_TUS = {"Tus-Resumable": "1.0.0"}


class Uploader:
    def __init__(self, outbox: Outbox, transport: CentralTransport, chunk_bytes: int) -> None:
        self._outbox = outbox
        self._transport = transport
        self._chunk = chunk_bytes

    def lost(self, entries: Sequence[ClaimedEntry]) -> dict[str, str]:
        """Entry key -> reason, for the entries one of whose attachment files is gone."""
        lost: dict[str, str] = {}
        for e in entries:
            for ref in e.attachments:
                if not self._outbox.attachment_present(ref):
                    lost[e.key] = f"queue.attachment_lost: {ref.name} is missing"
        return lost

    def upload_all(self, entries: Sequence[ClaimedEntry]) -> Uploads:
        done: Uploads = {}
        for e in entries:
            for ref in e.attachments:
                done[(ref.entry_key, ref.position)] = self.upload(ref)
        return done

    def upload(self, ref: AttachmentRef) -> str:
        """Upload one attachment; returns the upload id."""
        try:
            data = self._outbox.read_attachment(ref)
        except AttachmentLost as exc:
            raise CentralError(str(exc), code=exc.code, retryable=False) from exc
        path, offset = self._resume(ref)
        if not path:
            path = self._create(ref, len(data))
        while offset < len(data):
            piece = data[offset : offset + self._chunk]
            resp = self._transport.request(
                "PATCH",
                path,
                body=piece,
                headers={
                    **_TUS,
                    "Content-Type": "application/offset+octet-stream",
                    "Upload-Offset": str(offset),
                    "Upload-Checksum": "sha256 "
                    + base64.b64encode(hashlib.sha256(piece).digest()).decode(),
                },
            )
            if resp.status == 409:
                # Our idea of the offset is stale (a previous PATCH landed): ask again.
                head = self._transport.request("HEAD", path, headers=_TUS)
                raise_for_status(head)
                offset = _int_header(head, "Upload-Offset")
                continue
            raise_for_status(resp)
            offset = _int_header(resp, "Upload-Offset")
        return path.rsplit("/", 1)[-1]

    def _resume(self, ref: AttachmentRef) -> tuple[str | None, int]:
        """(stored location, central's offset), or (None, 0) if there is nothing to resume."""
        if not ref.upload_url:
            return None, 0
        resp = self._transport.request("HEAD", ref.upload_url, headers=_TUS)
        if resp.status in (404, 410):
            return None, 0
        raise_for_status(resp)
        return ref.upload_url, _int_header(resp, "Upload-Offset")

    def _create(self, ref: AttachmentRef, length: int) -> str:
        meta = ",".join(
            f"{k} {base64.b64encode(v.encode()).decode()}"
            for k, v in (
                ("filename", ref.name),
                ("content_type", ref.content_type),
                ("sha256", ref.sha256),
            )
        )
        resp = self._transport.request(
            "POST",
            "/v1/uploads",
            headers={**_TUS, "Upload-Length": str(length), "Upload-Metadata": meta},
        )
        raise_for_status(resp)
        path = resp.headers.get("Location", "")
        if not path.startswith("/v1/uploads/"):
            raise CentralError(
                "upload created without a usable Location", code="central.bad_response"
            )
        self._outbox.set_upload_url(ref, path)
        return path


def _int_header(resp: Response, name: str) -> int:
    value = resp.headers.get(name, "")
    if not (value.isascii() and value.isdigit()):
        raise CentralError(f"missing or bad {name} header", code="central.bad_response")
    return int(value)
