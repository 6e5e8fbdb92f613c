"""Fault injection for the demo cloud's emulators (``VP_SIM_FAULTS``).

A spec is a comma-separated list of ``platform:fault[@probability]`` items:

- platform: ``vast``, ``runpod`` or ``*`` (both);
- fault: ``latency=MS`` (wait before answering), ``error=STATUS`` (answer that
  HTTP status with the provider's error body), ``ratelimit`` (429),
  ``malformed`` (200 with a truncated body), ``auth`` (reject every key, 401),
  ``nodestroy`` (destroy/terminate answers success but the instance stays),
  ``nographql`` (RunPod only: every ``/graphql`` request answers ``410 Gone``, as
  after RunPod retires GraphQL), ``noport`` (RunPod only: pods created while it
  fires never get a public port 22: ``runtime.ports`` maps 22 on a private
  100.65.x.y address and ``ssh.direct`` stays null for the pod's whole life),
  ``ratelimit-retry`` (429 like ``ratelimit`` but carrying ``Retry-After: 1``,
  which the ``vastai`` SDK waits out and retries inside the call);
- Vast only, flags on the create request (``PUT /api/v0/asks/{id}/``):
  ``schedfail`` (the host has no free GPUs: with ``cancel_unavail`` the create
  fails with no instance, without it Vast leaves a *stopped* instance that bills
  storage and answers ``success: false`` with its ``new_contract``);
  and fates recorded on instances created while the fault fires, taking effect
  once the instance has booted: ``frozen`` (``actual_status`` ``frozen``: paused
  with its memory, still billing the GPU), ``offline`` (the host went away),
  ``unknown`` (``actual_status`` ``unknown``), ``ocifail`` (stays ``created``
  with ``OCI runtime create failed`` in ``status_msg``, never runs), ``outbid``
  (an interruptible instance is out-bid right after booting: stopped, billing
  storage only, the machine's ``min_bid`` above its bid);
- probability: 0..1, default 1 (for the flag faults (``nodestroy``,
  ``nographql``, ``noport``, ``schedfail`` and the fates) it is drawn per
  request, like the others: ``noport@0.5`` hits about half the pods created).

Example: ``vast:latency=300,runpod:error=502@0.2,*:ratelimit@0.05``.

The plain HTTP request and response values the emulators and the faults act
on live here too.
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field
from typing import Any

PLATFORMS = ("vast", "runpod")
FAULT_KINDS = (
    "latency",
    "error",
    "ratelimit",
    "malformed",
    "auth",
    "nodestroy",
    "nographql",
    "noport",
    "ratelimit-retry",
    "schedfail",
    "frozen",
    "offline",
    "unknown",
    "ocifail",
    "outbid",
)
VAST_FATES = ("frozen", "offline", "unknown", "ocifail", "outbid")
"""Faults that decide what becomes of a Vast instance created while they fire."""
_FLAG_KINDS = ("nodestroy", "nographql", "noport", "schedfail")
"""Faults that only mark the request (the emulator acts on them), never fail it."""


class FaultSpecError(ValueError):
    """A ``VP_SIM_FAULTS`` spec that cannot be parsed; the message names the item."""


@dataclass(frozen=True)
class FaultRule:
    """One parsed item of a fault spec."""

    platform: str
    """``vast``, ``runpod`` or ``*``."""
    kind: str
    """One of :data:`FAULT_KINDS`."""
    value: int = 0
    """Milliseconds for ``latency``, the HTTP status for ``error``; 0 otherwise."""
    probability: float = 1.0

    def applies_to(self, platform: str) -> bool:
        """Whether the rule targets ``platform``."""
        return self.platform in ("*", platform)


@dataclass
class FaultDecision:
    """What the faults rolled for one request: a delay, and at most one failure."""

    latency_ms: int = 0
    failure: FaultRule | None = None
    """The first ``error``/``ratelimit``/``ratelimit-retry``/``malformed``/``auth`` rule
    that fired."""
    nodestroy: bool = False
    nographql: bool = False
    noport: bool = False
    schedfail: bool = False
    fate: str | None = None
    """The first of :data:`VAST_FATES` that fired."""
    fired: list[FaultRule] = field(default_factory=list)


def parse_faults(spec: str | None) -> list[FaultRule]:
    """Parse a ``VP_SIM_FAULTS`` spec; an empty or missing spec means no faults.

    Raises ``FaultSpecError`` (a ValueError) naming the offending item when the spec
    is malformed.
    """
    rules: list[FaultRule] = []
    if not spec or not spec.strip():
        return rules
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        rules.append(_parse_item(item))
    return rules


def _parse_item(item: str) -> FaultRule:
    def bad(reason: str) -> FaultSpecError:
        return FaultSpecError(f"VP_SIM_FAULTS item {item!r}: {reason}")

    platform, sep, rest = item.partition(":")
    platform = platform.strip().lower()
    if not sep:
        raise bad("expected platform:fault, e.g. vast:ratelimit")
    if platform not in (*PLATFORMS, "*"):
        raise bad(f"unknown platform {platform!r} (use vast, runpod or *)")
    body, at, prob_text = rest.partition("@")
    probability = 1.0
    if at:
        try:
            if not prob_text.isascii():
                raise ValueError(prob_text)
            probability = float(prob_text)
        except ValueError:
            raise bad(f"probability {prob_text!r} is not a number") from None
        if not 0.0 <= probability <= 1.0:
            raise bad(f"probability {prob_text!r} is not between 0 and 1")
    kind, eq, value_text = body.strip().partition("=")
    kind = kind.strip().lower()
    if kind not in FAULT_KINDS:
        raise bad(f"unknown fault {kind!r} (use one of {', '.join(FAULT_KINDS)})")
    value = 0
    if kind in ("latency", "error"):
        if not eq or not value_text.strip():
            example = "latency=250" if kind == "latency" else "error=503"
            raise bad(f"{kind} needs a value, e.g. {example}")
        digits = value_text.strip()
        if not (digits.isascii() and digits.isdigit() and len(digits) <= 9):
            raise bad(f"{kind} value {value_text!r} is not a whole number")
        value = int(digits)
        if kind == "latency" and not 0 <= value <= 600_000:
            raise bad("latency must be between 0 and 600000 ms")
        if kind == "error" and not 400 <= value <= 599:
            raise bad("error status must be between 400 and 599")
    elif eq:
        raise bad(f"{kind} takes no value")
    return FaultRule(platform=platform, kind=kind, value=value, probability=probability)


class FaultInjector:
    """Decides, with a seeded RNG, which faults hit each request."""

    def __init__(self, spec: str | None = None, *, seed: int = 7) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.rules: list[FaultRule] = parse_faults(spec)

    def set_spec(self, spec: str | None) -> None:
        """Replace the rules (ValueError on a bad spec leaves the old rules in place)."""
        rules = parse_faults(spec)
        with self._lock:
            self.rules = rules

    def roll(self, platform: str) -> FaultDecision:
        """Which of the rules fire for one request to ``platform``."""
        decision = FaultDecision()
        with self._lock:
            for rule in self.rules:
                if not rule.applies_to(platform):
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                decision.fired.append(rule)
                if rule.kind == "latency":
                    decision.latency_ms += rule.value
                elif rule.kind in _FLAG_KINDS:
                    setattr(decision, rule.kind, True)
                elif rule.kind in VAST_FATES:
                    decision.fate = decision.fate or rule.kind
                elif decision.failure is None:
                    decision.failure = rule
        return decision


@dataclass
class HttpRequest:
    """One HTTP request as the emulators see it."""

    method: str
    path: str
    """The path without the query string."""
    query: dict[str, str]
    """Query parameters (the first value of each)."""
    headers: dict[str, str]
    """Header names in lower case."""
    body: bytes
    base_url: str
    """``http://127.0.0.1:PORT`` of the server that received it."""
    nodestroy: bool = False
    """Set by the ``nodestroy`` fault: destroy must answer success and change nothing."""
    nographql: bool = False
    """Set by the ``nographql`` fault: ``/graphql`` answers 410 Gone."""
    noport: bool = False
    """Set by the ``noport`` fault: a pod created by this request gets no public port 22."""
    schedfail: bool = False
    """Set by the ``schedfail`` fault: a Vast create by this request fails to schedule."""
    fate: str | None = None
    """Set by a fate fault (:data:`VAST_FATES`): what becomes of a Vast instance created by
    this request once it has booted."""

    def json(self) -> Any:
        """The body parsed as JSON ({} when empty); ValueError when it is not JSON."""
        if not self.body.strip():
            return {}
        return json.loads(self.body)

    def bearer(self) -> str | None:
        """The API key from ``Authorization: Bearer KEY`` (or a bare key), else ``?api_key=``."""
        auth = self.headers.get("authorization", "").strip()
        if auth:
            scheme, _, rest = auth.partition(" ")
            return rest.strip() if scheme.lower() == "bearer" and rest else auth
        return self.query.get("api_key") or None


@dataclass
class HttpResponse:
    """One HTTP response from an emulator."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json_body(cls, status: int, payload: Any) -> HttpResponse:
        """A JSON response (``Content-Type: application/json`` exactly, as Vast's CLI checks)."""
        return cls(status, json.dumps(payload).encode())

    @classmethod
    def text(
        cls, status: int, text: str, content_type: str = "text/plain; charset=utf-8"
    ) -> HttpResponse:
        """A text (or HTML) response."""
        return cls(status, text.encode(), content_type)


def truncated(response: HttpResponse) -> HttpResponse:
    """The ``malformed`` fault: status 200 and only the first half of the real body."""
    body = response.body
    cut = body[: max(1, len(body) // 2)] if len(body) > 1 else b"{"
    return HttpResponse(200, cut, response.content_type, dict(response.headers))
