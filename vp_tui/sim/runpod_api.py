"""An emulator of RunPod's GraphQL API (``POST /graphql``), answering what the ``runpod``
SDK sends and any other query the schema in :mod:`vp_tui.sim.graphql` allows.

Root fields: ``gpuTypes(input)`` (with ``lowestPrice(input)``), ``myself``, ``pod(input)``;
mutations ``podFindAndDeployOnDemand``, ``podRentInterruptable``, ``podStop``,
``podResume``, ``podBidResume``, ``podTerminate``, ``updateUserSettings`` and
``deployCpuPod`` (refused: the demo cloud has no CPU pods).
"""

from __future__ import annotations

import json
import time
from typing import Any

from graphql import GraphQLResolveInfo

from vp_tui.sim.cloud import SimCloud, SimError, SimInstance
from vp_tui.sim.faults import HttpRequest, HttpResponse
from vp_tui.sim.graphql import RUNPOD_SCHEMA, Refusal, operation_label, run_request
from vp_tui.sim.market import unit_hash

USER_ID = "user_2demoVpTuiAccount0000000"
_DATACENTERS = (
    ("EU-RO-1", "RO"),
    ("EU-SE-1", "SE"),
    ("EU-CZ-1", "CZ"),
    ("EUR-IS-1", "IS"),
    ("US-TX-3", "US"),
    ("US-CA-2", "US"),
    ("US-GA-1", "US"),
    ("CA-MTL-1", "CA"),
)

_HTML_5XX = """<!DOCTYPE html>
<html>
<head><title>{status} {reason}</title></head>
<body>
<h1>{status} {reason}</h1>
<p>The server encountered a temporary error and could not complete your request.</p>
<hr><p>cloudflare</p>
</body>
</html>
"""
_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _gql_errors(status: int, message: str) -> HttpResponse:
    return HttpResponse.json_body(status, {"errors": [{"message": message}], "data": None})


def _input(args: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] | None = args.get("input")
    return value or {}


def _env_dict(value: list[dict[str, Any] | None] | None) -> dict[str, str]:
    """RunPod env input (a list of ``{key, value}`` objects) as a mapping."""
    env: dict[str, str] = {}
    for item in value or []:
        if item and item.get("key"):
            env[str(item["key"])] = "" if item.get("value") is None else str(item["value"])
    return env


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}Z"


