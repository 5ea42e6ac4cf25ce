"""Users, logins and API tokens (SPEC §9): who may call the admin API, as a plain service.

Passwords are kept as scrypt hashes and tokens as SHA-256 hashes; neither is ever returned
after the call that made it. Hashing runs in a worker thread so the event loop keeps serving
mocks meanwhile. Every change that has a change-webhook operation stores its deliveries in the
same transaction (see ``notifications``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from mockback.domain.access import Forbidden, Principal, Unauthorized, require_admin
from mockback.domain.accounts import ApiToken, ChangeEvent, Role, User
from mockback.domain.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from mockback.ids import new_id
from mockback.notifications import Notifications
from mockback.passwords import (
    DUMMY_HASH,
    hash_password,
    new_password,
    new_token,
    same_hash,
    token_hash,
    verify_password,
)
from mockback.schema.bodies import Body, validate
from mockback.store.base import Store

_LOGIN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$"
MIN_PASSWORD = 8


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """RFC 3339 text of a time."""
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def user_view(user: User) -> dict[str, Any]:
    """The API shape of a user (never the password hash)."""
    return {
        "id": user.id,
        "login": user.login,
        "role": user.role.value,
        "createdAt": iso(user.created_at),
    }


def token_view(token: ApiToken) -> dict[str, Any]:
    """The API shape of a token (never the token itself)."""
    return {
        "id": token.id,
        "name": token.name,
        "userId": token.user_id,
        "createdAt": iso(token.created_at),
        "expiresAt": iso(token.expires_at),
    }


class UserIn(Body):
    """Body of POST /api/v1/users."""

    login: str = Field(pattern=_LOGIN)
    password: str = Field(min_length=MIN_PASSWORD, max_length=1024)
    role: Literal["admin", "user"] = "user"


class UserPatch(Body):
    """Body of PATCH /api/v1/users/{id}."""

    login: str | None = Field(default=None, pattern=_LOGIN)
    role: Literal["admin", "user"] | None = None


class PasswordIn(Body):
    """Body of POST /api/v1/users/{id}/password."""

    password: str = Field(min_length=MIN_PASSWORD, max_length=1024)
    currentPassword: str | None = None


class LoginIn(Body):
    """Body of POST /api/v1/login."""

    login: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)


class TokenIn(Body):
    """Body of POST /api/v1/tokens."""

    name: str = Field(min_length=1, max_length=200)


def _no_user(user_id: str) -> NotFound:
    return NotFound(
        f'No user with id "{user_id}".', (FieldProblem(field="id", problem="does not exist"),)
    )


class Accounts:
    """Users, passwords, logins and tokens."""

    def __init__(
        self,
        *,
        store: Store,
        notifications: Notifications,
        login_ttl: float = 86_400.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._notifications = notifications
        self._login_ttl = login_ttl
        self._clock = clock

    # ---- authentication

    async def authenticate(self, authorization: str | None) -> Principal:
        """The caller of a request from its Authorization header; Unauthorized otherwise."""
        if not authorization:
            raise Unauthorized("This call needs an API token: Authorization: Bearer <token>.")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("The Authorization header must read: Bearer <token>.")
        wanted = token_hash(token.strip())
        found = await self._store.get_token(wanted)
        if found is None or not same_hash(found.token_hash, wanted):
            raise Unauthorized("The token is not valid (unknown, revoked or expired).")
        if found.expires_at is not None and found.expires_at <= self._clock():
            raise Unauthorized("The token is not valid (unknown, revoked or expired).")
        user = await self._store.get_user(found.user_id)
        if user is None:
            raise Unauthorized("The token is not valid (unknown, revoked or expired).")
        return replace(await self.principal_of(user), token_id=found.id)

    async def principal_of(self, user: User) -> Principal:
        """A user as a caller, with their memberships."""
        memberships = await self._store.list_memberships(user_id=user.id)
        return Principal(
            login=user.login,
            role=user.role,
            user_id=user.id,
            memberships={m.namespace: m.role for m in memberships},
        )

    async def login(self, data: Any) -> dict[str, Any]:
        """A login token for a login and password; Unauthorized when they do not match."""
        body = validate(LoginIn, data, "login")
        user = await self._store.get_user_by_login(body.login)
        stored = DUMMY_HASH if user is None else user.password_hash
        ok = await asyncio.to_thread(verify_password, body.password, stored)
        if user is None or not ok:
            raise Unauthorized("Wrong login or password.")
        now = self._clock()
        token, plain = self._token(user.id, "login", now, now + timedelta(seconds=self._login_ttl))
        await self._store.insert_token(token)
        return {"token": plain, "expiresAt": iso(token.expires_at)}

    def _token(
        self, user_id: str, name: str, now: datetime, expires: datetime | None
    ) -> tuple[ApiToken, str]:
        plain = new_token()
        token = ApiToken(
            id=new_id("tok"),
            user_id=user_id,
            name=name,
            token_hash=token_hash(plain),
            created_at=now,
            expires_at=expires,
        )
        return token, plain

    async def bootstrap(self, login: str, password: str | None) -> str | None:
        """Create the first admin when there are no users; the generated password, if any."""
        if await self._store.list_users():
            return None
        generated = None if password else new_password()
        user = User(
            id=new_id("usr"),
            login=login,
            role=Role.ADMIN,
            password_hash=await asyncio.to_thread(hash_password, password or generated or ""),
            created_at=self._clock(),
        )
        event = self._event("user.create", "system", user_view(user))
        await self._write(self._store.insert_user, user, event)
        return generated

    # ---- users

    def _event(self, operation: str, actor: str, data: Any, before: Any = None) -> ChangeEvent:
        return ChangeEvent(
            operation=operation,
            namespace=None,
            actor=actor,
            timestamp=self._clock(),
            data=data,
            before=before,
        )

    async def _write(
        self, write: Callable[..., Any], subject: Any, event: ChangeEvent | None
    ) -> bool:
        outbox = self._notifications.deliveries(event) if event is not None else []
        done: bool = await write(subject, outbox=outbox)
        if done:
            self._notifications.announce(outbox)
        return done

    async def _user(self, user_id: str) -> User:
        user = await self._store.get_user(user_id)
        if user is None:
            raise _no_user(user_id)
        return user

    async def create_user(self, caller: Principal, data: Any) -> dict[str, Any]:
        """A new user (admin only)."""
        require_admin(caller, "Managing users")
        body = validate(UserIn, data, "user")
        user = User(
            id=new_id("usr"),
            login=body.login,
            role=Role(body.role),
            password_hash=await asyncio.to_thread(hash_password, body.password),
            created_at=self._clock(),
        )
        view = user_view(user)
        if not await self._write(
            self._store.insert_user, user, self._event("user.create", caller.login, view)
        ):
            raise Conflict(
                f'The login "{body.login}" is taken.',
                (FieldProblem(field="login", problem="is taken"),),
            )
        return view

    async def list_users(self, caller: Principal) -> list[dict[str, Any]]:
        """Every user (admin only)."""
        require_admin(caller, "Managing users")
        return [user_view(u) for u in await self._store.list_users()]

    def _resolve(self, caller: Principal, user_id: str) -> str:
        if user_id != "me":
            return user_id
        if caller.user_id is None:
            raise ValidationFailed(
                '"me" names the caller\'s user, but this caller is not a user (AUTH_MODE=off).',
                (FieldProblem(field="id", problem="no user behind this caller"),),
            )
        return caller.user_id

    async def get_user(self, caller: Principal, user_id: str) -> dict[str, Any]:
        """One user: admins see anyone, users themselves (``me``)."""
        user_id = self._resolve(caller, user_id)
        if user_id != caller.user_id:
            require_admin(caller, "Managing users")
        view = user_view(await self._user(user_id))
        view["namespaces"] = [
            {"namespace": m.namespace, "role": m.role.value}
            for m in await self._store.list_memberships(user_id=user_id)
        ]
        return view

    async def _check_admins_remain(self, leaving: User) -> None:
        if leaving.role is not Role.ADMIN:
            return
        admins = [u for u in await self._store.list_users() if u.role is Role.ADMIN]
        if len(admins) <= 1:
            raise Conflict(
                f'"{leaving.login}" is the last admin; make another user admin first.',
                (FieldProblem(field="role", problem="at least one admin must remain"),),
            )

    async def update_user(self, caller: Principal, user_id: str, data: Any) -> dict[str, Any]:
        """Change login or role (admin only)."""
        require_admin(caller, "Managing users")
        body = validate(UserPatch, data, "user change")
        before = await self._user(self._resolve(caller, user_id))
        after = replace(
            before,
            login=body.login or before.login,
            role=Role(body.role) if body.role else before.role,
        )
        if after.role is not Role.ADMIN:
            await self._check_admins_remain(before)
        view = user_view(after)
        event = self._event("user.update", caller.login, view, user_view(before))
        if not await self._write(self._store.update_user, after, event):
            raise Conflict(
                f'The login "{after.login}" is taken.',
                (FieldProblem(field="login", problem="is taken"),),
            )
        return view

    async def delete_user(self, caller: Principal, user_id: str) -> None:
        """Remove a user, their memberships and tokens (admin only)."""
        require_admin(caller, "Managing users")
        user = await self._user(self._resolve(caller, user_id))
        await self._check_admins_remain(user)
        event = self._event("user.delete", caller.login, user_view(user), user_view(user))
        if not await self._write(self._store.delete_user, user.id, event):
            raise _no_user(user_id)

    async def set_password(self, caller: Principal, user_id: str, data: Any) -> dict[str, Any]:
        """Set a password: admins for anyone; users for themselves, with the current one.

        The user's login tokens end (theirs, and any made by someone who had the old
        password); their API tokens keep working.
        """
        user_id = self._resolve(caller, user_id)
        body = validate(PasswordIn, data, "password change")
        if user_id != caller.user_id:
            require_admin(caller, "Setting another user's password")
        user = await self._user(user_id)
        if not caller.is_admin:
            current = body.currentPassword or ""
            if not await asyncio.to_thread(verify_password, current, user.password_hash):
                raise Forbidden("currentPassword is missing or wrong.")
        after = replace(user, password_hash=await asyncio.to_thread(hash_password, body.password))
        view = user_view(after)
        await self._write(
            self._store.update_user, after, self._event("user.password.set", caller.login, view)
        )
        # Whoever had the old password may hold a login token made with it: those end now.
        # API tokens are credentials of their own, revoked one by one.
        for token in await self._store.list_tokens(user_id):
            if token.expires_at is not None:  # only login tokens expire
                await self._store.delete_token(token.id)
        return view

    # ---- tokens

    def _owner(self, caller: Principal) -> str:
        if caller.user_id is None:
            raise ValidationFailed(
                "API tokens belong to users; this caller is not one (AUTH_MODE=off). "
                "Log in as a user (POST /api/v1/login) to make tokens.",
                (FieldProblem(field="", problem="no user behind this caller"),),
            )
        return caller.user_id

    async def create_token(self, caller: Principal, data: Any) -> dict[str, Any]:
        """A new API token of the caller; the token itself is in this answer only."""
        body = validate(TokenIn, data, "token")
        token, plain = self._token(self._owner(caller), body.name, self._clock(), None)
        await self._store.insert_token(token)
        return {**token_view(token), "token": plain}

    async def list_tokens(self, caller: Principal) -> list[dict[str, Any]]:
        """The caller's tokens (without the tokens themselves)."""
        return [token_view(t) for t in await self._store.list_tokens(self._owner(caller))]

    async def delete_token(self, caller: Principal, token_id: str) -> None:
        """Revoke one of the caller's tokens (admins: anyone's)."""
        owner = self._owner(caller)
        mine = {t.id for t in await self._store.list_tokens(owner)}
        if token_id not in mine and not caller.is_admin:
            raise NotFound(
                f'No token with id "{token_id}".',
                (FieldProblem(field="id", problem="does not exist"),),
            )
        if not await self._store.delete_token(token_id):
            raise NotFound(
                f'No token with id "{token_id}".',
                (FieldProblem(field="id", problem="does not exist"),),
            )
