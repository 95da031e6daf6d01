"""The sync worker: delivers outbox entries to the central system, in batches, at least once.

Runs on its own thread with its own SQLite connection (its own ``Outbox``) and its own HTTP
session. ``sync_once`` is the whole algorithm and can be driven step by step in tests with an
injected clock and RNG; ``start`` runs it in a loop.

Per attempt: lease a batch (streams kept in order) -> upload attachments resumably -> POST the
batch -> per entry: 2xx ack (delete personal data), 424 (an earlier entry of its stream
failed in this batch) retry at once, 408/409/429/5xx retry with full-jitter backoff, any other
4xx dead-letter. A failed request releases the whole batch; Retry-After is honoured.

A backlog (full batches) goes in one turn, pipelined: the POST runs on a sender thread while
the worker thread prepares the next batch and acknowledges the previous one (docs/sync.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from offline_queue.backoff import full_jitter
from offline_queue.clock import Clock, SystemClock
from offline_queue.errors import AttachmentLost, CentralError, QueueError
from offline_queue.outbox import AttachmentRef, ClaimedEntry, Outbox
from offline_queue.transport import CentralTransport, Response, raise_for_status

log = logging.getLogger(__name__)

_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

_RETRYABLE = frozenset({408, 409, 429})
_DEPENDENCY_FAILED = 424

# Outbox meta: when central last stopped answering (network, timeouts, 5xx, 429, refused
# credentials), "" once a request is answered 2xx again. The flows read it to tell a citizen
# that the counter may not see their transaction yet.
UNREACHABLE_SINCE = "central_unreachable_since"


@dataclass(frozen=True)
class SyncSettings:
    # Large batches: per request, the kiosk pays two commits and central one, whatever the
    # size; attachments are capped separately (below) so a batch uploads within its lease.
    batch_size: int = 500
    lease_s: float = 60.0
    base_backoff_s: float = 1.0
    max_backoff_s: float = 300.0
    max_retry_after_s: float = 3600.0
    offline_window_s: float = 24 * 3600.0
    idle_poll_s: float = 2.0
    heartbeat_s: float = 300.0
    # While central is not answering, a heartbeat this often finds out when it is back (the
    # kiosk pauses the services that need central until then).
    probe_s: float = 15.0
    upload_chunk_bytes: int = 256 * 1024
    # Attachment bytes per batch (the first entry always goes): at 1 Mbit/s, 4 MiB uploads in
    # about half of the default 60 s lease.
    max_batch_attachment_bytes: int = 4 * 1024 * 1024
    purge_every_s: float = 3600.0
    # After a short batch, wait this long so the next one fills up (fewer commits that
    # compete with the kiosk's own puts for the disk).
    linger_s: float = 0.05
    # While full batches keep coming, a turn delivers up to this many, the next one leased
    # and prepared while the one before is in flight (1: one batch per turn, no overlap).
    pipeline_batches: int = 20


@dataclass(frozen=True)
class SyncStatus:
    """What the kiosk shows staff and reports in heartbeats (no personal data)."""

    pending: int
    inflight: int
    dead: int
    sent: int
    oldest_pending_age_s: float | None
    last_success_at: datetime | None
    last_contact_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    central_unreachable_since: datetime | None
    offline_too_long: bool
    accepting: bool

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out


@dataclass(frozen=True)
class _Flight:
    """A batch whose POST is under way on the sender thread."""

    entries: Sequence[ClaimedEntry]
    answer: Future[Response]

    @property
    def token(self) -> str:
        return self.entries[0].lease_token


@dataclass
class SyncResult:
    """The outcome of one ``sync_once`` call (one batch, or a run of them)."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    error: str | None = None
    wait_s: float = 0.0
    keys: list[str] = field(default_factory=list)
    last_batch: int = 0  # entries in the run's last batch (short: the backlog is gone)


StatusListener = Callable[[SyncStatus], None]


def _ts(value: str | None) -> datetime | None:
    return None if not value else datetime.fromtimestamp(float(value), UTC)


def central_unreachable_since(outbox: Outbox) -> datetime | None:
    """Since when the sync worker's requests to central have failed (None: the last one was
    answered, or there was none)."""
    return _ts(outbox.get_meta(UNREACHABLE_SINCE))


