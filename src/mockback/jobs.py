"""Background jobs, run on a schedule and on demand (admin only); each run fires ``job.run``.

``cleanup`` purges what has been finished for longer than the retention
(``MOCKBACK_RETENTION_DAYS``, default 7): soft-deleted mocks (with their own mock and chain
stores), ended deliveries with their attempts, and expired login tokens. It runs every
``MOCKBACK_CLEANUP_INTERVAL`` seconds (default 3600; 0 turns the schedule off).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from mockback.domain.access import SYSTEM, Principal, require_admin
from mockback.domain.accounts import ChangeEvent
from mockback.domain.errors import FieldProblem, NotFound
from mockback.logs import get_logger
from mockback.notifications import Notifications
from mockback.store.base import Store

log = get_logger("mockback.jobs")

Job = Callable[[], Awaitable[Mapping[str, Any]]]
"""A job: does its work and returns a summary (JSON values)."""


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class Cleanup:
    """The ``cleanup`` job: purge what ended longer ago than the retention."""

    def __init__(
        self, *, store: Store, retention: timedelta, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._store = store
        self._retention = retention
        self._clock = clock

    async def __call__(self) -> Mapping[str, Any]:
        """Purge; the counts of what went."""
        now = self._clock()
        before = now - self._retention
        purged = await self._store.purge(before, now)
        return {
            "olderThan": _iso(before),
            "mocksPurged": purged.mocks,
            "deliveriesPurged": purged.deliveries,
            "attemptsPurged": purged.attempts,
            "tokensPurged": purged.tokens,
        }


class Jobs:
    """Named jobs: run on demand, and the scheduled ones every ``interval`` seconds."""

    def __init__(
        self,
        *,
        jobs: Mapping[str, Job],
        store: Store,
        notifications: Notifications,
        scheduled: tuple[str, ...] = (),
        interval: float = 0.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._jobs = dict(jobs)
        self._store = store
        self._notifications = notifications
        self._scheduled = scheduled
        self._interval = interval
        self._clock = clock
        self._locks = {name: asyncio.Lock() for name in self._jobs}
        self._task: asyncio.Task[None] | None = None

    def names(self) -> list[str]:
        """The jobs there are."""
        return sorted(self._jobs)

    async def run(
        self, name: str, *, caller: Principal = SYSTEM, trigger: str = "manual"
    ) -> dict[str, Any]:
        """Run a job now (one run of a job at a time) and fire ``job.run`` with its summary."""
        require_admin(caller, "Jobs")
        job = self._jobs.get(name)
        if job is None:
            raise NotFound(
                f'No job named "{name}"; there are: {", ".join(self.names())}.',
                (FieldProblem(field="name", problem="is not a job"),),
            )
        async with self._locks[name]:
            started = self._clock()
            summary = dict(await job())
            finished = self._clock()
        result = {
            "name": name,
            "trigger": trigger,
            "startedAt": _iso(started),
            "finishedAt": _iso(finished),
            "summary": summary,
        }
        log.info("Job finished", job=name, trigger=trigger, **summary)
        event = ChangeEvent(
            operation="job.run",
            namespace=None,
            actor=caller.login,
            timestamp=finished,
            data=result,
        )
        # A job's summary exists only once it has run: its deliveries are stored right after.
        outbox = self._notifications.deliveries(event)
        if outbox:
            await self._store.insert_deliveries(outbox)
            self._notifications.announce(outbox)
        return result

    def start(self) -> None:
        """Start the schedule (nothing when the interval is 0 or no job is scheduled)."""
        if self._interval > 0 and self._scheduled and self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._schedule(), name="mockback-jobs"
            )

    async def stop(self) -> None:
        """Stop the schedule (a run under way is cancelled; the next start runs it again)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _schedule(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            for name in self._scheduled:
                try:
                    await self.run(name, trigger="schedule")
                except Exception as exc:
                    log.error("Scheduled job failed", job=name, error=str(exc) or repr(exc))
