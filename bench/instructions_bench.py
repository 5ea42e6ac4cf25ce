"""Instructions per request of the server, counted by valgrind's callgrind: the same figure on a
busy machine as on an idle one, for comparing two versions of the code.

Usage::

    python bench/instructions_bench.py [--scenario s1|p1|s2|s3|all] [--requests 2000]
        [--warmup 300] [--connections 8] [--src PATH] [--by-thread] [--keep DIR]

For each scenario it starts ``mockback serve`` under ``valgrind --tool=callgrind`` (start-up
takes a minute or two there), creates the scenario's mock, sends ``--warmup`` requests, zeroes
the counters, sends ``--requests`` requests over ``--connections`` keep-alive connections (each
waits for its answer before the next request), waits for every webhook the scenario fires to
arrive and be recorded, and has the counters written. It prints the instructions executed by
the whole server process (every thread: Python, granian's threads, the SQLite writer) per
request.

The count does not move with what else the machine is doing (repeated runs agree within about
half a percent), so it shows what a change does when timings cannot. It leaves out what the
kernel does (system calls, waking threads) and what caches and memory cost, so it is a guide to
CPU time, not a measure of it: ``http_bench.py`` and ``delivery_bench.py`` measure time.

``--by-thread`` also prints each thread's share, in the order the threads started: the event
loop (the main thread) first, then the SQLite writer, then granian's. ``--src PATH`` measures
another copy of the code (a ``src`` directory, put first on the
server's ``PYTHONPATH``), so two versions can be compared in one sitting::

    mkdir -p /tmp/before && git archive HEAD~1 src | tar -x -C /tmp/before
    python bench/instructions_bench.py --src /tmp/before/src
    python bench/instructions_bench.py

Scenarios: S1 ``GET /hello`` (static answer) and S2 ``POST /api/payments`` (templated answer),
the mocks and requests of ``http_bench.py``; P1, S2's request answered with a static payload
(what S2 costs without its templates; P1 less S1 is the body read); S3, S2's request to
``delivery_bench.py``'s mock
with one async webhook, here to a receiver in this process, with the default SQLite store (each
delivery committed before its response). Needs valgrind (Debian's package). Traffic goes to
127.0.0.1 only; every wait has a time limit.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import http_bench
from _common import LOOPBACK, BenchError, mockback_command
from delivery_bench import payment_mock

START_TIMEOUT = 600.0  # seconds: imports run 50-100 times slower under valgrind
_STATUS = re.compile(rb"^HTTP/1\.[01] (\d{3})")
_LENGTH = re.compile(rb"(?im)^content-length:\s*(\d+)\s*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One workload: its mock and the request that drives it."""

    title: str
    request: http_bench.Scenario  # the method, path and body sent (its mock unless ``mock``)
    mock: Callable[[int], dict[str, Any]] | None = None  # receiver port -> the mock document
    durable: bool = False  # the default SQLite store rather than --ephemeral
    webhooks: bool = False  # each request fires one webhook to the receiver

    def mock_for(self, port: int) -> dict[str, Any]:
        """The mock document to create, its webhooks (if any) sent to ``port``."""
        return self.request.mock if self.mock is None else self.mock(port)


def _s3_mock(port: int) -> dict[str, Any]:
    return payment_mock(f"http://{LOOPBACK}:{port}/hook")


def _p1_mock(port: int) -> dict[str, Any]:
    mock = copy.deepcopy(http_bench.SCENARIOS["s2"].mock)
    mock["id"] = "bench-payment-static"
    mock["response"]["payload"] = {
        "id": "5b3c1f0e-8a51-4f57-9d43-2f5f3bb8b7a1",
        "amount": 2500,
        "status": "succeeded",
    }
    return mock


