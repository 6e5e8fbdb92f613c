"""RunPod REST v2 ``GET /v2/billing/pods``: spend per pod per time bucket.

Each pod's spend in a bucket comes from its billing history
(:meth:`SimInstance.spend_between`): running time bills the pod's price (the GPU
part), stopped time its volume storage (the disk part). Destroyed pods are
included; the totals over all time agree with the account's spend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from vp_tui.sim.cloud import SimCloud, SimInstance
from vp_tui.sim.rest_problems import Problem, invalid

BUCKET_SIZES = ("hour", "day", "week", "month", "year")
DEFAULT_SPAN = timedelta(days=30)
MAX_BUCKETS = 20_000
"""More buckets than this in one query is refused (400)."""


def parse_time(text: str, name: str) -> datetime:
    """An RFC 3339 timestamp (with ``Z`` or an offset) as an aware UTC datetime; 422 if not."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise invalid(f"query.{name}: {text!r} is not an RFC 3339 date-time") from None
    if value.tzinfo is None:
        raise invalid(f"query.{name}: {text!r} has no time zone offset")
    return value.astimezone(UTC)


def iso(at: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def bucket_floor(at: datetime, size: str) -> datetime:
    """The start of the bucket holding ``at`` (weeks start on Monday)."""
    at = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if size == "hour":
        return at
    at = at.replace(hour=0)
    if size == "day":
        return at
    if size == "week":
        return at - timedelta(days=at.weekday())
    at = at.replace(day=1)
    return at if size == "month" else at.replace(month=1)


def bucket_next(start: datetime, size: str) -> datetime:
    """The start of the bucket after the one starting at ``start``."""
    if size == "hour":
        return start + timedelta(hours=1)
    if size == "day":
        return start + timedelta(days=1)
    if size == "week":
        return start + timedelta(days=7)
    if size == "month":
        year, month = divmod(start.month, 12)
        return start.replace(year=start.year + year, month=month + 1)
    return start.replace(year=start.year + 1)


@dataclass(frozen=True)
class BillingQuery:
    """A checked billing query: bucket-aligned ``[start, end)``."""

    start: datetime
    end: datetime
    bucket_size: str
    pod_id: str | None

    def buckets(self) -> list[tuple[datetime, datetime]]:
        """The buckets the query covers, oldest first."""
        edges: list[tuple[datetime, datetime]] = []
        at = self.start
        while at < self.end:
            following = bucket_next(at, self.bucket_size)
            edges.append((at, following))
            if len(edges) > MAX_BUCKETS:
                raise Problem(400, f"the query spans more than {MAX_BUCKETS} buckets")
            at = following
        return edges

    def as_json(self) -> dict[str, Any]:
        """The ``metadata.query`` echo."""
        return {
            "startTime": iso(self.start),
            "endTime": iso(self.end),
            "bucketSize": self.bucket_size,
            "podId": self.pod_id,
        }


def parse_query(params: Mapping[str, str], now: datetime) -> BillingQuery:
    """Check and resolve the query parameters of ``GET /v2/billing/pods``."""
    size = params.get("bucketSize", "day") or "day"
    if size not in BUCKET_SIZES:
        raise invalid(f"query.bucketSize: value must be one of {', '.join(BUCKET_SIZES)}")
    pod_id = params.get("podId") or None
    if "lastN" in params:
        if "startTime" in params or "endTime" in params:
            raise Problem(400, "lastN cannot be combined with startTime or endTime")
        return _last_n(params["lastN"], size, pod_id, now)
    end = parse_time(params["endTime"], "endTime") if "endTime" in params else now
    start = parse_time(params["startTime"], "startTime") if "startTime" in params else None
    start = start if start is not None else end - DEFAULT_SPAN
    if start >= end:
        raise Problem(400, "startTime must be before endTime")
    first = bucket_floor(start, size)
    last = bucket_floor(end, size)
    stop = last if last == end else bucket_next(last, size)
    return BillingQuery(first, stop, size, pod_id)


def _last_n(text: str, size: str, pod_id: str | None, now: datetime) -> BillingQuery:
    """The ``lastN`` most recent buckets, the current one included."""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_BUCKETS:
        raise invalid(f"query.lastN: {text!r} is not a whole number between 1 and {MAX_BUCKETS}")
    start = bucket_floor(now, size)
    end = bucket_next(start, size)
    for _ in range(int(text) - 1):
        start = bucket_floor(start - timedelta(seconds=1), size)
    return BillingQuery(start, end, size, pod_id)


def _record(pod: SimInstance, edge: tuple[datetime, datetime], now: float) -> dict[str, Any]:
    start, end = edge
    gpu, disk = pod.spend_between(start.timestamp(), min(end.timestamp(), now))
    return {
        "startTime": iso(start),
        "endTime": iso(end),
        "podId": pod.id,
        "totalAmount": round(gpu + disk, 6),
        "gpuAmount": round(gpu, 6),
        "cpuAmount": 0.0,
        "diskAmount": round(disk, 6),
    }


def _lifetime(pod: SimInstance, now: float) -> tuple[float, float]:
    return pod.created_at, pod.destroyed_at if pod.destroyed_at is not None else now


def pod_billing(cloud: SimCloud, query: BillingQuery) -> dict[str, Any]:
    """The body of ``GET /v2/billing/pods`` for ``query``."""
    now = cloud.now()
    pods = [
        p
        for p in cloud.instances("runpod", include_destroyed=True)
        if query.pod_id is None or p.id == query.pod_id
    ]
    records: list[dict[str, Any]] = []
    for edge in query.buckets():
        for pod in pods:
            born, gone = _lifetime(pod, now)
            if gone < edge[0].timestamp() or born >= edge[1].timestamp():
                continue
            record = _record(pod, edge, now)
            if record["totalAmount"] > 0:
                records.append(record)
    totals = {
        name: round(sum(r[name] for r in records), 6)
        for name in ("totalAmount", "gpuAmount", "cpuAmount", "diskAmount")
    }
    return {
        "records": records,
        "metadata": {
            "query": query.as_json(),
            "recordCount": len(records),
            "uniquePodCount": len({r["podId"] for r in records}),
            "totals": totals,
        },
    }
