"""Webhook delivery throughput and latency: Mockback on one core, load and receiver on another.

Usage::

    python bench/delivery_bench.py [--part a|b|c|all] [--duration 10] [--warmup 3]
        [--connections 50] [--burst 20000] [--rate 50] [--latency-seconds 20]
        [--store sqlite|memory] [--log-level info|warning]
        [--server-cpu 0] [--client-cpu 1] [--runs 1] [--cpu-scheduling auto|batch|off]

Every server is ``mockback serve`` with its default SQLite store in a fresh data directory
(so each async delivery is committed before its response is sent; ``--store memory`` runs it
``--ephemeral`` for comparison), JSON logs at INFO (one line per delivery), on 127.0.0.1, with
``ALLOW_PROXY_TO_PRIVATE_IPS=true`` so callbacks may reach the receiver on loopback, with
``--cpu-scheduling`` passed on when given (unset, the server's default, auto, schedules the
threads of the server pinned to one core as batch work; ``off`` shows the kernel's default). The
receiver is a small aiohttp process (this file, run as ``_receiver``) that counts arrivals by
delivery id and measures request-to-arrival latency from a timestamp the webhook carries.

(a) S2 (``POST /api/payments`` answering a templated payment) and S3 (the same mock plus one
    async webhook to the receiver) under wrk for ``--duration`` seconds each; every webhook of
    S3 must arrive. (b) ``--burst`` requests as fast as the server takes them (wrk stops after
    that many answers); sustained deliveries/s from the first arrival to the last, and how many
    arrived (all must). (c) ``--rate`` requests/s for ``--latency-seconds`` from one client;
    request-to-arrival p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import LOOPBACK, BenchError, Steal, run_wrk, scheduling_args, wrk_script

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAYMENT = {"amount": 2500, "currency": "usd", "orderId": "o-1"}
LOG_FORMAT = "json"  # one JSON line per delivery at INFO, as a deployment would log
TARGETS = {"s3_rps": 4000.0, "deliveries_per_s": 4500.0, "p50_ms": 1.5, "p99_ms": 5.0}


def payment_mock(webhook_url: str | None) -> dict[str, Any]:
    """S2's mock; with a URL, S3's: the same plus one async webhook."""
    mock: dict[str, Any] = {
        "id": "bench-payment",
        "http": {"route": "/api/payments", "httpMethod": "POST"},
        "response": {
            "statusCode": 200,
            "payload": {"id": "$.fake.UUID", "amount": "$.req.amount", "status": "succeeded"},
        },
    }
    if webhook_url is not None:
        mock["webhooks"] = [
            {
                "url": webhook_url,
                "body": {"id": "$.response.id", "amount": "$.req.amount", "t": "$.req.t"},
            }
        ]
    return mock


# ------------------------------------------------------------------------------------------
# processes


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process, all threads."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def request(port: int, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
    """One JSON request to 127.0.0.1:port; the parsed answer (text when not JSON)."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
        if resp.status >= 400:
            raise BenchError(f"{method} {path} answered {resp.status}: {raw[:300]!r}")
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode()
    finally:
        conn.close()


class Process:
    """A child process pinned to a core that announces its port on its first stdout line."""

    def __init__(
        self, cmd: list[str], *, cpu: int, workdir: Path, name: str, env: dict[str, str]
    ) -> None:
        self.name = name
        self.workdir = workdir
        out, err = workdir / f"{name}.out", workdir / f"{name}.err"
        with out.open("wb") as o, err.open("wb") as e:
            self.proc = subprocess.Popen(
                ["taskset", "-c", str(cpu), *cmd], stdout=o, stderr=e, env=env
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            first, newline, _ = out.read_text(errors="replace").partition("\n")
            if newline:
                match = re.search(r":(\d+)\s*$", first)
                if match is None:
                    self.kill()
                    raise BenchError(f"{name}: unexpected first line {first!r}")
                self.port = int(match.group(1))
                return
            if self.proc.poll() is not None:
                raise BenchError(f"{name} exited with {self.proc.returncode}: {self.stderr()}")
            time.sleep(0.05)
        self.kill()
        raise BenchError(f"{name} did not announce its port")

    def stderr(self) -> str:
        """The last lines of its stderr."""
        text = (self.workdir / f"{self.name}.err").read_text(errors="replace")
        return "\n".join(text.splitlines()[-15:])

    def cpu(self) -> float:
        """CPU seconds used so far."""
        return cpu_seconds(self.proc.pid)

    def stop(self) -> int:
        """SIGTERM and wait; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
                raise BenchError(f"{self.name} did not stop within 30 s") from None
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def start_server(cpu: int, workdir: Path, args: argparse.Namespace) -> Process:
    """``mockback serve`` with a fresh SQLite data directory (or in memory with --store memory)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKBACK_")}
    env["ALLOW_PROXY_TO_PRIVATE_IPS"] = "true"
    exe = Path(sys.executable).parent / "mockback"
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "mockback"]
    data = workdir / "data"
    cmd += ["serve", "--host", LOOPBACK, "--port", "0", "--log-format", LOG_FORMAT]
    cmd += ["--log-level", args.log_level, *scheduling_args(args.cpu_scheduling)]
    cmd += ["--ephemeral"] if args.store == "memory" else ["--data-dir", str(data)]
    return Process(cmd, cpu=cpu, workdir=workdir, name="server", env=env)


