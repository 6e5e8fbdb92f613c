"""Turning what the providers' SDKs raise into the ``PlatformError`` family, safely.

Both adapters speak HTTP through ``requests``; the helpers here read a failed
response (status, the provider's own ``msg``/``error`` text), choose the error
class the faces know how to present, and make sure no API key ever ends up in
a message. They also hold the small input checks both adapters share (public
SSH key lines).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

import requests

from vp_tui.core.models import PlatformName
from vp_tui.platforms.base import (
    AuthError,
    NotFound,
    PlatformError,
    QuotaExceeded,
    RateLimited,
    Unavailable,
)

_MAX_DETAIL = 300
_KEY_IN_URL = re.compile(r"(?i)((?:api[_-]?key|token|key|auth)=)[^&\s'\"]+")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_HTML = re.compile(r"(?is)^\s*<(!doctype|html|head|body)")
_TAGS = re.compile(r"<[^>]+>")
_TITLE = re.compile(r"(?is)<title>(.*?)</title>")
_SPACES = re.compile(r"\s+")

PUBLIC_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
_KEY_LINE = re.compile(
    r"^(?P<type>" + "|".join(re.escape(t) for t in PUBLIC_KEY_TYPES) + r")"
    r" (?P<body>[A-Za-z0-9+/]{16,16384}={0,3})"
    r"(?: (?P<comment>[A-Za-z0-9@._+:/=-](?:[A-Za-z0-9@._+:/= -]{0,254}[A-Za-z0-9@._+:/=-])?))?$"
)


# sys.stdout/sys.stderr are process-wide: swaps must not interleave or one could stick.
_OUTPUT_LOCK = threading.RLock()


@contextlib.contextmanager
def quiet_output() -> Iterator[io.StringIO]:
    """Catch what an SDK prints to stdout/stderr (imports, warnings) instead of the terminal.

    Both adapters swap the streams only through here, one at a time, so the
    original streams are always the ones put back.
    """
    buffer = io.StringIO()
    with _OUTPUT_LOCK, contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        yield buffer


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every secret, bearer token and key-looking URL parameter masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "****")
    text = _BEARER.sub(r"\1****", text)
    return _KEY_IN_URL.sub(r"\1****", text)


def shorten(text: str, limit: int = _MAX_DETAIL) -> str:
    """One line of at most ``limit`` characters (an HTML page reduced to its title or text)."""
    if is_html(text):
        title = _TITLE.search(text)
        text = title.group(1) if title else _TAGS.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_html(text: str) -> bool:
    """Whether a response body is an HTML page (a proxy's or gateway's error page)."""
    return bool(_HTML.match(text))


def response_detail(response: requests.Response | None) -> tuple[str, str | None]:
    """The provider's own words from a failed response, and its error code if it gave one.

    Reads ``msg``/``message``/``detail``/``error`` (and GraphQL ``errors[0].message``)
    from a JSON body, else the body text; never raises.
    """
    if response is None:
        return "", None
    try:
        text = response.text or ""
    except Exception:  # a body that cannot be decoded says nothing useful
        text = ""
    try:
        body: Any = json.loads(text) if text.strip() else None
    except ValueError:
        body = None
    code: str | None = None
    words = ""
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, str):
            code = error
        for field in ("msg", "message", "detail", "error_msg", "error"):
            value = body.get(field)
            if isinstance(value, str) and value.strip():
                words = value
                break
        errors = body.get("errors")
        if not words and isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            first = errors[0].get("message")
            if isinstance(first, str):
                words = first
    elif isinstance(body, str):
        words = body
    elif body is None:
        words = text
    return shorten(words), code


def _retry_after(response: requests.Response | None) -> float | None:
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds < 86_400 else None


def next_utc_midnight(now: datetime | None = None) -> datetime:
    """When a daily quota that resets at midnight UTC is whole again."""
    now = now or datetime.now(UTC)
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(), tzinfo=UTC)


def error_for_status(
    status: int,
    detail: str,
    *,
    platform: PlatformName,
    service: str,
    key_hint: str,
    code: str | None = None,
    retry_after: float | None = None,
) -> PlatformError:
    """The error class and words for an HTTP failure status from a provider."""
    said = f" ({detail})" if detail else ""
    if status in (401, 403):
        return AuthError(
            f"API key rejected{said}: check it with `vp config-set --{key_hint} -`",
            platform=platform,
            status=status,
        )
    if status == 404:
        return NotFound(f"not found{said}", platform=platform, status=status)
    if status == 429:
        if code == "search_quota_exceeded":
            return QuotaExceeded(
                f"daily search quota used up{said}; it resets at midnight UTC",
                platform=platform,
                status=status,
                resets_at=next_utc_midnight(),
            )
        wait = f"; wait {retry_after:g} s" if retry_after else "; try again in a little while"
        return RateLimited(
            f"too many requests{said}{wait}",
            platform=platform,
            status=status,
            retry_after=retry_after,
        )
    if status >= 500:
        return Unavailable(
            f"the API answered HTTP {status}{said}; try again shortly",
            platform=platform,
            status=status,
        )
    if status == 402:
        return PlatformError(
            f"payment required{said}: add credit to your account", platform=platform, status=status
        )
    refused = f"refused (HTTP {status}): {detail}" if detail else f"refused (HTTP {status})"
    return PlatformError(refused, platform=platform, status=status)


def map_requests_error(
    exc: requests.RequestException | ValueError,
    *,
    platform: PlatformName,
    service: str,
    url: str,
    key_hint: str,
    secrets: Iterable[str | None] = (),
) -> PlatformError:
    """A ``PlatformError`` for a ``requests`` failure (HTTP status, network, bad JSON)."""
    secrets = list(secrets)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        detail, code = response_detail(exc.response)
        error = error_for_status(
            exc.response.status_code,
            scrub(detail, secrets),
            platform=platform,
            service=service,
            key_hint=key_hint,
            code=code,
            retry_after=_retry_after(exc.response),
        )
        return error
    if isinstance(exc, requests.Timeout):
        return Unavailable(
            f"no answer from {scrub(url, secrets)} in time; try again shortly",
            platform=platform,
        )
    if isinstance(exc, requests.ConnectionError):
        return Unavailable(
            f"cannot reach {service} at {scrub(url, secrets)}: check your network "
            f"({scrub(shorten(_root_reason(exc), 160), secrets)})",
            platform=platform,
        )
    if isinstance(exc, ValueError):  # requests' JSONDecodeError is a ValueError
        return malformed(platform, "not valid JSON")
    return Unavailable(
        f"request to {service} failed: {scrub(shorten(str(exc)), secrets)}",
        platform=platform,
    )


def malformed(platform: PlatformName, what: str) -> Unavailable:
    """The error for an answer that is not what the API promises."""
    return Unavailable(
        f"malformed answer from the API ({what}); try again shortly", platform=platform
    )


def _root_reason(exc: BaseException) -> str:
    """The innermost cause of a connection failure ("Connection refused"), not the URL soup."""
    reason: BaseException = exc
    seen = set()
    while id(reason) not in seen:
        seen.add(id(reason))
        inner = reason.__cause__ or reason.__context__
        args = getattr(reason, "args", ())
        if inner is None and args and isinstance(args[0], BaseException):
            inner = args[0]
        if inner is None:
            inner = getattr(reason, "reason", None)
        if not isinstance(inner, BaseException):
            break
        reason = inner
    text = str(reason)
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if match:
        return match.group(1).strip()
    return text.split(": ", 1)[-1] if "NewConnectionError" in text else text


def parse_public_key(text: str) -> tuple[str, str]:
    """``(type, base64 body)`` of one OpenSSH public key line; ``PlatformError`` otherwise.

    Only ``<type> <base64> [comment]`` with a known key type and a plain comment
    (letters, digits, ``@._+-:/=`` and spaces) is accepted, so the line is safe
    to send inside a provider's query text.
    """
    line = text.strip()
    match = _KEY_LINE.match(line) if "\n" not in line and "\r" not in line else None
    if match is None:
        raise PlatformError(
            "not an OpenSSH public key line (expected e.g. `ssh-ed25519 AAAA... comment`)"
        )
    return match.group("type"), match.group("body")


def key_identity(line: str) -> tuple[str, str] | None:
    """``(type, base64 body)`` of a key found anywhere in an authorized_keys-style line."""
    parts = line.split()
    for index, part in enumerate(parts[:-1]):
        if part in PUBLIC_KEY_TYPES:
            return part, parts[index + 1]
    return None
