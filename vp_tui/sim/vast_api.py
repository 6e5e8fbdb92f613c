"""An emulator of the Vast.ai REST API, answering what the ``vastai`` SDK and CLI send.

Requests and answers follow Vast's real paths and shapes (``/api/v0/bundles/``,
``/api/v1/instances/`` with token paging, ``/api/v0/asks/{id}/``, ...), so the
official client works against it unchanged. A search without ``limit`` answers
the first 64 offers in the requested order, as Vast's default page does.

Vast's unpleasant habits are kept: a create that fails (bid too low, or the
``schedfail`` fault) leaves a stopped instance billing storage unless the body
asks for ``cancel_unavail``; ``start_date`` is the creation time and
``uptime_mins`` counts from the last start; a second destroy answers
``200 {"success": false, "error": "no_such_instance"}``; ``ssh_host``/``ssh_port``
name the SSH *proxy*, a second port of the instance's demo SSH server (for
Jupyter run types ``ssh_port`` is the proxy's port minus one, as on Vast); offer
searches count against a daily quota per API key.

Besides the account key, each instance's own key (``CONTAINER_API_KEY`` inside it, and
``instance_api_key`` in the create answer) is accepted for showing, stopping/starting
and destroying that one instance; anything else with it answers 403.
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from vp_tui.sim.cloud import (
    OCI_ERROR,
    CreateLeftStopped,
    Observation,
    SimCloud,
    SimError,
    SimInstance,
)
from vp_tui.sim.faults import VAST_FATES, HttpRequest, HttpResponse
from vp_tui.sim.market import priced_offer, unit_hash

DEFAULT_SEARCH_LIMIT = 64
MAX_SEARCH_LIMIT = 10_000
INSTANCE_PAGE_LIMIT = 25
USER_ID = 412_977
DEFAULT_SEARCH_QUOTA = 5000
"""Offer searches allowed per API key per UTC day unless ``VP_SIM_VAST_SEARCH_QUOTA`` says."""
SEARCH_QUOTA_ENV = "VP_SIM_VAST_SEARCH_QUOTA"
DAY = 86400.0

EndpointProvider = Callable[[SimInstance], "tuple[str, int] | None"]

_NOT_FILTERS = {"order", "type", "limit", "allocated_storage", "disable_bundling", "select_cols"}
_MISSING = object()

_HTML_5XX = """<html>
<head><title>{status} {reason}</title></head>
<body>
<center><h1>{status} {reason}</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Time-out",
}


def _error(status: int, error: str, msg: str) -> HttpResponse:
    return HttpResponse.json_body(status, {"success": False, "error": error, "msg": msg})