# S1 and S2 as http_bench.py sends them; S3 is S2's request to delivery_bench.py's mock. P1 is
# S2's request answered with a static payload: S2 less its templating, S1 plus a body read.
SCENARIOS = {
    "s1": Scenario(title="S1 GET /hello, static", request=http_bench.SCENARIOS["s1"]),
    "p1": Scenario(
        title="P1 POST /api/payments, static",
        request=http_bench.SCENARIOS["s2"],
        mock=_p1_mock,
    ),
    "s2": Scenario(title="S2 POST /api/payments, templated", request=http_bench.SCENARIOS["s2"]),
    "s3": Scenario(
        title="S3 S2 + one async webhook, SQLite",
        request=http_bench.SCENARIOS["s2"],
        mock=_s3_mock,
        durable=True,
        webhooks=True,
    ),
}


# --- HTTP on both sides ------------------------------------------------------------------------


def _request_bytes(method: str, path: str, body: Any) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {LOOPBACK}\r\n"
    if body is None:
        return (head + "\r\n").encode()
    data = json.dumps(body).encode()
    head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    return head.encode() + data


async def _read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """(head, body) of one HTTP/1.1 message with a Content-Length (or none)."""
    head = await reader.readuntil(b"\r\n\r\n")
    match = _LENGTH.search(head)
    body = await reader.readexactly(int(match.group(1))) if match else b""
    return head, body


async def _one_connection(port: int, raw: bytes, count: int) -> None:
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    try:
        for _ in range(count):
            writer.write(raw)
            head, body = await _read_message(reader)
            status = _STATUS.match(head)
            if status is None or status.group(1) != b"200":
                raise BenchError(f"the mock answered {head[:40]!r} {body[:200]!r}")
    finally:
        writer.close()


async def _load(port: int, scenario: Scenario, requests: int, connections: int) -> None:
    request = scenario.request
    raw = _request_bytes(request.method, request.path, request.body)
    shares = [requests // connections + (i < requests % connections) for i in range(connections)]
    await asyncio.wait_for(
        asyncio.gather(*(_one_connection(port, raw, n) for n in shares if n)),
        timeout=60 + requests * 0.05,
    )


class Receiver:
    """Answers every webhook 200 with an empty body; counts what arrived."""

    def __init__(self) -> None:
        self.arrived = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.arrived < count:
            if time.monotonic() > deadline:
                raise BenchError(f"only {self.arrived} of {count} webhooks arrived in {timeout} s")
            await asyncio.sleep(0.05)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await _read_message(reader)
                self.arrived += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


# --- the server under callgrind --------------------------------------------------------------


class CountedServer:
    """``mockback serve`` under callgrind; the counters can be zeroed and written at will."""

    def __init__(
        self, workdir: Path, *, durable: bool, src: Path | None, by_thread: bool = False
    ) -> None:
        self.workdir = workdir
        self.out = workdir / "callgrind.out"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKBACK_")}
        env["ALLOW_PROXY_TO_PRIVATE_IPS"] = "true"  # the receiver is on loopback
        if src is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
        store = ["--data-dir", str(workdir / "data")] if durable else ["--ephemeral"]
        cmd = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={self.out}",
            "--dump-line=no",
            *(["--separate-threads=yes"] if by_thread else []),
            *mockback_command(),
            "serve",
            *store,
            "--host",
            LOOPBACK,
            "--port",
            "0",
            "--log-format",
            "json",
        ]
        with (workdir / "server.out").open("wb") as o, (workdir / "server.err").open("wb") as e:
            self.proc = subprocess.Popen(cmd, stdout=o, stderr=e, env=env)
        self.port = 0

    def wait_ready(self, create: dict[str, Any]) -> None:
        """Wait for the address, then until the admin API takes the mock."""
        import http.client

        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"the server exited with {self.proc.returncode}: {self._err()}")
            if not self.port:
                found = re.search(r":(\d+)\s*$", self._first_line())
                if found:
                    self.port = int(found.group(1))
            if self.port:
                conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=120)
                try:
                    conn.request(
                        "POST",
                        "/api/v1/mocks",
                        json.dumps(create),
                        {"Content-Type": "application/json"},
                    )
                    reply = conn.getresponse()
                    text = reply.read()
                    if reply.status not in (200, 201):
                        raise BenchError(f"creating the mock answered {reply.status}: {text!r}")
                    return
                except ConnectionRefusedError:
                    pass
                finally:
                    conn.close()
            time.sleep(0.5)
        raise BenchError(f"the server was not ready within {START_TIMEOUT:.0f} s")

    def control(self, flag: str) -> None:
        """``callgrind_control -z`` (zero) or ``-d`` (write the counts)."""
        subprocess.run(
            ["callgrind_control", flag, str(self.proc.pid)],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def dumped_instructions(self) -> list[int]:
        """Instructions in the part written by ``-d`` (not the one written at exit), one count
        per thread with ``--by-thread`` (in the order the threads started), else one."""
        counts = []
        for path in sorted(self.workdir.glob("callgrind.out*")):
            text = path.read_text(errors="replace")
            if re.search(r"^desc: Trigger: dump", text, re.M):
                total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
                if total:
                    counts.append(int(total.group(1)))
        if not counts:
            raise BenchError("callgrind wrote no counts for the measured part")
        return counts

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)

    def _first_line(self) -> str:
        return (self.workdir / "server.out").read_text(errors="replace").partition("\n")[0]

    def _err(self) -> str:
        text = (self.workdir / "server.err").read_text(errors="replace")
        return "\n".join(text.splitlines()[-20:])


