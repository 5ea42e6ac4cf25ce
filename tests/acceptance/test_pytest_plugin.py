"""The pytest plugin as a user's test suite meets it, run through pytester with real servers."""

from __future__ import annotations

import re
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TUTORIAL = Path(__file__).parents[2] / "docs" / "tutorial" / "testing-webhooks.md"
PLUGIN = "mockback.pytest_plugin"


def _installed() -> bool:
    return any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest on the pytester folder in a child process, with the plugin (by its entry
    point once installed); a child keeps the suites' imports apart."""
    plugin = () if _installed() else ("-p", PLUGIN)
    return pytester.runpytest_subprocess(
        *plugin, "-p", "no:cacheprovider", "-p", "no:asyncio", *args
    )


def _tutorial_files() -> dict[str, str]:
    text = TUTORIAL.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n# (test_\w+\.py)\n(.*?)```", text, flags=re.DOTALL)
    return {name: code for name, code in blocks}


def test_entry_point_registers_the_plugin(pytester: pytest.Pytester) -> None:
    """With the package installed, a suite gets the fixtures without naming the plugin."""
    assert _installed(), f"no pytest11 entry point names {PLUGIN}; reinstall the package"
    pytester.makepyfile(
        "def test_fixtures(mockback, mockback_server, webhook_receiver):\n"
        "    assert mockback.health()['status'] == 'ok'\n"
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:asyncio").assert_outcomes(
        passed=1
    )


def test_tutorial_examples_pass(pytester: pytest.Pytester) -> None:
    """Every test file in the webhook tutorial passes as written."""
    files = _tutorial_files()
    assert len(files) >= 3, "the tutorial's test files were not found"
    pytester.makepyfile(**{name.removesuffix(".py"): code for name, code in files.items()})
    tests = sum(code.count("\ndef test_") for code in files.values())
    _run(pytester, "-W", "error").assert_outcomes(passed=tests)


def test_tutorial_stripe_example_is_under_twenty_lines() -> None:
    """The Stripe example of the tutorial is a whole test file of fewer than 20 lines."""
    code = _tutorial_files()["test_stripe_webhook.py"]
    assert len(code.strip().splitlines()) < 20


SHARED = """
import pytest
from mockback.client import NotFound

seen = []


@pytest.fixture(scope="module", autouse=True)
def seeded(mockback_session_server):
    with mockback_session_server.client() as client:
        client.mocks.create({"id": "seeded", "http": {"route": "/seeded"}})
        client.stores.global_().set(kept=1)


def test_changes_things(mockback, mockback_server):
    seen.append(mockback_server.url)
    mockback.mocks.create({"id": "temporary", "http": {"route": "/temporary"}})
    mockback.mocks.update("seeded", {"id": "seeded", "http": {"route": "/changed"}})
    mockback.stores.global_().set(kept=2, extra=3)
    mockback.stores.chain("c1").set(x=1)
    mockback.mocks.create({"id": "chained", "chainId": "c1", "http": {"route": "/c"}})


def test_sees_them_undone(mockback, mockback_server):
    seen.append(mockback_server.url)
    assert seen[0] == seen[1]
    assert [m["id"] for m in mockback.mocks.list().items] == ["seeded"]
    assert mockback.mocks.get("seeded")["http"]["route"] == "/seeded"
    assert mockback.mocks.get("temporary")["deleted"] is True
    assert mockback.stores.global_().get() == {"kept": 1}
    assert mockback.stores.chain("c1").get() == {}
    assert mockback.requests.list().total == 0


def test_receiver_can_delay(mockback, mockback_server, webhook_receiver):
    webhook_receiver.respond(202, delay=0.3)
    mockback.mocks.create({"id": "slow", "http": {"route": "/slow"},
                           "webhooks": [{"url": webhook_receiver.url("/in")}]})
    import httpx
    httpx.get(mockback_server.url + "/slow")
    (delivery,) = mockback.deliveries.wait(1, timeout=10, mock_id="slow")
    assert delivery.attempts[0].status_code == 202
    assert delivery.attempts[0].duration_ms >= 300


def test_receiver_wait_for_names_what_it_got(webhook_receiver):
    with pytest.raises(AssertionError, match="expected 2 call"):
        webhook_receiver.wait_for(2, timeout=0.2)
"""


