"""The HTTP client of RunPod's REST API v2, and of the one GraphQL query it still needs.

RunPod retired REST v1 in November 2026 and retires GraphQL in early 2027
(docs/platforms.md has the dates and sources). The released ``runpod`` package
(1.12) speaks only GraphQL, so vp-tui talks to v2 itself, on ``requests``:

- Bearer authentication, a connect and a read timeout on every request;
- errors come as RFC 9457 problem bodies (``title``, ``status``, ``detail``,
  ``errors``) and become the ``PlatformError`` family with the provider's words;
- a 429 is waited out once when its ``Retry-After`` is short, else raised as
  ``RateLimited`` carrying the wait, so the caller's scheduler backs off;
- list routes are followed through every cursor page;
- ``410 Gone`` (how RunPod answers a retired API) is ``ApiRetired``.

No API key ever reaches a message: every text taken from an answer is scrubbed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

import requests
from pydantic import SecretStr

from vp_tui import __version__
from vp_tui.core.models import PlatformName
from vp_tui.platforms.base import (
    AuthError,
    CapacityError,
    NotFound,
    PlatformError,
    RateLimited,
    Unavailable,
)
from vp_tui.platforms.errors import is_html, malformed, map_requests_error, scrub, shorten

log = logging.getLogger(__name__)

PLATFORM: PlatformName = "runpod"
_SERVICE = "RunPod"
KEY_HINT = "runpod-api-key"

CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a connection to RunPod."""
READ_TIMEOUT = 30.0
"""Seconds to wait for an answer once connected."""
MAX_RETRY_AFTER = 10.0
"""The longest ``Retry-After`` waited out inside a call; longer ones are raised."""
MAX_PAGES = 1000
"""A list longer than this many pages is treated as a broken cursor, not followed forever."""

_CAPACITY_WORDS = (
    "no longer any instances available",
    "not enough free gpus",
    "no instances available",
    "out of stock",
    "no gpus available",
    "no available",
)
_RATELIMIT_WAIT = re.compile(r"(?:^|[;,\s])t=(\d+)")


class ApiRetired(PlatformError):
    """RunPod answered ``410 Gone``: the API asked for has been switched off."""


