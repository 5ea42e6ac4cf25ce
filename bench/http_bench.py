"""HTTP throughput of a served mock: Mockback on one core, wrk on another, keep-alive.

Usage::

    python bench/http_bench.py [--scenario s1|s2|all] [--duration 15] [--warmup 5]
        [--connections 50] [--server-cpu 0] [--client-cpu 1] [--runs 1]
        [--cpu-scheduling auto|batch|off]

S1 is a constant answer to ``GET /hello``; S2 is ``POST /api/payments`` whose answer is
templated from the request body and a fake UUID. Each run starts a fresh server, creates the
scenario's mock, checks one answer by hand, warms up, then measures. Besides req/s and
latency it reports the server's CPU time per request (from /proc/<pid>/stat), which is the
steadier figure on a machine that is doing other work. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import BenchError, MockbackServer, Reply, Steal, check_cpu, scheduling_args


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One workload: the mock it needs and the request that drives it."""

    key: str  # "s1", "s2"
    title: str  # a line for the report
    mock: dict[str, Any]  # the mock document to create
    method: str  # request method
    path: str  # request path
    body: dict[str, Any] | None  # JSON request body, if any
    check: Callable[[Reply], str | None]  # None when one plain answer is right, else why not
    target_rps: float  # req/s on one core that the scenario should reach


def _check_hello(reply: Reply) -> str | None:
    if reply.status != 200:
        return f"status {reply.status}"
    if reply.json() != {"ok": True}:
        return f"body {reply.body!r}"
    return None


def _check_payment(reply: Reply) -> str | None:
    if reply.status != 200:
        return f"status {reply.status}"
    answer = reply.json()
    if not isinstance(answer, dict):
        return f"body {reply.body!r}"
    pid, amount = answer.get("id"), answer.get("amount")
    if not (isinstance(pid, str) and len(pid) == 36):
        return f"id {pid!r} is not a 36-character UUID"
    # bool is an int in Python; the JSON answer must carry the number 2500, not true or "2500".
    if type(amount) is not int or amount != 2500:
        return f"amount {amount!r} is not the number 2500"
    if answer.get("status") != "succeeded":
        return f"status field {answer.get('status')!r}"
    return None


PAYMENT = {"amount": 2500, "currency": "usd", "orderId": "o-1"}

SCENARIOS: dict[str, Scenario] = {
    "s1": Scenario(
        key="s1",
        title='S1  GET /hello -> 200 {"ok":true}',
        mock={
            "id": "bench-hello",
            "http": {"route": "/hello", "httpMethod": "GET"},
            "response": {"statusCode": 200, "payload": {"ok": True}},
        },
        method="GET",
        path="/hello",
        body=None,
        check=_check_hello,
        target_rps=30_000,
    ),
    "s2": Scenario(
        key="s2",
        title="S2  POST /api/payments -> templated {id, amount, status}",
        mock={
            "id": "bench-payment",
            "http": {"route": "/api/payments", "httpMethod": "POST"},
            "response": {
                "statusCode": 200,
                "payload": {"id": "$.fake.UUID", "amount": "$.req.amount", "status": "succeeded"},
            },
        },
        method="POST",
        path="/api/payments",
        body=PAYMENT,
        check=_check_payment,
        target_rps=18_000,
    ),
}
S2_SHARE_TARGET = 0.60  # S2 must reach this share of S1's req/s


@dataclass(frozen=True, slots=True, kw_only=True)
class WrkResult:
    """What one wrk run reported."""

    requests: int  # completed requests
    rps: float  # requests per second
    p50_ms: float  # median latency
    p99_ms: float  # 99th percentile latency
    non_2xx: int  # "Non-2xx or 3xx responses"
    socket_errors: int  # connect + read + write + timeout errors


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """One measured run of one scenario."""

    scenario: str  # scenario key
    run: int  # 1-based run number
    wrk: WrkResult  # the load generator's figures
    cpu_s: float  # server CPU seconds during the measured run
    duration_s: float  # the measured run's length
    exit_code: int  # the server's exit code after SIGTERM
    steal_pct: float = 0.0  # share of the server's core the hypervisor took during the run
    probe_ms: float = 0.0  # the core's speed just before the run (_common.host_probe)

    @property
    def cpu_us_per_req(self) -> float:
        """Server CPU microseconds per completed request."""
        return self.cpu_s * 1e6 / self.wrk.requests if self.wrk.requests else float("inf")

    @property
    def problems(self) -> list[str]:
        """Why this run cannot be trusted (empty when it can)."""
        out = []
        if self.wrk.non_2xx:
            out.append(f"{self.wrk.non_2xx} non-2xx/3xx responses")
        if self.wrk.socket_errors:
            out.append(f"{self.wrk.socket_errors} socket errors")
        if self.exit_code != 0:
            out.append(f"server exited with {self.exit_code}")
        return out


