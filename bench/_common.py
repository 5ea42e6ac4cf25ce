"""A Mockback server started for a benchmark: pinned to a core, on loopback only, bounded in time.

The server runs as ``mockback serve --ephemeral --host 127.0.0.1 --port 0`` (or with a
fresh ``--data-dir`` for the SQLite store) under ``taskset``; its address is read from the first line it prints. Admin calls go through
``http.client`` straight to that address, so no proxy setting can send them anywhere else.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
_ANNOUNCE = "Mockback listening on http://"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A benchmark could not run, or ran but its result cannot be trusted."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """An answer to one plain request."""

    status: int  # HTTP status
    body: bytes  # raw body

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def mockback_command() -> list[str]:
    """``mockback`` of the environment running the benchmark, else its ``python -m mockback``."""
    # Beside the interpreter, not from PATH: the server measured is the code this Python sees.
    script = Path(sys.executable).parent / "mockback"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "mockback"]


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, all its threads included."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name may hold spaces and parentheses; the fields after its last ")" do not.
    fields = stat[stat.rindex(")") + 2 :].split()
    # utime and stime are fields 14 and 15 of the whole line, so 12 and 13 after the name.
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _cpu_ticks(cpu: int) -> tuple[int, int]:
    """(stolen, all) clock ticks of one CPU since boot, from /proc/stat; (0, 0) elsewhere."""
    try:
        with open("/proc/stat") as stat:
            for line in stat:
                if line.startswith(f"cpu{cpu} "):
                    # user nice system idle iowait irq softirq steal (guest is inside user)
                    ticks = [int(v) for v in line.split()[1:9]]
                    return ticks[7], sum(ticks)
    except OSError:
        pass
    return 0, 0


class Steal:
    """How much of a CPU's time the hypervisor gave to someone else while this was running.

    On a virtual machine a core can be taken away for whole periods (``st`` in vmstat): the
    server then gets less CPU per second and every rate falls with it, while its CPU time per
    request barely moves. A run with more than a few percent stolen is not comparable with one
    without; every benchmark prints it beside its figures.
    """

    def __init__(self, cpu: int) -> None:
        self._cpu = cpu
        self.probe_ms = host_probe(cpu)  # the core's speed just before (see host_probe)
        self._start = _cpu_ticks(cpu)

    def percent(self) -> float:
        """Stolen share of the CPU's time since this was made, in percent."""
        stolen, total = _cpu_ticks(self._cpu)
        elapsed = total - self._start[1]
        return 100.0 * (stolen - self._start[0]) / elapsed if elapsed > 0 else 0.0

    def describe(self) -> str:
        """``steal 3%  probe 121 ms``: what to print beside a run's figures."""
        return f"steal {self.percent():.0f}%  probe {self.probe_ms:.0f} ms"


_PROBE = """
import time
t = time.perf_counter()
x = 0
for i in range(2_000_000):
    x += i
print((time.perf_counter() - t) * 1000)
"""