async def _measure(scenario: Scenario, args: argparse.Namespace, workdir: Path) -> list[int]:
    receiver = Receiver()
    await receiver.start()
    server = CountedServer(
        workdir, durable=scenario.durable, src=args.src, by_thread=args.by_thread
    )
    try:
        await asyncio.to_thread(server.wait_ready, scenario.mock_for(receiver.port))
        await _load(server.port, scenario, args.warmup, args.connections)
        if scenario.webhooks:
            await receiver.wait_for(args.warmup, timeout=120)
            await asyncio.sleep(2)  # the last attempts' results are written
        await asyncio.to_thread(server.control, "-z")
        await _load(server.port, scenario, args.requests, args.connections)
        if scenario.webhooks:
            await receiver.wait_for(args.warmup + args.requests, timeout=300)
            await asyncio.sleep(2)
        await asyncio.to_thread(server.control, "-d")
        return server.dumped_instructions()
    finally:
        await asyncio.to_thread(server.stop)
        await receiver.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    p.add_argument("--requests", type=int, default=2000, help="measured requests")
    p.add_argument("--warmup", type=int, default=300, help="requests before counting")
    p.add_argument("--connections", type=int, default=8, help="keep-alive connections")
    p.add_argument("--src", type=Path, default=None, help="another copy of src/ to measure")
    p.add_argument(
        "--by-thread",
        action="store_true",
        help="also print each thread's share (event loop, SQLite writer, granian's threads)",
    )
    p.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="copy the callgrind files here (for callgrind_annotate)",
    )
    args = p.parse_args()
    if args.requests < 1 or args.warmup < 0 or args.connections < 1:
        p.error("--requests and --connections must be at least 1, --warmup at least 0")
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is needed (apt-get install valgrind)", file=sys.stderr)
        return 1
    if args.src is not None and not (args.src / "mockback").is_dir():
        p.error(f"--src {args.src}: no mockback package there")
    keys = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    code = "--src " + str(args.src) if args.src else "this checkout"
    print(
        f"callgrind, {args.requests:,} requests after {args.warmup:,}, "
        f"{args.connections} connections; code: {code}"
    )
    for key in keys:
        scenario = SCENARIOS[key]
        with tempfile.TemporaryDirectory(prefix="mockback-instr-") as tmp:
            try:
                counts = asyncio.run(_measure(scenario, args, Path(tmp)))
                if args.keep is not None:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    for path in Path(tmp).glob("callgrind.out*"):
                        shutil.copy(path, args.keep / f"{key}.{path.name}")
            except BenchError as exc:
                print(f"{key}: {exc}", file=sys.stderr)
                return 1
        print(f"{scenario.title:<38} {sum(counts) / args.requests:>10,.0f} instructions/request")
        if args.by_thread:
            shares = ", ".join(f"{c / args.requests:,.0f}" for c in counts if c)
            print(f"  by thread, in the order they started: {shares}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
