"""An emulator of RunPod's REST API v2 (``/v2/...`` on ``https://api.runpod.io``).

Routes: ``GET /v2/catalog/gpus[/{id}]``, ``GET|POST /v2/pods``,
``GET|PATCH|DELETE /v2/pods/{id}``, ``POST /v2/pods/{id}/action``,
``GET /v2/pods/{id}/logs`` (Server-Sent Events), ``GET|PUT /v2/account/ssh-keys``
and ``GET /v2/billing/pods``. Auth is ``Authorization: Bearer KEY`` only; every
error is an RFC 9457 problem body (:mod:`vp_tui.sim.rest_problems`). Besides the
account key, each pod's own pod-scoped key (``RUNPOD_API_KEY`` inside the pod) is
accepted for reading, stopping and terminating that one pod; anything else with it
answers 403.

Pod status follows the boot timer: ``PROVISIONING`` for the first half of the
first boot (a start resumes on the pod's own host), ``STARTING`` for the rest
(and while booted but its SSH server is not up), then ``RUNNING`` (or ``ERROR``
when the image cannot be pulled);
``EXITED`` when stopped. ``runtime`` appears with ``RUNNING``; the public port 22
mapping and ``ssh.direct`` arrive :attr:`SimCloud.port_delay_seconds` later, and
only for pods with ``22/tcp`` in their ports.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from vp_tui.sim.cloud import (
    PodPlacement,
    SimCloud,
    SimError,
    SimInstance,
    pull_error,
)
from vp_tui.sim.faults import HttpRequest, HttpResponse
from vp_tui.sim.market import (
    RUNPOD_DATACENTERS,
    RunPodGpuType,
    cuda_version_key,
    runpod_cuda_versions,
    runpod_datacenter_stock,
    runpod_pool,
    stock_level,
    unit_hash,
)
from vp_tui.sim.rest_problems import (
    Check,
    Problem,
    array_of,
    integer,
    invalid,
    map_of,
    matching,
    obj,
    of_type,
    one_of,
    problem,
    validate,
)
from vp_tui.sim.runpod_billing import parse_query, pod_billing

SSH_PROXY_HOST = "ssh.runpod.io"
DEFAULT_DISK_GB = 20
"""Container disk of a pod created without ``disk``."""
MAX_PAGE = 1000
MAX_LOG_TAIL = 5000
RATE_LIMIT_POLICY = '"minute";q=60;w=60, "hour";q=3000;w=3600, "day";q=50000;w=86400'
RETRY_AFTER_SECONDS = 2
_AVAILABILITY = {3: "HIGH", 2: "MEDIUM", 1: "LOW", 0: "NONE"}
_ACTIONS = {
    "RUNNING": ["stop", "restart", "terminate"],
    "EXITED": ["start", "terminate"],
    "ERROR": ["start", "terminate"],
    "PROVISIONING": ["stop", "terminate"],
    "STARTING": ["stop", "terminate"],
}
SSH_KEY_PATTERN = r"(ssh|ecdsa|sk)-\S+ \S+( .*)?"
_CUDA = r"\d+\.\d+"
_PORT = r"([1-9]\d{0,4})/(tcp|http|udp)"

Handler = Callable[[HttpRequest, dict[str, str]], HttpResponse]


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _json(status: int, payload: Any) -> HttpResponse:
    return HttpResponse.json_body(status, payload)


def _sim_problem(exc: SimError) -> Problem:
    """A demo-cloud refusal as the REST problem RunPod answers."""
    return Problem(exc.status, exc.message)


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


# ---------------------------------------------------------------------------
# Request bodies
# ---------------------------------------------------------------------------

_GPU: Check = obj(
    {
        "id": of_type("string"),
        "count": integer(1),
        "allowedCudaVersions": array_of(matching(_CUDA)),
        "minCudaVersion": matching(r"\d+(\.\d+)?"),
        "minRamPerGpu": integer(0),
        "minVcpuCountPerGpu": integer(0),
    },
    required=("id",),
)
_MOUNTS: Check = obj(
    {
        "persistent": obj({"size": integer(10), "path": matching(r"/\S*")}, required=("size",)),
        "network": array_of(
            obj(
                {"volumeId": of_type("string"), "path": of_type("string")},
                required=("volumeId", "path"),
            ),
            max_items=1,
        ),
    }
)
CREATE_POD: Check = obj(
    {
        "name": of_type("string"),
        "gpu": _GPU,
        "cpu": obj({"id": of_type("string"), "vcpuCount": integer(2)}),
        "image": of_type("string"),
        "templateId": of_type("string"),
        "cloud": one_of("SECURE", "COMMUNITY"),
        "dataCenterIds": array_of(of_type("string")),
        "disk": integer(1),
        "ports": array_of(matching(_PORT)),
        "env": map_of(of_type("string")),
        "args": of_type("string"),
        "mounts": _MOUNTS,
        "startSsh": of_type("boolean"),
        "startJupyter": of_type("boolean"),
        "globalNetworking": of_type("boolean"),
    },
    required=("name",),
)
_PATCH_SUPPORTED = {
    "name": of_type("string"),
    "env": map_of(of_type("string")),
    "ports": array_of(matching(_PORT)),
}
_PATCH_UNSUPPORTED = (
    "image",
    "args",
    "disk",
    "registry",
    "mounts",
    "locked",
    "globalNetworking",
    "templateId",
)
ACTION: Check = obj(
    {"action": one_of("start", "stop", "restart", "terminate")}, required=("action",)
)
SSH_KEYS: Check = obj({"keys": array_of(matching(SSH_KEY_PATTERN))}, required=("keys",))


def _body(req: HttpRequest) -> Any:
    try:
        return req.json()
    except ValueError:
        raise Problem(400, "the request body is not valid JSON") from None


# ---------------------------------------------------------------------------
# Catalog
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogQuery:
    """Checked query parameters of ``GET /v2/catalog/gpus``."""

    availability: bool = False
    count: int = 1
    secure: bool = True
    countries: tuple[str, ...] = ()
    cuda_versions: tuple[str, ...] = ()
    min_cuda: str | None = None


_AVAILABILITY_ONLY = ("count", "cloud", "countryCodes", "cudaVersions", "minCudaVersion")


def parse_catalog_query(params: dict[str, str]) -> CatalogQuery:
    """Check the catalog's query parameters (400 for rule breaks, 422 for bad values)."""
    include = params.get("include")
    if include is not None and include != "AVAILABILITY":
        raise invalid("query.include: value must be one of 'AVAILABILITY'")
    if include is None:
        if "product" in params:
            raise Problem(400, "product is only valid with include=AVAILABILITY")
        misplaced = [name for name in _AVAILABILITY_ONLY if name in params]
        if misplaced:
            raise Problem(400, f"{', '.join(misplaced)}: only valid with include=AVAILABILITY")
        return CatalogQuery()
    products = _csv(params.get("product", ""))
    if not products:
        raise Problem(400, "include=AVAILABILITY requires product (POD, CLUSTER or SERVERLESS)")
    if any(p not in ("POD", "CLUSTER", "SERVERLESS") for p in products):
        raise invalid("query.product: value must be one of 'POD', 'CLUSTER', 'SERVERLESS'")
    if "cudaVersions" in params and "minCudaVersion" in params:
        raise Problem(400, "cudaVersions and minCudaVersion are mutually exclusive")
    return CatalogQuery(
        availability=True,
        count=_count(params.get("count", "1")),
        secure=_cloud(params.get("cloud", "SECURE")),
        countries=tuple(_countries(params.get("countryCodes", ""))),
        cuda_versions=tuple(_cuda_list(params.get("cudaVersions", ""))),
        min_cuda=_min_cuda(params.get("minCudaVersion")),
    )


