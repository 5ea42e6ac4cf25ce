"""Write-only secrets: masked in every answer, kept when the mask is sent back unchanged.

Secrets live in callback configs (``kafkaPassword``, the password inside ``rabbitURL``,
``signing.secret``) and in change webhooks (``signing.secret``). ``env:NAME`` and ``$.gS.key``
references are not secrets themselves and are shown as written.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "********"


def _is_reference(value: str) -> bool:
    return value.startswith(("env:", "$."))


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return value if _is_reference(value) or not value else MASK
    if isinstance(value, list):
        return [_mask_value(v) for v in value]
    return value


def _split_password(url: str) -> tuple[str, str | None]:
    """(url with the password replaced by the mask, the password) — password None if none."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url, None
    if password is None:
        return url, None
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    masked = urlunsplit(
        (parts.scheme, f"{user}:{MASK}@{hostinfo}", parts.path, parts.query, parts.fragment)
    )
    return masked, password


def _mask_signing(signing: Any) -> Any:
    if isinstance(signing, dict) and "secret" in signing:
        signing = dict(signing)
        signing["secret"] = _mask_value(signing["secret"])
    return signing


def mask_callback(cb: Mapping[str, Any]) -> dict[str, Any]:
    """A callback (webhooks[] item or change webhook) with its secrets masked."""
    out = dict(cb)
    if out.get("kafkaPassword"):
        out["kafkaPassword"] = MASK
    if isinstance(out.get("rabbitURL"), str):
        out["rabbitURL"] = _split_password(out["rabbitURL"])[0]
    if "signing" in out:
        out["signing"] = _mask_signing(out["signing"])
    return out


def mask_mock(document: Mapping[str, Any]) -> dict[str, Any]:
    """A mock document with every callback secret masked."""
    out = dict(document)
    hooks = out.get("webhooks")
    if isinstance(hooks, list):
        out["webhooks"] = [mask_callback(cb) if isinstance(cb, Mapping) else cb for cb in hooks]
    return out


def _unmask_value(new: Any, old: Any) -> Any:
    if new == MASK:
        return old
    if isinstance(new, list) and isinstance(old, list):
        return [
            o if n == MASK and i < len(old) else n
            for i, (n, o) in enumerate(zip(new, [*old, *([None] * len(new))], strict=False))
        ]
    return new


def unmask_callback(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> dict[str, Any]:
    """``new`` with every masked secret replaced by the stored one from ``old``."""
    out = dict(new)
    if old is None:
        return out
    if out.get("kafkaPassword") == MASK:
        out["kafkaPassword"] = old.get("kafkaPassword")
    new_url, old_url = out.get("rabbitURL"), old.get("rabbitURL")
    if isinstance(new_url, str) and isinstance(old_url, str):
        masked_old, password = _split_password(old_url)
        if password is not None and new_url == masked_old:
            out["rabbitURL"] = old_url
    new_signing, old_signing = out.get("signing"), old.get("signing")
    if isinstance(new_signing, dict) and isinstance(old_signing, dict) and "secret" in new_signing:
        new_signing = dict(new_signing)
        new_signing["secret"] = _unmask_value(new_signing["secret"], old_signing.get("secret"))
        out["signing"] = new_signing
    return out


def unmask_mock(new: Any, old: Mapping[str, Any] | None) -> Any:
    """A submitted mock with masks replaced by stored secrets (callbacks paired by id, else index)."""
    if old is None or not isinstance(new, Mapping):
        return new
    out = copy.copy(dict(new))
    hooks, old_hooks = out.get("webhooks"), old.get("webhooks")
    if not isinstance(hooks, list) or not isinstance(old_hooks, list):
        return out
    by_id = {cb.get("id"): cb for cb in old_hooks if isinstance(cb, Mapping) and cb.get("id")}
    merged = []
    for i, cb in enumerate(hooks):
        if not isinstance(cb, Mapping):
            merged.append(cb)
            continue
        previous = by_id.get(cb.get("id")) if cb.get("id") else None
        if previous is None and i < len(old_hooks) and isinstance(old_hooks[i], Mapping):
            previous = old_hooks[i]
        merged.append(unmask_callback(cb, previous))
    out["webhooks"] = merged
    return out


def contains_mask(value: Any) -> bool:
    """Whether a mask is left anywhere (a mask with nothing stored behind it is an error)."""
    if isinstance(value, str):
        return MASK in value
    if isinstance(value, Mapping):
        return any(contains_mask(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_mask(v) for v in value)
    return False