def start_receiver(cpu: int, workdir: Path) -> Process:
    """The counting receiver (this file run as ``_receiver``)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "_receiver"]
    return Process(cmd, cpu=cpu, workdir=workdir, name="receiver", env=dict(os.environ))


def served_total(port: int) -> float:
    """mockback_requests_served_total from /metrics."""
    text = request(port, "GET", "/metrics")
    match = re.search(r"^mockback_requests_served_total (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


# ------------------------------------------------------------------------------------------
# load


def wrk_lua(workdir: Path, stop_after: int | None) -> Path:
    """A wrk script posting the payment; with ``stop_after``, stopping after that many answers."""
    return wrk_script(workdir, json.dumps(PAYMENT, separators=(",", ":")), stop_after)


def settled_served(port: int) -> int:
    """Requests served, once the count stops moving (wrk leaves some in flight when it stops)."""
    last = served_total(port)
    while True:
        time.sleep(0.5)
        now = served_total(port)
        if now == last:
            return int(now)
        last = now


def explain_losses(server: Process) -> str:
    """What the server says about deliveries that did not succeed."""
    parts = []
    for status in ("failed", "blocked", "pending", "scheduled", "in_progress"):
        listing = request(server.port, "GET", f"/api/v1/deliveries?status={status}&limit=3")
        if listing["total"]:
            errors = {item["error"] for item in listing["items"]}
            parts.append(f"{listing['total']} {status} (e.g. {sorted(map(str, errors))})")
    return "; ".join(parts) or "the server reports every delivery succeeded"


def wait_arrivals(receiver: Process, expected: int, *, stall: float = 30.0) -> dict[str, Any]:
    """Receiver stats once ``expected`` distinct deliveries arrived, or arrivals stall."""
    last_count, last_change = -1, time.monotonic()
    while True:
        stats: dict[str, Any] = request(receiver.port, "GET", "/stats")
        if stats["distinct"] >= expected:
            return stats
        if stats["distinct"] != last_count:
            last_count, last_change = stats["distinct"], time.monotonic()
        elif time.monotonic() - last_change > stall:
            return stats
        time.sleep(0.2)


# ------------------------------------------------------------------------------------------
# the three parts


def part_a(args: argparse.Namespace, run: int) -> dict[str, Any]:
    """S2 and S3 req/s in the same run; every S3 webhook must arrive."""
    out: dict[str, Any] = {}
    for key in ("s2", "s3"):
        with tempfile.TemporaryDirectory(prefix="mockback-dbench-") as tmp:
            workdir = Path(tmp)
            receiver = start_receiver(args.client_cpu, workdir)
            server = start_server(args.server_cpu, workdir, args)
            try:
                hook = f"http://{LOOPBACK}:{receiver.port}/hook" if key == "s3" else None
                request(server.port, "POST", "/api/v1/mocks", payment_mock(hook))
                script = wrk_lua(workdir, None)
                url = f"http://{LOOPBACK}:{server.port}/api/payments"
                if args.warmup:
                    run_wrk(
                        url,
                        cpu=args.client_cpu,
                        connections=args.connections,
                        seconds=args.warmup,
                        script=script,
                    )
                cpu_before, steal = server.cpu(), Steal(args.server_cpu)
                result = run_wrk(
                    url,
                    cpu=args.client_cpu,
                    connections=args.connections,
                    seconds=args.duration,
                    script=script,
                )
                cpu = server.cpu() - cpu_before
                line = (
                    f"(a) {key.upper()} run {run}: {result.rps:8,.0f} req/s  "
                    f"{cpu * 1e6 / max(result.requests, 1):6.1f} us CPU/req  errors {result.errors}"
                    f"  {steal.describe()}"
                )
                if key == "s3":
                    # Warm-up included: every request ever served must have its webhook.
                    served = settled_served(server.port)
                    stats = wait_arrivals(receiver, served)
                    lost = served - stats["distinct"]
                    line += f"  webhooks {stats['distinct']:,}/{served:,} arrived (lost {lost})"
                    out["s3_lost"] = lost
                    if lost > 0:
                        line += f"\n    {explain_losses(server)}"
                out[f"{key}_rps"] = result.rps
                out[f"{key}_errors"] = result.errors
                print(line, flush=True)
            finally:
                code = server.stop()
                receiver.stop()
            if code != 0:
                raise BenchError(f"the server exited with {code}: {server.stderr()}")
    return out


def part_b(args: argparse.Namespace, run: int) -> dict[str, Any]:
    """A burst of requests as fast as accepted; sustained deliveries/s and how many arrived."""
    with tempfile.TemporaryDirectory(prefix="mockback-dbench-") as tmp:
        workdir = Path(tmp)
        receiver = start_receiver(args.client_cpu, workdir)
        server = start_server(args.server_cpu, workdir, args)
        try:
            hook = f"http://{LOOPBACK}:{receiver.port}/hook"
            request(server.port, "POST", "/api/v1/mocks", payment_mock(hook))
            url = f"http://{LOOPBACK}:{server.port}/api/payments"
            started = time.time()
            cpu_before, steal = server.cpu(), Steal(args.server_cpu)
            accepted_at: list[float] = []

            def burst_taken() -> bool:
                if served_total(server.port) >= args.burst:
                    accepted_at.append(time.time())
                    return True
                return False

            run_wrk(
                url,
                cpu=args.client_cpu,
                connections=args.connections,
                seconds=300,
                script=wrk_lua(workdir, args.burst),
                stop_when=burst_taken,
            )
            took = (accepted_at[0] if accepted_at else time.time()) - started
            served = settled_served(server.port)
            stats = wait_arrivals(receiver, served)
            cpu = server.cpu() - cpu_before
            span = stats["last"] - stats["first"]
            rate = stats["distinct"] / span if span > 0 else 0.0
            lost = served - stats["distinct"]
            if lost > 0:
                print(f"    {explain_losses(server)}", flush=True)
            print(
                f"(b) run {run}: {served:,} requests accepted in {took:.2f} s "
                f"({served / took:,.0f} req/s); {stats['distinct']:,} delivered "
                f"(lost {lost}, {stats['count'] - stats['distinct']} duplicates) at "
                f"{rate:,.0f} deliveries/s; last arrival {stats['last'] - started:.2f} s after "
                f"the first request; {cpu * 1e6 / max(served, 1):.0f} us server CPU per "
                f"request+delivery; {steal.describe()}",
                flush=True,
            )
        finally:
            code = server.stop()
            receiver.stop()
        if code != 0:
            raise BenchError(f"the server exited with {code}: {server.stderr()}")
    return {"deliveries_per_s": rate, "burst_lost": lost}


def part_c(args: argparse.Namespace, run: int) -> dict[str, Any]:
    """Request-to-arrival latency at a steady low rate."""
    with tempfile.TemporaryDirectory(prefix="mockback-dbench-") as tmp:
        workdir = Path(tmp)
        receiver = start_receiver(args.client_cpu, workdir)
        server = start_server(args.server_cpu, workdir, args)
        try:
            hook = f"http://{LOOPBACK}:{receiver.port}/hook"
            request(server.port, "POST", "/api/v1/mocks", payment_mock(hook))
            conn = http.client.HTTPConnection(LOOPBACK, server.port, timeout=10)
            total = int(args.rate * args.latency_seconds)
            interval = 1.0 / args.rate
            answer_ms = []
            steal = Steal(args.server_cpu)
            for i in range(total + 50):
                if i == 50:  # the first 50 warm connections and code paths up
                    wait_arrivals(receiver, 50)
                    request(receiver.port, "POST", "/reset")
                    steal = Steal(args.server_cpu)
                due = time.monotonic() + interval
                body = json.dumps({**PAYMENT, "t": time.time()})
                sent = time.perf_counter()
                conn.request(
                    "POST", "/api/payments", body=body, headers={"Content-Type": "application/json"}
                )
                resp = conn.getresponse()
                resp.read()
                answer_ms.append((time.perf_counter() - sent) * 1000)
                time.sleep(max(0.0, due - time.monotonic()))
            conn.close()
            stats = wait_arrivals(receiver, total)
            lat = sorted(stats["latencies_ms"])
            p50, p99 = _pct(lat, 50), _pct(lat, 99)
            answers = sorted(answer_ms[50:])
            print(
                f"(c) run {run}: {len(lat)} webhooks at {args.rate:g} req/s: request->arrival "
                f"p50 {p50:.2f} ms  p99 {p99:.2f} ms  max {lat[-1]:.2f} ms; response p50 "
                f"{_pct(answers, 50):.2f} ms  p99 {_pct(answers, 99):.2f} ms; "
                f"{steal.describe()}",
                flush=True,
            )
        finally:
            code = server.stop()
            receiver.stop()
        if code != 0:
            raise BenchError(f"the server exited with {code}: {server.stderr()}")
    return {"p50_ms": p50, "p99_ms": p99, "latency_lost": total - stats["distinct"]}


def _pct(values: list[float], percent: float) -> float:
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(percent / 100 * len(values)) - 1))
    return values[index]


# ------------------------------------------------------------------------------------------
# the receiver process


def receiver_main() -> None:
    """Count webhook arrivals by delivery id; GET /stats, POST /reset."""
    import orjson
    import uvloop
    from aiohttp import web

    state: dict[str, Any] = {}

    def reset() -> None:
        state.update(count=0, ids=set(), first=None, last=None, latencies=[])

    reset()

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time()
        state["count"] += 1
        state["ids"].add(request.headers.get("X-Mockback-Delivery-Id"))
        if state["first"] is None:
            state["first"] = now
        state["last"] = now
        try:
            t = orjson.loads(body).get("t")
        except (orjson.JSONDecodeError, AttributeError):
            t = None
        if isinstance(t, float):
            state["latencies"].append((now - t) * 1000)
        return web.Response()

    async def stats(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "count": state["count"],
                "distinct": len(state["ids"]),
                "first": state["first"],
                "last": state["last"],
                "latencies_ms": state["latencies"],
            }
        )

    async def do_reset(_: web.Request) -> web.Response:
        reset()
        return web.json_response({})

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/hook", hook)
        app.router.add_get("/stats", stats)
        app.router.add_post("/reset", do_reset)
        runner = web.AppRunner(app, access_log=None, handle_signals=True)
        await runner.setup()
        site = web.TCPSite(runner, LOOPBACK, 0, backlog=2048)
        await site.start()
        port = runner.addresses[0][1]
        print(f"receiver listening on http://{LOOPBACK}:{port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()

    uvloop.run(serve())


# ------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--part", choices=["a", "b", "c", "all"], default="all")
    p.add_argument("--duration", type=int, default=10, help="(a) measured seconds per scenario")
    p.add_argument("--warmup", type=int, default=3, help="(a) unmeasured seconds first")
    p.add_argument("--connections", type=int, default=50, help="(a, b) wrk connections")
    p.add_argument("--burst", type=int, default=20_000, help="(b) requests in the burst")
    p.add_argument("--rate", type=float, default=50, help="(c) requests per second")
    p.add_argument("--latency-seconds", type=float, default=20, help="(c) seconds of load")
    p.add_argument("--store", choices=["sqlite", "memory"], default="sqlite")
    p.add_argument("--log-level", choices=["info", "warning"], default="info")
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument(
        "--cpu-scheduling",
        choices=["auto", "batch", "off"],
        help="passed on as the server's --cpu-scheduling; unset, the server uses its default "
        "(auto: batch on the one pinned core), and code older than the flag can be measured",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the parts; 1 when a webhook was lost or a run failed."""
    args = parse_args(argv)
    if shutil.which("taskset") is None:
        print("delivery_bench: taskset (util-linux) is needed", file=sys.stderr)
        return 1
    os.sched_setaffinity(0, {args.client_cpu})  # the latency client runs here
    parts = ["a", "b", "c"] if args.part == "all" else [args.part]
    runs: list[dict[str, Any]] = []
    try:
        for run in range(1, args.runs + 1):
            figures: dict[str, Any] = {}
            for part in parts:
                figures.update({"a": part_a, "b": part_b, "c": part_c}[part](args, run))
            runs.append(figures)
    except (BenchError, OSError, subprocess.SubprocessError) as exc:
        print(f"delivery_bench: error: {exc}", file=sys.stderr)
        return 1
    print("\nsummary (median of runs; targets for one server core)")
    for key, target in TARGETS.items():
        values = [r[key] for r in runs if key in r]
        if not values:
            continue
        value = statistics.median(values)
        good = value <= target if key.endswith("_ms") else value >= target
        print(f"  {key:<17} {value:10,.2f}  target {target:,.1f}: {'meets' if good else 'below'}")
    lost = sum(r.get(k, 0) for r in runs for k in ("s3_lost", "burst_lost", "latency_lost"))
    if lost:
        print(f"FAILED: {lost} webhook(s) never arrived", file=sys.stderr)
    return 1 if lost else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["_receiver"]:
        receiver_main()
    else:
        sys.exit(main())