def _count(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise invalid(f"query.count: {text!r} is not a whole number of at least 1")
    return int(text)


def _cloud(text: str) -> bool:
    if text not in ("SECURE", "COMMUNITY"):
        raise invalid("query.cloud: value must be one of 'SECURE', 'COMMUNITY'")
    return text == "SECURE"


def _countries(text: str) -> list[str]:
    codes = _csv(text)
    for code in codes:
        if re.fullmatch(r"[A-Z]{2}", code) is None:
            raise invalid(f"query.countryCodes: {code!r} is not an ISO 3166-1 alpha-2 code")
    return codes


def _cuda_list(text: str) -> list[str]:
    versions = _csv(text)
    for version in versions:
        if re.fullmatch(_CUDA, version) is None:
            raise invalid(f"query.cudaVersions: {version!r} is not a CUDA version like 12.8")
    return versions


def _min_cuda(text: str | None) -> str | None:
    if text is None:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", text) is None:
        raise invalid(f"query.minCudaVersion: {text!r} is not a CUDA version like 12.4")
    return text


class Catalog:
    """GPU types as ``/v2/catalog/gpus`` describes them, built from the RunPod market."""

    def __init__(self, cloud: SimCloud) -> None:
        self.cloud = cloud

    def _cuda_ok(self, versions: list[dict[str, Any]], query: CatalogQuery) -> bool:
        usable = [v["version"] for v in versions if v["available"]]
        if query.cuda_versions:
            return any(v in query.cuda_versions for v in usable)
        if query.min_cuda:
            floor = cuda_version_key(query.min_cuda)
            return any(cuda_version_key(v) >= floor for v in usable)
        return True

    def _datacenters(
        self, spec: RunPodGpuType, query: CatalogQuery, now: float
    ) -> list[dict[str, Any]]:
        """Data centres (in the asked countries) with stock for the asked count and cloud."""
        if not self._cuda_ok(runpod_cuda_versions(spec, self.cloud.seed), query):
            return []
        stock = runpod_datacenter_stock(
            self.cloud.market.runpod, spec.id, query.count, query.secure, now
        )
        return [
            {"id": dc, "name": name, "availability": _AVAILABILITY[stock_level(stock[dc])]}
            for dc, name, country in RUNPOD_DATACENTERS
            if stock[dc] is not None and (not query.countries or country in query.countries)
        ]

    def gpu_type(self, spec: RunPodGpuType, query: CatalogQuery, now: float) -> dict[str, Any]:
        """One ``GpuType``; with ``availability`` and ``dataCenters`` when asked."""
        market = self.cloud.market.runpod
        price: dict[str, float] = {}
        secure = market.price(spec.secure_price, spec.id, now)
        community = market.price(spec.community_price, spec.id, now)
        if secure is not None:
            price["secure"] = secure
        if community is not None:
            price["community"] = community
        data: dict[str, Any] = {
            "id": spec.id,
            "name": spec.display_name,
            "manufacturer": spec.manufacturer.upper(),
            "memory": spec.memory_gb,
            "secure": secure is not None,
            "community": community is not None,
            "price": price,
            "maxCount": {
                "secure": spec.max_gpu_count if secure is not None else 0,
                "community": spec.max_gpu_count if community is not None else 0,
            },
            "pool": runpod_pool(spec),
        }
        versions = runpod_cuda_versions(spec, self.cloud.seed)
        if versions:
            data["cudaVersions"] = versions
        if query.availability:
            datacenters = self._datacenters(spec, query, now)
            best = max((stock_level(d["availability"].title()) for d in datacenters), default=0)
            data["availability"] = _AVAILABILITY[best]
            if datacenters:
                data["dataCenters"] = datacenters
        return data

    def all_types(self, query: CatalogQuery) -> list[dict[str, Any]]:
        """Every GPU type (with ``countryCodes``: those available in those countries)."""
        now = self.cloud.now()
        types = [self.gpu_type(s, query, now) for s in self.cloud.market.runpod.types.values()]
        if query.countries:
            types = [t for t in types if t.get("availability") != "NONE"]
        return types

    def one(self, type_id: str, query: CatalogQuery) -> dict[str, Any]:
        """One GPU type by id; 404 when unknown."""
        spec = self.cloud.market.runpod.types.get(type_id)
        if spec is None:
            raise Problem(404, f"GPU type {type_id!r} not found")
        return self.gpu_type(spec, query, self.cloud.now())


# ---------------------------------------------------------------------------
# Pods as REST v2 shows them
# ---------------------------------------------------------------------------


def _private_ip(inst: SimInstance, index: int) -> str:
    return f"100.65.{int(unit_hash(inst.id, 'ip') * 250)}.{index + 2}"


@dataclass(frozen=True)
class PodState:
    """A pod's observed state at one moment."""

    status: str
    endpoint: tuple[str, int] | None = None
    """The demo SSH server's address, once the pod runs."""


class PodView:
    """Renders :class:`SimInstance` pods as REST v2 ``Pod`` objects."""

    def __init__(self, cloud: SimCloud) -> None:
        self.cloud = cloud

    def state(self, inst: SimInstance, now: float) -> PodState:
        """Its status now (asks the SSH endpoint provider only for a booted pod)."""
        if not inst.intended_running:
            return PodState("EXITED")
        elapsed = now - inst.started_at
        boot = self.cloud.boot_seconds
        if elapsed < boot / 2 and inst.boot_count <= 1:
            return PodState("PROVISIONING")  # a start resumes on the pod's own host
        if elapsed < boot:
            return PodState("STARTING")
        if inst.image_fails():
            return PodState("ERROR")
        observed = self.cloud.observe(inst, now)
        if observed.phase != "running":
            return PodState("STARTING")
        return PodState("RUNNING", observed.endpoint)

    def _public_ssh(self, inst: SimInstance, state: PodState, now: float) -> tuple[str, int] | None:
        """The public port 22 mapping, once it has arrived (never under ``noport``)."""
        if state.endpoint is None or inst.extra.get("noPublicPort"):
            return None
        if "22/tcp" not in inst.extra.get("ports", []):
            return None
        ready_at = inst.started_at + self.cloud.boot_seconds + self.cloud.port_delay_seconds
        return state.endpoint if now >= ready_at else None

    def _ports(self, inst: SimInstance, state: PodState, now: float) -> list[dict[str, Any]]:
        ports: list[dict[str, Any]] = []
        for index, spec in enumerate(inst.extra.get("ports", [])):
            number, _sep, kind = str(spec).partition("/")
            if not number.isdigit():
                continue
            if number == "22" and kind == "tcp":
                ports.extend(self._ssh_port(inst, state, now, index))
                continue
            public = 60000 + int(unit_hash(inst.id, number) * 5000)
            ports.append(
                {
                    "private": int(number),
                    "public": public,
                    "type": kind,
                    "ip": _private_ip(inst, index),
                }
            )
        return ports

    def _ssh_port(
        self, inst: SimInstance, state: PodState, now: float, index: int
    ) -> list[dict[str, Any]]:
        if inst.extra.get("noPublicPort"):
            return [{"private": 22, "public": 22, "type": "tcp", "ip": _private_ip(inst, index)}]
        public = self._public_ssh(inst, state, now)
        if public is None:
            return []
        return [{"private": 22, "public": public[1], "type": "tcp", "ip": public[0]}]

    def _runtime(self, inst: SimInstance, state: PodState, now: float) -> dict[str, Any] | None:
        if state.status != "RUNNING":
            return None
        util = self.cloud.gpu_util(inst, now)
        return {
            "uptime": int(max(0.0, now - inst.started_at - self.cloud.boot_seconds)),
            "gpus": [
                {"util": int(util), "memoryUtil": int(util * 0.7)} for _ in range(inst.num_gpus)
            ],
            "cpu": {"util": int(util * 0.2)},
            "memory": {"util": int(util * 0.3)},
            "ports": self._ports(inst, state, now),
        }

    def _ssh(self, inst: SimInstance, state: PodState, now: float) -> dict[str, Any]:
        user = str(inst.extra.get("podHostId") or f"{inst.id}-{int(unit_hash(inst.id) * 1e8):08d}")
        direct: dict[str, Any] | None = None
        public = self._public_ssh(inst, state, now) if state.status == "RUNNING" else None
        if public is not None:
            host, port = public
            direct = {
                "host": host,
                "port": port,
                "username": "root",
                "command": f"ssh root@{host} -p {port}",
            }
        return {
            "proxy": {
                "host": SSH_PROXY_HOST,
                "port": 22,
                "username": user,
                "command": f"ssh {user}@{SSH_PROXY_HOST} -i ~/.ssh/id_ed25519",
            },
            "direct": direct,
        }

    def render(self, inst: SimInstance, now: float | None = None) -> dict[str, Any]:
        """The ``Pod`` object."""
        now = self.cloud.now() if now is None else now
        state = self.state(inst, now)
        extra = inst.extra
        return {
            "id": inst.id,
            "name": inst.label,
            "status": state.status,
            "actions": list(_ACTIONS[state.status]),
            "image": inst.image,
            "args": str(extra.get("dockerArgs") or ""),
            "disk": extra.get("containerDiskInGb"),
            "ports": list(extra.get("ports", [])),
            "env": dict(extra.get("userEnv", inst.env)),
            "registry": None,
            "gpu": {"id": inst.gpu_type_id, "count": inst.num_gpus},
            "cloud": inst.cloud_type,
            "dataCenterId": extra.get("dataCenterId"),
            "cudaVersion": extra.get("cudaVersion"),
            "cost": 0.0 if state.status == "EXITED" else round(inst.price_per_hour, 4),
            "runtime": self._runtime(inst, state, now),
            "ssh": self._ssh(inst, state, now),
            "mounts": dict(extra.get("mounts", {})),
            "template": None,
            "locked": False,
            "globalNetworking": {"enabled": bool(extra.get("globalNetworking", False))},
            "createdAt": _iso(inst.created_at),
            "startedAt": _iso(inst.started_at),
        }


# ---------------------------------------------------------------------------
# Cursors and logs
# ---------------------------------------------------------------------------


class Cursors:
    """Opaque, tamper-evident list cursors: the sort key of the last item served."""

    def __init__(self, seed: int) -> None:
        self._seed = seed

    def _sign(self, created_at: float, pod_id: str) -> str:
        text = f"{self._seed}|pods|{created_at!r}|{pod_id}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def encode(self, created_at: float, pod_id: str) -> str:
        """The cursor that resumes after the pod ``(created_at, pod_id)``."""
        raw = json.dumps(["pods", created_at, pod_id, self._sign(created_at, pod_id)])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def decode(self, cursor: str) -> tuple[float, str]:
        """The sort key in a cursor; 422 when it is malformed or not one of ours."""
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            kind, created_at, pod_id, signature = json.loads(base64.urlsafe_b64decode(padded))
            key = (float(created_at), str(pod_id))
        except (ValueError, TypeError):
            raise invalid("query.cursor: malformed cursor") from None
        if kind != "pods" or signature != self._sign(*key):
            raise invalid("query.cursor: the cursor does not belong to this list")
        return key


def _log_entries(cloud: SimCloud, inst: SimInstance) -> list[dict[str, str]]:
    """The pod's log backlog as ``{source, line, ts}``, oldest first."""
    entries: list[dict[str, str]] = []
    for text in cloud.instance_log(inst):
        ts, _sep, line = text.partition(" ")
        container = line.startswith("Container started")
        entries.append({"source": "container" if container else "system", "line": line, "ts": ts})
    error = pull_error(inst.image)
    if inst.image_fails() and not any(e["line"] == error for e in entries):
        ready = inst.started_at + cloud.boot_seconds
        if inst.intended_running and ready <= cloud.now():
            entries.append({"source": "system", "line": error, "ts": _iso(ready)})
    return entries


def _sse(events: list[tuple[int, dict[str, str]]]) -> HttpResponse:
    chunks = [f"id: {n}\ndata: {json.dumps(data)}\n\n" for n, data in events]
    response = HttpResponse(200, "".join(chunks).encode(), "text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    return response


# ---------------------------------------------------------------------------
# The API
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One REST route: its template (for counting) and handler per method."""

    template: str
    pattern: re.Pattern[str]
    handlers: dict[str, Handler]


class RunPodRestV2:
    """RunPod's REST API v2 over a :class:`SimCloud`."""

    def __init__(self, cloud: SimCloud, api_key: str) -> None:
        self.cloud = cloud
        self._api_key = api_key
        self.catalog = Catalog(cloud)
        self.view = PodView(cloud)
        self.cursors = Cursors(cloud.seed)
        self._routes = self._build_routes()

    def _build_routes(self) -> list[Route]:
        table: list[tuple[str, dict[str, Handler]]] = [
            ("/v2/catalog/gpus", {"GET": self._list_gpus}),
            ("/v2/catalog/gpus/{id}", {"GET": self._get_gpu}),
            ("/v2/pods", {"GET": self._list_pods, "POST": self._create_pod}),
            (
                "/v2/pods/{id}",
                {"GET": self._get_pod, "PATCH": self._patch_pod, "DELETE": self._delete_pod},
            ),
            ("/v2/pods/{id}/action", {"POST": self._pod_action}),
            ("/v2/pods/{id}/logs", {"GET": self._pod_logs}),
            ("/v2/account/ssh-keys", {"GET": self._get_keys, "PUT": self._put_keys}),
            ("/v2/billing/pods", {"GET": self._billing}),
        ]
        return [
            Route(t, re.compile(t.replace("{id}", "(?P<id>[^/]+)")), handlers)
            for t, handlers in table
        ]

    def _match(self, req: HttpRequest) -> tuple[Route, dict[str, str]] | None:
        path = req.path.rstrip("/") or "/"
        for route in self._routes:
            found = route.pattern.fullmatch(path)
            if found is not None:
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    # -- plumbing ------------------------------------------------------------------

    def route(self, req: HttpRequest) -> str:
        """The route template a request takes (``/v2/pods/{id}``), or its path."""
        matched = self._match(req)
        return matched[0].template if matched else req.path

    def unauthorized(self, detail: str = "invalid API key") -> HttpResponse:
        """RunPod's 401."""
        return problem(401, detail)

    def rate_limited(self) -> HttpResponse:
        """RunPod's 429 with ``Retry-After`` and the rate-limit headers."""
        return problem(
            429,
            "rate limit exceeded for the minute window; retry after the Retry-After delay",
            headers={
                "Retry-After": str(RETRY_AFTER_SECONDS),
                "RateLimit": f'"minute";r=0;t={RETRY_AFTER_SECONDS}',
                "RateLimit-Policy": RATE_LIMIT_POLICY,
            },
        )

    def _authorize(self, req: HttpRequest) -> HttpResponse | None:
        header = req.headers.get("authorization", "").strip()
        if not header:
            return self.unauthorized("missing bearer token")
        scheme, _sep, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return self.unauthorized("missing bearer token")
        if key.strip() != self._api_key:
            return self._pod_key_refusal(req, key.strip())
        return None

    def _pod_key_refusal(self, req: HttpRequest, key: str) -> HttpResponse | None:
        """None when ``key``, not the account's, is a pod's own pod-scoped key
        (``RUNPOD_API_KEY`` inside the pod) and the request is one it may make on *that*
        pod: ``GET /v2/pods/{id}``, ``POST /v2/pods/{id}/action`` with ``stop`` or
        ``terminate``, ``DELETE /v2/pods/{id}``. Otherwise the answer: 401 for a key that is
        no one's, 403 for a pod key used beyond its pod."""
        pod = self.cloud.instance_for_key("runpod", key)
        if pod is None:
            return self.unauthorized("invalid API key")
        matched = self._match(req)
        template, pod_id = (matched[0].template, matched[1].get("id")) if matched else ("", None)
        allowed = {
            ("GET", "/v2/pods/{id}"),
            ("DELETE", "/v2/pods/{id}"),
            ("POST", "/v2/pods/{id}/action"),
        }
        if (req.method, template) not in allowed or pod_id != pod.id:
            return problem(
                403,
                f"this API key is scoped to pod {pod.id}: it can only read, stop or "
                "terminate that pod",
            )
        if template == "/v2/pods/{id}/action":
            try:
                body = req.json()
            except ValueError:
                body = None
            action = body.get("action") if isinstance(body, dict) else None
            if action not in ("stop", "terminate"):
                return problem(
                    403,
                    f"this API key is scoped to pod {pod.id}: its only actions are stop "
                    "and terminate",
                )
        return None

    def handle(self, req: HttpRequest) -> HttpResponse:
        """Answer one ``/v2/...`` request."""
        refused = self._authorize(req)
        if refused is not None:
            return refused
        matched = self._match(req)
        if matched is None:
            return problem(404, f"no route for {req.path}")
        route, params = matched
        handler = route.handlers.get(req.method)
        if handler is None:
            allow = ", ".join(route.handlers)
            return problem(
                405, f"{req.method} is not allowed on {route.template}", headers={"Allow": allow}
            )
        try:
            return handler(req, params)
        except Problem as exc:
            return exc.response()
        except SimError as exc:
            return _sim_problem(exc).response()

    # -- catalog -------------------------------------------------------------------

    def _list_gpus(self, req: HttpRequest, _params: dict[str, str]) -> HttpResponse:
        query = parse_catalog_query(req.query)
        return _json(200, {"gpus": self.catalog.all_types(query)})

    def _get_gpu(self, req: HttpRequest, params: dict[str, str]) -> HttpResponse:
        query = parse_catalog_query(req.query)
        return _json(200, self.catalog.one(params["id"], query))

    # -- pods ------------------------------------------------------------------------

    def _pod(self, pod_id: str) -> SimInstance:
        inst = self.cloud.get("runpod", pod_id)
        if inst is None:
            raise Problem(404, f"pod {pod_id!r} not found")
        return inst

    def _list_pods(self, req: HttpRequest, _params: dict[str, str]) -> HttpResponse:
        limit_text = req.query.get("limit", str(MAX_PAGE))
        if not (limit_text.isascii() and limit_text.isdigit()) or not (
            1 <= int(limit_text) <= MAX_PAGE
        ):
            raise invalid(f"query.limit: {limit_text!r} is not between 1 and {MAX_PAGE}")
        pods = sorted(
            self.cloud.instances("runpod"), key=lambda i: (i.created_at, i.id), reverse=True
        )
        if req.query.get("cursor"):
            after = self.cursors.decode(req.query["cursor"])
            pods = [p for p in pods if (p.created_at, p.id) < after]
        page = pods[: int(limit_text)]
        more = len(pods) > len(page)
        now = self.cloud.now()
        last = page[-1] if page else None
        cursor = self.cursors.encode(last.created_at, last.id) if more and last else None
        return _json(
            200,
            {
                "pods": [self.view.render(p, now) for p in page],
                "pagination": {"nextCursor": cursor, "hasNextPage": more},
            },
        )

    def _get_pod(self, _req: HttpRequest, params: dict[str, str]) -> HttpResponse:
        return _json(200, self.view.render(self._pod(params["id"])))

    def _create_pod(self, req: HttpRequest, _params: dict[str, str]) -> HttpResponse:
        body = _body(req)
        validate(body, CREATE_POD)
        _check_create_rules(body)
        gpu = body["gpu"]
        persistent = body.get("mounts", {}).get("persistent") or {}
        inst = self.cloud.create_runpod(
            gpu_type_id=gpu["id"],
            gpu_count=gpu.get("count", 1),
            cloud_type=body.get("cloud", "SECURE"),
            name=body["name"],
            image=body["image"],
            env=body.get("env", {}),
            ports=list(body.get("ports", [])),
            volume_in_gb=float(persistent.get("size", 0)),
            volume_mount_path=persistent.get("path", "/workspace"),
            container_disk_in_gb=float(body.get("disk", DEFAULT_DISK_GB)),
            docker_args=body.get("args", ""),
            start_ssh=body.get("startSsh", False),
            start_jupyter=body.get("startJupyter", False),
            placement=PodPlacement(
                data_center_ids=tuple(body.get("dataCenterIds", ())),
                allowed_cuda_versions=tuple(gpu.get("allowedCudaVersions", ())),
                min_cuda_version=gpu.get("minCudaVersion"),
                min_ram_per_gpu=gpu.get("minRamPerGpu", 0),
                min_vcpus_per_gpu=gpu.get("minVcpuCountPerGpu", 0),
            ),
            global_networking=body.get("globalNetworking", False),
            no_public_port=req.noport,
        )
        return _json(201, self.view.render(inst))

    def _patch_pod(self, req: HttpRequest, params: dict[str, str]) -> HttpResponse:
        inst = self._pod(params["id"])
        body = _body(req)
        fields = {**_PATCH_SUPPORTED, **{k: _unsupported for k in _PATCH_UNSUPPORTED}}
        validate(body, obj(fields))
        updated = self.cloud.update_pod(
            inst.id, name=body.get("name"), env=body.get("env"), ports=body.get("ports")
        )
        return _json(200, self.view.render(updated))

    def _delete_pod(self, req: HttpRequest, params: dict[str, str]) -> HttpResponse:
        inst = self._pod(params["id"])
        if not req.nodestroy:
            self.cloud.destroy("runpod", inst.id)
        return HttpResponse(204, b"", "application/json")

    def _pod_action(self, req: HttpRequest, params: dict[str, str]) -> HttpResponse:
        inst = self._pod(params["id"])
        body = _body(req)
        validate(body, ACTION)
        action = body["action"]
        status = self.view.state(inst, self.cloud.now()).status
        if action not in _ACTIONS[status]:
            raise Problem(409, f"cannot {action} a pod that is {status}")
        if action == "terminate":
            return self._delete_pod(req, params)
        if action == "stop":
            changed = self.cloud.stop("runpod", inst.id)
        elif action == "start" and status == "EXITED":
            changed = self.cloud.start("runpod", inst.id)
        else:
            changed = self.cloud.reboot("runpod", inst.id)
        return _json(200, self.view.render(changed))

    def _pod_logs(self, req: HttpRequest, params: dict[str, str]) -> HttpResponse:
        inst = self._pod(params["id"])
        tail_text = req.query.get("tail", "100")
        if not (tail_text.isascii() and tail_text.isdigit()) or int(tail_text) > MAX_LOG_TAIL:
            raise invalid(f"query.tail: {tail_text!r} is not between 0 and {MAX_LOG_TAIL}")
        source = req.query.get("source")
        if source is not None and source not in ("container", "system"):
            raise invalid("query.source: value must be one of 'container', 'system'")
        since = _since(req.query.get("since"))
        last_id = _last_event_id(req.headers.get("last-event-id"))
        events = [
            (n, entry)
            for n, entry in enumerate(_log_entries(self.cloud, inst), start=1)
            if n > last_id
            and (source is None or entry["source"] == source)
            and (since is None or entry["ts"] >= since)
        ]
        tail = int(tail_text)
        return _sse(events[-tail:] if tail else [])

    # -- account ---------------------------------------------------------------------

    def _get_keys(self, _req: HttpRequest, _params: dict[str, str]) -> HttpResponse:
        return _json(200, {"keys": [k["key"] for k in self.cloud.ssh_keys("runpod")]})

    def _put_keys(self, req: HttpRequest, params: dict[str, str]) -> HttpResponse:
        body = _body(req)
        validate(body, SSH_KEYS)
        self.cloud.set_ssh_keys("runpod", list(body["keys"]))
        return self._get_keys(req, params)

    # -- billing ---------------------------------------------------------------------

    def _billing(self, req: HttpRequest, _params: dict[str, str]) -> HttpResponse:
        now = datetime.fromtimestamp(self.cloud.now(), UTC)
        return _json(200, pod_billing(self.cloud, parse_query(req.query, now)))


def _unsupported(_value: Any, where: str, errors: list[str]) -> None:
    """A PATCH field RunPod allows but the demo cloud cannot change."""
    errors.append(f"{where}: cannot be changed on a demo cloud pod")


def _check_create_rules(body: dict[str, Any]) -> None:
    """The create rules beyond the schema (400s, and 404 for templates)."""
    if ("gpu" in body) == ("cpu" in body):
        raise Problem(400, "exactly one of gpu or cpu is required")
    if "cpu" in body:
        raise Problem(400, "the demo cloud has no CPU pods")
    if "templateId" in body:
        raise Problem(404, f"template {body['templateId']!r} not found")
    if not body.get("image"):
        raise Problem(400, "image is required when no templateId is given")
    gpu = body["gpu"]
    if "allowedCudaVersions" in gpu and "minCudaVersion" in gpu:
        raise Problem(400, "gpu.allowedCudaVersions and gpu.minCudaVersion are mutually exclusive")
    mounts = body.get("mounts", {})
    if "persistent" in mounts and "network" in mounts:
        raise Problem(400, "mounts takes either persistent or network storage, not both")
    if "network" in mounts:
        raise Problem(400, "the demo cloud has no network volumes")


def _since(text: str | None) -> str | None:
    """``since`` as a sortable ISO timestamp string, or None."""
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"query.since: {text!r} is not an RFC 3339 date-time") from None
    if at.tzinfo is None:
        raise invalid(f"query.since: {text!r} has no time zone offset")
    return _iso(at.timestamp())


def _last_event_id(text: str | None) -> int:
    if text is None or not text.strip().isdigit():
        return 0
    return int(text.strip())