def test_tests_share_one_server_and_changes_are_undone(pytester: pytest.Pytester) -> None:
    """Tests share a server; mocks and stores a test changed are back as before the next test."""
    pytester.makepyfile(test_shared=SHARED)
    _run(pytester, "-W", "error").assert_outcomes(passed=4)


OWN = """
import pytest
from mockback.client import InvalidRequest

urls = []


def test_shared(mockback_server):
    urls.append(mockback_server.url)


@pytest.mark.mockback_isolated("--strict")
def test_own_with_args(mockback, mockback_server):
    urls.append(mockback_server.url)
    with pytest.raises(InvalidRequest, match="respose"):
        mockback.mocks.create({"http": {"route": "/x"}, "respose": {}})


@pytest.mark.mockback_isolated(env={"MOCKBACK_STRICT": "true"})
def test_own_with_env(mockback, mockback_server):
    urls.append(mockback_server.url)
    assert len(set(urls)) == 3
    with pytest.raises(InvalidRequest):
        mockback.mocks.create({"http": {"route": "/x"}, "respose": {}})
"""


def test_marked_test_gets_a_server_of_its_own(pytester: pytest.Pytester) -> None:
    """A test marked mockback_isolated runs on its own server with the marker's args and env."""
    pytester.makepyfile(test_own=OWN)
    _run(pytester, "--strict-markers").assert_outcomes(passed=3)


PER_TEST = """
urls = []


def test_first(mockback, mockback_server):
    urls.append(mockback_server.url)
    mockback.deliveries.flush()


def test_second(mockback, mockback_server):
    urls.append(mockback_server.url)
    assert urls[0] != urls[1]
    assert mockback.deliveries.list().total == 0
"""


@pytest.mark.parametrize(
    ("args", "ini"),
    [
        (("--mockback-isolation=test",), ""),  # command-line option
        ((), "[pytest]\nmockback_isolation = test\n"),  # configuration key
    ],
)
def test_isolation_test_gives_every_test_a_server(
    pytester: pytest.Pytester, args: tuple[str, ...], ini: str
) -> None:
    """With isolation "test", every test gets a fresh server."""
    if ini:
        pytester.makeini(ini)
    pytester.makepyfile(test_per_test=PER_TEST)
    _run(pytester, *args).assert_outcomes(passed=2)


CONFIGURED = """
import httpx
import pytest
from mockback.client import InvalidRequest


def test_configured(mockback, mockback_server):
    with pytest.raises(InvalidRequest):
        mockback.mocks.create({"http": {"route": "/x"}, "respose": {}})
    mockback.mocks.create({"id": "a", "http": {"route": "/a"}})
    for _ in range(3):
        httpx.get(mockback_server.url + "/a")
    assert mockback.requests.list().total == 1
"""


def test_configuration_reaches_the_server(pytester: pytest.Pytester) -> None:
    """mockback_args and mockback_env are passed to every server the plugin starts."""
    pytester.makeini(
        "[pytest]\nmockback_args = --strict\nmockback_env =\n    MOCKBACK_REQUEST_LOG_SIZE=1\n"
    )
    pytester.makepyfile(test_configured=CONFIGURED)
    _run(pytester).assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        ("mockback_env = NOEQUALS", "*mockback_env: 'NOEQUALS' is not KEY=VALUE*"),  # bad env line
        ("mockback_isolation = module", "*mockback_isolation = 'module'*"),  # unknown isolation
    ],
)
def test_bad_configuration_is_a_usage_error(
    pytester: pytest.Pytester, ini: str, message: str
) -> None:
    """A malformed plugin setting stops pytest with a usage error naming it."""
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = _run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


FAILING = """
import httpx


def test_fails_after_a_callback(mockback, mockback_server, webhook_receiver):
    mockback.mocks.create({"id": "loud", "http": {"route": "/loud"},
                           "webhooks": [{"url": webhook_receiver.url("/in")}]})
    httpx.get(mockback_server.url + "/loud")
    mockback.deliveries.wait(1, timeout=10, mock_id="loud")
    assert False, "on purpose"
"""


def test_failed_test_shows_the_server_log(pytester: pytest.Pytester) -> None:
    """A failing test's report includes what the server logged during it."""
    pytester.makepyfile(test_failing=FAILING)
    result = _run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*Mockback server log (call)*", "*Callback executed successfully*"]
    )
