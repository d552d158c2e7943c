"""Writes audit entries to the database in batches, off the request path.

Each worker process has one writer. The middleware hands it a finished entry with
`enqueue`, which only appends to a bounded in-memory queue and never waits. A background
task writes the queue with one bulk insert per batch, every flush interval or as soon as a
batch is full. When the database is down the entries wait and are retried with backoff;
once the queue is full, new entries are dropped and counted, so requests never wait for the
audit trail. On shutdown `stop` writes what is left before the database is closed.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable
from datetime import UTC
from typing import Any, Protocol

from app.audit import bulk, partition_errors, partitions
from app.audit.models import AuditLog
from app.platform.db import ping_database
from settings import Settings

logger = logging.getLogger("app.audit")

# A failing database is logged at most this often, and so is a full queue.
LOG_EVERY_SECONDS = 10.0
PING_TIMEOUT_SECONDS = 2.0

AuditEntry = dict[str, Any]


class DeletedUsers(Protocol):
    """Which of the given user ids belong to deleted users: gone from the user table, or
    (`marks`) marked in the shared store by a deletion still in its transaction (wired by
    the app: audit's service over the shared store, with its breaker, and the user table)."""

    def __call__(
        self, user_ids: set[uuid.UUID], /, *, marks: bool = True
    ) -> Awaitable[set[uuid.UUID]]: ...


class DatabaseUnavailable(Exception):
    """The audit rows could not be written because the database does not answer."""


# One object holds the queue, its limits, its counters and the task's loop primitives.
class AuditWriter:  # pylint: disable=too-many-instance-attributes
    """A bounded queue of audit entries and the task that writes it."""

    def __init__(
        self,
        *,
        batch_size: int = 500,
        flush_interval_seconds: float = 0.2,
        queue_max: int = 20_000,
        retry_max_seconds: float = 5.0,
        shutdown_timeout_seconds: float = 10.0,
    ) -> None:
        self.batch_size = batch_size
        self.flush_interval_seconds = flush_interval_seconds
        self.queue_max = queue_max
        self.retry_max_seconds = max(retry_max_seconds, flush_interval_seconds)
        self.shutdown_timeout_seconds = shutdown_timeout_seconds
        self.dropped = 0
        self.written = 0
        self._queue: deque[AuditEntry] = deque()
        self._in_flight = 0
        self._failing_since: float | None = None
        self._last_failure_log = -LOG_EVERY_SECONDS
        self._last_drop_log = -LOG_EVERY_SECONDS
        self._last_check_log = -LOG_EVERY_SECONDS
        # These bind to the running event loop on first use, not here.
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.deleted_users: DeletedUsers | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditWriter:
        return cls(
            batch_size=settings.AUDIT_BATCH_SIZE,
            flush_interval_seconds=settings.AUDIT_FLUSH_INTERVAL_MS / 1000,
            queue_max=settings.AUDIT_QUEUE_MAX,
            retry_max_seconds=settings.AUDIT_RETRY_MAX_SECONDS,
            shutdown_timeout_seconds=settings.AUDIT_SHUTDOWN_TIMEOUT_SECONDS,
        )

    # --- the request side: never awaits ------------------------------------------------

    def enqueue(self, entry: AuditEntry) -> None:
        """Queues one entry; drops and counts it when the queue is full."""
        if len(self._queue) + self._in_flight >= self.queue_max:
            self.dropped += 1
            self._log_drop()
            return
        self._queue.append(entry)
        if len(self._queue) >= self.batch_size:
            self._wake.set()

    @property
    def queued(self) -> int:
        """Entries not yet in the database (waiting or being written)."""
        return len(self._queue) + self._in_flight

    def stats(self) -> dict[str, int]:
        return {"queued": self.queued, "dropped": self.dropped}

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Starts the background task; call it once the database is registered."""
        self._task = asyncio.create_task(self._run(), name="audit-writer")

    async def stop(self) -> None:
        """Stops the task and writes the queue; call it before the database closes.

        Gives up after the shutdown timeout (the database is down): what is left is
        logged as lost, so a stopping worker is never held past its grace period.
        """
        deadline = time.monotonic() + self.shutdown_timeout_seconds
        if self._task is not None:
            self._stopping.set()
            self._wake.set()
            try:
                async with asyncio.timeout(self.shutdown_timeout_seconds):
                    await self._task
            except TimeoutError:
                pass  # the task was cancelled; its batch went back to the queue
            self._task = None
        delay = self.flush_interval_seconds
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                while self._queue:
                    try:
                        await self.flush()
                    except DatabaseUnavailable:
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, self.retry_max_seconds)
        except TimeoutError:
            pass
        if self.queued:
            self.dropped += self.queued
            logger.error(
                "audit: database unavailable at shutdown; %d entries lost (%d dropped in all)",
                self.queued,
                self.dropped,
            )
            self._queue.clear()
        elif self.written:
            logger.info("audit: queue written at shutdown (%d entries in all)", self.written)

    async def flush(self) -> int:
        """Writes the entries queued when it is called (and the batch being written, if
        any); the number this call wrote. Entries queued meanwhile wait for the next flush:
        a flush that chased them wrote batches of whatever arrived during the last write, a
        few entries each under load, paying a batch's round trips every few requests.

        Raises DatabaseUnavailable (the entries stay queued) when the database is down.
        Tests call it instead of waiting for the next flush.
        """
        total = 0
        # A batch the background task is writing counts too: the lock waits for it.
        left = len(self._queue) + self._in_flight
        while left > 0:
            taken, written = await self._write_batch(left)
            if not taken:
                break  # another flush wrote them while this one waited for the lock
            left -= taken
            total += written
        return total

    # --- the background side -----------------------------------------------------------

    async def _run(self) -> None:
        delay = self.flush_interval_seconds
        while not self._stopping.is_set():
            if self._failing_since is None:
                await self._wait(self._wake, delay)
            else:
                # Backing off: a full batch must not bring the retry forward.
                await self._wait(self._stopping, delay)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                await self.flush()
            except DatabaseUnavailable:
                delay = min(delay * 2, self.retry_max_seconds)
            except Exception:  # pylint: disable=broad-exception-caught
                # A bug here must not end the task: requests would then fill the queue.
                logger.exception("audit: unexpected error in the writer")
                delay = min(delay * 2, self.retry_max_seconds)
            else:
                delay = self.flush_interval_seconds

    @staticmethod
    async def _wait(event: asyncio.Event, seconds: float) -> None:
        try:
            async with asyncio.timeout(seconds):
                await event.wait()
        except TimeoutError:
            pass

    async def _write_batch(self, most: int) -> tuple[int, int]:
        """Writes up to `most` entries from the head of the queue, at most a batch; how many
        it took and how many of them were written (the database may refuse some)."""
        async with self._lock:
            count = min(self.batch_size, len(self._queue), most)
            if not count:
                return 0, 0
            batch = [self._queue.popleft() for _ in range(count)]
            self._in_flight = count
            try:
                # Users deleted before now: the table only (the marks are read once, below).
                await self._drop_forgotten_users(batch)
                written = await self._write_or_isolate(batch)
            except BaseException:
                # Database down, or cancelled: the batch waits at the head of the queue.
                self._queue.extendleft(reversed(batch))
                raise
            finally:
                self._in_flight = 0
            # A user deleted while the batch was being written (or still in its deletion's
            # transaction, which the store's mark tells): its deletion may have cleared the
            # table before these rows landed.
            await self._drop_forgotten_users(batch, stored=True)
        self.written += written
        if self._failing_since is not None:
            logger.warning(
                "audit: database back after %.1f s; writing the queue (%d waiting)",
                time.monotonic() - self._failing_since,
                len(self._queue),
            )
            self._failing_since = None
        return count, written

    async def _drop_forgotten_users(self, batch: list[AuditEntry], *, stored: bool = False) -> None:
        """Deleted users' entries lose their user id: in the batch, before the insert, for
        users gone from the user table; or (`stored`) in the rows just written, for users
        gone from the table or marked in the store.

        The marks are read after the insert only: a mark read before it would be read again
        after it anyway (a deletion that commits meanwhile leaves the table to tell), so the
        check after the insert and its UPDATE decide alone; the table check before the
        insert keeps the ids of users deleted earlier out of the rows even when that later
        check fails. One store round trip per batch, none while the store's breaker is open.
        """
        if self.deleted_users is None:
            return
        user_ids = {entry["user_id"] for entry in batch if entry.get("user_id") is not None}
        if not user_ids:
            return
        try:
            # A functools.partial of a coroutine function (app/main.py), which pylint's
            # inference calls not callable when it sees the whole tree.
            gone = await self.deleted_users(user_ids, marks=stored)  # pylint: disable=not-callable
            if gone and stored:
                await AuditLog.filter(user_id__in=gone).update(user_id=None)
        # The database refused: before the insert the insert then fails too (and the batch is
        # retried); after it, the deletion's own clearing and the check before the insert are
        # what remains.
        except Exception as exc:  # pylint: disable=broad-exception-caught
            now = time.monotonic()
            if now - self._last_check_log >= LOG_EVERY_SECONDS:
                self._last_check_log = now
                logger.warning("audit: deleted users not checked: %r", exc)
            return
        for entry in batch:
            if entry.get("user_id") in gone:
                entry["user_id"] = None

    async def _write_or_isolate(self, batch: list[AuditEntry]) -> int:
        """Inserts the batch; when that fails on a working database, row by row, dropping
        only the rows the database refuses, so one bad row cannot hold up the queue.

        A row whose day has no partition is never such a row: the missing days are made and
        the batch is written again; if they cannot be made now, the batch waits like one
        for a database that is down."""
        for attempt in range(2):
            try:
                await self.insert_rows(batch)
            # Each driver has its own errors; whatever failed, the checks below tell which case.
            except Exception as exc:  # pylint: disable=broad-exception-caught
                if partition_errors.is_missing_partition(exc):
                    if attempt == 0 and await self._make_days(batch):
                        continue
                    self._note_outage(exc)
                    raise DatabaseUnavailable(str(exc)) from exc
                if not await self._database_answers():
                    self._note_outage(exc)
                    raise DatabaseUnavailable(str(exc)) from exc
                break
            else:
                return len(batch)
        written = 0
        for index, entry in enumerate(batch):
            try:
                await self.insert_rows([entry])
            except Exception as exc:  # pylint: disable=broad-exception-caught  # as above
                if partition_errors.is_missing_partition(exc) or not await self._database_answers():
                    # Went down half-way: the rest waits (the written ones are not repeated).
                    del batch[:index]
                    self.written += written
                    self._note_outage(exc)
                    raise DatabaseUnavailable(str(exc)) from exc
                self.dropped += 1
                logger.error(
                    "audit: the database refused an entry for %s %s; dropped: %r",
                    entry.get("method"),
                    entry.get("path"),
                    exc,
                )
            else:
                written += 1
        return written

    async def insert_rows(self, batch: list[AuditEntry]) -> None:
        """The one bulk write per batch, its day counts with it (app/audit/bulk.py: COPY on
        PostgreSQL). Tests replace it to play a database outage."""
        await bulk.insert(batch)

    async def _make_days(self, batch: list[AuditEntry]) -> bool:
        """Makes the partitions of the batch's days; False when that failed (logged)."""
        days = {entry["created_at"].astimezone(UTC).date() for entry in batch}
        try:
            made = await partitions.ensure_days(days)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # any driver's
            logger.warning("audit: partitions for %s not made: %r", sorted(days), exc)
            return False
        logger.warning("audit: a batch met days without a partition; made %s", made)
        return True

    async def _database_answers(self) -> bool:
        try:
            await ping_database(PING_TIMEOUT_SECONDS)
        except Exception:  # pylint: disable=broad-exception-caught
            return False
        return True

    def _note_outage(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        if now - self._last_failure_log >= LOG_EVERY_SECONDS:
            self._last_failure_log = now
            logger.warning(
                "audit: cannot write to the database (%r); %d entries waiting, retrying",
                exc,
                self.queued,
            )

    def _log_drop(self) -> None:
        now = time.monotonic()
        if now - self._last_drop_log >= LOG_EVERY_SECONDS:
            self._last_drop_log = now
            logger.warning(
                "audit: queue full (%d entries); %d dropped so far",
                self.queue_max,
                self.dropped,
            )