# ------------------------------------------------------------------------------------------
# wrk

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _latency_ms(text: str, percent: str) -> float:
    m = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.MULTILINE)
    if m is None:
        raise BenchError(f"no {percent}% latency line in wrk's output:\n{text}")
    return float(m.group(1)) * _UNIT_MS[m.group(2)]


def parse_wrk(text: str) -> WrkResult:
    """The figures of a ``wrk --latency`` report."""
    requests = re.search(r"^\s*(\d+) requests in ", text, re.MULTILINE)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.MULTILINE)
    if requests is None or rps is None:
        raise BenchError(f"cannot read wrk's output:\n{text}")
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return WrkResult(
        requests=int(requests.group(1)),
        rps=float(rps.group(1)),
        p50_ms=_latency_ms(text, "50"),
        p99_ms=_latency_ms(text, "99"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in sock.groups()) if sock else 0,
    )


def ensure_wrk() -> str:
    """The path of wrk, installed from Debian's packages when missing."""
    found = shutil.which("wrk")
    if found is not None:
        return found
    install = ["apt-get", "install", "-y", "wrk"]
    print("wrk not found: installing it with apt-get", file=sys.stderr)
    if subprocess.run(install, timeout=600, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], timeout=600, check=False)
        subprocess.run(install, timeout=600, check=True)
    found = shutil.which("wrk")
    if found is None:
        raise BenchError("wrk is still missing after apt-get install")
    return found