def host_probe(cpu: int) -> float:
    """How fast the core is right now: a fixed pure-Python loop's time on it, in ms.

    The host's speed swings by more than half within minutes while nothing is stolen (the same
    loop took 120 to 200 ms on one core in the same quarter hour), so every benchmark prints
    this beside its figures: a run is comparable with another only when their probes agree.
    """
    out = subprocess.run(
        ["taskset", "-c", str(cpu), sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout)


def check_cpu(cpu: int, what: str) -> None:
    """Refuse a core this process may not run on."""
    allowed = os.sched_getaffinity(0)
    if cpu not in allowed:
        raise BenchError(f"{what} {cpu} is not one of the usable cores {sorted(allowed)}")


def scheduling_args(mode: str | None) -> tuple[str, ...]:
    """The server's ``--cpu-scheduling`` flag, only when one was asked for (a server older than
    the flag would refuse it)."""
    return () if mode is None else ("--cpu-scheduling", mode)


class MockbackServer:
    """One running ``mockback serve`` process; use as a context manager."""

    def __init__(
        self,
        *,
        cpu: int | str,
        workdir: Path,
        start_timeout: float = 30.0,
        ephemeral: bool = True,
        serve_args: tuple[str, ...] = (),
    ) -> None:
        self.cpu = cpu  # a core, or a taskset CPU list such as "0,1"
        self.workdir = workdir
        self.ephemeral = ephemeral  # else the default SQLite store in workdir/data
        self.serve_args = serve_args  # more ``mockback serve`` flags
        self.start_timeout = start_timeout
        self.port = 0
        self.exit_code: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The server's process id."""
        if self._proc is None:
            raise BenchError("the server is not running")
        return self._proc.pid

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{LOOPBACK}:{self.port}"

    def __enter__(self) -> MockbackServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._kill()

    def start(self) -> None:
        """Start the server and wait for its address."""
        if shutil.which("taskset") is None:
            raise BenchError("taskset (util-linux) is needed to pin the server to a core")
        # The server's own settings come from this command line only, never from the caller's
        # MOCKBACK_* variables, so that every run measures the same configuration.
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKBACK_")}
        cmd = [
            "taskset",
            "-c",
            str(self.cpu),
            *mockback_command(),
            "serve",
            *(["--ephemeral"] if self.ephemeral else ["--data-dir", str(self.workdir / "data")]),
            "--host",
            LOOPBACK,
            "--port",
            "0",
            *self.serve_args,
        ]
        out_path = self.workdir / "server.out"
        with (
            out_path.open("wb") as out,
            (self.workdir / "server.err").open("wb") as err,
        ):
            # Files, not pipes: a server that writes a lot can never block on a full pipe.
            self._proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            first = out_path.read_text(errors="replace").partition("\n")
            if first[1]:
                self._read_address(first[0])
                return
            if self._proc.poll() is not None:
                raise BenchError(f"the server exited with {self._proc.returncode}: {self.stderr()}")
            time.sleep(0.05)
        self._kill()
        raise BenchError(f"the server did not announce its address in {self.start_timeout:.0f} s")

    def _read_address(self, line: str) -> None:
        if not line.startswith(_ANNOUNCE):
            self._kill()
            raise BenchError(f"unexpected first line from the server: {line!r}")
        host, _, port = line.removeprefix(_ANNOUNCE).strip().rpartition(":")
        if host != LOOPBACK:
            self._kill()
            raise BenchError(f"the server listens on {host}, not on {LOOPBACK}")
        self.port = int(port)

    def stderr(self) -> str:
        """What the server wrote to stderr so far (its last lines)."""
        text = (self.workdir / "server.err").read_text(errors="replace")
        return "\n".join(text.splitlines()[-20:])

    def request(self, method: str, path: str, body: Any = None, *, timeout: float = 10.0) -> Reply:
        """One plain request to the server; ``body`` is sent as JSON."""
        conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            headers = {} if data is None else {"Content-Type": "application/json"}
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            return Reply(status=resp.status, body=resp.read())
        finally:
            conn.close()

    def create_mock(self, document: dict[str, Any]) -> None:
        """Create (or overwrite) a mock through the admin API."""
        reply = self.request("POST", "/api/v1/mocks", document)
        if reply.status not in (200, 201):
            raise BenchError(
                f"creating mock {document.get('id')!r} answered {reply.status}: "
                f"{reply.body[:500]!r}"
            )

    def served(self) -> int:
        """``mockback_requests_served_total`` from /metrics."""
        text = self.request("GET", "/metrics").body.decode()
        match = re.search(r"^mockback_requests_served_total (\S+)$", text, re.M)
        return int(float(match.group(1))) if match else 0

    def settled_served(self) -> int:
        """Requests served, once the count stops moving (wrk leaves some in flight)."""
        last = self.served()
        while True:
            time.sleep(0.3)
            now = self.served()
            if now == last:
                return now
            last = now

    def cpu_seconds(self) -> float:
        """CPU time the server has used so far."""
        return process_cpu_seconds(self.pid)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait; returns the exit code (SIGKILL and an error when it hangs)."""
        if self._proc is None:
            raise BenchError("the server was never started")
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                raise BenchError(
                    f"the server did not stop within {timeout:.0f} s of SIGTERM"
                ) from None
        self.exit_code = self._proc.returncode
        return self.exit_code

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=10)


# --- load with wrk ---------------------------------------------------------------------------


def wrk_script(workdir: Path, body: str, stop_after: int | None) -> Path:
    """A wrk script POSTing ``body`` as JSON; with ``stop_after``, stopping after that many
    answers (wrk's thread stops; requests in flight then may still be answered)."""
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = [[{body}]]",
        'wrk.headers["Content-Type"] = "application/json"',
    ]
    if stop_after is not None:
        lines += [
            "local answered = 0",
            "response = function(status, headers, body)",
            "  answered = answered + 1",
            f"  if answered >= {stop_after} then wrk.thread:stop() end",
            "end",
        ]
    path = workdir / "post.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass(frozen=True, slots=True, kw_only=True)
class Wrk:
    """wrk's figures."""

    requests: int  # completed requests
    seconds: float  # wall time of the run
    rps: float  # requests per second
    errors: int  # non-2xx plus socket errors


def run_wrk(
    url: str,
    *,
    cpu: int,
    connections: int,
    seconds: int,
    script: Path,
    stop_when: Any = None,
) -> Wrk:
    """One wrk run; ``stop_when()`` (polled) ends it early with SIGINT, as wrk allows."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchError("wrk is needed (apt-get install wrk)")
    cmd = ["taskset", "-c", str(cpu), wrk, "-t1", f"-c{connections}", f"-d{seconds}s"]
    proc = subprocess.Popen(
        [*cmd, "-s", str(script), url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + seconds + 60
    while stop_when is not None and proc.poll() is None and time.monotonic() < deadline:
        if stop_when():
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.02)
    try:
        text, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        raise BenchError("wrk did not finish") from None
    total = re.search(r"^\s*(\d+) requests in ([\d.]+)(ms|s|m)", text, re.M)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    if proc.returncode != 0 or total is None or rps is None:
        raise BenchError(f"wrk failed: {err or text}")
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0}[total.group(3)]
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = (sum(int(g) for g in sock.groups()) if sock else 0) + (
        int(non2xx.group(1)) if non2xx else 0
    )
    return Wrk(
        requests=int(total.group(1)),
        seconds=float(total.group(2)) * scale,
        rps=float(rps.group(1)),
        errors=errors,
    )