class RunPodHttp:
    """One account's connection to ``https://api.runpod.io``: REST v2 and GraphQL.

    Safe to share between threads: each thread keeps its own ``requests``
    session (and so its own connection pool).
    """

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr | None,
        *,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout = timeout
        self._sleep = sleep
        self._local = threading.local()
        self.page_size: int | None = None
        """Items asked for per page of a list route; None leaves RunPod's default (1000)."""

    # ------------------------------------------------------------------ plumbing

    def _key(self) -> str:
        value = self._api_key.get_secret_value().strip() if self._api_key is not None else ""
        if not value:
            raise AuthError(
                f"no API key configured: set one with `vp config-set --{KEY_HINT} -`",
                platform=PLATFORM,
            )
        return value

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = f"vp-tui/{__version__}"
            self._local.session = session
        return session

    def scrub(self, text: str) -> str:
        """``text`` without this account's key (or any bearer token)."""
        key = self._api_key.get_secret_value() if self._api_key is not None else None
        return scrub(text, [key])

    def _send(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send one request; a short ``Retry-After`` on 429 is waited out once."""
        key = self._key()
        url = self.base_url + path
        headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        for attempt in (1, 2):
            try:
                response = self._session().request(
                    method,
                    url,
                    params=dict(params) if params else None,
                    json=body,
                    headers=headers,
                    timeout=self.timeout,
                    stream=stream,
                )
            except requests.RequestException as exc:
                error = map_requests_error(
                    exc,
                    platform=PLATFORM,
                    service=_SERVICE,
                    url=self.base_url,
                    key_hint=KEY_HINT,
                    secrets=[key],
                )
                log.info("runpod %s failed: %s", what, error)
                raise error from None
            if response.status_code != 429 or attempt == 2:
                return response
            wait = retry_after(response)
            if wait is None or wait > MAX_RETRY_AFTER:
                return response
            log.info("runpod %s: rate limited, waiting %.0f s once", what, wait)
            response.close()
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ REST v2

    def rest(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        """One REST v2 call; the JSON answer (None for ``204 No Content``).

        Raises the ``PlatformError`` family for every failure, in RunPod's words.
        """
        response = self._send(method, path, what, params=params, body=body)
        if response.status_code >= 400:
            raise self.problem(response, what)
        if response.status_code == 204 or not response.content.strip():
            return None
        return self._json(response, what)

    def rest_object(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Mapping[str, Any]:
        """A REST v2 call whose answer must be a JSON object."""
        answer = self.rest(method, path, what, params=params, body=body)
        if not isinstance(answer, Mapping):
            raise malformed(PLATFORM, f"{what}: not an object")
        return answer

    def rest_list(
        self, path: str, field: str, what: str, *, params: Mapping[str, Any] | None = None
    ) -> list[Any]:
        """Every item of a list route, following ``pagination.nextCursor`` to the end.

        A page without the ``field`` list is a malformed answer, never an empty list.
        """
        items: list[Any] = []
        query = dict(params or {})
        if self.page_size is not None:
            query["limit"] = self.page_size
        seen: set[str] = set()
        for _page in range(MAX_PAGES):
            answer = self.rest_object("GET", path, what, params=query)
            page = answer.get(field)
            if not isinstance(page, list):
                raise malformed(PLATFORM, f"{what}: no {field} list")
            items.extend(page)
            pagination = answer.get("pagination")
            if not isinstance(pagination, Mapping) or pagination.get("hasNextPage") is not True:
                return items
            cursor = pagination.get("nextCursor")
            if not isinstance(cursor, str) or not cursor or cursor in seen:
                raise malformed(PLATFORM, f"{what}: a next page without a new cursor")
            seen.add(cursor)
            query["cursor"] = cursor
        raise malformed(PLATFORM, f"{what}: more than {MAX_PAGES} pages")

    def events(self, path: str, what: str, *, params: Mapping[str, Any], limit: int) -> list[Any]:
        """The data of up to ``limit`` Server-Sent Events from a stream route (JSON each).

        Reading stops at ``limit`` events, at the end of the stream, or when the
        server goes quiet for the read timeout after sending its backlog.
        """
        response = self._send("GET", path, what, params=params, stream=True)
        try:
            if response.status_code >= 400:
                raise self.problem(response, what)
            return list(_sse_data(response, limit))
        finally:
            response.close()

    @staticmethod
    def path(*parts: str) -> str:
        """``/v2/<part>/<part>`` with every part URL-encoded (GPU ids have spaces)."""
        return "/v2/" + "/".join(quote(part, safe="") for part in parts)

    def _json(self, response: requests.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            text = response.text or ""
            if is_html(text):
                raise Unavailable(
                    f"the API answered with a web page ({self.scrub(shorten(text, 160))}); "
                    "try again shortly",
                    platform=PLATFORM,
                ) from None
            raise malformed(PLATFORM, f"{what}: not valid JSON") from None

    def problem(self, response: requests.Response, what: str) -> PlatformError:
        """The error for a failed answer, from its RFC 9457 problem body when it has one."""
        status = response.status_code
        detail = self.scrub(problem_detail(response))
        said = f" ({detail})" if detail else ""
        if status in (401, 403):
            return AuthError(
                f"API key rejected{said}: check it with `vp config-set --{KEY_HINT} -`",
                platform=PLATFORM,
                status=status,
            )
        if status == 404:
            return NotFound(f"{what}: not found{said}", platform=PLATFORM, status=status)
        if status == 410:
            return ApiRetired(
                f"{what}: RunPod has switched this API off (HTTP 410 Gone){said}",
                platform=PLATFORM,
                status=status,
            )
        if status == 429:
            wait = retry_after(response)
            when = f"; try again in {wait:g} s" if wait else "; try again in a little while"
            return RateLimited(
                f"too many requests{said}{when}",
                platform=PLATFORM,
                status=status,
                retry_after=wait,
            )
        if status >= 500:
            return Unavailable(
                f"{what}: the API answered HTTP {status}{said}; try again shortly",
                platform=PLATFORM,
                status=status,
            )
        if status == 402:
            return PlatformError(
                f"{what}: the account's balance is too low{said}; add credit on runpod.io",
                platform=PLATFORM,
                status=status,
            )
        if status == 400 and any(word in detail.lower() for word in _CAPACITY_WORDS):
            return CapacityError(detail, platform=PLATFORM, status=status)
        if status == 409:
            return PlatformError(
                f"{what}: not possible in the pod's current state{said}",
                platform=PLATFORM,
                status=status,
            )
        return PlatformError(
            f"{what}: refused (HTTP {status}){said}", platform=PLATFORM, status=status
        )

    # ------------------------------------------------------------------ GraphQL

    def graphql(self, query: str, what: str) -> Mapping[str, Any]:
        """The ``data`` of one GraphQL query (for what REST v2 has no route for yet).

        ``410 Gone`` is ``ApiRetired``; GraphQL errors (HTTP 200 with ``errors``)
        are mapped by their words like REST errors.
        """
        response = self._send("POST", "/graphql", what, body={"query": query})
        if response.status_code >= 400:
            raise self.problem(response, what)
        answer = self._json(response, what)
        if not isinstance(answer, Mapping):
            raise malformed(PLATFORM, f"{what}: not an object")
        errors = answer.get("errors")
        if isinstance(errors, list) and errors:
            first = errors[0]
            message = first.get("message") if isinstance(first, Mapping) else None
            words = self.scrub(shorten(str(message or "unknown error")))
            lowered = words.lower()
            if "rate limit" in lowered or "too many requests" in lowered:
                raise RateLimited(f"too many requests ({words})", platform=PLATFORM)
            if "unauthorized" in lowered or "api key" in lowered:
                raise AuthError(
                    f"API key rejected ({words}): check it with `vp config-set --{KEY_HINT} -`",
                    platform=PLATFORM,
                )
            raise PlatformError(f"{what}: {words}", platform=PLATFORM)
        data = answer.get("data")
        if not isinstance(data, Mapping):
            raise malformed(PLATFORM, f"{what}: no data")
        return data


def problem_detail(response: requests.Response) -> str:
    """RunPod's words from a failed answer: ``detail`` (plus ``errors``), else ``title``.

    A body that is not a problem document (a gateway's HTML page, plain text)
    gives its title or first line. Never raises.
    """
    try:
        text = response.text or ""
    except Exception:  # an undecodable body says nothing useful
        return ""
    try:
        body: Any = json.loads(text) if text.strip() else None
    except ValueError:
        body = None
    if not isinstance(body, Mapping):
        return shorten(text)
    words = ""
    for field in ("detail", "title", "message", "error"):
        value = body.get(field)
        if isinstance(value, str) and value.strip():
            words = value.strip()
            break
    errors = body.get("errors")
    if isinstance(errors, list):
        listed = [str(e).strip() for e in errors if isinstance(e, str) and e.strip()]
        if listed:
            words = f"{words}: {'; '.join(listed)}" if words else "; ".join(listed)
    return shorten(words)


def retry_after(response: requests.Response) -> float | None:
    """Seconds to wait before asking again: ``Retry-After``, else the longest ``t=`` of the
    ``RateLimit`` header; None when neither says."""
    value = response.headers.get("Retry-After")
    if value is not None:
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if 0 <= seconds < 86_400:
            return seconds
    waits = [int(m) for m in _RATELIMIT_WAIT.findall(response.headers.get("RateLimit", ""))]
    blocked = [w for w in waits if w > 0]
    return float(max(blocked)) if blocked else None


def _sse_data(response: requests.Response, limit: int) -> Iterator[Any]:
    """The JSON ``data`` of each event of a ``text/event-stream`` answer, up to ``limit``."""
    count = 0
    lines: list[str] = []
    try:
        for raw in response.iter_lines(decode_unicode=True):
            line = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
            if line:
                if line.startswith("data:"):
                    lines.append(line[5:].lstrip(" "))
                continue
            if lines:
                with contextlib.suppress(ValueError):
                    yield json.loads("\n".join(lines))
                lines = []
                count += 1
                if count >= limit:
                    return
    except requests.RequestException:  # the server went quiet after its backlog
        return
    if lines:
        try:
            yield json.loads("\n".join(lines))
        except ValueError:
            return
