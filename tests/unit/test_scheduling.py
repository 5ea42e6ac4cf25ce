"""``--cpu-scheduling``: which mode asks for batch scheduling, and how a bad value is refused."""

from __future__ import annotations

import os

import pytest

from mockback import scheduling
from mockback.domain.errors import ConfigurationError
from mockback.scheduling import MODES, choose
from mockback.settings import settings_from_env


@pytest.mark.parametrize(
    ("mode", "cpus", "batch"),
    [
        ("auto", 1, True),  # every thread shares the one CPU: batch
        ("auto", 2, False),  # threads run side by side: the kernel's default
        ("auto", 64, False),
        ("auto", None, False),  # affinity unknown (not Linux): the default
        ("batch", 1, True),
        ("batch", 8, True),  # asked for: whatever the CPUs
        ("off", 1, False),  # asked not to: even on one CPU
    ],
)
def test_which_mode_asks_for_batch(mode: str, cpus: int | None, batch: bool) -> None:
    """auto means batch only on a single CPU; batch and off are what they say."""
    assert choose(mode, cpus) is batch


def test_default_is_auto() -> None:
    """Without the variable the mode is auto; the variable sets it."""
    assert settings_from_env({}).cpu_scheduling == "auto"
    for mode in MODES:
        assert settings_from_env({"MOCKBACK_CPU_SCHEDULING": mode}).cpu_scheduling == mode


@pytest.mark.parametrize("value", ["BATCH", "fifo", "", "batch,off"])
def test_bad_mode_names_the_setting_and_the_choices(value: str) -> None:
    """A value that is not a mode stops the start, naming the flag, the variable and the modes."""
    with pytest.raises(ConfigurationError) as caught:
        settings_from_env({"MOCKBACK_CPU_SCHEDULING": value})
    message = caught.value.message
    assert "--cpu-scheduling" in message and "MOCKBACK_CPU_SCHEDULING" in message
    assert "auto, batch, off" in message


def _refuse(*_: object) -> None:
    raise PermissionError(1, "Operation not permitted")


def test_batch_refused_by_the_kernel_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Asked for explicitly, a refused policy stops the start naming the flag and the reason;
    auto then keeps the default and the server starts."""
    monkeypatch.setattr(os, "sched_setscheduler", _refuse, raising=False)
    monkeypatch.setattr(scheduling, "usable_cpus", lambda: 1)
    with pytest.raises(ConfigurationError) as caught:
        scheduling.apply("batch")
    assert "--cpu-scheduling batch" in caught.value.message
    assert "Operation not permitted" in caught.value.message
    assert scheduling.apply("auto") == "default"


def test_batch_where_the_system_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without SCHED_BATCH (not Linux) batch is an error naming it; auto keeps the default."""
    monkeypatch.delattr(os, "SCHED_BATCH", raising=False)
    monkeypatch.setattr(scheduling, "usable_cpus", lambda: 1)
    with pytest.raises(ConfigurationError, match="no SCHED_BATCH"):
        scheduling.apply("batch")
    assert scheduling.apply("auto") == "default"


def test_off_and_several_cpus_touch_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """off, and auto on several CPUs, never call the kernel."""
    monkeypatch.setattr(os, "sched_setscheduler", _refuse, raising=False)
    monkeypatch.setattr(scheduling, "usable_cpus", lambda: 1)
    assert scheduling.apply("off") == "default"
    monkeypatch.setattr(scheduling, "usable_cpus", lambda: 4)
    assert scheduling.apply("auto") == "default"
