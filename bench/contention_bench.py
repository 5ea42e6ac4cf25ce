"""A lone client's answers while other programs keep the server's CPUs busy, per
``--cpu-scheduling`` mode: what batch scheduling costs when the server shares its CPUs.

Usage::

    python bench/contention_bench.py [--server-cpus 0] [--busy-cpus 0] [--client-cpu 1]
        [--connections 1] [--seconds 6] [--runs 2] [--modes off,batch] [--scenario s1|s2]

For each run and each mode (interleaved) it starts ``mockback serve --ephemeral
--cpu-scheduling MODE`` pinned to ``--server-cpus`` (a ``taskset`` list such as ``0`` or
``0,1``), creates the scenario's mock of ``http_bench.py``, starts one busy loop (a Python
process spinning, at the default priority) on each of ``--busy-cpus``, and measures with
``wrk -c<connections> --latency`` pinned to ``--client-cpu`` for ``--seconds``. The busy loops
are killed after each run, the server stopped. ``--busy-cpus ''`` runs without them. Traffic goes
to 127.0.0.1 only; every step has a time limit.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import http_bench
from _common import BenchError, MockbackServer

_SPIN = "while True: pass"


def busy_loops(cpus: list[int]) -> list[subprocess.Popen[bytes]]:
    """One spinning process pinned to each CPU."""
    return [
        subprocess.Popen(["taskset", "-c", str(cpu), sys.executable, "-c", _SPIN]) for cpu in cpus
    ]


def measure(mode: str, args: argparse.Namespace, wrk: str) -> http_bench.WrkResult:
    """One run of one mode."""
    scenario = http_bench.SCENARIOS[args.scenario]
    busy: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="mockback-bench-") as tmp:
        workdir = Path(tmp)
        script = http_bench.lua_script(scenario, workdir)
        with MockbackServer(
            cpu=args.server_cpus, workdir=workdir, serve_args=("--cpu-scheduling", mode)
        ) as server:
            server.create_mock(scenario.mock)
            try:
                busy = busy_loops(args.busy_cpus)
                report = http_bench.run_wrk(
                    wrk,
                    server.base_url + scenario.path,
                    cpu=args.client_cpu,
                    connections=args.connections,
                    seconds=args.seconds,
                    script=script,
                )
            finally:
                for proc in busy:
                    proc.kill()
                    proc.wait(10)
            server.stop()
    return http_bench.parse_wrk(report)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--server-cpus", default="0", help="taskset CPU list of the server")
    p.add_argument(
        "--busy-cpus",
        default="0",
        type=lambda text: [int(c) for c in text.split(",") if c.strip()],
        help="CPUs that get a busy loop each (comma-separated; '' for none)",
    )
    p.add_argument("--client-cpu", type=int, default=1, help="core wrk is pinned to")
    p.add_argument("--connections", type=int, default=1, help="keep-alive connections")
    p.add_argument("--seconds", type=int, default=6, help="measured seconds per run")
    p.add_argument("--runs", type=int, default=2, help="runs per mode, interleaved")
    p.add_argument("--modes", default="off,batch", help="--cpu-scheduling modes to compare")
    p.add_argument("--scenario", choices=["s1", "s2"], default="s2")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    try:
        wrk = http_bench.ensure_wrk()
        print(
            f"{args.scenario.upper()}, server on CPUs {args.server_cpus}, busy loops on "
            f"{args.busy_cpus or 'none'}, wrk -c{args.connections} on core {args.client_cpu}, "
            f"{args.seconds} s per run",
            flush=True,
        )
        for run in range(1, args.runs + 1):
            for mode in modes:
                w = measure(mode, args, wrk)
                errors = w.non_2xx + w.socket_errors
                print(
                    f"{mode:6s} run {run}  {w.rps:10,.0f} req/s  p50 {w.p50_ms:7.2f} ms  "
                    f"p99 {w.p99_ms:7.2f} ms  errors {errors}",
                    flush=True,
                )
    except BenchError as exc:
        print(f"contention_bench: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
