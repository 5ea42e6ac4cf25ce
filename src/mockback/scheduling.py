"""How the server's threads ask the kernel to schedule them (``--cpu-scheduling``).

The server is one process with several threads: the event loop that runs Python, granian's
I/O thread, the thread granian hands requests to Python with, and the SQLite writer. Python
code runs only while holding the interpreter lock, so these threads pass work and the lock
back and forth several times per request.

When they all share one CPU (``taskset -c 0``, a one-CPU cpuset), the kernel's default policy
lets each thread it wakes preempt the one running: the thread woken to receive the lock
preempts the one that is still handing it over, goes back to sleep at once, and the request
costs several extra context switches (about three for a request with a body, measured with
``perf`` ``sched_switch`` events). Marking the threads ``SCHED_BATCH`` tells the kernel they
are throughput work: a woken thread waits until the running one sleeps or its time slice ends,
and each thread then does a batch of work per turn (see bench/README.md for the figures).

``SCHED_BATCH`` also keeps woken threads from preempting *other* programs' busy threads, which
slows answers down when every CPU the server may use is busy with other work. With more than
one CPU that cost is not worth paying (the threads run side by side and do not preempt each
other), so ``auto`` applies the policy only when the process may use a single CPU.
"""

from __future__ import annotations

import os
from typing import Final, Literal

from mockback.domain.errors import ConfigurationError

MODES: Final = ("auto", "batch", "off")
"""``auto``: batch when the process may use only one CPU; ``batch``: always; ``off``: never."""

Applied = Literal["batch", "default"]


def choose(mode: str, cpus: int | None) -> bool:
    """Whether ``mode`` asks for batch scheduling when the process may use ``cpus`` CPUs
    (None: unknown)."""
    if mode == "batch":
        return True
    if mode == "auto":
        return cpus == 1
    return False


def usable_cpus() -> int | None:
    """How many CPUs this process may run on (its affinity), None where that is unknown."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is None:
        return None
    return len(affinity(0))


def apply(mode: str) -> Applied:
    """Apply ``mode`` to the calling thread; threads it starts later inherit the policy.

    Call it before the server starts any thread. ``mode`` is one of ``MODES`` (settings are
    validated before); ``batch`` where the system cannot do it is a ConfigurationError,
    ``auto`` then keeps the default.
    """
    if not choose(mode, usable_cpus()):
        return "default"
    policy = getattr(os, "SCHED_BATCH", None)
    if policy is None:
        if mode == "batch":
            raise ConfigurationError("--cpu-scheduling batch: this system has no SCHED_BATCH")
        return "default"
    try:
        os.sched_setscheduler(0, policy, os.sched_param(0))
    except OSError as exc:
        if mode == "batch":
            raise ConfigurationError(
                f"--cpu-scheduling batch: the kernel refused it: {exc.strerror or exc}"
            ) from None
        return "default"
    return "batch"