def search_quota_from_env() -> int:
    """The daily search quota: ``$VP_SIM_VAST_SEARCH_QUOTA``, else :data:`DEFAULT_SEARCH_QUOTA`."""
    raw = os.environ.get(SEARCH_QUOTA_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_SEARCH_QUOTA
    text = raw.strip()
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{SEARCH_QUOTA_ENV}={raw!r} is not a whole number of searches")
    return int(text)


_FATE_ROWS: dict[str, tuple[str, str]] = {
    "frozen": ("frozen", "Instance frozen: paused with its memory kept"),
    "offline": ("offline", "Host is offline: lost contact with the machine"),
    "unknown": ("unknown", "Instance state unknown"),
}
"""``actual_status`` and ``status_msg`` of an instance whose fate struck after booting."""


def _is_jupyter(runtype: str) -> bool:
    return "jupyter" in runtype


def _port_mappings(inst: SimInstance, ssh_port: int) -> dict[str, list[dict[str, str]]]:
    """Docker-style ``ports`` of a running instance: 22/tcp on its SSH port, and every
    ``-p HOST:CONTAINER[/udp]`` of its env on a host port of its own (protocol kept)."""
    ports = {"22/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(ssh_port)}]}
    for key in inst.env:
        if not key.startswith("-p "):
            continue
        container = key[3:].strip().rpartition(":")[2]
        number, _, proto = container.partition("/")
        if not number.isdigit():
            continue
        name = f"{int(number)}/{(proto or 'tcp').lower()}"
        if name in ports:
            continue
        host_port = 40_000 + int(unit_hash(inst.id, name) * 20_000)
        ports[name] = [{"HostIp": "0.0.0.0", "HostPort": str(host_port)}]
    return ports


# ---------------------------------------------------------------------------
# Filters shared by offer searches and instance listings
# ---------------------------------------------------------------------------


def _field_value(row: dict[str, Any], name: str) -> Any:
    if name == "verified" and "verification" in row:
        return row["verification"] == "verified"
    if name == "datacenter" and "hosting_type" in row:
        return row["hosting_type"] == 1
    if name == "reliability" and "reliability" not in row:
        return row.get("reliability2", _MISSING)
    return row.get(name, _MISSING)


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no"):
        return False
    return None


def _coerce(actual: Any, wanted: Any) -> Any:
    """``wanted`` converted to the type of ``actual`` (None when it cannot be)."""
    if wanted is None:
        return None
    if isinstance(actual, bool):
        return _as_bool(wanted)
    if isinstance(actual, int | float):
        try:
            return float(wanted)
        except (TypeError, ValueError):
            return None
    return str(wanted).strip().lower()


def _norm(actual: Any) -> Any:
    if isinstance(actual, str):
        return actual.strip().lower()
    return actual


def _equal(name: str, actual: Any, wanted: Any) -> bool:
    if actual is None or wanted is None:
        return actual is None and wanted is None
    value = _coerce(actual, wanted)
    if value is None:
        return False
    if name == "geolocation" and isinstance(actual, str):
        code = actual.rsplit(",", 1)[-1].strip().lower()
        return value in (_norm(actual), code)
    return bool(_norm(actual) == value)


def _compare(name: str, op: str, actual: Any, wanted: Any) -> bool:
    if op in ("eq", "=="):
        return _equal(name, actual, wanted)
    if op in ("neq", "ne", "!="):
        return not _equal(name, actual, wanted)
    if op in ("in", "notin", "nin"):
        items = wanted if isinstance(wanted, list) else [wanted]
        found = any(_equal(name, actual, item) for item in items)
        return found if op == "in" else not found
    if op in ("gt", "gte", "lt", "lte"):
        if actual is None or isinstance(actual, str):
            return False
        value = _coerce(actual, wanted)
        if value is None:
            return False
        number = float(actual)
        return {
            "gt": number > value,
            "gte": number >= value,
            "lt": number < value,
            "lte": number <= value,
        }[op]
    raise SimError("invalid_args", f"Unknown operator {op!r} for field {name!r}.")


def matches(row: dict[str, Any], filters: dict[str, Any]) -> bool:
    """Whether a row satisfies Vast-style filters (``{"field": {"op": value}}``).

    Numbers may come as strings (the SDK sends them so); ``geolocation`` matches
    the full place or its country code; filters on fields a row lacks are ignored.
    """
    for name, condition in filters.items():
        if name in _NOT_FILTERS:
            continue
        actual = _field_value(row, name)
        if actual is _MISSING:
            continue
        conditions = condition if isinstance(condition, dict) else {"eq": condition}
        for op, wanted in conditions.items():
            if not _compare(name, op, actual, wanted):
                return False
    return True


def sort_rows(rows: list[dict[str, Any]], order: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    """Sort rows by (field, descending) pairs; missing values go last either way."""
    for name, descending in reversed(order):
        present = [r for r in rows if isinstance(_field_value(r, name), int | float | str)]
        absent = [r for r in rows if not isinstance(_field_value(r, name), int | float | str)]
        if not present:
            continue
        present.sort(key=functools.partial(_row_sort_key, name), reverse=descending)
        rows = present + absent
    return rows


def _row_sort_key(name: str, row: dict[str, Any]) -> tuple[int, Any]:
    return _sort_key(_field_value(row, name))


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, str):
        return (1, value.lower())
    return (0, float(value))


def _parse_offer_order(raw: Any) -> list[tuple[str, bool]]:
    order: list[tuple[str, bool]] = []
    if not isinstance(raw, list):
        raw = [["score", "desc"]]
    for item in raw:
        if isinstance(item, list | tuple) and item:
            direction = str(item[1]).lower() if len(item) > 1 else "asc"
            order.append((str(item[0]), direction in ("desc", "-")))
        elif isinstance(item, str):
            order.append((item.strip("+-"), item.endswith("-") or item.startswith("-")))
    return order


# ---------------------------------------------------------------------------
# The API
# ---------------------------------------------------------------------------

Route = tuple[str, re.Pattern[str], Callable[..., HttpResponse]]
_ROUTE_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


class VastAPI:
    """Vast.ai's REST API over a :class:`SimCloud`."""

    platform = "vast"

    def __init__(self, cloud: SimCloud, api_key: str, *, search_quota: int | None = None) -> None:
        self.cloud = cloud
        self._api_key = api_key
        self.search_quota: int = search_quota_from_env() if search_quota is None else search_quota
        """Offer searches (``POST /api/v0/bundles/``) allowed per API key per UTC day of the
        cloud's clock; settable at any time. Counts live in this object (per process)."""
        self.proxy_endpoint_provider: EndpointProvider | None = None
        """Maps a running instance to its SSH proxy ``(host, port)`` (set by the demo
        cloud); without one, or when it answers None, the proxy is the direct endpoint."""
        self._search_counts: dict[tuple[str, int], int] = {}
        self._quota_lock = threading.Lock()
        self._results: dict[str, str] = {}
        self._results_lock = threading.Lock()
        self._result_ids = itertools.count(1)
        p = r"(?P<id>\d+)"
        self._routes: list[Route] = [
            ("POST", re.compile(r"/api/v0/bundles"), self._search_offers),
            ("PUT", re.compile(r"/api/v0/search/asks"), self._search_asks),
            ("GET", re.compile(r"/api/v1/instances"), self._list_instances_v1),
            ("GET", re.compile(r"/api/v0/instances"), self._list_instances_v0),
            ("GET", re.compile(r"/api/v0/instances/filters"), self._instance_filters),
            ("GET", re.compile(rf"/api/v0/instances/{p}"), self._show_instance),
            ("PUT", re.compile(rf"/api/v0/asks/{p}"), self._create_instance),
            ("DELETE", re.compile(rf"/api/v0/instances/{p}"), self._destroy_instance),
            ("DELETE", re.compile(r"/api/v0/instances"), self._destroy_instances),
            ("PUT", re.compile(rf"/api/v0/instances/{p}"), self._update_instance),
            ("PUT", re.compile(r"/api/v0/instances"), self._update_instances),
            ("PUT", re.compile(rf"/api/v0/instances/bid_price/{p}"), self._change_bid),
            ("PUT", re.compile(rf"/api/v0/instances/reboot/{p}"), self._reboot),
            ("PUT", re.compile(rf"/api/v0/instances/recycle/{p}"), self._reboot),
            ("PUT", re.compile(rf"/api/v0/instances/request_logs/{p}"), self._request_logs),
            ("PUT", re.compile(rf"/api/v0/instances/command/{p}"), self._execute),
            ("GET", re.compile(r"/api/v0/users/current"), self._show_user),
            ("GET", re.compile(r"/api/v0/ssh"), self._show_ssh_keys),
            ("POST", re.compile(r"/api/v0/ssh"), self._create_ssh_key),
            ("PUT", re.compile(r"/api/v0/ssh/(?P<key>\d+)"), self._update_ssh_key),
            ("DELETE", re.compile(r"/api/v0/ssh/(?P<key>\d+)"), self._delete_ssh_key),
            ("POST", re.compile(rf"/api/v0/instances/{p}/ssh"), self._attach_ssh),
            ("GET", re.compile(rf"/api/v0/instances/{p}/ssh"), self._instance_ssh_keys),
            ("DELETE", re.compile(rf"/api/v0/instances/{p}/ssh/(?P<key>[^/]+)"), self._detach_ssh),
            ("PUT", re.compile(r"/api/v0/commands/rsync"), self._copy),
            ("PUT", re.compile(r"/api/v0/commands/copy_direct"), self._copy),
        ]

    # -- plumbing ------------------------------------------------------------------

    def unauthorized(self, req: HttpRequest | None = None) -> HttpResponse:
        """Vast's answer to a missing or wrong API key."""
        return _error(401, "auth_error", "Invalid user key")

    def rate_limited(self, req: HttpRequest | None = None) -> HttpResponse:
        """Vast's 429: plain text, no Retry-After."""
        return HttpResponse.text(429, "API requests too frequent")

    def error_response(self, status: int, req: HttpRequest | None = None) -> HttpResponse:
        """Vast's answer with ``status``: JSON from the API, an nginx page for gateway errors."""
        if status == 401:
            return self.unauthorized(req)
        if status == 429:
            return self.rate_limited(req)
        reason = _REASONS.get(status, "Error")
        if status in (502, 503, 504):
            return HttpResponse.text(
                status, _HTML_5XX.format(status=status, reason=reason), "text/html"
            )
        code = "server_error" if status >= 500 else "invalid_args"
        return _error(status, code, f"{status} {reason}")

    def internal_error(self, detail: str, req: HttpRequest | None = None) -> HttpResponse:
        """The answer when the emulator itself failed: Vast's 500 body, naming the demo cloud."""
        return _error(500, "server_error", f"demo cloud internal error: {detail}")

    def route(self, req: HttpRequest) -> str:
        """The route a request takes, for counting: ``/api/v0/instances/{id}``, or the path."""
        path = req.path.rstrip("/") or "/"
        if path.startswith("/demo/results/"):
            return "/demo/results/{token}"
        known: str | None = None
        for method, pattern, _handler in self._routes:
            if pattern.fullmatch(path) is None:
                continue
            template = _ROUTE_GROUP.sub(r"{\1}", pattern.pattern)
            if method == req.method:
                return template
            known = known or template
        return known or path

    def handle(self, req: HttpRequest) -> HttpResponse:
        """Answer one request."""
        path = req.path.rstrip("/") or "/"
        if path.startswith("/demo/results/") and req.method == "GET":
            return self._result(path.rsplit("/", 1)[-1])
        route_known = False
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            route_known = True
            if method != req.method:
                continue
            key = req.bearer()
            if key != self._api_key:
                refused = self._instance_key_refusal(req, key or "", handler, match.groupdict())
                if refused is not None:
                    return refused
            try:
                return handler(req, **match.groupdict())
            except SimError as exc:
                return _error(exc.status, exc.code, exc.message)
            except ValueError as exc:
                return _error(400, "invalid_args", f"Invalid request: {exc}")
        if route_known:
            return _error(405, "method_not_allowed", f"Method {req.method} not allowed here.")
        return _error(404, "not_found", f"No API endpoint at {req.path}")

    def _instance_key_refusal(
        self,
        req: HttpRequest,
        key: str,
        handler: Callable[..., HttpResponse],
        params: dict[str, str],
    ) -> HttpResponse | None:
        """None when ``key``, not the account's, is an instance's own key
        (``CONTAINER_API_KEY``) and the request is one it may make: show, stop/start or
        destroy *that* instance (``GET``/``PUT``/``DELETE /api/v0/instances/{id}/``, the
        ``PUT`` body only ``{"state": "stopped"|"running"}``). Otherwise the answer: 401
        for a key that is no one's, 403 for an instance key used beyond its instance."""
        inst = self.cloud.instance_for_key(self.platform, key)
        if inst is None:
            return self.unauthorized(req)
        own = handler in (self._show_instance, self._update_instance, self._destroy_instance)
        if not own or params.get("id") != inst.id:
            return _error(
                403,
                "forbidden",
                f"This API key belongs to instance {inst.id}: it can only show, start, stop "
                "or destroy that instance.",
            )
        if handler == self._update_instance:
            try:
                body = req.json()
            except ValueError:
                body = None
            if (
                not isinstance(body, dict)
                or set(body) != {"state"}
                or body["state"] not in ("stopped", "running")
            ):
                return _error(
                    403,
                    "forbidden",
                    f"This API key belongs to instance {inst.id}: it can only change its "
                    'state ({"state": "stopped"} or {"state": "running"}).',
                )
        return None

    def _body(self, req: HttpRequest) -> dict[str, Any]:
        data = req.json()
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return data

    def _store_result(self, req: HttpRequest, text: str) -> str:
        token = f"{next(self._result_ids):08d}"
        with self._results_lock:
            self._results[token] = text
            if len(self._results) > 200:
                for old in list(self._results)[:-200]:
                    del self._results[old]
        return f"{req.base_url}/demo/results/{token}"

    def _result(self, token: str) -> HttpResponse:
        with self._results_lock:
            text = self._results.get(token)
        if text is None:
            return HttpResponse.text(404, "Not Found")
        return HttpResponse.text(200, text)

    def _instance(self, instance_id: str) -> SimInstance:
        inst = self.cloud.get("vast", instance_id)
        if inst is None:
            raise SimError("no_such_instance", f"Instance {instance_id} not found.", 404)
        return inst

    # -- offers --------------------------------------------------------------------

    def _search(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        now = self.cloud.now()
        bid = str(query.get("type", "on-demand")).lower() in ("bid", "interruptible")
        try:
            storage = float(query.get("allocated_storage", 5.0) or 5.0)
        except (TypeError, ValueError):
            storage = 5.0
        priced = [priced_offer(o, now, storage, bid=bid) for o in self.cloud.vast_offers(now)]
        found = [o for o in priced if matches(o, query)]
        found = sort_rows(found, _parse_offer_order(query.get("order")))
        limit = query.get("limit")
        try:
            count = int(limit) if limit not in (None, "") else DEFAULT_SEARCH_LIMIT
        except (TypeError, ValueError):
            count = DEFAULT_SEARCH_LIMIT
        return found[: max(0, min(count, MAX_SEARCH_LIMIT))]

    def _search_offers(self, req: HttpRequest) -> HttpResponse:
        if not self._count_search(req.bearer() or ""):
            return _error(
                429,
                "search_quota_exceeded",
                "Daily search quota exceeded; it resets at 00:00 UTC",
            )
        return HttpResponse.json_body(200, {"offers": self._search(self._body(req))})

    def _count_search(self, api_key: str) -> bool:
        """Count one search against ``api_key``'s quota for today; False when it is spent."""
        day = int(self.cloud.now() // DAY)
        with self._quota_lock:
            for old in [k for k in self._search_counts if k[1] != day]:
                del self._search_counts[old]
            used = self._search_counts.get((api_key, day), 0)
            if used >= self.search_quota:
                return False
            self._search_counts[(api_key, day)] = used + 1
            return True

    def searches_today(self, api_key: str | None = None) -> int:
        """Searches counted today (cloud clock, UTC) for ``api_key`` (default: the demo key)."""
        day = int(self.cloud.now() // DAY)
        with self._quota_lock:
            return self._search_counts.get((api_key or self._api_key, day), 0)

    def reset_search_counts(self) -> None:
        """Forget every search counted so far: each key's quota is whole again."""
        with self._quota_lock:
            self._search_counts.clear()

    def _search_asks(self, req: HttpRequest) -> HttpResponse:
        body = self._body(req)
        inner = body.get("q")
        query: dict[str, Any] = inner if isinstance(inner, dict) else body
        return HttpResponse.json_body(200, {"offers": self._search(query)})

    # -- instances -----------------------------------------------------------------

    def row(self, inst: SimInstance, obs: Observation, now: float) -> dict[str, Any]:
        """An instance as Vast's instance listings describe it."""
        offer = inst.offer
        actual, intended, cur_state, status_msg = self._status(inst, obs)
        endpoint = obs.endpoint
        up = actual == "running"
        gpu_util = self.cloud.gpu_util(inst, now) if up else 0.0
        proxy = None
        if endpoint is not None and self.proxy_endpoint_provider is not None:
            proxy = self.proxy_endpoint_provider(inst)
        proxy = proxy or endpoint
        runtype = str(inst.extra.get("runtype") or "ssh_proxy")
        ssh_port = None
        if proxy is not None:
            ssh_port = proxy[1] - 1 if _is_jupyter(runtype) else proxy[1]
        cores = offer.get("cpu_cores") or 0
        share = (offer.get("cpu_cores_effective") or 0) / cores if cores else 1.0
        mem_limit_gb = (offer.get("cpu_ram") or 0) * share / 1024
        geolocation = offer.get("geolocation", "")
        compute = inst.price_per_hour - inst.storage_per_hour
        duration = float(offer.get("duration", 30 * 86400.0))
        return {
            "id": int(inst.id),
            "machine_id": offer.get("machine_id"),
            "host_id": offer.get("host_id"),
            "bundle_id": offer.get("bundle_id"),
            "ask_contract_id": inst.offer_id,
            "label": inst.label or None,
            "actual_status": actual,
            "intended_status": intended,
            "cur_state": cur_state,
            "next_state": cur_state,
            "status_msg": status_msg,
            "image_uuid": inst.image,
            "image_args": [],
            "image_runtype": runtype,
            "onstart": inst.onstart,
            "extra_env": [[k, v] for k, v in inst.env.items() if not k.startswith("-")],
            "template_id": None,
            "template_hash_id": None,
            "template_name": None,
            "num_gpus": inst.num_gpus,
            "gpu_name": inst.gpu_name,
            "gpu_ram": offer.get("gpu_ram"),
            "gpu_totalram": offer.get("gpu_total_ram"),
            "gpu_arch": offer.get("gpu_arch", "nvidia"),
            "gpu_util": gpu_util,
            "gpu_temp": round(34.0 + gpu_util * 0.45, 1) if up else None,
            "gpu_frac": offer.get("gpu_frac"),
            "gpu_lanes": offer.get("gpu_lanes"),
            "gpu_mem_bw": offer.get("gpu_mem_bw"),
            "vmem_usage": round(gpu_util / 100 * 0.8 * (offer.get("gpu_ram") or 0) / 1024, 2),
            "compute_cap": offer.get("compute_cap"),
            "cuda_max_good": offer.get("cuda_max_good"),
            "driver_version": offer.get("driver_version"),
            "cpu_name": offer.get("cpu_name"),
            "cpu_arch": offer.get("cpu_arch", "amd64"),
            "cpu_cores": offer.get("cpu_cores"),
            "cpu_cores_effective": offer.get("cpu_cores_effective"),
            "cpu_ram": offer.get("cpu_ram"),
            "cpu_util": round(gpu_util * 0.3, 1),
            "mem_limit": round(mem_limit_gb, 3),
            "mem_usage": round(mem_limit_gb * 0.1, 3) if up else 0.0,
            "disk_space": inst.disk,
            "disk_usage": round(min(inst.disk, 2.1), 3),
            "disk_util": round(min(inst.disk, 2.1) / inst.disk * 100, 2) if inst.disk else 0.0,
            "disk_name": offer.get("disk_name"),
            "disk_bw": offer.get("disk_bw"),
            "inet_up": offer.get("inet_up"),
            "inet_down": offer.get("inet_down"),
            "inet_up_cost": offer.get("inet_up_cost"),
            "inet_down_cost": offer.get("inet_down_cost"),
            "inet_up_billed": None,
            "inet_down_billed": None,
            "dph_total": round(inst.price_per_hour, 6),
            "dph_base": round(compute, 6),
            "storage_cost": offer.get("storage_cost"),
            "storage_total_cost": round(inst.storage_per_hour, 6),
            "min_bid": inst.extra.get("min_bid", offer.get("min_bid")),
            "is_bid": inst.is_bid,
            "credit_discount_max": offer.get("credit_discount_max"),
            "start_date": inst.created_at,
            "end_date": round(inst.created_at + duration, 1),
            "uptime_mins": round(max(0.0, now - inst.started_at) / 60, 2) if up else None,
            "time_remaining": "",
            "time_remaining_isbid": "",
            "ssh_host": proxy[0] if proxy else None,
            "ssh_port": ssh_port,
            "ssh_idx": None,
            "public_ipaddr": endpoint[0] if endpoint else None,
            "ports": _port_mappings(inst, endpoint[1]) if endpoint else {},
            "direct_port_start": endpoint[1] if endpoint else -1,
            "direct_port_end": endpoint[1] if endpoint else -1,
            "direct_port_count": offer.get("direct_port_count"),
            "machine_dir_ssh_port": endpoint[1] if endpoint else None,
            "local_ipaddrs": "127.0.0.1\n",
            "jupyter_token": None,
            "geolocation": geolocation,
            "country_code": geolocation.rsplit(",", 1)[-1].strip() if geolocation else None,
            "reliability2": offer.get("reliability2"),
            "verification": offer.get("verification"),
            "hosting_type": offer.get("hosting_type"),
            "static_ip": offer.get("static_ip"),
            "pci_gen": offer.get("pci_gen"),
            "pcie_bw": offer.get("pcie_bw"),
            "mobo_name": offer.get("mobo_name"),
            "host_run_time": 2_592_000.0,
            "client_run_time": round(max(0.0, now - inst.created_at), 1),
            "rentable": True,
            "rented": True,
            "volume_info": None,
            "webpage": None,
            "logo": "/static/logos/vastai_small2.png",
        }

    def _status(self, inst: SimInstance, obs: Observation) -> tuple[str | None, str, str, str]:
        """``(actual_status, intended_status, cur_state, status_msg)`` of an instance."""
        if obs.phase == "starting":
            if inst.extra.get("boot") == "reboot":
                return "rebooting", "running", "running", "Rebooting instance"
            if obs.first_boot and obs.boot_fraction < 0.25:
                return None, "running", "running", "Scheduling instance on host"
            if obs.boot_fraction < 0.6:
                return "loading", "running", "running", f"Pulling image {inst.image}"
            return "loading", "running", "running", "Image pulled, starting container"
        if obs.phase == "running":
            if obs.fate == "ocifail":
                return "created", "running", "running", OCI_ERROR
            if obs.fate in _FATE_ROWS:
                actual, msg = _FATE_ROWS[obs.fate]
                return actual, "running", "running", msg
            return "running", "running", "running", f"success, running {inst.image}"
        failure = inst.extra.get("create_failure")
        if isinstance(failure, dict):
            return "created", "stopped", "stopped", str(failure.get("msg") or "")
        return "exited", "stopped", "stopped", str(inst.extra.get("stop_msg") or "Instance stopped")

    def _rows(self, now: float) -> list[dict[str, Any]]:
        rows = []
        for inst in self.cloud.instances("vast"):
            rows.append(self.row(inst, self.cloud.observe(inst, now), now))
        return rows

    @staticmethod
    def _query_json(req: HttpRequest, name: str, default: Any) -> Any:
        raw = req.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            return json.loads(raw)
        except ValueError:
            return raw

    def _list_instances_v1(self, req: HttpRequest) -> HttpResponse:
        now = self.cloud.now()
        filters = self._query_json(req, "select_filters", {})
        if not isinstance(filters, dict):
            raise ValueError("select_filters must be a JSON object")
        order_raw = self._query_json(req, "order_by", [{"col": "id", "dir": "asc"}])
        order = [
            (str(o.get("col", "id")), str(o.get("dir", "asc")).lower() == "desc")
            for o in (order_raw if isinstance(order_raw, list) else [])
            if isinstance(o, dict)
        ] or [("id", False)]
        limit = max(1, min(int(self._query_json(req, "limit", INSTANCE_PAGE_LIMIT)), 25))
        rows = sort_rows([r for r in self._rows(now) if matches(r, filters)], order)
        offset = 0
        token = req.query.get("after_token")
        if token:
            try:
                offset = int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
            except (ValueError, KeyError, TypeError):
                raise SimError("invalid_args", "Invalid after_token.") from None
        page = rows[offset : offset + limit]
        next_token = None
        if offset + limit < len(rows):
            next_token = base64.urlsafe_b64encode(
                json.dumps({"offset": offset + limit}).encode()
            ).decode()
        cols = self._query_json(req, "select_cols", None)
        if isinstance(cols, list) and cols and "*" not in cols:
            keep = {str(c) for c in cols} | {"id"}
            page = [{k: v for k, v in r.items() if k in keep} for r in page]
        labels: dict[str, int] = {}
        for r in rows:
            labels[r["label"] or ""] = labels.get(r["label"] or "", 0) + 1
        return HttpResponse.json_body(
            200,
            {
                "instances": page,
                "next_token": next_token,
                "total_instances": len(rows),
                "label_counts": labels,
            },
        )

    def _list_instances_v0(self, req: HttpRequest) -> HttpResponse:
        return HttpResponse.json_body(200, {"instances": self._rows(self.cloud.now())})

    def _instance_filters(self, req: HttpRequest) -> HttpResponse:
        combos = {
            (r["actual_status"], r["verification"], r["gpu_name"])
            for r in self._rows(self.cloud.now())
        }
        return HttpResponse.json_body(
            200,
            {
                "filters": [
                    {"actual_status": a, "verification": v, "gpu_name": g}
                    for a, v, g in sorted(combos, key=str)
                ]
            },
        )

    def _show_instance(self, req: HttpRequest, id: str) -> HttpResponse:
        now = self.cloud.now()
        inst = self.cloud.get("vast", id)
        if inst is None:
            return HttpResponse.json_body(200, {"instances": None})
        return HttpResponse.json_body(
            200, {"instances": self.row(inst, self.cloud.observe(inst, now), now)}
        )

    def _create_instance(self, req: HttpRequest, id: str) -> HttpResponse:
        body = self._body(req)
        env = body.get("env") or {}
        if isinstance(env, list):
            env = {str(k): str(v) for k, v in env}
        if not isinstance(env, dict):
            raise SimError("invalid_args", "env must be an object of variables.")
        image = body.get("image")
        if not image and body.get("template_hash_id"):
            image = "vastai/base-image:latest"
        price = body.get("price")
        try:
            inst = self.cloud.create_vast(
                int(id),
                image=image,
                disk=float(body.get("disk") or 10.0),
                env={str(k): "" if v is None else str(v) for k, v in env.items()},
                label=body.get("label"),
                onstart=body.get("onstart"),
                bid_price=float(price) if price not in (None, "") else None,
                runtype=body.get("runtype"),
                cancel_unavail=body.get("cancel_unavail") is True,
                schedule_fails=req.schedfail,
                fate=req.fate if req.fate in VAST_FATES else None,
            )
        except CreateLeftStopped as failed:
            return HttpResponse.json_body(
                200,
                {
                    "success": False,
                    "error": failed.code,
                    "msg": failed.message,
                    "new_contract": int(failed.instance.id),
                },
            )
        return HttpResponse.json_body(
            200,
            {
                "success": True,
                "new_contract": int(inst.id),
                "instance_api_key": self.cloud.instance_api_key("vast", inst.id),
            },
        )

    def _destroy(self, req: HttpRequest, instance_id: str) -> bool:
        """Destroy one instance (unless ``nodestroy``); False when there is none to destroy."""
        if self.cloud.get("vast", instance_id) is None:
            return False
        if not req.nodestroy:
            try:
                self.cloud.destroy("vast", instance_id)
            except SimError:
                return False  # destroyed meanwhile by another request
        return True

    def _destroy_instance(self, req: HttpRequest, id: str) -> HttpResponse:
        if not self._destroy(req, id):
            return _error(200, "no_such_instance", "Instance ID not found")
        return HttpResponse.json_body(200, {"success": True})

    def _destroy_instances(self, req: HttpRequest) -> HttpResponse:
        ids = self._body(req).get("instance_ids") or []
        for instance_id in ids:
            self._destroy(req, str(instance_id))
        return HttpResponse.json_body(200, {"success": True})

    def _apply_update(self, instance_id: str, body: dict[str, Any]) -> None:
        self._instance(instance_id)
        state = body.get("state")
        if "label" in body:
            self.cloud.set_label("vast", instance_id, str(body["label"] or ""))
        if state == "stopped":
            self.cloud.stop("vast", instance_id)
        elif state == "running":
            self.cloud.start("vast", instance_id)
        elif state is not None:
            raise SimError("invalid_args", f"Unknown state {state!r}.")
        elif "label" not in body:
            raise SimError("invalid_args", "Nothing to change: give state or label.")

    def _update_instance(self, req: HttpRequest, id: str) -> HttpResponse:
        self._apply_update(id, self._body(req))
        return HttpResponse.json_body(200, {"success": True})

    def _update_instances(self, req: HttpRequest) -> HttpResponse:
        body = self._body(req)
        for instance_id in body.get("ids") or []:
            self._apply_update(str(instance_id), {k: v for k, v in body.items() if k != "ids"})
        return HttpResponse.json_body(200, {"success": True})

    def _change_bid(self, req: HttpRequest, id: str) -> HttpResponse:
        price = self._body(req).get("price")
        if price is None:
            raise SimError("invalid_args", "price is required.")
        self.cloud.change_bid("vast", id, float(price))
        return HttpResponse.json_body(200, {"success": True})

    def _reboot(self, req: HttpRequest, id: str) -> HttpResponse:
        self._instance(id)
        self.cloud.reboot("vast", id)
        return HttpResponse.json_body(200, {"success": True})

    def _request_logs(self, req: HttpRequest, id: str) -> HttpResponse:
        inst = self._instance(id)
        body = self._body(req)
        lines = self.cloud.instance_log(inst)
        tail = body.get("tail")
        if tail not in (None, ""):
            lines = lines[-max(0, int(tail)) :] if int(tail) else []
        text = "".join(line + "\n" for line in lines)
        url = self._store_result(req, text)
        return HttpResponse.json_body(
            200, {"success": True, "result_url": url, "msg": "Logs will be ready shortly."}
        )

    # -- execute and copy ------------------------------------------------------------

    def _sandbox_path(self, inst: SimInstance, remote: str) -> Path:
        root = self.cloud.sandbox_dir(inst).resolve()
        path = PurePosixPath(remote or ".")
        parts = path.parts
        if parts[:2] == ("/", "workspace"):
            parts = parts[2:]
        elif path.is_absolute():
            parts = parts[1:]
        target = root.joinpath(*parts).resolve() if parts else root
        if target != root and root not in target.parents:
            raise SimError("invalid_args", f"Path {remote!r} is outside the instance.")
        return target

    def _execute(self, req: HttpRequest, id: str) -> HttpResponse:
        inst = self._instance(id)
        command = str(self._body(req).get("command") or "").strip()
        words = command.split()
        if not words or words[0] not in ("ls", "du", "rm"):
            raise SimError("invalid_args", "Only the ls, rm and du commands can be executed.")
        args = [w for w in words[1:] if not w.startswith("-")]
        flags = "".join(w[1:] for w in words[1:] if w.startswith("-"))
        targets = [self._sandbox_path(inst, a) for a in args] or [self._sandbox_path(inst, ".")]
        out: list[str] = []
        for target, shown in zip(targets, args or ["."], strict=True):
            if words[0] == "ls":
                if target.is_dir():
                    out.extend(sorted(p.name for p in target.iterdir()))
                elif target.exists():
                    out.append(shown)
                else:
                    out.append(f"ls: cannot access '{shown}': No such file or directory")
            elif words[0] == "du":
                files = [target] if target.is_file() else list(target.rglob("*"))
                size = sum(p.stat().st_size for p in files if p.is_file())
                out.append(f"{max(1, size // 1024)}\t{shown}")
            else:
                if target == self.cloud.sandbox_dir(inst).resolve():
                    raise SimError("invalid_args", "Refusing to remove the workspace itself.")
                if target.is_dir() and "r" in flags:
                    shutil.rmtree(target)
                elif target.is_file():
                    target.unlink()
                else:
                    out.append(f"rm: cannot remove '{shown}': No such file or directory")
        url = self._store_result(req, "".join(line + "\n" for line in out))
        return HttpResponse.json_body(200, {"success": True, "result_url": url})

    @staticmethod
    def _location(value: Any) -> str | None:
        if value in (None, "local", ""):
            return None
        text = str(value)
        return text[2:] if text.startswith("C.") else text

    def _copy(self, req: HttpRequest) -> HttpResponse:
        body = self._body(req)
        src, dst = self._location(body.get("src_id")), self._location(body.get("dst_id"))
        if src is None and dst is None:
            raise SimError("invalid_args", "One side of a copy must be an instance.")
        if src is not None and dst is not None:
            source, target = self._instance(src), self._instance(dst)
            src_path = self._sandbox_path(source, str(body.get("src_path") or "."))
            dst_path = self._sandbox_path(target, str(body.get("dst_path") or "."))
            if src_path.is_dir():
                shutil.copytree(src_path, dst_path, dirs_exist_ok=True)
            elif src_path.is_file():
                dst_path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src_path, dst_path / src_path.name if dst_path.is_dir() else dst_path)
            else:
                raise SimError("invalid_args", f"{body.get('src_path')!r} does not exist.")
            return HttpResponse.json_body(
                200, {"success": True, "msg": "Remote to Remote copy initiated."}
            )
        remote_id = dst if dst is not None else src
        assert remote_id is not None
        inst = self._instance(remote_id)
        obs = self.cloud.observe(inst)
        if obs.endpoint is None:
            raise SimError("invalid_args", "Instance is not running: start it first.")
        side = "dst" if dst is not None else "src"
        return HttpResponse.json_body(
            200,
            {
                "success": True,
                f"{side}_addr": obs.endpoint[0],
                f"{side}_port": obs.endpoint[1],
                f"{side}_id": int(inst.id),
                "msg": "Ready for rsync over ssh.",
            },
        )

    # -- account -------------------------------------------------------------------

    def _show_user(self, req: HttpRequest) -> HttpResponse:
        account = self.cloud.account("vast")
        keys = self.cloud.ssh_keys("vast")
        return HttpResponse.json_body(
            200,
            {
                "id": USER_ID,
                "key_id": 1,
                "username": "demo",
                "fullname": "Demo User",
                "email": "demo@vp-tui.invalid",
                "email_verified": True,
                "balance": 0.0,
                "credit": round(account.remaining, 4),
                "total_spend": round(account.spent, 4),
                "can_pay": True,
                "has_billing": False,
                "paypal_email": None,
                "billaddress_country": None,
                "ssh_key": keys[-1]["key"] if keys else None,
                "sid": "demo",
                "user": "demo",
                "is_team": False,
            },
        )

    @staticmethod
    def _key_json(entry: dict[str, Any]) -> dict[str, Any]:
        created = _iso(entry["created_at"])
        return {
            "id": entry["id"],
            "user_id": USER_ID,
            "key": entry["key"],
            "public_key": entry["key"],
            "created_at": created,
            "deleted_at": None,
        }

    def _show_ssh_keys(self, req: HttpRequest) -> HttpResponse:
        return HttpResponse.json_body(200, [self._key_json(k) for k in self.cloud.ssh_keys("vast")])

    def _create_ssh_key(self, req: HttpRequest) -> HttpResponse:
        key = str(self._body(req).get("ssh_key") or "")
        entry = self.cloud.add_ssh_key("vast", key)
        return HttpResponse.json_body(200, {"success": True, "key": self._key_json(entry)})

    def _update_ssh_key(self, req: HttpRequest, key: str) -> HttpResponse:
        text = str(self._body(req).get("ssh_key") or "")
        entry = self.cloud.update_ssh_key("vast", int(key), text)
        return HttpResponse.json_body(200, {"success": True, "key": self._key_json(entry)})

    def _delete_ssh_key(self, req: HttpRequest, key: str) -> HttpResponse:
        self.cloud.delete_ssh_key("vast", int(key))
        return HttpResponse.json_body(200, {"success": True})

    def _attach_ssh(self, req: HttpRequest, id: str) -> HttpResponse:
        key = str(self._body(req).get("ssh_key") or "").strip()
        if not key:
            raise SimError("invalid_args", "ssh_key is required.")
        self._instance(id)
        self.cloud.attach_ssh_key("vast", id, key)
        return HttpResponse.json_body(200, {"success": True, "msg": "SSH key added to instance."})

    def _instance_ssh_keys(self, req: HttpRequest, id: str) -> HttpResponse:
        inst = self._instance(id)
        keys = [
            {"id": index, "name": f"key-{index}", "public_key": key}
            for index, key in enumerate(self.cloud.authorized_keys("vast", inst), start=1)
        ]
        return HttpResponse.json_body(200, {"success": True, "ssh_keys": json.dumps(keys)})

    def _detach_ssh(self, req: HttpRequest, id: str, key: str) -> HttpResponse:
        self._instance(id)
        self.cloud.detach_ssh_key("vast", id, key)
        return HttpResponse.json_body(200, {"success": True})


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
