"""The broker client pool: one opening per key, sharing, retiring, idle closing, shutdown."""

from __future__ import annotations

import asyncio
import time

import pytest

from mockback.delivery.transports.client_pool import ClientPool


class Client:
    """A stand-in for a producer or connection."""

    def __init__(self, key: str, number: int) -> None:
        self.key = key
        self.number = number
        self.closed = False


class Factory:
    """Opens clients (optionally slowly or failing) and records openings and closings."""

    def __init__(self) -> None:
        self.opened: list[Client] = []
        self.gate: asyncio.Event | None = None  # when set, openings wait for it
        self.fail_with: Exception | None = None

    async def open(self, key: str, timeout: float) -> Client:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        client = Client(key, len(self.opened) + 1)
        self.opened.append(client)
        return client

    async def close(self, client: Client) -> None:
        client.closed = True


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def pool(factory: Factory, clock: Clock | None = None) -> ClientPool[str, Client]:
    return ClientPool(
        opener=factory.open,
        closer=factory.close,
        idle_after=300,
        sweep_every=None,
        clock=clock or Clock(),
    )


async def test_one_client_per_key_reused() -> None:
    """The same key gets the same client; another key gets its own."""
    factory = Factory()
    clients = pool(factory)
    async with clients.lease("a", 1) as first:
        pass
    async with clients.lease("a", 1) as second, clients.lease("b", 1) as other:
        assert second.client is first.client
        assert other.client is not first.client
    assert len(factory.opened) == 2
    assert len(clients) == 2
    await clients.close()


async def test_concurrent_first_uses_share_one_opening() -> None:
    """Attempts arriving while a client opens wait for that one opening."""
    factory = Factory()
    factory.gate = asyncio.Event()
    clients = pool(factory)

    async def use() -> Client:
        async with clients.lease("a", 1) as lease:
            return lease.client

    waiting = [asyncio.create_task(use()) for _ in range(10)]
    await asyncio.sleep(0)
    factory.gate.set()
    got = await asyncio.gather(*waiting)
    assert len(factory.opened) == 1
    assert all(c is factory.opened[0] for c in got)
    await clients.close()


async def test_a_failed_opening_reaches_every_waiter_and_is_retried() -> None:
    """An opening that fails raises in every waiting attempt; the next lease opens again."""
    factory = Factory()
    factory.fail_with = ConnectionRefusedError(111, "refused")
    clients = pool(factory)
    for _ in range(2):
        with pytest.raises(ConnectionRefusedError):
            async with clients.lease("a", 1):
                pass
    assert len(clients) == 0
    factory.fail_with = None
    async with clients.lease("a", 1) as lease:
        assert lease.client.number == 1
    await clients.close()


async def test_giving_up_does_not_cancel_a_shared_opening() -> None:
    """An attempt that times out while waiting leaves the opening to the others."""
    factory = Factory()
    factory.gate = asyncio.Event()
    clients = pool(factory)

    async def use() -> Client:
        async with clients.lease("a", 1) as lease:
            return lease.client

    patient = asyncio.create_task(use())
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await use()
    factory.gate.set()
    assert (await patient) is factory.opened[0]
    await clients.close()


async def test_joining_an_opening_waits_no_longer_than_its_own_timeout() -> None:
    """An attempt whose timeout is shorter than that of the attempt opening the client gives up
    on time, and the opening goes on for the other."""
    factory = Factory()
    factory.gate = asyncio.Event()
    clients = pool(factory)

    async def use(timeout: float) -> Client:
        async with clients.lease("a", timeout) as lease:
            return lease.client

    patient = asyncio.create_task(use(10))
    await asyncio.sleep(0)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(2):  # without the lease's own bound, this one ends it
            await use(0.05)
    assert time.monotonic() - started < 1
    factory.gate.set()
    assert (await patient) is factory.opened[0]
    await clients.close()


async def test_retired_client_closes_after_its_last_lease() -> None:
    """A retired client gets no new leases and closes once the attempts using it end."""
    factory = Factory()
    clients = pool(factory)
    async with clients.lease("a", 1) as holder:
        async with clients.lease("a", 1) as broken:
            broken.retire()
        assert not holder.client.closed  # still in use
        async with clients.lease("a", 1) as fresh:
            assert fresh.client is not holder.client
    await asyncio.sleep(0)
    assert factory.opened[0].closed
    assert not factory.opened[1].closed
    await clients.close()


async def test_retire_after_the_lease_ended() -> None:
    """Retiring after the attempt ended closes the client at once."""
    factory = Factory()
    clients = pool(factory)
    async with clients.lease("a", 1) as lease:
        pass
    lease.retire()
    lease.retire()  # twice is harmless
    await asyncio.sleep(0)
    assert factory.opened[0].closed
    assert len(clients) == 0
    await clients.close()


@pytest.mark.parametrize(
    ("idle_for", "closed"),
    [
        (299.0, 0),  # just under idle_after: kept
        (300.0, 1),  # idle_after reached: closed
    ],
)
async def test_idle_clients_close(idle_for: float, closed: int) -> None:
    """Clients unused for idle_after seconds are closed by close_idle."""
    factory = Factory()
    clock = Clock()
    clients = pool(factory, clock)
    async with clients.lease("a", 1):
        clock.now += 1000  # time in use does not count
    clock.now += idle_for
    assert await clients.close_idle() == closed
    assert factory.opened[0].closed is bool(closed)
    await clients.close()


async def test_client_in_use_is_never_idle() -> None:
    """A client with an attempt in flight is not closed, however old its last use."""
    factory = Factory()
    clock = Clock()
    clients = pool(factory, clock)
    async with clients.lease("a", 1):
        clock.now += 10_000
        assert await clients.close_idle() == 0
    await clients.close()


async def test_background_sweep_closes_idle_clients() -> None:
    """With sweep_every set, idle clients close without anyone asking."""
    factory = Factory()
    clock = Clock()
    clients: ClientPool[str, Client] = ClientPool(
        opener=factory.open, closer=factory.close, idle_after=1, sweep_every=0.01, clock=clock
    )
    async with clients.lease("a", 1):
        pass
    clock.now += 5
    async with asyncio.timeout(2):
        while not factory.opened[0].closed:
            await asyncio.sleep(0.01)
    await clients.close()


async def test_close_closes_everything_and_refuses_new_leases() -> None:
    """close() closes open clients, cancels openings, and later leases raise."""
    factory = Factory()
    clients = pool(factory)
    async with clients.lease("a", 1):
        pass
    factory.gate = asyncio.Event()

    async def use() -> None:
        async with clients.lease("b", 1):
            pass

    opening = asyncio.create_task(use())
    await asyncio.sleep(0)
    await clients.close()
    assert factory.opened[0].closed
    with pytest.raises(asyncio.CancelledError):
        await opening
    with pytest.raises(RuntimeError, match="closed"):
        async with clients.lease("a", 1):
            pass


async def test_closer_errors_do_not_escape() -> None:
    """A client that fails to close is dropped all the same."""
    factory = Factory()

    async def failing_close(client: Client) -> None:
        raise OSError("already gone")

    clients: ClientPool[str, Client] = ClientPool(
        opener=factory.open, closer=failing_close, idle_after=1, sweep_every=None, clock=Clock()
    )
    async with clients.lease("a", 1):
        pass
    await clients.close()
    assert len(clients) == 0


def test_idle_after_must_be_positive() -> None:
    """A pool whose clients would close at once is a configuration error."""
    with pytest.raises(ValueError, match="idle_after"):
        ClientPool(opener=Factory().open, closer=Factory().close, idle_after=0)
