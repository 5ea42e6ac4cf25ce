"""Ids: prefixed, sorted by creation time, never repeated (across threads and forks too)."""

from __future__ import annotations

import os
import re
import threading
import time

from mockback import ids

ID = re.compile(r"^(dlv|req)_([0-9a-f]{12})([0-9a-f]{20})$")


def test_an_id_is_its_prefix_its_millisecond_and_80_random_bits() -> None:
    before = time.time_ns() // 1_000_000
    made = ids.delivery_id()
    after = time.time_ns() // 1_000_000
    match = ID.match(made)
    assert match is not None and match.group(1) == "dlv"
    assert before <= int(match.group(2), 16) <= after
    given = ids.request_id(1_795_000_000.123)
    assert given.startswith("req_" + format(1_795_000_000_123, "012x"))


def test_ids_sort_by_creation_time() -> None:
    made = [ids.request_id(1_795_000_000 + n / 100) for n in range(2000)]  # 10 ms apart
    assert sorted(made) == made


def test_ids_never_repeat_across_many_batches() -> None:
    made = [ids.delivery_id() for _ in range(50_000)]
    assert len(set(made)) == len(made)
    assert len({m[16:] for m in made}) == len(made)  # the random parts too


def test_threads_get_different_ids() -> None:
    made: list[list[str]] = [[] for _ in range(8)]

    def make(out: list[str]) -> None:
        for _ in range(5_000):
            out.append(ids.new_id("dlv", 1_795_000_000))

    threads = [threading.Thread(target=make, args=(out,)) for out in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [m for out in made for m in out]
    assert len(set(every)) == len(every) == 40_000


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    ids.delivery_id()  # the parent holds a batch
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids and leave
        os.close(read)
        os.write(write, " ".join(ids.delivery_id()[16:] for _ in range(100)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    os.waitpid(pid, 0)
    parent = {ids.delivery_id()[16:] for _ in range(100)}
    assert len(child) == 100 and not child & parent