class RunPodAPI:
    """RunPod's GraphQL API over a :class:`SimCloud`."""

    platform = "runpod"

    def __init__(self, cloud: SimCloud, api_key: str) -> None:
        self.cloud = cloud
        self._api_key = api_key
        self._root: dict[str, Any] = {
            "gpuTypes": self._gpu_types,
            "myself": lambda _info: self._user(),
            "pod": self._pod_by_id,
            "podFindAndDeployOnDemand": self._deploy_on_demand,
            "podRentInterruptable": self._rent_interruptable,
            "deployCpuPod": self._deploy_cpu_pod,
            "podStop": self._stop,
            "podResume": self._resume,
            "podBidResume": self._bid_resume,
            "podTerminate": self._terminate,
            "updateUserSettings": self._update_user_settings,
        }

    # -- plumbing ------------------------------------------------------------------

    def unauthorized(self) -> HttpResponse:
        """RunPod's answer to a missing or wrong API key (the SDK raises AuthenticationError)."""
        return _gql_errors(401, "Unauthorized")

    def rate_limited(self) -> HttpResponse:
        """RunPod's 429."""
        response = _gql_errors(429, "Too many requests: slow down and try again shortly.")
        response.headers["Retry-After"] = "1"
        return response

    def error_response(self, status: int) -> HttpResponse:
        """What RunPod's edge answers with ``status``: an HTML page for 5xx, JSON otherwise."""
        if status == 401:
            return self.unauthorized()
        if status == 429:
            return self.rate_limited()
        reason = _REASONS.get(status, "Error")
        if status >= 500:
            return HttpResponse.text(
                status, _HTML_5XX.format(status=status, reason=reason), "text/html; charset=UTF-8"
            )
        return _gql_errors(status, f"{status} {reason}")

    def internal_error(self, detail: str) -> HttpResponse:
        """The answer when the emulator itself failed: a GraphQL error naming the demo cloud."""
        return HttpResponse.json_body(
            500,
            {
                "errors": [
                    {
                        "message": f"demo cloud internal error: {detail}",
                        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
                    }
                ],
                "data": None,
            },
        )

    @staticmethod
    def _operation(req: HttpRequest) -> dict[str, Any] | HttpResponse:
        """The request's ``query``, ``operationName`` and ``variables``, or the 400 to answer."""
        if req.method == "GET":
            body: Any = {
                "query": req.query.get("query", ""),
                "operationName": req.query.get("operationName"),
                "variables": req.query.get("variables") or None,
            }
            if body["variables"] is not None:
                try:
                    body["variables"] = json.loads(body["variables"])
                except ValueError:
                    return _gql_errors(400, "`variables` in the URL is not valid JSON.")
        else:
            try:
                body = req.json()
            except ValueError:
                return _gql_errors(400, "POST body sent invalid JSON.")
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _gql_errors(400, "GraphQL operations must contain a non-empty `query`.")
        if not body["query"].strip():
            return _gql_errors(400, "GraphQL operations must contain a non-empty `query`.")
        if body.get("variables") is not None and not isinstance(body["variables"], dict):
            return _gql_errors(400, "`variables` in a POST body should be an object.")
        name = body.get("operationName")
        if name is not None and not isinstance(name, str):
            return _gql_errors(400, "`operationName` in a POST body should be a string.")
        return body

    def route(self, req: HttpRequest) -> str:
        """What a request asks, for counting: ``query Pods``, ``mutation podStop``, or the path."""
        if req.path.rstrip("/") != "/graphql":
            return req.path
        body = self._operation(req)
        if isinstance(body, HttpResponse):
            return "invalid"
        return operation_label(body["query"], body.get("operationName"))

    def handle(self, req: HttpRequest) -> HttpResponse:
        """Answer one request."""
        if req.path.rstrip("/") != "/graphql":
            return HttpResponse.text(404, "404 page not found")
        if req.method not in ("POST", "GET"):
            return _gql_errors(405, "GraphQL only supports GET and POST requests.")
        if req.bearer() != self._api_key:
            return self.unauthorized()
        body = self._operation(req)
        if isinstance(body, HttpResponse):
            return body
        answer = run_request(
            RUNPOD_SCHEMA,
            body["query"],
            root=self._root,
            context=req,
            operation_name=body.get("operationName"),
            variables=body.get("variables"),
            allow_mutations=req.method == "POST",
            refusals=(SimError,),
        )
        response = HttpResponse.json_body(answer.status, answer.payload)
        if answer.status == 405:
            response.headers["Allow"] = "POST"
        return response

    # -- objects -------------------------------------------------------------------

    def _gpu_type(self, data: dict[str, Any]) -> dict[str, Any]:
        type_id = data["id"]

        def lowest_price(_info: GraphQLResolveInfo, **args: Any) -> dict[str, Any] | None:
            spec = _input(args)
            count = int(spec.get("gpuCount") or 1)
            secure = spec.get("secureCloud")
            return self.cloud.market.runpod.lowest_price(
                type_id, count, None if secure is None else bool(secure), self.cloud.now()
            )

        return {**data, "lowestPrice": lowest_price}

    def _gpu_types(self, _info: GraphQLResolveInfo, **args: Any) -> list[dict[str, Any]]:
        spec = _input(args)
        wanted: set[str] | None = None
        if spec.get("id") is not None:
            wanted = {str(spec["id"])}
        if spec.get("ids") is not None:
            wanted = (wanted or set()) | {str(i) for i in spec["ids"]}
        types = self.cloud.market.runpod.gpu_types(self.cloud.now())
        return [self._gpu_type(t) for t in types if wanted is None or t["id"] in wanted]

    def _datacenter(self, inst: SimInstance) -> tuple[str, str]:
        index = int(unit_hash(self.cloud.seed, inst.id, "dc") * len(_DATACENTERS))
        return _DATACENTERS[index]

    def pod(self, inst: SimInstance) -> dict[str, Any]:
        """A pod as RunPod's ``Pod`` type describes it."""
        now = self.cloud.now()
        extra = inst.extra
        datacenter, country = self._datacenter(inst)
        running = inst.intended_running and not inst.destroyed

        def runtime(_info: GraphQLResolveInfo) -> dict[str, Any] | None:
            obs = self.cloud.observe(inst, now)
            if obs.phase != "running":
                return None
            ports: list[dict[str, Any]] = []
            if obs.endpoint is not None:
                ports.append(
                    {
                        "ip": obs.endpoint[0],
                        "isIpPublic": True,
                        "privatePort": 22,
                        "publicPort": obs.endpoint[1],
                        "type": "tcp",
                    }
                )
            for index, port_spec in enumerate(str(extra.get("ports") or "").split(",")):
                number, _sep, kind = port_spec.strip().partition("/")
                if not number.isdigit() or number == "22":
                    continue
                ports.append(
                    {
                        "ip": f"100.65.{int(unit_hash(inst.id, 'ip') * 250)}.{index + 2}",
                        "isIpPublic": False,
                        "privatePort": int(number),
                        "publicPort": 60000 + int(unit_hash(inst.id, number) * 5000),
                        "type": kind or "http",
                    }
                )
            util = self.cloud.gpu_util(inst, now)
            gpus = [
                {
                    "id": f"GPU-{inst.id[:4]}{n:02d}{inst.id[4:8]}",
                    "gpuUtilPercent": int(util),
                    "memoryUtilPercent": int(util * 0.7),
                }
                for n in range(inst.num_gpus)
            ]
            uptime = int(max(0.0, now - inst.started_at - self.cloud.boot_seconds))
            return {
                "uptimeInSeconds": uptime,
                "ports": ports,
                "gpus": gpus,
                "container": {"cpuPercent": int(util * 0.2), "memoryPercent": int(util * 0.3)},
            }

        machine = {
            "podHostId": extra.get("podHostId"),
            "gpuDisplayName": inst.gpu_name,
            "gpuTypeId": inst.gpu_type_id,
            "location": country,
            "dataCenterId": datacenter,
            "secureCloud": inst.cloud_type == "SECURE",
            "supportPublicIp": bool(extra.get("supportPublicIp", True)),
            "maxDownloadSpeedMbps": 2500,
            "maxUploadSpeedMbps": 1800,
            "diskMBps": 3200,
            "cpuCount": int(extra.get("vcpuCount") or 8) * 2,
            "cpuTypeId": "AMD EPYC 7763 64-Core Processor",
        }
        cost = round(inst.price_per_hour, 4)
        uptime = int(max(0.0, now - inst.started_at)) if running else 0
        return {
            "id": inst.id,
            "name": inst.label,
            "desiredStatus": "RUNNING" if running else "EXITED",
            "imageName": inst.image,
            "env": [f"{k}={v}" for k, v in inst.env.items()],
            "machineId": extra.get("machineId"),
            "machine": machine,
            "runtime": runtime,
            "gpuCount": inst.num_gpus,
            "vcpuCount": extra.get("vcpuCount"),
            "memoryInGb": extra.get("memoryInGb"),
            "containerDiskInGb": extra.get("containerDiskInGb"),
            "volumeInGb": extra.get("volumeInGb"),
            "volumeMountPath": extra.get("volumeMountPath"),
            "costPerHr": cost,
            "adjustedCostPerHr": cost,
            "podType": "INTERRUPTABLE" if inst.is_bid else "RESERVED",
            "port": None,
            "ports": extra.get("ports"),
            "uptimeSeconds": uptime,
            "lastStatusChange": extra.get("lastStatusChange"),
            "lastStartedAt": _iso(inst.started_at),
            "createdAt": _iso(inst.created_at),
            "dockerArgs": extra.get("dockerArgs", ""),
            "dockerId": None,
            "locked": False,
            "templateId": None,
            "networkVolumeId": None,
            "networkVolume": None,
            "consumerUserId": USER_ID,
            "version": 0,
        }

    def _user(self) -> dict[str, Any]:
        account = self.cloud.account("runpod")

        def pods(_info: GraphQLResolveInfo) -> list[dict[str, Any]]:
            return [self.pod(i) for i in self.cloud.instances("runpod")]

        def pub_key(_info: GraphQLResolveInfo) -> str:
            return "\n".join(k["key"] for k in self.cloud.ssh_keys("runpod"))

        return {
            "id": USER_ID,
            "email": "demo@vp-tui.invalid",
            "pubKey": pub_key,
            "clientBalance": round(account.remaining, 4),
            "currentSpendPerHr": round(account.spend_per_hour, 4),
            "clientLifetimeSpend": round(account.spent, 4),
            "spendLimit": 80,
            "minBalance": 0,
            "underBalance": account.remaining <= 0,
            "hostBalance": 0,
            "multiFactorEnabled": False,
            "signedTermsOfService": True,
            "pods": pods,
            "networkVolumes": [],
            "savedTemplates": [],
        }

    # -- resolvers -------------------------------------------------------------------

    def _pod_by_id(self, _info: GraphQLResolveInfo, **args: Any) -> dict[str, Any] | None:
        inst = self.cloud.get("runpod", str(_input(args)["podId"]))
        return self.pod(inst) if inst is not None else None

    def _require_pod(self, args: dict[str, Any]) -> SimInstance:
        inst = self.cloud.get("runpod", str(_input(args)["podId"]))
        if inst is None:
            raise Refusal("Pod not found.")
        return inst

    def _deploy(self, spec: dict[str, Any], bid: float | None) -> dict[str, Any]:
        gpu_type_id = spec.get("gpuTypeId")
        if not gpu_type_id:
            raise Refusal("gpuTypeId is required.")
        inst = self.cloud.create_runpod(
            gpu_type_id=str(gpu_type_id),
            gpu_count=int(spec.get("gpuCount") or 1),
            cloud_type=str(spec.get("cloudType") or "ALL"),
            name=str(spec.get("name") or ""),
            image=str(spec.get("imageName") or ""),
            env=_env_dict(spec.get("env")),
            ports=spec.get("ports"),
            volume_in_gb=float(spec.get("volumeInGb") or 0),
            container_disk_in_gb=float(spec.get("containerDiskInGb") or 10),
            volume_mount_path=str(spec.get("volumeMountPath") or "/runpod-volume"),
            docker_args=str(spec.get("dockerArgs") or ""),
            start_ssh=bool(spec.get("startSsh", True)),
            support_public_ip=bool(spec.get("supportPublicIp", True)),
            bid_per_gpu=bid,
        )
        return self.pod(inst)

    def _deploy_on_demand(self, _info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        return self._deploy(_input(args), None)

    def _rent_interruptable(self, _info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        spec = _input(args)
        return self._deploy(spec, float(spec["bidPerGpu"]))

    def _deploy_cpu_pod(self, _info: GraphQLResolveInfo, **_args: Any) -> None:
        raise Refusal("CPU pods are not offered by the demo cloud: choose a GPU type.")

    def _stop(self, _info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        inst = self._require_pod(args)
        return self.pod(self.cloud.stop("runpod", inst.id))

    def _resume(self, _info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        inst = self._require_pod(args)
        return self.pod(self.cloud.start("runpod", inst.id))

    def _bid_resume(self, _info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        inst = self._require_pod(args)
        self.cloud.change_bid("runpod", inst.id, float(_input(args)["bidPerGpu"]))
        return self.pod(self.cloud.start("runpod", inst.id))

    def _terminate(self, info: GraphQLResolveInfo, **args: Any) -> None:
        inst = self._require_pod(args)
        req: HttpRequest = info.context
        if not req.nodestroy:
            self.cloud.destroy("runpod", inst.id)

    def _update_user_settings(self, _info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        spec = _input(args)
        if "pubKey" in spec:
            self.cloud.set_ssh_keys("runpod", str(spec["pubKey"] or "").splitlines())
        return self._user()
