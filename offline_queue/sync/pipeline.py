"""One delivery attempt: lease a batch (streams kept in order) -> upload its attachments ->
POST it -> settle each entry by its result: 2xx acknowledged (personal data deleted), 424
(an earlier entry of its stream failed in this batch) retried at once, 408/409/429/5xx
retried with full-jitter backoff, any other 4xx dead-lettered. A failed request releases
the whole batch; Retry-After is honoured.

A backlog (full batches) goes in one turn, pipelined: the POST runs on a sender thread while
this thread leases and prepares the next batch and acknowledges the previous one.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from offline_queue.backoff import full_jitter
from offline_queue.clock import Clock
from offline_queue.errors import CentralError
from offline_queue.outbox import ClaimedEntry, DamagedEntry, Outbox
from offline_queue.sync.link import LinkLog
from offline_queue.sync.settings import SyncSettings
from offline_queue.sync.uploads import Uploader
from offline_queue.sync.wire import (
    BATCH_PATH,
    DEPENDENCY_FAILED,
    RETRYABLE,
    Outcomes,
    Uploads,
    batch_body,
    parse_results,
)
from offline_queue.transport import CentralTransport, Response, raise_for_status

log = logging.getLogger(__name__)


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
    # Entries whose sealed payload could not be opened: dead-lettered, never sent.
    damaged: list[DamagedEntry] = field(default_factory=list)


@dataclass(frozen=True)
class _Flight:
    """A batch whose POST is under way on the sender thread."""

    entries: Sequence[ClaimedEntry]
    answer: Future[Response]

    @property
    def token(self) -> str:
        return self.entries[0].lease_token


class Pipeline:
    """Delivers batches of one outbox to one central system; keeps the backoff state."""

    def __init__(
        self,
        outbox: Outbox,
        transport: CentralTransport,
        settings: SyncSettings,
        *,
        clock: Clock,
        rng: random.Random,
        link: LinkLog,
    ) -> None:
        self.outbox = outbox
        self.transport = transport
        self.settings = settings
        self.clock = clock
        self.rng = rng
        self.link = link
        self.uploads = Uploader(outbox, transport, settings.upload_chunk_bytes)
        self.not_before = 0.0  # monotonic
        self.failures = 0
        self.batch_limit = settings.batch_size
        self._executor: ThreadPoolExecutor | None = None
        self._in_flight: Future[Response] | None = None  # the POST under way, if any

    def run(self, interrupted: Callable[[], bool]) -> SyncResult:
        """Deliver one batch; while a backlog lasts (full batches) and nothing
        ``interrupted`` the run, up to ``pipeline_batches`` of them. Never raises for central
        failures: they are recorded on the entries and in the status."""
        wait_s = self.not_before - self.clock.monotonic()
        if wait_s > 0:
            return SyncResult(wait_s=wait_s)
        result = SyncResult()
        entries = self._claim_first(result)
        if not entries:
            result.wait_s = self.settings.idle_poll_s
            return result
        result.keys = [e.key for e in entries]
        result.last_batch = len(entries)
        try:
            flight = self._launch(entries, result)
            flights = 1
            while flight is not None:
                ahead = flights < self.settings.pipeline_batches and self._backlog(
                    flight, interrupted
                )
                flight = self._land(flight, result, read_ahead=ahead)
                flights += 1
        finally:
            self._settle_orphan()
        return result

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _settle_orphan(self) -> None:
        """After an error mid-run (the database failed), wait for a POST still under way, so
        that the next request does not share the transport with it. Its answer is dropped:
        its entries stay leased and go again when the lease ends (central replays them)."""
        if self._in_flight is not None:
            wait([self._in_flight])
            self._in_flight = None

    def _claim_first(self, result: SyncResult) -> list[ClaimedEntry]:
        """The run's first batch. A claim whose every entry turned out damaged (dead-lettered)
        is not the end of the queue: claim again."""
        while True:
            found = len(result.damaged)
            entries = self._claim(result)
            if entries or len(result.damaged) == found:
                return entries

    def _claim(self, result: SyncResult, following: str | None = None) -> list[ClaimedEntry]:
        lease = self.outbox.lease(
            self.batch_limit,
            self.settings.lease_s,
            max_attachment_bytes=self.settings.max_batch_attachment_bytes,
            following=following,
        )
        result.claimed += len(lease.entries)
        result.damaged += lease.damaged
        result.dead += len(lease.damaged)
        return lease.entries

    def _backlog(self, flight: _Flight, interrupted: Callable[[], bool]) -> bool:
        # A full batch: more are probably waiting (after a day offline, thousands). A stop,
        # or a heartbeat asked for (a citizen called staff), ends the run at this batch.
        full = len(flight.entries) >= self.batch_limit > 1
        return full and not interrupted()

    def _launch(
        self, entries: Sequence[ClaimedEntry], result: SyncResult, body: bytes | None = None
    ) -> _Flight | None:
        """Upload the batch's attachments and start its POST (``body``, if already built) on
        the sender thread; None if the batch was settled without a request (lost
        attachments, failed upload)."""
        if body is not None:
            return self._post(entries, body)
        lost = self.uploads.lost(entries)
        if lost:
            for entry in entries:
                if entry.key in lost:
                    self.outbox.bury(entry, lost[entry.key])
            rest = [(e, 0.0) for e in entries if e.key not in lost]
            self.outbox.release(rest, "batch re-formed", count_attempt=False)
            result.dead += len(lost)
            return None
        try:
            uploads = self.uploads.upload_all(entries)
        except CentralError as exc:
            self._request_failed(entries, exc, result)
            return None
        return self._post(entries, batch_body(entries, uploads))

    def _post(self, entries: Sequence[ClaimedEntry], body: bytes) -> _Flight:
        self._in_flight = self._sender().submit(self._post_batch, body)
        return _Flight(entries, self._in_flight)

    def _post_batch(self, body: bytes) -> Response:
        return self.transport.request(
            "POST", BATCH_PATH, body=body, headers={"Content-Type": "application/json"}
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
        ahead = self._claim(result, following=flight.token) if read_ahead else []
        result.keys += [e.key for e in ahead]
        # Built while the answer is awaited; used if no entry has to be withdrawn.
        body = batch_body(ahead, {}) if ahead and not _uploads_in(ahead) else None
        try:
            resp = flight.answer.result()
            self._in_flight = None
            if resp.status >= 400:
                raise_for_status(resp)
            outcomes = parse_results(resp, flight.entries)
        except CentralError as exc:
            self.outbox.release([(e, 0.0) for e in ahead], "batch not sent", count_attempt=False)
            result.retried += len(ahead)
            self._request_failed(flight.entries, exc, result)
            return None
        self.failures = 0
        self.batch_limit = self.settings.batch_size
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
        self, flight: _Flight, outcomes: Outcomes, ahead: list[ClaimedEntry]
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
            self.link.contact(success=False)
        self.link.failed(message, exc)
        if not exc.link_down:
            # A permanent refusal of the whole request: isolate the entry at fault by
            # retrying one at a time; a single refused entry is dead-lettered.
            if len(entries) == 1:
                self.outbox.bury(entries[0], message)
                result.dead += 1
                return
            self.batch_limit = 1
            self.outbox.release([(e, 0.0) for e in entries], message, count_attempt=False)
            result.retried += len(entries)
            return
        self.failures += 1
        if exc.retry_after_s is not None:
            delay = min(exc.retry_after_s, self.settings.max_retry_after_s)
            self.outbox.release([(e, delay) for e in entries], message, count_attempt=False)
        else:
            delay = self.backoff(self.failures - 1)
            self.outbox.release(
                [(e, self.backoff(e.attempts)) for e in entries], message, count_attempt=True
            )
        self.not_before = self.clock.monotonic() + delay
        result.retried += len(entries)
        result.wait_s = delay
        log.info("sync attempt failed (%s); next in %.1f s", exc.code, delay)

    def backoff(self, attempt: int) -> float:
        s = self.settings
        return full_jitter(attempt, base_s=s.base_backoff_s, cap_s=s.max_backoff_s, rng=self.rng)

    def _apply(
        self, entries: Sequence[ClaimedEntry], outcomes: Outcomes, result: SyncResult
    ) -> None:
        acks: list[tuple[ClaimedEntry, str]] = []
        retry: list[tuple[ClaimedEntry, float]] = []
        skipped: list[tuple[ClaimedEntry, float]] = []
        errors: list[str] = []
        for entry in entries:
            status, outcome = outcomes[entry.key]
            if 200 <= status < 300:
                acks.append((entry, f"{status} {outcome}".strip()))
            elif status == DEPENDENCY_FAILED:
                skipped.append((entry, 0.0))
            elif status in RETRYABLE or status >= 500:
                retry.append((entry, self.backoff(entry.attempts)))
                errors.append(f"central.http_{status}: {outcome}")
            else:
                self.outbox.bury(entry, f"central.http_{status}: {outcome}")
                result.dead += 1
        if acks:
            # The contact time is written with the acknowledgement: one commit, not two.
            result.delivered += self.outbox.ack(acks, self.link.contact_meta(success=True))
        else:
            self.link.contact(success=True)
        if retry:
            self.outbox.release(retry, errors[0])
        if skipped:
            self.outbox.release(skipped, "waiting for an earlier entry", count_attempt=False)
        result.retried += len(retry) + len(skipped)
        if errors:
            self.link.failed(errors[0])


def _uploads_in(entries: Sequence[ClaimedEntry]) -> bool:
    return any(e.attachments for e in entries)


__all__ = ["Pipeline", "SyncResult", "Uploads"]
