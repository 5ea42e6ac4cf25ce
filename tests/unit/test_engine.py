"""The delivery engine on the in-memory store and transport: retry decisions, scheduling, the
bounded pool, backlog overflow to the store and back, stop and resume."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from structlog.testing import capture_logs

from mockback.delivery.engine import DeliveryEngine
from mockback.delivery.outbound_policy import OutboundPolicy
from mockback.delivery.outcomes import decide
from mockback.delivery.sender import Sender
from mockback.delivery.transports.memory import MemoryTransport, success_for
from mockback.domain.deliveries import (
    AttemptOutcome,
    AttemptResult,
    CallbackType,
    Delivery,
    DeliveryRequest,
    DeliveryStatus,
    OutboundMessage,
)
from mockback.domain.errors import Conflict
from mockback.metrics import Metrics
from mockback.store.base import DeliveryQuery
from mockback.store.memory import MemoryStore

NOW = 1_800_000_000.0
_ids = itertools.count()


def delivery(
    *,
    due_in: float = 0.0,
    retry: dict[str, Any] | None = None,
    url: str = "http://hooks.test/a",
    status: DeliveryStatus = DeliveryStatus.PENDING,
    attempt_count: int = 0,
    sync: bool = False,
) -> Delivery:
    """A stored-shape delivery due ``due_in`` seconds from the real clock."""
    now = time.time()
    return Delivery(
        id=f"dlv_{next(_ids):06d}",
        mock_id="m",
        namespace="sandbox",
        request_id="req_1",
        callback_index=0,
        callback_id=None,
        type=CallbackType.HTTP,
        target=url,
        status=status,
        created_at=datetime.fromtimestamp(now, UTC),
        due_at=datetime.fromtimestamp(now + due_in, UTC),
        attempt_count=attempt_count,
        request=DeliveryRequest(method="POST", url=url, headers=(), body=b"{}"),
        timeout=5.0,
        retry=retry or {},
        sync=sync,
    )


def result(
    outcome: AttemptOutcome,
    *,
    status: int | None = None,
    retry_after: float | None = None,
    stop: bool = False,
) -> AttemptResult:
    """An attempt result as a transport reports it."""
    return AttemptResult(
        outcome=outcome,
        duration_ms=2.0,
        status_code=status,
        error=None if outcome is AttemptOutcome.SUCCESS else f"{outcome.value} {status}",
        retry_after=retry_after,
        stop_retrying=stop,
    )


OK = result(AttemptOutcome.SUCCESS, status=200)
FAIL = result(AttemptOutcome.FAILURE, status=500)


@pytest.mark.parametrize(
    ("retry", "attempts_before", "outcome", "expected"),
    [
        # success ends the delivery at once, whatever retries are left
        ({"retryCount": 3}, 0, OK, (DeliveryStatus.SUCCEEDED, 0.0)),
        # the outbound policy's refusal is final, never retried
        ({"retryCount": 3}, 0, result(AttemptOutcome.BLOCKED), (DeliveryStatus.BLOCKED, 0.0)),
        # 410 Gone stops retrying although retries are left
        (
            {"retryCount": 3},
            0,
            result(AttemptOutcome.FAILURE, status=410, stop=True),
            (DeliveryStatus.FAILED, 0.0),
        ),
        # no retries configured: the first failure is final
        ({}, 0, FAIL, (DeliveryStatus.FAILED, 0.0)),
        # a failure with retries left waits retryDelay from the end of the attempt
        ({"retryCount": 2, "retryDelay": 0.2}, 0, FAIL, (DeliveryStatus.SCHEDULED, 0.2)),
        # the last allowed attempt failing is final
        ({"retryCount": 2, "retryDelay": 0.2}, 2, FAIL, (DeliveryStatus.FAILED, 0.0)),
        # exponential backoff doubles per failed attempt: the third waits 4 × retryDelay
        (
            {"retryCount": 5, "retryDelay": 1, "backoff": "exponential"},
            2,
            FAIL,
            (DeliveryStatus.SCHEDULED, 4.0),
        ),
        # ...and is capped by maxRetryDelay
        (
            {"retryCount": 9, "retryDelay": 1, "backoff": "exponential", "maxRetryDelay": 5},
            6,
            FAIL,
            (DeliveryStatus.SCHEDULED, 5.0),
        ),
        # Retry-After larger than retryDelay wins
        (
            {"retryCount": 1, "retryDelay": 1},
            0,
            result(AttemptOutcome.FAILURE, status=429, retry_after=7),
            (DeliveryStatus.SCHEDULED, 7.0),
        ),
        # Retry-After is capped by maxRetryDelay
        (
            {"retryCount": 1, "retryDelay": 1, "maxRetryDelay": 3},
            0,
            result(AttemptOutcome.FAILURE, status=503, retry_after=60),
            (DeliveryStatus.SCHEDULED, 3.0),
        ),
        # timeouts and connection errors are retried like failures
        (
            {"retryCount": 1, "retryDelay": 0.5},
            0,
            result(AttemptOutcome.TIMEOUT),
            (DeliveryStatus.SCHEDULED, 0.5),
        ),
        (
            {"retryCount": 1, "retryDelay": 0.5},
            0,
            result(AttemptOutcome.ERROR),
            (DeliveryStatus.SCHEDULED, 0.5),
        ),
        # a redelivery counts its attempts afresh from attemptBase
        (
            {"retryCount": 1, "retryDelay": 0.5, "attemptBase": 2},
            2,
            FAIL,
            (DeliveryStatus.SCHEDULED, 0.5),
        ),
    ],
)
def test_decide(
    retry: dict[str, Any],
    attempts_before: int,
    outcome: AttemptResult,
    expected: tuple[DeliveryStatus, float],
) -> None:
    """After an attempt the delivery ends, or is scheduled again after the right wait."""
    d = delivery(retry=retry, attempt_count=attempts_before)
    status, due, error = decide(d, outcome, NOW)
    assert (status, round(due - NOW, 6)) == expected
    assert (error is None) == (status is DeliveryStatus.SUCCEEDED)


def test_decide_jitter_stays_within_half_and_whole_delay() -> None:
    """With jitter the wait is drawn from [delay/2, delay], repeatably for a seeded source."""
    d = delivery(retry={"retryCount": 3, "retryDelay": 4, "jitter": True})
    waits = [decide(d, FAIL, NOW, random.Random(seed))[1] - NOW for seed in range(50)]
    assert all(2.0 <= w <= 4.0 for w in waits)
    assert len({round(w, 6) for w in waits}) > 10
    assert decide(d, FAIL, NOW, random.Random(7)) == decide(d, FAIL, NOW, random.Random(7))


async def public_resolver(host: str, port: int) -> list[str]:
    """Every name resolves to one public address."""
    return ["93.184.216.34"]


@dataclass
class Rig:
    """An engine wired to an in-memory store and transport."""

    store: MemoryStore
    transport: MemoryTransport
    engine: DeliveryEngine
    metrics: Metrics
    sent_at: list[tuple[str, float]] = field(default_factory=list)

    async def add(self, *deliveries: Delivery) -> list[Delivery]:
        """Store deliveries and hand them to the engine, as the planner does."""
        await self.store.insert_deliveries(list(deliveries))
        self.engine.submit(list(deliveries))
        return list(deliveries)

    async def ended(self, count: int, timeout: float = 10.0) -> list[Delivery]:
        """Wait until ``count`` deliveries are final in the store."""
        items, complete = await self.engine.wait_for(DeliveryQuery(), count, timeout)
        assert complete, f"only {len(items)} of {count} ended: {self.engine.snapshot()}"
        return items


def make_rig(
    store: MemoryStore | None = None,
    transport: MemoryTransport | None = None,
    *,
    pool_size: int = 4,
    memory_cap: int = 1000,
    stop_grace: float = 2.0,
    policy: OutboundPolicy | None = None,
) -> Rig:
    """A rig; the transport records when each message was sent."""
    store = store or MemoryStore()
    transport = transport or MemoryTransport()
    sender = Sender(
        transports={CallbackType.HTTP: transport},
        policy=policy or OutboundPolicy.from_settings(allow_private=False, allowed_hosts=""),
        environ={},
        global_store=lambda ns: {},
        resolver=public_resolver,
    )
    metrics = Metrics()
    engine = DeliveryEngine(
        store=store,
        sender=sender,
        pool_size=pool_size,
        metrics=metrics,
        memory_cap=memory_cap,
        poll_interval=0.5,
        stop_grace=stop_grace,
    )
    return Rig(store, transport, engine, metrics)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    """A started rig with the default settings."""
    r = make_rig()
    await r.engine.start()
    yield r
    await r.engine.stop()


def stamping(rig: Rig, answer: Callable[[OutboundMessage], AttemptResult]) -> None:
    """Answer with ``answer`` and note the time each message was sent."""

    def respond(message: OutboundMessage) -> AttemptResult:
        rig.sent_at.append((message.delivery_id, time.monotonic()))
        return answer(message)

    rig.transport.respond_with(respond)


async def test_due_delivery_is_sent_and_recorded(rig: Rig) -> None:
    """A due delivery is sent with its id header and ends succeeded with one stored attempt."""
    (d,) = await rig.add(delivery())
    done = rig.engine.completion(d.id)
    finished = await asyncio.wait_for(done, 5)
    assert finished.status is DeliveryStatus.SUCCEEDED
    (message,) = rig.transport.sent
    assert ("X-Mockback-Delivery-Id", d.id) in message.headers
    stored = await rig.store.get_delivery(d.id)
    assert stored is not None and stored.status is DeliveryStatus.SUCCEEDED
    assert [(a.number, a.outcome, a.status_code) for a in stored.attempts] == [
        (1, AttemptOutcome.SUCCESS, 200)
    ]
    assert stored.finished_at is not None and stored.error is None


async def test_delay_holds_the_first_attempt(rig: Rig) -> None:
    """A delivery due later is not sent before its due time, and is sent soon after it."""
    stamping(rig, lambda m: OK)
    started = time.monotonic()
    await rig.add(delivery(due_in=0.4))
    await asyncio.sleep(0.2)
    assert rig.transport.sent == []
    await rig.ended(1)
    ((_, sent),) = rig.sent_at
    assert 0.35 <= sent - started < 3.0


async def test_retries_wait_from_the_end_of_the_failed_attempt(rig: Rig) -> None:
    """Failed attempts are retried after retryDelay counted from when each attempt ended."""
    answers = iter([0.15, 0.15, 0.0])  # how long each attempt takes

    async def slow_then_fail(message: OutboundMessage) -> AttemptResult:
        rig.sent_at.append((message.delivery_id, time.monotonic()))
        took = next(answers)
        await asyncio.sleep(took)
        return OK if not took else FAIL

    rig.transport.respond_with(slow_then_fail)
    (d,) = await rig.add(delivery(retry={"retryCount": 2, "retryDelay": 0.2}))
    await rig.ended(1)
    times = [t for _, t in rig.sent_at]
    assert len(times) == 3
    # start-to-start gaps are the attempt's duration plus the wait
    assert all(later - earlier >= 0.15 + 0.2 - 0.02 for earlier, later in itertools.pairwise(times))
    stored = await rig.store.get_delivery(d.id)
    assert stored is not None and stored.status is DeliveryStatus.SUCCEEDED
    assert [a.outcome for a in stored.attempts] == [
        AttemptOutcome.FAILURE,
        AttemptOutcome.FAILURE,
        AttemptOutcome.SUCCESS,
    ]


async def test_exhausted_retries_end_failed_with_the_last_error(rig: Rig) -> None:
    """When every attempt fails the delivery ends failed, naming the last failure."""
    rig.transport.respond_with(lambda m: FAIL)
    (d,) = await rig.add(delivery(retry={"retryCount": 1, "retryDelay": 0}))
    await rig.ended(1)
    stored = await rig.store.get_delivery(d.id)
    assert stored is not None
    assert (stored.status, stored.attempt_count, stored.error) == (
        DeliveryStatus.FAILED,
        2,
        "failure 500",
    )


async def test_pool_bounds_concurrent_attempts() -> None:
    """No more than pool_size attempts run at once; the rest wait and none is dropped."""
    r = make_rig(pool_size=2)
    release = asyncio.Event()
    running = 0
    peak = 0

    async def hold(message: OutboundMessage) -> AttemptResult:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1
        return OK

    r.transport.respond_with(hold)
    await r.engine.start()
    try:
        await r.add(*(delivery() for _ in range(7)))
        await r.transport.wait_for(2)
        await asyncio.sleep(0.2)
        assert len(r.transport.sent) == 2
        assert r.engine.snapshot()["running"] == 2
        assert "mockback_delivery_pool_in_use 2.0" in r.metrics.render().decode()
        release.set()
        await r.ended(7)
        assert peak == 2
        assert len({m.delivery_id for m in r.transport.sent}) == 7
    finally:
        await r.engine.stop()


async def test_backlog_overflows_to_the_store_and_comes_back() -> None:
    """Past the memory cap deliveries wait in the store and are read back: all sent, once."""
    r = make_rig(pool_size=3, memory_cap=8)
    await r.engine.start()
    try:
        await r.add(*(delivery() for _ in range(50)))
        assert r.engine.snapshot()["overflow"] is True
        assert r.engine.snapshot()["known"] <= 8
        await r.ended(50)
        ids = [m.delivery_id for m in r.transport.sent]
        assert len(ids) == 50 and len(set(ids)) == 50
    finally:
        await r.engine.stop()


class StaleReads(MemoryStore):
    """A store whose reads of unfinished deliveries run late and answer later still.

    Like a database read on another connection: the rows are taken after the call (gate
    ``read``) and reach the caller after other writes have been committed (gate ``answer``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.held = False
        self.read = asyncio.Event()
        self.answer = asyncio.Event()
        self.reading = asyncio.Event()

    async def unfinished_deliveries(self, **kwargs: Any) -> list[Delivery]:
        if not self.held:
            return await super().unfinished_deliveries(**kwargs)
        self.reading.set()
        await self.read.wait()
        rows = await super().unfinished_deliveries(**kwargs)
        await self.answer.wait()
        return rows


async def test_stale_store_read_does_not_send_twice() -> None:
    """A delivery that ends while a read of the store is under way is not taken up again."""
    store = StaleReads()
    r = make_rig(store)
    await r.engine.start()
    try:
        store.held = True
        await r.engine.flush()  # starts a read of the store
        await store.reading.wait()
        (d,) = await r.add(delivery())  # not excluded from the read: unknown when it began
        store.read.set()
        await r.ended(1)  # ends, and is committed, before the read answers
        store.answer.set()
        await asyncio.sleep(0.2)
        assert [m.delivery_id for m in r.transport.sent] == [d.id]
    finally:
        await r.engine.stop()


async def test_stop_then_start_runs_what_was_unfinished() -> None:
    """Attempts cut short by stop, and scheduled deliveries, run after the next start."""
    store = MemoryStore()
    hanging = MemoryTransport()
    never = asyncio.Event()

    async def hang(message: OutboundMessage) -> AttemptResult:
        await never.wait()
        return OK

    hanging.respond_with(hang)
    first = make_rig(store, hanging, stop_grace=0.1)
    await first.engine.start()
    cut, later = await first.add(delivery(), delivery(due_in=0.5))
    await hanging.wait_for(1)
    await first.engine.stop()
    for d in (cut, later):
        stored = await store.get_delivery(d.id)
        assert stored is not None and not stored.status.is_final
    second = make_rig(store)
    await second.engine.start()
    try:
        await second.ended(2)
        assert {m.delivery_id for m in second.transport.sent} == {cut.id, later.id}
    finally:
        await second.engine.stop()


async def test_stop_lets_quick_attempts_finish() -> None:
    """Attempts that end within the grace period are recorded before stop returns."""
    store = MemoryStore()
    transport = MemoryTransport()

    async def quick(message: OutboundMessage) -> AttemptResult:
        await asyncio.sleep(0.2)
        return OK

    transport.respond_with(quick)
    r = make_rig(store, transport, stop_grace=5)
    await r.engine.start()
    (d,) = await r.add(delivery())
    await transport.wait_for(1)
    await r.engine.stop()
    stored = await store.get_delivery(d.id)
    assert stored is not None and stored.status is DeliveryStatus.SUCCEEDED


async def test_flush_makes_scheduled_deliveries_due(rig: Rig) -> None:
    """Flush answers how many were scheduled and they are sent at once."""
    await rig.add(delivery(due_in=3600, status=DeliveryStatus.SCHEDULED))
    await asyncio.sleep(0.05)
    assert rig.transport.sent == []
    assert await rig.engine.flush() == 1
    await rig.ended(1, timeout=5)


async def test_redeliver_sends_again_with_the_same_id(rig: Rig) -> None:
    """An ended delivery sent again keeps its id, numbers attempts on, and counts retries anew."""
    rig.transport.script(FAIL, FAIL, FAIL, OK)
    (d,) = await rig.add(delivery(retry={"retryCount": 1, "retryDelay": 0}))
    await rig.ended(1)
    failed = await rig.store.get_delivery(d.id)
    assert failed is not None and failed.status is DeliveryStatus.FAILED
    reopened = await rig.engine.redeliver(failed)
    assert reopened.status is DeliveryStatus.PENDING and reopened.id == d.id
    # retryCount 1 allows two more attempts: a failure, then the success
    await rig.ended(1)
    final = await rig.store.get_delivery(d.id)
    assert final is not None and final.status is DeliveryStatus.SUCCEEDED
    assert [a.number for a in final.attempts] == [1, 2, 3, 4]
    assert [m.delivery_id for m in rig.transport.sent] == [d.id] * 4


async def test_redeliver_refuses_a_delivery_that_has_not_ended(rig: Rig) -> None:
    """Redelivering a delivery still waiting is a conflict."""
    (d,) = await rig.add(delivery(due_in=3600, status=DeliveryStatus.SCHEDULED))
    with pytest.raises(Conflict):
        await rig.engine.redeliver(d)


async def test_unexpected_error_is_an_attempt_and_logs_a_traceback(rig: Rig) -> None:
    """A transport that raises gives an error attempt and an ERROR log line with the traceback."""
    rig.transport.script(RuntimeError("boom"))
    with capture_logs() as logs:
        (d,) = await rig.add(delivery())
        await rig.ended(1)
    stored = await rig.store.get_delivery(d.id)
    assert stored is not None and stored.status is DeliveryStatus.FAILED
    assert stored.attempts[0].outcome is AttemptOutcome.ERROR
    assert "boom" in (stored.error or "")
    (line,) = [e for e in logs if e["event"] == "Unexpected error in callback delivery"]
    assert line["log_level"] == "error" and line["delivery_id"] == d.id
    assert "Traceback" in line["traceback"] and "RuntimeError: boom" in line["traceback"]


@pytest.mark.parametrize(
    ("answers", "retry", "events"),
    [
        # success: one INFO line
        ([OK], {}, [("info", "Callback executed successfully")]),
        # a failure then success: WARN, then INFO
        (
            [FAIL, OK],
            {"retryCount": 1, "retryDelay": 0},
            [("warning", "Callback attempt failed"), ("info", "Callback executed successfully")],
        ),
        # the last failure: WARN and ERROR
        (
            [FAIL],
            {},
            [
                ("warning", "Callback attempt failed"),
                ("error", "Callback failed after all retries"),
            ],
        ),
    ],
)
async def test_log_lines(
    rig: Rig, answers: list[AttemptResult], retry: dict[str, Any], events: list[tuple[str, str]]
) -> None:
    """Each attempt logs the SPEC's message with delivery, mock, type, attempt and target."""
    rig.transport.script(*answers)
    with capture_logs() as logs:
        (d,) = await rig.add(delivery(retry=retry))
        await rig.ended(1)
    mine = [e for e in logs if e.get("delivery_id") == d.id]
    assert [(e["log_level"], e["event"]) for e in mine] == events
    for e in mine:
        assert (e["mock_id"], e["callback_type"], e["target"]) == ("m", "http", d.target)
    assert [e["attempt"] for e in mine if e["log_level"] != "error"] == list(
        range(1, len(answers) + 1)
    )


async def test_blocked_target_ends_blocked_naming_address_and_setting(rig: Rig) -> None:
    """A loopback target under the default policy ends blocked, naming address and setting."""
    (d,) = await rig.add(delivery(url="http://127.0.0.1:9/x", retry={"retryCount": 3}))
    await rig.ended(1)
    stored = await rig.store.get_delivery(d.id)
    assert stored is not None and stored.status is DeliveryStatus.BLOCKED
    assert stored.attempt_count == 1 and rig.transport.sent == []
    assert "127.0.0.1" in (stored.error or "")
    assert "ALLOW_PROXY_TO_PRIVATE_IPS" in (stored.error or "")


async def test_sync_delivery_skips_the_memory_cap() -> None:
    """A delivery a response waits for is taken into memory even when the backlog is full."""
    r = make_rig(memory_cap=1, pool_size=1)
    gate = asyncio.Event()

    async def held(message: OutboundMessage) -> AttemptResult:
        await gate.wait()
        return OK

    r.transport.respond_with(held)
    await r.engine.start()
    try:
        await r.add(delivery(), delivery(), delivery())
        (sync,) = await r.add(delivery(sync=True))
        done = r.engine.completion(sync.id)
        assert sync.id in r.engine._known
        gate.set()
        assert (await asyncio.wait_for(done, 5)).status is DeliveryStatus.SUCCEEDED
        await r.ended(4)
    finally:
        await r.engine.stop()


async def test_final_deliveries_are_counted_not_run(rig: Rig) -> None:
    """Deliveries planned already final (skipped) are counted in metrics and never sent."""
    skipped = replace(delivery(), status=DeliveryStatus.SKIPPED)
    await rig.add(skipped)
    await asyncio.sleep(0.05)
    assert rig.transport.sent == []
    text = rig.metrics.render().decode()
    assert 'mockback_deliveries_total{outcome="skipped",type="http"} 1.0' in text


async def test_wait_for_times_out_with_what_there_is(rig: Rig) -> None:
    """Waiting for more deliveries than end gives back those that did, and says so."""
    await rig.add(delivery())
    started = time.monotonic()
    items, complete = await rig.engine.wait_for(DeliveryQuery(), 2, 0.4)
    assert not complete and len(items) == 1
    assert time.monotonic() - started >= 0.35


async def test_completion_after_stop_is_cancelled() -> None:
    """Nothing waits forever on a stopped engine."""
    r = make_rig()
    await r.engine.start()
    await r.engine.stop()
    assert r.engine.completion("dlv_x").cancelled()


class SlowWrites(MemoryStore):
    """Each write takes a while, like a disk flush; notes when new rows land."""

    def __init__(self) -> None:
        super().__init__()
        self.stored_at: dict[str, float] = {}

    async def write_deliveries(self, new: list[Delivery], updates: list[Any]) -> None:
        await asyncio.sleep(0.2)
        await super().write_deliveries(new, updates)
        for d in new:
            self.stored_at[d.id] = time.monotonic()


async def test_accept_is_durable_on_return_and_results_land_after() -> None:
    """accept returns once stored; an attempt may go out meanwhile, its result is kept after."""
    store = SlowWrites()
    r = make_rig(store)
    stamping(r, lambda m: OK)
    await r.engine.start()
    try:
        d = delivery()
        ends = await r.engine.accept([d])
        returned = time.monotonic()
        assert ends == [] and store.stored_at[d.id] <= returned
        ((_, sent),) = r.sent_at
        assert sent < store.stored_at[d.id]  # sent while the write was being committed
        await r.ended(1)
        stored = await store.get_delivery(d.id)
        assert stored is not None and stored.status is DeliveryStatus.SUCCEEDED
    finally:
        await r.engine.stop()


async def test_accept_gives_the_end_of_each_sync_delivery(rig: Rig) -> None:
    """Sync deliveries come back as futures resolved with the ended delivery."""
    rig.transport.script(FAIL, OK)
    sync = delivery(sync=True, retry={"retryCount": 1, "retryDelay": 0})
    (end,) = await rig.engine.accept([sync, delivery()])
    ended = await asyncio.wait_for(end, 5)
    assert (ended.id, ended.status, ended.attempt_count) == (
        sync.id,
        DeliveryStatus.SUCCEEDED,
        2,
    )


async def test_accept_past_the_cap_reads_back_once_stored() -> None:
    """Deliveries accepted past the memory cap wait in the store and are all sent once."""
    store = SlowWrites()
    r = make_rig(store, memory_cap=3, pool_size=2)
    await r.engine.start()
    try:
        await asyncio.gather(*(r.engine.accept([delivery()]) for _ in range(12)))
        await r.ended(12)
        ids = [m.delivery_id for m in r.transport.sent]
        assert len(ids) == 12 and len(set(ids)) == 12
    finally:
        await r.engine.stop()


async def test_backlog_counts_what_waits_in_the_store_past_the_memory_cap() -> None:
    """The backlog is every delivery not yet attempted, also those past the memory cap."""
    r = make_rig(pool_size=1, memory_cap=3)
    gate = asyncio.Event()

    async def held(message: OutboundMessage) -> AttemptResult:
        await gate.wait()
        return success_for(message)

    r.transport.respond_with(held)
    await r.engine.start()
    try:
        await r.add(*(delivery() for _ in range(10)))
        await r.transport.wait_for(1)
        assert r.engine.snapshot()["known"] <= 3  # most of them wait in the store
        assert await r.engine.backlog() == 9  # one is being attempted
        gate.set()
        await r.ended(10)
        assert await r.engine.backlog() == 0
    finally:
        await r.engine.stop()