def lua_script(scenario: Scenario, workdir: Path) -> Path | None:
    """A wrk script that sends the scenario's method and body (None for a plain GET)."""
    if scenario.method == "GET" and scenario.body is None:
        return None
    lines = [f'wrk.method = "{scenario.method}"']
    if scenario.body is not None:
        body = json.dumps(scenario.body, separators=(",", ":"))
        lines += [f"wrk.body = [[{body}]]", 'wrk.headers["Content-Type"] = "application/json"']
    path = workdir / f"{scenario.key}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(
    wrk: str, url: str, *, cpu: int, connections: int, seconds: int, script: Path | None
) -> str:
    """wrk's report of one run of ``seconds`` against ``url``."""
    cmd = ["taskset", "-c", str(cpu), wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    done = subprocess.run(
        [*cmd, url], capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return done.stdout


# ------------------------------------------------------------------------------------------
# runs


def measure(scenario: Scenario, run: int, args: argparse.Namespace, wrk: str) -> Measurement:
    """Start a server, check one answer, warm up, measure, stop it."""
    with tempfile.TemporaryDirectory(prefix="mockback-bench-") as tmp:
        workdir = Path(tmp)
        script = lua_script(scenario, workdir)
        with MockbackServer(
            cpu=args.server_cpu,
            workdir=workdir,
            serve_args=scheduling_args(args.cpu_scheduling),
        ) as server:
            server.create_mock(scenario.mock)
            reply = server.request(scenario.method, scenario.path, scenario.body)
            wrong = scenario.check(reply)
            if wrong is not None:
                raise BenchError(
                    f"{scenario.key}: wrong answer before the run: {wrong}\n"
                    f"body: {reply.body[:500]!r}\nserver stderr:\n{server.stderr()}"
                )
            url = server.base_url + scenario.path

            def load(seconds: int) -> str:
                return run_wrk(
                    wrk,
                    url,
                    cpu=args.client_cpu,
                    connections=args.connections,
                    seconds=seconds,
                    script=script,
                )

            if args.warmup > 0:
                parse_wrk(load(args.warmup))
            before, steal = server.cpu_seconds(), Steal(args.server_cpu)
            report = load(args.duration)
            cpu = server.cpu_seconds() - before
            stolen = steal.percent()
            result = parse_wrk(report)
            code = server.stop()
    return Measurement(
        scenario=scenario.key,
        run=run,
        wrk=result,
        cpu_s=cpu,
        duration_s=args.duration,
        exit_code=code,
        steal_pct=stolen,
        probe_ms=steal.probe_ms,
    )


def print_run(m: Measurement) -> None:
    """One line per measured run."""
    w = m.wrk
    util = 100 * m.cpu_s / m.duration_s
    errors = w.non_2xx + w.socket_errors
    print(
        f"{m.scenario:<3} run {m.run}  {w.rps:>9,.0f} req/s  p50 {w.p50_ms:6.2f} ms  "
        f"p99 {w.p99_ms:6.2f} ms  CPU {m.cpu_us_per_req:6.1f} us/req ({util:3.0f}% of a core)  "
        f"errors {errors}  exit {m.exit_code}  steal {m.steal_pct:.0f}%  probe {m.probe_ms:.0f} ms",
        flush=True,
    )


def summarize(results: list[Measurement]) -> None:
    """Medians per scenario, S2 as a share of S1, and the targets."""
    by: dict[str, list[Measurement]] = {}
    for m in results:
        by.setdefault(m.scenario, []).append(m)
    medians: dict[str, tuple[float, float]] = {}
    print("\nsummary (median of runs)")
    for key, runs in by.items():
        rps = statistics.median(m.wrk.rps for m in runs)
        cpu = statistics.median(m.cpu_us_per_req for m in runs)
        medians[key] = (rps, cpu)
        target = SCENARIOS[key].target_rps
        verdict = "meets" if rps >= target else "below"
        print(f"  {SCENARIOS[key].title}")
        print(
            f"      {rps:,.0f} req/s, {cpu:.1f} us CPU/req; target {target:,.0f} req/s: "
            f"{verdict} (1e6/CPU = {1e6 / cpu:,.0f} req/s if the core were all ours)"
        )
    if "s1" in medians and "s2" in medians:
        (rps1, cpu1), (rps2, cpu2) = medians["s1"], medians["s2"]
        share = rps2 / rps1
        verdict = "meets" if share >= S2_SHARE_TARGET else "below"
        print(
            f"  S2/S1: {100 * share:.0f}% by req/s, {100 * cpu1 / cpu2:.0f}% by CPU per "
            f"request; target {100 * S2_SHARE_TARGET:.0f}%: {verdict}"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--scenario", choices=["s1", "s2", "all"], default="all")
    p.add_argument("--duration", type=int, default=15, help="measured seconds per run")
    p.add_argument("--warmup", type=int, default=5, help="unmeasured seconds before each run")
    p.add_argument("--connections", type=int, default=50, help="keep-alive connections")
    p.add_argument("--server-cpu", type=int, default=0, help="core the server is pinned to")
    p.add_argument("--client-cpu", type=int, default=1, help="core wrk is pinned to")
    p.add_argument("--runs", type=int, default=1, help="runs per scenario, interleaved")
    p.add_argument(
        "--cpu-scheduling",
        choices=["auto", "batch", "off"],
        help="passed on as the server's --cpu-scheduling; unset, the server uses its default "
        "(auto: batch on the one pinned core), and code older than the flag can be measured",
    )
    args = p.parse_args(argv)
    if args.duration < 1 or args.warmup < 0 or args.connections < 1 or args.runs < 1:
        p.error("--duration, --connections and --runs must be positive; --warmup at least 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios; 1 when any run had errors or a wrong answer."""
    args = parse_args(argv)
    try:
        check_cpu(args.server_cpu, "--server-cpu")
        check_cpu(args.client_cpu, "--client-cpu")
        if args.server_cpu == args.client_cpu:
            print(
                "warning: server and wrk share a core; figures are not comparable", file=sys.stderr
            )
        wrk = ensure_wrk()
        keys = ["s1", "s2"] if args.scenario == "all" else [args.scenario]
        print(
            f"wrk -t1 -c{args.connections} -d{args.duration}s --latency (warm-up "
            f"{args.warmup}s); server on core {args.server_cpu} (--cpu-scheduling "
            f"{args.cpu_scheduling or 'default'}), wrk on core {args.client_cpu}",
            flush=True,
        )
        results = []
        # Interleaved, so that a burst of outside load does not fall on one scenario only.
        for run in range(1, args.runs + 1):
            for key in keys:
                m = measure(SCENARIOS[key], run, args, wrk)
                print_run(m)
                results.append(m)
    except (BenchError, subprocess.SubprocessError, OSError) as exc:
        print(f"http_bench: error: {exc}", file=sys.stderr)
        return 1
    summarize(results)
    failed = [f"{m.scenario} run {m.run}: {', '.join(m.problems)}" for m in results if m.problems]
    for line in failed:
        print(f"FAILED {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
