"""Reading a request as hostile input: bodies are bounded while they stream in, JSON
must be an object, and every field is checked for type and range before it is used.
Each problem is a UserError (HTTP 400 with one line), never a 500; a body of the wrong
type is refused with 415 before it is read. Requiring JSON (or text/csv for uploads) is
also what stops a cross-site form: a browser sends those types only after a CORS
preflight, which this server never grants."""

from __future__ import annotations

import json
import math

from fastapi import Request

from torchclf.errors import UserError
from torchclf.web.limits import LIMITS


async def body_at_most(request: Request, limit: int, what: str = "the request") -> bytes:
    """The body, refused as soon as it passes ``limit`` bytes (never read whole first)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UserError(f"{what} is too large ({int(declared):,} bytes): at most {limit:,}")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise UserError(f"{what} is too large (over {limit:,} bytes): at most {limit:,}")
        chunks.append(chunk)
    return b"".join(chunks)


class WrongContentType(UserError):
    """A body sent as another media type than the endpoint reads (HTTP 415)."""

    status = 415


def require_type(request: Request, media_type: str, what: str) -> None:
    """Refuse the request unless its Content-Type is ``media_type`` (any parameters)."""
    got = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if got != media_type:
        raise WrongContentType(f"send {what} with Content-Type: {media_type} "
                               f"(got {got[:60] or 'none'})")


async def json_object(request: Request) -> dict:
    """The body as a JSON object; malformed, truncated or non-object bodies are refused."""
    require_type(request, "application/json", "the request body")
    raw = await body_at_most(request, LIMITS.max_json_bytes)
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise UserError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise UserError(f"expected a JSON object, got {type(body).__name__}")
    return body


async def csv_text(request: Request) -> str:
    """An uploaded CSV file's text, sent as text/csv and bounded in size."""
    require_type(request, "text/csv", "the file")
    raw = await body_at_most(request, LIMITS.max_upload_bytes, "the file")
    return raw.decode("utf-8", errors="replace")


def integer(body: dict, key: str, default: int | None = None) -> int:
    """``body[key]`` as a whole number (not a bool, a string or a float with a fraction)."""
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value != int(value):
        raise UserError(f"{key} must be a whole number, got {value!r:.40}")
    return int(value)


def coordinate(body: dict, key: str) -> float:
    """A clicked point's coordinate: a finite number of sensible size."""
    if key not in body:
        raise UserError(f"a point needs {key!r}")
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or abs(value) > LIMITS.max_coordinate:
        raise UserError(f"{key} must be a finite number within ±{LIMITS.max_coordinate:g}, "
                        f"got {value!r:.40}")
    return float(value)
