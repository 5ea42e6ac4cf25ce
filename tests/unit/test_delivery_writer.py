"""The delivery writer: new deliveries and attempt results batched into few store writes."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from mockback.delivery.writer import DeliveryWriter
from mockback.domain.deliveries import CallbackType, Delivery, DeliveryRequest, DeliveryStatus
from mockback.store.base import DeliveryUpdate
from mockback.store.memory import MemoryStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def dlv(n: int) -> Delivery:
    """A pending delivery."""
    return Delivery(
        id=f"dlv_{n}",
        mock_id="m",
        namespace="sandbox",
        request_id=None,
        callback_index=0,
        callback_id=None,
        type=CallbackType.HTTP,
        target="http://hooks.test/",
        status=DeliveryStatus.PENDING,
        created_at=T0,
        due_at=T0,
        request=DeliveryRequest(method="POST", url="http://hooks.test/", headers=(), body=b""),
    )


def done(n: int) -> DeliveryUpdate:
    """The final result of delivery n."""
    return DeliveryUpdate(
        delivery_id=f"dlv_{n}",
        status=DeliveryStatus.SUCCEEDED,
        due_at=T0,
        finished_at=T0,
        attempt_count=1,
        error=None,
    )


class SlowStore(MemoryStore):
    """Records every write; each takes a while, like a disk flush."""

    def __init__(self, *, refuse: str | None = None) -> None:
        super().__init__()
        self.writes: list[tuple[list[str], list[str]]] = []
        self.refuse = refuse

    async def write_deliveries(self, new: list[Delivery], updates: list[DeliveryUpdate]) -> None:
        self.writes.append(([d.id for d in new], [u.delivery_id for u in updates]))
        await asyncio.sleep(0.05)
        if self.refuse is not None and any(d.id == self.refuse for d in new):
            raise ValueError(f"{self.refuse} refused")
        await super().write_deliveries(new, updates)


class Heard:
    """What the writer reported about results."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[str], Any]] = []

    def __call__(self, updates: list[DeliveryUpdate], error: BaseException | None) -> None:
        self.batches.append(([u.delivery_id for u in updates], error))


async def test_what_arrives_during_a_write_goes_in_the_next_one() -> None:
    """Inserts and results queued while a write commits share the next single write."""
    store, heard = SlowStore(), Heard()
    writer = DeliveryWriter(store, heard)
    first = writer.insert([dlv(1)])
    await asyncio.sleep(0.01)  # the first write is under way
    later = [writer.insert([dlv(n)]) for n in (2, 3)]
    writer.record(done(1))
    await asyncio.gather(first, *later)
    await writer.drain()
    assert store.writes == [(["dlv_1"], []), (["dlv_2", "dlv_3"], ["dlv_1"])]
    assert heard.batches == [([], None), (["dlv_1"], None)]
    stored = await store.get_delivery("dlv_1")
    assert stored is not None and stored.status is DeliveryStatus.SUCCEEDED


async def test_an_insert_is_durable_when_its_future_is_done() -> None:
    """The future of an insert completes only after the store call that holds it."""
    store = SlowStore()
    writer = DeliveryWriter(store, Heard())
    started = time.monotonic()
    await writer.insert([dlv(1)])
    assert time.monotonic() - started >= 0.045
    assert await store.get_delivery("dlv_1") is not None


async def test_one_refused_insert_does_not_fail_the_others() -> None:
    """When a shared write fails, each caller's deliveries go again alone; only the bad fails."""
    store, heard = SlowStore(refuse="dlv_2"), Heard()
    writer = DeliveryWriter(store, heard)
    await writer.insert([dlv(0)])  # so the next three are queued together
    first = writer.insert([dlv(1)])
    bad = writer.insert([dlv(2)])
    third = writer.insert([dlv(3)])
    writer.record(done(0))
    await first
    await third
    with pytest.raises(ValueError, match="dlv_2 refused"):
        await bad
    await writer.drain()
    assert await store.get_delivery("dlv_2") is None
    assert await store.get_delivery("dlv_3") is not None
    assert (["dlv_0"], None) in heard.batches


async def test_results_that_cannot_be_written_are_reported() -> None:
    """A result write that fails is handed back with its error."""

    class Broken(MemoryStore):
        async def write_deliveries(
            self, new: list[Delivery], updates: list[DeliveryUpdate]
        ) -> None:
            raise OSError("disk full")

    heard = Heard()
    writer = DeliveryWriter(Broken(), heard)
    writer.record(done(1))
    await writer.drain()
    ((ids, error),) = heard.batches
    assert ids == ["dlv_1"] and isinstance(error, OSError)