def queue_status(outbox: Outbox, clock: Clock, offline_window_s: float) -> SyncStatus:
    """The status as recorded in the outbox (also readable by staff tools without a worker).

    Offline means: no answer from central (batch or heartbeat) for longer than the window,
    counted from the last contact, or from the outbox's creation if there never was one."""
    counts = outbox.counts()
    now = clock.now().timestamp()
    last_contact = outbox.get_meta("last_contact_at")
    since = float(last_contact or outbox.get_meta("created_at") or now)
    return SyncStatus(
        pending=counts.pending + counts.inflight,
        inflight=counts.inflight,
        dead=counts.dead,
        sent=counts.sent,
        oldest_pending_age_s=(
            None if counts.oldest_pending_at is None else now - counts.oldest_pending_at
        ),
        last_success_at=_ts(outbox.get_meta("last_success_at")),
        last_contact_at=_ts(last_contact),
        last_error=outbox.get_meta("last_error"),
        last_error_at=_ts(outbox.get_meta("last_error_at")),
        central_unreachable_since=central_unreachable_since(outbox),
        offline_too_long=now - since > offline_window_s,
        accepting=outbox.accepting,
    )


class SyncWorker:
    """Delivers one outbox to one central system. See the module docstring."""

    def __init__(
        self,
        outbox: Outbox,
        transport: CentralTransport,
        *,
        settings: SyncSettings | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.transport = transport
        self.settings = settings or SyncSettings()
        self.clock: Clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self._not_before = 0.0  # monotonic
        self._failures = 0
        self._batch_limit = self.settings.batch_size
        self._listeners: list[StatusListener] = []
        self._offline_flag: bool | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._last_heartbeat = -1e18
        self._heartbeat_due = False
        # What the kiosk adds to each heartbeat (device status, staff alerts); called on the
        # worker thread, so it must be thread-safe and hold no personal data.
        self.heartbeat_extra: Callable[[], dict[str, Any]] | None = None
        # Told, with what ``heartbeat_extra`` gave, once central has stored it: staff alerts
        # leave the kiosk's list only then, so those raised offline reach central later.
        self.heartbeat_delivered: Callable[[dict[str, Any]], None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._in_flight: Future[Response] | None = None  # the POST under way, if any
        self._last_purge = -1e18
        self._last_status = -1e18

    # ---------------------------------------------------------------- status
    def add_listener(self, listener: StatusListener) -> None:
        """Called (on the worker thread) whenever ``offline_too_long`` changes."""
        self._listeners.append(listener)

    def status(self) -> SyncStatus:
        return queue_status(self.outbox, self.clock, self.settings.offline_window_s)

    def check_offline(self) -> SyncStatus:
        """Recompute the status and tell listeners if the offline warning changed."""
        status = self.status()
        if status.offline_too_long != self._offline_flag:
            if status.offline_too_long:
                log.warning("no contact with central for longer than the offline window")
            elif self._offline_flag:
                log.info("contact with central restored")
            self._offline_flag = status.offline_too_long
            for listener in list(self._listeners):
                try:
                    listener(status)
                except Exception:
                    log.exception("status listener failed")
        return status

    def _contact(self, success: bool, *, answered_ok: bool = False) -> None:
        self.outbox.set_meta(self._contact_meta(success, answered_ok=answered_ok))

    def _contact_meta(self, success: bool, *, answered_ok: bool = False) -> dict[str, str]:
        """``success``: entries were delivered; ``answered_ok``: central answered 2xx, so it
        is reachable again."""
        now = repr(self.clock.now().timestamp())
        values = {"last_contact_at": now}
        if success:
            values["last_success_at"] = now
        if success or answered_ok:
            values[UNREACHABLE_SINCE] = ""
        return values

    def _failed(self, message: str, exc: CentralError | None = None) -> None:
        """Record the error. A request that got no usable answer (no answer, a retryable
        status, refused credentials) also marks central unreachable from now, unless it
        already is: the first failure's time stays. A refusal of the request's content says
        nothing about the link."""
        now = repr(self.clock.now().timestamp())
        values = {"last_error": message[:500], "last_error_at": now}
        link_down = exc is not None and exc.link_down
        if link_down and not self.outbox.get_meta(UNREACHABLE_SINCE):
            values[UNREACHABLE_SINCE] = now
        self.outbox.set_meta(values)

    # ----------------------------------------------------------- one attempt
    def sync_once(self) -> SyncResult:
        """Deliver one batch; while a backlog lasts (full batches), up to
        ``pipeline_batches`` of them, each leased and prepared while the one before is in
        flight. Never raises for central failures: they are recorded on the entries and in
        the status."""
        wait = self._not_before - self.clock.monotonic()
        if wait > 0:
            return SyncResult(wait_s=wait)
        entries = self._claim()
        if not entries:
            return SyncResult(wait_s=self.settings.idle_poll_s)
        result = SyncResult(
            claimed=len(entries), keys=[e.key for e in entries], last_batch=len(entries)
        )
        try:
            flight = self._launch(entries, result)
            flights = 1
            while flight is not None:
                ahead = flights < self.settings.pipeline_batches and self._backlog(flight)
                flight = self._land(flight, result, read_ahead=ahead)
                flights += 1
        finally:
            self._settle_orphan()
        return result

    def _settle_orphan(self) -> None:
        """After an error mid-run (the database failed), wait for a POST still under way, so
        that the next request does not share the transport with it. Its answer is dropped:
        its entries stay leased and go again when the lease ends (central replays them)."""
        if self._in_flight is not None:
            wait([self._in_flight])
            self._in_flight = None

    def _claim(self, following: str | None = None) -> list[ClaimedEntry]:
        return self.outbox.claim(
            self._batch_limit,
            self.settings.lease_s,
            max_attachment_bytes=self.settings.max_batch_attachment_bytes,
            following=following,
        )

    def _backlog(self, flight: _Flight) -> bool:
        # A full batch: more are probably waiting (after a day offline, thousands). A stop,
        # or a heartbeat asked for (a citizen called staff), ends the run at this batch.
        full = len(flight.entries) >= self._batch_limit > 1
        return full and not (self._stop.is_set() or self._heartbeat_due)

    def _launch(
        self, entries: Sequence[ClaimedEntry], result: SyncResult, body: bytes | None = None
    ) -> _Flight | None:
        """Upload the batch's attachments and start its POST (``body``, if already built) on
        the sender thread; None if the batch was settled without a request (lost
        attachments, failed upload)."""
        if body is not None:
            return self._post(entries, body)
        lost = self._lost_attachments(entries)
        if lost:
            for entry in entries:
                if entry.key in lost:
                    self.outbox.bury(entry, lost[entry.key])
            rest = [(e, 0.0) for e in entries if e.key not in lost]
            self.outbox.release(rest, "batch re-formed", count_attempt=False)
            result.dead += len(lost)
            return None
        try:
            uploads = self._upload_all(entries)
        except CentralError as exc:
            self._request_failed(entries, exc, result)
            return None
        return self._post(entries, self._batch_body(entries, uploads))

    def _post(self, entries: Sequence[ClaimedEntry], body: bytes) -> _Flight:
        self._in_flight = self._sender().submit(self._post_batch, body)
        return _Flight(entries, self._in_flight)

    def _post_batch(self, body: bytes) -> Response:
        return self.transport.request(
            "POST",
            "/v1/transactions/batch",
            body=body,
            headers={"Content-Type": "application/json"},
        )

    def _sender(self) -> ThreadPoolExecutor:
        # The batch POST runs here while the worker thread leases and prepares the next
        # batch and acknowledges the previous one: the two overlap with central's work.
        # Only one request at a time uses the transport (uploads wait for the POST).
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="outbox-send")
        return self._executor

    def _land(self, flight: _Flight, result: SyncResult, *, read_ahead: bool) -> _Flight | None:
        """Wait for a batch's answer and settle it; return the next batch in flight, if one
        was prepared meanwhile."""
        ahead = self._claim(following=flight.token) if read_ahead else []
        result.claimed += len(ahead)
        result.keys += [e.key for e in ahead]
        # Built while the answer is awaited; used if no entry has to be withdrawn.
        body = self._batch_body(ahead, {}) if ahead and not _uploads_in(ahead) else None
        try:
            resp = flight.answer.result()
            self._in_flight = None
            if resp.status >= 400:
                raise_for_status(resp)
            outcomes = self._parse_results(resp, flight.entries)
        except CentralError as exc:
            self.outbox.release([(e, 0.0) for e in ahead], "batch not sent", count_attempt=False)
            result.retried += len(ahead)
            self._request_failed(flight.entries, exc, result)
            return None
        self._failures = 0
        self._batch_limit = self.settings.batch_size
        kept = self._withdraw_followers(flight, outcomes, ahead)
        result.retried += len(ahead) - len(kept)
        if kept:
            result.last_batch = len(kept)
        if _uploads_in(kept):
            # Uploads may fail and mark central unreachable: after this batch's record.
            self._apply(flight.entries, outcomes, result)
            return self._launch(kept, result)
        following = None
        if kept:
            following = self._launch(kept, result, body if len(kept) == len(ahead) else None)
        self._apply(flight.entries, outcomes, result)
        return following

    def _withdraw_followers(
        self,
        flight: _Flight,
        outcomes: dict[str, tuple[int, str]],
        ahead: list[ClaimedEntry],
    ) -> list[ClaimedEntry]:
        """The entries of ``ahead`` whose stream had an undelivered entry in ``flight`` go
        back, so that they wait for it; the rest are returned."""
        unsettled = {e.stream for e in flight.entries if not 200 <= outcomes[e.key][0] < 300}
        back = [(e, 0.0) for e in ahead if e.stream in unsettled]
        if back:
            self.outbox.release(back, "waiting for an earlier entry", count_attempt=False)
        return [e for e in ahead if e.stream not in unsettled]

    def _request_failed(
        self, entries: Sequence[ClaimedEntry], exc: CentralError, result: SyncResult
    ) -> None:
        message = f"{exc.code}: {exc}"
        result.error = message
        if exc.status is not None:
            self._contact(success=False)
        self._failed(message, exc)
        if not exc.link_down:
            # A permanent refusal of the whole request: isolate the entry at fault by
            # retrying one at a time; a single refused entry is dead-lettered.
            if len(entries) == 1:
                self.outbox.bury(entries[0], message)
                result.dead += 1
                return
            self._batch_limit = 1
            self.outbox.release([(e, 0.0) for e in entries], message, count_attempt=False)
            result.retried += len(entries)
            return
        self._failures += 1
        if exc.retry_after_s is not None:
            delay = min(exc.retry_after_s, self.settings.max_retry_after_s)
            self.outbox.release([(e, delay) for e in entries], message, count_attempt=False)
        else:
            delay = self._backoff(self._failures - 1)
            self.outbox.release(
                [(e, self._backoff(e.attempts)) for e in entries], message, count_attempt=True
            )
        self._not_before = self.clock.monotonic() + delay
        result.retried += len(entries)
        result.wait_s = delay
        log.info("sync attempt failed (%s); next in %.1f s", exc.code, delay)

    def _backoff(self, attempt: int) -> float:
        s = self.settings
        return full_jitter(attempt, base_s=s.base_backoff_s, cap_s=s.max_backoff_s, rng=self.rng)

    def _apply(
        self,
        entries: Sequence[ClaimedEntry],
        outcomes: dict[str, tuple[int, str]],
        result: SyncResult,
    ) -> None:
        acks: list[tuple[ClaimedEntry, str]] = []
        retry: list[tuple[ClaimedEntry, float]] = []
        skipped: list[tuple[ClaimedEntry, float]] = []
        errors: list[str] = []
        for entry in entries:
            status, outcome = outcomes[entry.key]
            if 200 <= status < 300:
                acks.append((entry, f"{status} {outcome}".strip()))
            elif status == _DEPENDENCY_FAILED:
                skipped.append((entry, 0.0))
            elif status in _RETRYABLE or status >= 500:
                retry.append((entry, self._backoff(entry.attempts)))
                errors.append(f"central.http_{status}: {outcome}")
            else:
                self.outbox.bury(entry, f"central.http_{status}: {outcome}")
                result.dead += 1
        if acks:
            # The contact time is written with the acknowledgement: one commit, not two.
            result.delivered += self.outbox.ack(acks, self._contact_meta(success=True))
        else:
            self._contact(success=True)
        if retry:
            self.outbox.release(retry, errors[0])
        if skipped:
            self.outbox.release(skipped, "waiting for an earlier entry", count_attempt=False)
        result.retried += len(retry) + len(skipped)
        if errors:
            self._failed(errors[0])

    @staticmethod
    def _batch_body(entries: Sequence[ClaimedEntry], uploads: dict[tuple[str, int], str]) -> bytes:
        # Assembled from pieces: each string through the JSON encoder, the stored payload
        # (already compact JSON) spliced in as it is; no per-entry dict and dumps.
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

    @staticmethod
    def _parse_results(
        resp: Response, entries: Sequence[ClaimedEntry]
    ) -> dict[str, tuple[int, str]]:
        """Validate the batch answer; anything unexpected fails the attempt (retryable)."""
        data = resp.json()
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise CentralError("central answer lacks 'results'", code="central.bad_response")
        out: dict[str, tuple[int, str]] = {}
        for item in results:
            if not (
                isinstance(item, dict)
                and isinstance(item.get("key"), str)
                and isinstance(item.get("status"), int)
                and not isinstance(item.get("status"), bool)
                and 200 <= item["status"] <= 599
            ):
                raise CentralError(
                    "malformed result in central answer", code="central.bad_response"
                )
            detail = item.get("ref") or item.get("error") or ""
            out[item["key"]] = (item["status"], str(detail)[:200])
        missing = [e.key for e in entries if e.key not in out]
        if missing:
            raise CentralError(
                f"central answer misses {len(missing)} entries", code="central.bad_response"
            )
        return out

    # ---------------------------------------------------------------- uploads
    def _lost_attachments(self, entries: Sequence[ClaimedEntry]) -> dict[str, str]:
        lost: dict[str, str] = {}
        for e in entries:
            for ref in e.attachments:
                if not (self.outbox.attachments_dir / ref.file).is_file():
                    lost[e.key] = f"queue.attachment_lost: {ref.name} is missing"
        return lost

    def _upload_all(self, entries: Sequence[ClaimedEntry]) -> dict[tuple[str, int], str]:
        done: dict[tuple[str, int], str] = {}
        for e in entries:
            for ref in e.attachments:
                done[(ref.entry_key, ref.position)] = self.upload(ref)
        return done

    def upload(self, ref: AttachmentRef) -> str:
        """Upload one attachment resumably (tus 1.0 core + checksum); returns the upload id.

        The upload's location is stored before the first byte is sent, so after a crash or a
        dropped connection the next attempt asks the server for its offset and continues."""
        try:
            data = self.outbox.read_attachment(ref)
        except AttachmentLost as exc:
            raise CentralError(str(exc), code=exc.code, retryable=False) from exc
        path = ref.upload_url
        offset = 0
        if path:
            resp = self.transport.request("HEAD", path, headers={"Tus-Resumable": "1.0.0"})
            if resp.status in (404, 410):
                path = None
            else:
                raise_for_status(resp)
                offset = _int_header(resp, "Upload-Offset")
        if not path:
            meta = ",".join(
                f"{k} {base64.b64encode(v.encode()).decode()}"
                for k, v in (
                    ("filename", ref.name),
                    ("content_type", ref.content_type),
                    ("sha256", ref.sha256),
                )
            )
            resp = self.transport.request(
                "POST",
                "/v1/uploads",
                headers={
                    "Tus-Resumable": "1.0.0",
                    "Upload-Length": str(len(data)),
                    "Upload-Metadata": meta,
                },
            )
            raise_for_status(resp)
            path = resp.headers.get("Location", "")
            if not path.startswith("/v1/uploads/"):
                raise CentralError(
                    "upload created without a usable Location", code="central.bad_response"
                )
            self.outbox.set_upload_url(ref, path)
        chunk = self.settings.upload_chunk_bytes
        while offset < len(data):
            piece = data[offset : offset + chunk]
            resp = self.transport.request(
                "PATCH",
                path,
                body=piece,
                headers={
                    "Tus-Resumable": "1.0.0",
                    "Content-Type": "application/offset+octet-stream",
                    "Upload-Offset": str(offset),
                    "Upload-Checksum": "sha256 "
                    + base64.b64encode(hashlib.sha256(piece).digest()).decode(),
                },
            )
            if resp.status == 409:
                # Our idea of the offset is stale (a previous PATCH landed): ask again.
                head = self.transport.request("HEAD", path, headers={"Tus-Resumable": "1.0.0"})
                raise_for_status(head)
                offset = _int_header(head, "Upload-Offset")
                continue
            raise_for_status(resp)
            offset = _int_header(resp, "Upload-Offset")
        return path.rsplit("/", 1)[-1]

    # -------------------------------------------------------------- heartbeat
    def heartbeat(self, extra: dict[str, Any] | None = None) -> bool:
        """Report device status and queue counts (no personal data); True once central
        stored it (then ``heartbeat_delivered`` hears of ``extra``)."""
        body = {"status": self.status().as_json(), **(extra or {})}
        try:
            _, _, resp = self.transport.json_request("POST", "/v1/heartbeat", body)
            raise_for_status(resp)
            self._contact(success=False, answered_ok=True)
        except CentralError as exc:
            self._failed(f"{exc.code}: {exc}", exc)
            return False
        if extra is not None and self.heartbeat_delivered is not None:
            self.heartbeat_delivered(extra)
        return True

    # ------------------------------------------------------------- the loop
    def drain(
        self, *, max_seconds: float | None = None, sleep: Callable[[float], None] | None = None
    ) -> int:
        """Sync until no deliverable entry is left (dead entries stay); returns how many were
        delivered. Waits out backoff with ``sleep`` (real sleeping by default)."""
        pause = sleep or self._stop.wait
        start = self.clock.monotonic()
        delivered = 0
        while not self._stop.is_set():
            if max_seconds is not None and self.clock.monotonic() - start > max_seconds:
                break
            result = self.sync_once()
            delivered += result.delivered
            if result.claimed == 0 and self.outbox.waiting() == 0:
                break
            if result.error or (result.wait_s > 0 and result.claimed == 0):
                # Nothing due yet (backoff, a lease held by a dead process): poll briefly.
                pause(min(max(result.wait_s, 0.02), 0.1 if result.claimed == 0 else 5.0))
        return delivered

    def start(self) -> None:
        """Run the loop on a background thread until ``stop``."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="outbox-sync", daemon=True)
        self._thread.start()

    def heartbeat_soon(self) -> None:
        """Send a heartbeat at the loop's next turn, not at the regular interval: a staff
        alert was raised (a citizen asked for help). Any thread."""
        self._heartbeat_due = True
        self._wake.set()

    def wake(self) -> None:
        """Tell the worker new entries wait (call after a put; any thread)."""
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                return  # still in a request: it ends within the transport's timeouts
            self._thread = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.settings.idle_poll_s
            try:
                result = self.sync_once()
                if result.error or not result.claimed:
                    wait = result.wait_s
                elif result.last_batch < self._batch_limit:
                    wait = self.settings.linger_s
                else:
                    wait = 0.0
                self.housekeeping()
            except QueueError as exc:
                log.error("sync worker: %s", exc)
                wait = self.settings.idle_poll_s
            except Exception:
                log.exception("sync worker failed; continuing")
                wait = self.settings.idle_poll_s
            if wait > 0:
                # A wake() shortens idle polls, not the linger: that would defeat batching.
                if wait == self.settings.linger_s:
                    self._stop.wait(wait)
                else:
                    self._wake.wait(min(wait, self.settings.idle_poll_s * 5))
                self._wake.clear()

    def _heartbeat_time(self, since_last_s: float) -> bool:
        if since_last_s >= self.settings.heartbeat_s:
            return True
        return since_last_s >= self.settings.probe_s and bool(
            self.outbox.get_meta(UNREACHABLE_SINCE)
        )

    def housekeeping(self) -> None:
        """The loop's periodic work after each turn: the offline check, a heartbeat when due
        (sooner while central is not answering), the audit purge. Tests drive it directly."""
        mono = self.clock.monotonic()
        if mono - self._last_status >= 1.0:
            # Counting pending entries is not free: once a second is plenty for a warning
            # measured in hours.
            self._last_status = mono
            self.check_offline()
        if self._heartbeat_due or self._heartbeat_time(mono - self._last_heartbeat):
            self._heartbeat_due = False
            self._last_heartbeat = mono
            self.heartbeat(self.heartbeat_extra() if self.heartbeat_extra else None)
        if mono - self._last_purge >= self.settings.purge_every_s:
            self._last_purge = mono
            n = self.outbox.purge_audit()
            if n:
                log.info("purged %d audit rows past retention", n)


def _uploads_in(entries: Sequence[ClaimedEntry]) -> bool:
    return any(e.attachments for e in entries)


def _int_header(resp: Response, name: str) -> int:
    value = resp.headers.get(name, "")
    if not (value.isascii() and value.isdigit()):
        raise CentralError(f"missing or bad {name} header", code="central.bad_response")
    return int(value)
