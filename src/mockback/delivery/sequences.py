"""Callback sequences: ``id`` and ``dependsOn`` within one mock's ``webhooks[]``.

A callback with ``dependsOn`` is stored, when its request is served, as a waiting delivery: it
carries in ``options["deferred"]`` the ids it waits for and a JSON copy of the request's
template context, so it can be rendered once its dependencies have succeeded, also after a
restart. Its due time is far in the future until then; the engine releases it (renders it, due
after its own delay from that moment) or cancels it when a dependency ended otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from mockback.domain.callbacks import CallbackSpec
from mockback.domain.deliveries import Delivery
from mockback.domain.errors import FieldProblem
from mockback.templating import FakeData, RenderContext

WAITING_DUE = datetime(9999, 1, 1, tzinfo=UTC)
"""The due time of a delivery waiting for its dependencies (the store reads it last)."""

DEFERRED = "deferred"
"""The options key of a waiting delivery: what it waits for and its frozen context."""


def check_sequences(specs: Sequence[CallbackSpec]) -> list[FieldProblem]:
    """Problems of the ``dependsOn`` graph: unknown ids, self-dependencies and cycles."""
    ids = {spec.id: spec for spec in specs if spec.id}
    problems: list[FieldProblem] = []
    for spec in specs:
        where = f"webhooks[{spec.index}].dependsOn"
        for name in spec.depends_on:
            if name == spec.id:
                problems.append(FieldProblem(field=where, problem=f'"{name}" depends on itself'))
            elif name not in ids:
                problems.append(
                    FieldProblem(
                        field=where,
                        problem=f'unknown callback id "{name}" (no callback of this mock has it)',
                    )
                )
    if problems:
        return problems
    cycle = _find_cycle({name: spec.depends_on for name, spec in ids.items()})
    if cycle:
        first = ids[cycle[0]]
        return [
            FieldProblem(
                field=f"webhooks[{first.index}].dependsOn",
                problem="dependency cycle: " + " -> ".join(f'"{n}"' for n in cycle),
            )
        ]
    return []


def _find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str]:
    """One cycle of the graph as a path that ends where it starts; empty when there is none."""
    done: set[str] = set()
    for root in graph:
        if root in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                path.append(node)
                on_path.add(node)
            deps = graph.get(node, ())
            if i < len(deps):
                stack.append((node, i + 1))
                nxt = deps[i]
                if nxt in on_path:
                    return [*path[path.index(nxt) :], nxt]
                if nxt not in done:
                    stack.append((nxt, 0))
                continue
            path.pop()
            on_path.discard(node)
            done.add(node)
    return []


def _plain(value: Any) -> Any:
    """A JSON-safe copy (what the store can keep)."""
    try:
        return orjson.loads(orjson.dumps(value, default=str))
    except TypeError:
        # Integers past 64 bits are valid JSON that orjson does not write; json does.
        return json.loads(json.dumps(value, default=str))


def freeze_context(ctx: RenderContext) -> dict[str, Any]:
    """The request's template context as JSON, to render a waiting callback later."""
    frozen: dict[str, Any] = _plain(
        {
            "body": ctx.body,
            "headers": {k.lower(): list(v) for k, v in ctx.headers.items()},
            "query": {k: list(v) for k, v in ctx.query.items()},
            "pathParams": dict(ctx.path_params),
            "namespace": ctx.namespace,
            "globalStore": dict(ctx.global_store),
            "chainStore": dict(ctx.chain_store),
            "mockStore": dict(ctx.mock_store),
            "response": ctx.response,
            "statusCode": ctx.status_code,
        }
    )
    return frozen


def thaw_context(
    data: Mapping[str, Any], *, fake: FakeData, callbacks: Mapping[str, Any]
) -> RenderContext:
    """The context a waiting callback renders against, with ``$.callbacks`` filled in."""
    return RenderContext(
        body=data.get("body"),
        headers=data.get("headers") or {},
        query=data.get("query") or {},
        path_params=data.get("pathParams") or {},
        namespace=data.get("namespace") or "sandbox",
        global_store=data.get("globalStore") or {},
        chain_store=data.get("chainStore") or {},
        mock_store=data.get("mockStore") or {},
        response=data.get("response"),
        status_code=data.get("statusCode"),
        callbacks=callbacks,
        fake=fake,
    )


def is_waiting(d: Delivery) -> bool:
    """Whether a delivery still waits for its dependencies."""
    return not d.status.is_final and DEFERRED in d.options


def callback_results(finished: Sequence[Delivery]) -> dict[str, Any]:
    """``$.callbacks``: each ended delivery with an id and an attempt, by its callback id."""
    results: dict[str, Any] = {}
    for d in finished:
        if d.callback_id is None or not d.status.is_final or not d.attempts:
            continue
        last = d.attempts[-1]
        results[d.callback_id] = {
            "status": last.status_code,
            "body": _parsed(last.response_body),
            "headers": {k.lower(): v for k, v in last.response_headers.items()},
        }
    return results


def _parsed(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
