"""Parameters of a Mastodon API call, wherever the app put them.

Mastodon (Rails) merges the query string with a form or JSON body, and takes arrays as
`name[]=a&name[]=b` or as JSON lists. `await params()` gives one mapping; the readers below
turn a value into the type an endpoint needs, answering 422 "Validation failed" otherwise.
"""

from __future__ import annotations

from typing import Any

import orjson
from quart import g, request

from federatie.web.mastodon.errors import validation_failed

_TRUE = frozenset({"true", "1", "on", "yes"})
_FALSE = frozenset({"false", "0", "off", "no", ""})


async def params() -> dict[str, Any]:
    """Query, then body (a JSON object, or a form): arrays as lists under their bare name."""
    if "api_params" in g:
        cached: dict[str, Any] = g.api_params
        return cached
    merged: dict[str, Any] = {}
    _merge_multidict(merged, request.args)
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if request.is_json:
            raw = await request.get_data(as_text=False)
            try:
                body = orjson.loads(raw) if raw.strip() else {}
            except orjson.JSONDecodeError:
                raise validation_failed("the body is not valid JSON") from None
            if not isinstance(body, dict):
                raise validation_failed("the body must be a JSON object")
            merged.update(body)
        elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            _merge_multidict(merged, await request.form)
    g.api_params = merged
    return merged


def _merge_multidict(into: dict[str, Any], source: Any) -> None:
    for key in source:
        values = source.getlist(key)
        if key.endswith("[]"):
            into[key[:-2]] = list(values)
        else:
            into[key] = values[-1]


def text(values: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = values.get(name)
    if value is None:
        if required:
            raise validation_failed(f"{name} can't be blank")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise validation_failed(f"{name} must be a string")
    if required and not value.strip():
        raise validation_failed(f"{name} can't be blank")
    return value


def flag(values: dict[str, Any], name: str, default: bool = False) -> bool:
    value = values.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise validation_failed(f"{name} must be true or false")


def number(
    values: dict[str, Any], name: str, default: int, *, minimum: int = 0, maximum: int | None = None
) -> int:
    value = values.get(name)
    if value is None or value == "":
        return default
    try:
        result = int(value)
    except (TypeError, ValueError):
        raise validation_failed(f"{name} must be a number") from None
    if isinstance(value, bool) or result < minimum:
        raise validation_failed(f"{name} must be at least {minimum}")
    return min(result, maximum) if maximum is not None else result


def strings(values: dict[str, Any], name: str) -> list[str]:
    """A list given as `name[]`, a JSON list, or one value."""
    value = values.get(name)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        raise validation_failed(f"{name} must be a list of strings")
    return list(items)


def id_value(raw: Any, name: str) -> int:
    """An id as Mastodon sends them (a string of digits)."""
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return raw
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 18:
        return int(raw)
    raise validation_failed(f"{name} must be an id")


def ids(values: dict[str, Any], name: str) -> list[int]:
    value = values.get(name)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [id_value(item, name) for item in items]
