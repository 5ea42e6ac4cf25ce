"""Settings of authentication, retention and cleanup, read from the environment."""

from __future__ import annotations

import pytest

from mockback.domain.errors import ConfigurationError
from mockback.settings import settings_from_env


def test_defaults() -> None:
    """Auth is off; retention 7 days; cleanup hourly; login tokens last a day."""
    s = settings_from_env({})
    assert (s.auth_mode, s.retention_days, s.cleanup_interval, s.login_token_ttl) == (
        "off",
        7,
        3600,
        86_400,
    )
    assert s.first_admin_login == "admin" and s.first_admin_password is None


def test_variables_are_read() -> None:
    """Each variable sets its setting."""
    s = settings_from_env(
        {
            "AUTH_MODE": "token",
            "FIRST_ADMIN_LOGIN": "boss",
            "FIRST_ADMIN_PASSWORD": "pw",
            "MOCKBACK_RETENTION_DAYS": "0",
            "MOCKBACK_CLEANUP_INTERVAL": "60",
            "MOCKBACK_LOGIN_TOKEN_TTL": "5",
        }
    )
    assert (s.auth_mode, s.first_admin_login, s.first_admin_password) == ("token", "boss", "pw")
    assert (s.retention_days, s.cleanup_interval, s.login_token_ttl) == (0, 60, 5)
    assert "pw" not in repr(s)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MOCKBACK_RETENTION_DAYS", "-1"),  # negative retention
        ("MOCKBACK_CLEANUP_INTERVAL", "-5"),  # negative interval
        ("MOCKBACK_LOGIN_TOKEN_TTL", "0"),  # tokens that are born expired
        ("MOCKBACK_RETENTION_DAYS", "soon"),  # not a number
        ("AUTH_MODE", "password"),  # not a mode
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    """A bad value stops the start with a message naming the variable."""
    with pytest.raises(ConfigurationError, match=name):
        settings_from_env({name: value})
