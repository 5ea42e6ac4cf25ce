"""One delivery contract for every Store backend: memory and SQLite pass the same tests."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import pytest

from mockback.domain.deliveries import (
    Attempt,
    AttemptOutcome,
    CallbackType,
    Delivery,
    DeliveryRequest,
    DeliveryStatus,
)
from mockback.store.base import DeliveryQuery, DeliveryUpdate, Store
from mockback.store.memory import MemoryStore
from mockback.store.sqlite import SqliteStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "db")
    await backend.open()
    yield backend
    await backend.close()


def dlv(
    n: int,
    *,
    status: DeliveryStatus = DeliveryStatus.PENDING,
    created: float = 0.0,
    due: float = 0.0,
    mock_id: str | None = "m1",
    namespace: str = "sandbox",
    request_id: str | None = "req_1",
) -> Delivery:
    """A delivery with every field set to something recognisable; times are seconds after T0."""
    return Delivery(
        id=f"dlv_{n:04d}",
        mock_id=mock_id,
        namespace=namespace,
        request_id=request_id,
        callback_index=n % 3,
        callback_id="cb" if n % 2 else None,
        type=CallbackType.HTTP,
        target=f"http://hooks.test/{n}",
        status=status,
        created_at=T0 + timedelta(seconds=created),
        due_at=T0 + timedelta(seconds=due),
        finished_at=T0 + timedelta(seconds=due) if status.is_final else None,
        error="why" if status.is_final and status is not DeliveryStatus.SUCCEEDED else None,
        request=DeliveryRequest(
            method="PUT",
            url=f"http://hooks.test/{n}",
            headers=(("X-B", "2"), ("X-A", "1"), ("X-A", "again")),
            body=b'{"n":' + str(n).encode() + b', "bin":"\xc3\xa9"}',
        ),
        timeout=2.5,
        retry={"retryCount": 3, "retryDelay": 0.5, "backoff": "exponential", "jitter": True},
        signing={"scheme": "github", "secret": "s3cret"},
        options={"kafkaKey": None},
        depth=2,
        sync=bool(n % 2),
    )


def attempt(number: int, outcome: AttemptOutcome = AttemptOutcome.FAILURE) -> Attempt:
    """An attempt with headers and a body."""
    return Attempt(
        number=number,
        started_at=T0 + timedelta(seconds=number, microseconds=250),
        duration_ms=12.5,
        outcome=outcome,
        status_code=500 if outcome is AttemptOutcome.FAILURE else None,
        error="the target answered 500" if outcome is AttemptOutcome.FAILURE else "refused",
        response_headers={"content-type": "text/plain", "retry-after": "3"},
        response_body="nope",
        truncated=number == 2,
    )


def succeeded(n: int) -> DeliveryUpdate:
    """The update of ``dlv(n)`` after a first attempt that succeeded."""
    return DeliveryUpdate(
        delivery_id=f"dlv_{n:04d}",
        status=DeliveryStatus.SUCCEEDED,
        due_at=T0,
        finished_at=T0,
        attempt_count=1,
        error=None,
        attempt=attempt(1, AttemptOutcome.SUCCESS),
    )


async def test_insert_then_get_round_trips_every_field(store: Store) -> None:
    """A stored delivery comes back equal, field by field, with no attempts yet."""
    d = dlv(1)
    await store.insert_deliveries([d])
    assert await store.get_delivery(d.id) == d
    assert await store.get_delivery("dlv_missing") is None


async def test_read_only_mappings_and_shared_times_round_trip(store: Store) -> None:
    """A delivery as the planner makes it (read-only retry, signing and options; one datetime
    for created and due) is stored and comes back equal."""
    d = dlv(2, status=DeliveryStatus.PENDING)
    d = replace(
        d,
        due_at=d.created_at,
        retry=MappingProxyType(dict(d.retry)),
        signing=MappingProxyType({"scheme": "github", "secret": "s3cret"}),
        options=MappingProxyType({"rabbitQueue": "q", "connect_ip": None}),
    )
    await store.insert_deliveries([d])
    assert await store.get_delivery(d.id) == d
    # Inserted and ended in one write, the end's due and finished times being one datetime.
    e = replace(d, id="dlv_ended_at_once")
    ended = DeliveryUpdate(
        delivery_id=e.id,
        status=DeliveryStatus.SUCCEEDED,
        due_at=T0 + timedelta(seconds=5),
        finished_at=None,
        attempt_count=1,
        error=None,
        attempt=attempt(1, AttemptOutcome.SUCCESS),
    )
    ended = replace(ended, finished_at=ended.due_at)
    await store.write_deliveries([e], [ended])
    assert await store.get_delivery(e.id) == replace(
        e,
        status=DeliveryStatus.SUCCEEDED,
        due_at=ended.due_at,
        finished_at=ended.due_at,
        attempt_count=1,
        attempts=(attempt(1, AttemptOutcome.SUCCESS),),
    )


async def test_insert_refuses_an_id_already_stored(store: Store) -> None:
    """Ids are unique: inserting one twice fails and the first stays as it was."""
    await store.insert_deliveries([dlv(1)])
    with pytest.raises(Exception):  # noqa: B017 - each backend raises its own kind
        await store.insert_deliveries([replace(dlv(1), target="http://other.test/")])
    got = await store.get_delivery("dlv_0001")
    assert got is not None and got.target == "http://hooks.test/1"


async def test_updates_change_state_and_append_attempts_in_order(store: Store) -> None:
    """Each update sets the state and appends its attempt; attempts come back in order."""
    await store.insert_deliveries([dlv(1), dlv(2)])
    due = T0 + timedelta(seconds=30)
    await store.update_deliveries(
        [
            DeliveryUpdate(
                delivery_id="dlv_0001",
                status=DeliveryStatus.SCHEDULED,
                due_at=due,
                finished_at=None,
                attempt_count=1,
                error="the target answered 500",
                attempt=attempt(1),
            ),
            DeliveryUpdate(
                delivery_id="dlv_missing",
                status=DeliveryStatus.FAILED,
                due_at=due,
                finished_at=due,
                attempt_count=1,
                error="ignored",
            ),
        ]
    )
    await store.update_deliveries(
        [
            DeliveryUpdate(
                delivery_id="dlv_0001",
                status=DeliveryStatus.FAILED,
                due_at=due,
                finished_at=due,
                attempt_count=2,
                error="refused",
                attempt=attempt(2, AttemptOutcome.ERROR),
            )
        ]
    )
    got = await store.get_delivery("dlv_0001")
    assert got is not None
    assert (got.status, got.due_at, got.finished_at, got.attempt_count, got.error) == (
        DeliveryStatus.FAILED,
        due,
        due,
        2,
        "refused",
    )
    assert got.attempts == (attempt(1), attempt(2, AttemptOutcome.ERROR))
    assert got.request == dlv(1).request and got.retry == dlv(1).retry
    untouched = await store.get_delivery("dlv_0002")
    assert untouched == dlv(2)
    assert await store.get_delivery("dlv_missing") is None


async def test_rewriting_an_attempt_number_replaces_it(store: Store) -> None:
    """An attempt recorded twice under one number (a retried write) is kept once, the last."""
    await store.insert_deliveries([dlv(1)])
    for outcome in (AttemptOutcome.FAILURE, AttemptOutcome.ERROR):
        await store.update_deliveries(
            [
                DeliveryUpdate(
                    delivery_id="dlv_0001",
                    status=DeliveryStatus.SCHEDULED,
                    due_at=T0,
                    finished_at=None,
                    attempt_count=1,
                    error="x",
                    attempt=attempt(1, outcome),
                )
            ]
        )
    got = await store.get_delivery("dlv_0001")
    assert got is not None and got.attempts == (attempt(1, AttemptOutcome.ERROR),)


async def test_list_filters_pages_and_orders_newest_first(store: Store) -> None:
    """Listing filters by mock, namespace, statuses and request, pages, counts, omits attempts."""
    rows = [
        dlv(1, created=1, mock_id="a"),
        dlv(2, created=2, mock_id="b", namespace="team", request_id="req_2"),
        dlv(3, created=3, mock_id="a", status=DeliveryStatus.SUCCEEDED),
        dlv(4, created=3, mock_id="a", status=DeliveryStatus.FAILED),  # same time: id breaks ties
        dlv(5, created=0.5, mock_id=None, status=DeliveryStatus.BLOCKED),
    ]
    await store.insert_deliveries(rows)
    await store.update_deliveries([succeeded(3)])

    async def ids(**kw: object) -> tuple[list[str], int]:
        items, total = await store.list_deliveries(DeliveryQuery(**kw))  # type: ignore[arg-type]
        assert all(d.attempts == () for d in items)
        return [d.id[-1] for d in items], total

    assert await ids() == (["4", "3", "2", "1", "5"], 5)
    assert await ids(limit=2, offset=1) == (["3", "2"], 5)
    assert await ids(offset=10) == ([], 5)
    assert await ids(mock_id="a") == (["4", "3", "1"], 3)
    assert await ids(namespace="team") == (["2"], 1)
    assert await ids(request_id="req_2") == (["2"], 1)
    final = (DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED, DeliveryStatus.BLOCKED)
    assert await ids(statuses=final) == (["4", "3", "5"], 3)
    assert await ids(statuses=final, mock_id="a", limit=1) == (["4"], 2)


async def test_a_requests_deliveries_after_updates_and_a_purge(store: Store) -> None:
    """Listing by request finds every delivery of that request, newest first, in its current
    state, and none of those purged."""
    old = replace(
        dlv(1, created=1, request_id="req_9"), finished_at=T0, status=DeliveryStatus.FAILED
    )
    await store.insert_deliveries(
        [old, dlv(2, created=2, request_id="req_9"), dlv(3, created=3, request_id="req_8")]
    )
    await store.update_deliveries(
        [
            DeliveryUpdate(
                delivery_id="dlv_0002",
                status=DeliveryStatus.SUCCEEDED,
                due_at=T0 + timedelta(days=2),
                finished_at=T0 + timedelta(days=2),
                attempt_count=1,
                error=None,
            )
        ]
    )
    items, total = await store.list_deliveries(DeliveryQuery(request_id="req_9"))
    assert ([d.id for d in items], total) == (["dlv_0002", "dlv_0001"], 2)
    assert items[0].status is DeliveryStatus.SUCCEEDED
    counts = await store.purge(T0 + timedelta(days=1), T0 + timedelta(days=3))
    assert counts.deliveries == 1
    items, total = await store.list_deliveries(DeliveryQuery(request_id="req_9"))
    assert ([d.id for d in items], total) == (["dlv_0002"], 1)
    assert (await store.list_deliveries(DeliveryQuery(request_id="req_7"))) == ([], 0)


async def test_unfinished_oldest_due_first_with_limit_and_exclusions(store: Store) -> None:
    """Open deliveries come back by due time, bounded, without excluded ids or final ones."""
    await store.insert_deliveries(
        [
            dlv(1, due=30, status=DeliveryStatus.SCHEDULED),
            dlv(2, due=10),
            dlv(3, due=20, status=DeliveryStatus.IN_PROGRESS),
            dlv(4, due=5, status=DeliveryStatus.SUCCEEDED),
            dlv(5, due=0.000001),
            dlv(6, due=1, status=DeliveryStatus.SKIPPED),
        ]
    )

    async def ids(**kw: object) -> list[str]:
        rows = await store.unfinished_deliveries(**kw)  # type: ignore[arg-type]
        return [d.id[-1] for d in rows]

    assert await ids(due_before=None, limit=10) == ["5", "2", "3", "1"]
    assert await ids(due_before=None, limit=2) == ["5", "2"]
    assert await ids(due_before=None, limit=2, exclude=frozenset({"dlv_0005"})) == ["2", "3"]
    assert await ids(due_before=T0 + timedelta(seconds=20), limit=10) == ["5", "2", "3"]
    full = await store.unfinished_deliveries(due_before=None, limit=1)
    assert full == [dlv(5, due=0.000001)]


async def test_unfinished_follows_updates(store: Store) -> None:
    """A delivery that ends leaves the open set (and its count); one scheduled again is there
    with its new time."""
    await store.insert_deliveries([dlv(1, due=1), dlv(2, due=2)])
    assert await store.count_unfinished() == 2
    await store.update_deliveries(
        [
            DeliveryUpdate(
                delivery_id="dlv_0001",
                status=DeliveryStatus.SUCCEEDED,
                due_at=T0,
                finished_at=T0,
                attempt_count=1,
                error=None,
            ),
            DeliveryUpdate(
                delivery_id="dlv_0002",
                status=DeliveryStatus.SCHEDULED,
                due_at=T0 + timedelta(seconds=99),
                finished_at=None,
                attempt_count=1,
                error="x",
            ),
        ]
    )
    (row,) = await store.unfinished_deliveries(due_before=None, limit=10)
    assert await store.count_unfinished() == 1
    assert (row.id, row.status, row.due_at) == (
        "dlv_0002",
        DeliveryStatus.SCHEDULED,
        T0 + timedelta(seconds=99),
    )


async def test_flush_makes_only_scheduled_deliveries_due(store: Store) -> None:
    """Flush moves every scheduled due time to now, counts them, and leaves the rest."""
    await store.insert_deliveries(
        [
            dlv(1, due=100, status=DeliveryStatus.SCHEDULED),
            dlv(2, due=200, status=DeliveryStatus.SCHEDULED),
            dlv(3, due=300),
            dlv(4, due=400, status=DeliveryStatus.FAILED),
        ]
    )
    now = T0 + timedelta(seconds=1)
    assert await store.flush_scheduled(now) == 2
    due = {d.id[-1]: d.due_at for d in (await store.list_deliveries(DeliveryQuery()))[0]}
    assert due == {
        "1": now,
        "2": now,
        "3": T0 + timedelta(seconds=300),
        "4": T0 + timedelta(seconds=400),
    }
    assert await store.flush_scheduled(now) == 2  # still scheduled, now due: counted again


async def test_reopen_keeps_attempts_and_rewrites_state(store: Store) -> None:
    """Reopening (redeliver) sets status, due time, error and retry state; attempts stay."""
    d = dlv(1, status=DeliveryStatus.FAILED)
    await store.insert_deliveries([d])
    await store.update_deliveries(
        [
            DeliveryUpdate(
                delivery_id=d.id,
                status=DeliveryStatus.FAILED,
                due_at=T0,
                finished_at=T0,
                attempt_count=1,
                error="boom",
                attempt=attempt(1),
            )
        ]
    )
    stored = await store.get_delivery(d.id)
    assert stored is not None
    reopened = replace(
        stored,
        status=DeliveryStatus.PENDING,
        due_at=T0 + timedelta(seconds=5),
        finished_at=None,
        error=None,
        retry={**stored.retry, "attemptBase": 1},
        attempts=(),
    )
    await store.reopen_delivery(reopened)
    got = await store.get_delivery(d.id)
    assert got == replace(reopened, attempts=(attempt(1),))
    assert [r.id for r in await store.unfinished_deliveries(due_before=None, limit=5)] == [d.id]


async def test_sqlite_deliveries_survive_reopen(tmp_path: Path) -> None:
    """Committed deliveries and attempts are there, open ones still open, after a reopen."""
    first = SqliteStore(tmp_path / "db")
    await first.open()
    await first.insert_deliveries([dlv(1, due=5, status=DeliveryStatus.SCHEDULED), dlv(2)])
    await first.update_deliveries([succeeded(2)])
    await first.close()
    second = SqliteStore(tmp_path / "db")
    await second.open()
    try:
        assert [d.id for d in await second.unfinished_deliveries(due_before=None, limit=9)] == [
            "dlv_0001"
        ]
        done = await second.get_delivery("dlv_0002")
        assert done is not None and done.attempts == (attempt(1, AttemptOutcome.SUCCESS),)
    finally:
        await second.close()


async def test_sqlite_reads_thousands_of_open_rows_past_exclusions(tmp_path: Path) -> None:
    """Reading back past a large excluded set returns the next rows in due order."""
    store = SqliteStore(tmp_path / "db")
    await store.open()
    try:
        await store.insert_deliveries([dlv(n, due=n / 1000) for n in range(1, 3001)])
        held = frozenset(f"dlv_{n:04d}" for n in range(1, 2001))
        rows = await store.unfinished_deliveries(due_before=None, limit=600, exclude=held)
        assert [d.id for d in rows] == [f"dlv_{n:04d}" for n in range(2001, 2601)]
    finally:
        await store.close()


async def test_write_inserts_then_updates_in_one_call(store: Store) -> None:
    """One write stores new deliveries and then applies updates, the last state per delivery."""
    await store.insert_deliveries([dlv(1)])
    later = T0 + timedelta(seconds=9)
    updates = [
        DeliveryUpdate(
            delivery_id=f"dlv_000{n}",
            status=DeliveryStatus.SCHEDULED,
            due_at=later,
            finished_at=None,
            attempt_count=1,
            error="first",
            attempt=attempt(1),
        )
        for n in (1, 2)
    ]
    updates.append(
        DeliveryUpdate(
            delivery_id="dlv_0002",
            status=DeliveryStatus.SUCCEEDED,
            due_at=later,
            finished_at=later,
            attempt_count=2,
            error=None,
            attempt=attempt(2, AttemptOutcome.SUCCESS),
        )
    )
    await store.write_deliveries([dlv(2)], updates)
    one, two = await store.get_delivery("dlv_0001"), await store.get_delivery("dlv_0002")
    assert one is not None and two is not None
    assert (one.status, one.attempts) == (DeliveryStatus.SCHEDULED, (attempt(1),))
    assert (two.status, two.attempt_count, two.error) == (DeliveryStatus.SUCCEEDED, 2, None)
    assert two.attempts == (attempt(1), attempt(2, AttemptOutcome.SUCCESS))


async def test_refused_write_changes_nothing(store: Store) -> None:
    """A write whose insert is refused (an id taken) applies none of its updates either."""
    await store.insert_deliveries([dlv(1)])
    update = DeliveryUpdate(
        delivery_id="dlv_0001",
        status=DeliveryStatus.FAILED,
        due_at=T0,
        finished_at=T0,
        attempt_count=1,
        error="x",
        attempt=attempt(1),
    )
    with pytest.raises(Exception):  # noqa: B017 - each backend raises its own kind
        await store.write_deliveries([dlv(3), dlv(1)], [update])
    assert await store.get_delivery("dlv_0001") == dlv(1)
    assert await store.get_delivery("dlv_0003") is None


async def test_many_rows_in_one_write(store: Store) -> None:
    """A write of more rows than one statement holds stores every one of them."""
    await store.write_deliveries([dlv(n) for n in range(1, 1301)], [])
    assert (await store.list_deliveries(DeliveryQuery(limit=1)))[1] == 1300
    await store.write_deliveries([], [succeeded(n) for n in range(1, 1301)])
    assert await store.unfinished_deliveries(due_before=None, limit=10) == []
    got = await store.get_delivery("dlv_1300")
    assert got is not None and len(got.attempts) == 1


async def test_writes_of_every_size_store_every_row(store: Store) -> None:
    """Each write of 1 to 70 new deliveries, with the results of the write before it, lands
    whole (SQLite writes up to 64 rows in one statement, more in several)."""
    n = 0
    previous: list[int] = []
    for size in range(1, 71):
        new = list(range(n + 1, n + size + 1))
        n += size
        await store.write_deliveries([dlv(k) for k in new], [succeeded(k) for k in previous])
        previous = new
    unfinished = await store.unfinished_deliveries(due_before=None, limit=1000)
    assert sorted(d.id for d in unfinished) == [f"dlv_{k:04d}" for k in previous]
    ended = DeliveryQuery(statuses=(DeliveryStatus.SUCCEEDED,), limit=1)
    assert (await store.list_deliveries(ended))[1] == n - 70
    for k in (1, 2, 3, 64 * 65 // 2, n - 70):
        got = await store.get_delivery(f"dlv_{k:04d}")
        assert got is not None and got.status is DeliveryStatus.SUCCEEDED
        assert got.attempts == (attempt(1, AttemptOutcome.SUCCESS),)


async def test_sqlite_finds_a_requests_deliveries_by_index(tmp_path: Path) -> None:
    """Listing one request's deliveries (how callback sequences find their siblings) reads an
    index, not the table: with 300,000 rows a scan took ~0.5 s on the writer thread, holding up
    every commit meanwhile."""
    store = SqliteStore(tmp_path / "db")
    await store.open()
    await store.close()
    with sqlite3.connect(tmp_path / "db") as conn:
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM deliveries WHERE request_id = ?", ("req_1",)
        ).fetchall()
    assert "USING COVERING INDEX deliveries_request" in plan[0][3]
