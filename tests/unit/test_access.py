"""Who may do what: roles, needs, and the answers for strangers (404) and weak roles (403)."""

from __future__ import annotations

import pytest

from mockback.domain.access import (
    ANONYMOUS,
    Forbidden,
    Need,
    Principal,
    no_namespace,
    require,
    require_admin,
)
from mockback.domain.accounts import NamespaceRole, Role
from mockback.domain.errors import NotFound


def member(role: NamespaceRole) -> Principal:
    return Principal(login="u", role=Role.USER, user_id="usr_1", memberships={"team": role})


@pytest.mark.parametrize(
    ("role", "need", "allowed"),
    [
        (NamespaceRole.VIEWER, Need.READ, True),  # viewers read
        (NamespaceRole.VIEWER, Need.WRITE, False),  # but do not write
        (NamespaceRole.VIEWER, Need.MANAGE, False),  # nor manage
        (NamespaceRole.EDITOR, Need.WRITE, True),  # editors write
        (NamespaceRole.EDITOR, Need.MANAGE, False),  # but do not manage
        (NamespaceRole.OWNER, Need.MANAGE, True),  # owners manage
    ],
)
def test_roles_meet_needs(role: NamespaceRole, need: Need, allowed: bool) -> None:
    """Each namespace role allows exactly the needs it is meant to."""
    assert member(role).can(need, "team") is allowed


def test_strangers_are_told_the_object_does_not_exist() -> None:
    """A caller outside the namespace gets the object's 404, whatever the need."""
    with pytest.raises(NotFound, match='No namespace "other"'):
        require(member(NamespaceRole.OWNER), Need.READ, "other", no_namespace("other"))


def test_weak_roles_are_forbidden_with_a_reason() -> None:
    """A member whose role is short gets 403 naming their role and the one needed."""
    with pytest.raises(Forbidden, match=r"viewer.*editor or owner"):
        require(member(NamespaceRole.VIEWER), Need.WRITE, "team", no_namespace("team"))


def test_admins_and_the_anonymous_caller_may_do_everything() -> None:
    """Admins (and everyone with AUTH_MODE=off) meet every need in every namespace."""
    admin = Principal(login="root", role=Role.ADMIN, user_id="usr_0")
    for caller in (admin, ANONYMOUS):
        assert all(caller.can(need, "anywhere") for need in Need)
        require_admin(caller, "This")
    with pytest.raises(Forbidden, match="for admins only"):
        require_admin(member(NamespaceRole.OWNER), "This")


def test_visible_keeps_only_the_callers_namespaces() -> None:
    """A user sees their namespaces among others; an admin sees them all."""
    names = frozenset({"team", "other"})
    assert member(NamespaceRole.VIEWER).visible(names) == {"team"}
    assert ANONYMOUS.visible(names) == {"team", "other"}
