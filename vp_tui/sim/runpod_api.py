"""An emulator of RunPod's GraphQL API (``POST /graphql``), answering what the ``runpod``
SDK sends and any query text asking for a subset of the same types' fields.

Root fields: ``gpuTypes(input)`` (with ``lowestPrice(input)``), ``myself``, ``pod(input)``;
mutations ``podFindAndDeployOnDemand``, ``podRentInterruptable``, ``podStop``,
``podResume``, ``podBidResume``, ``podTerminate`` and ``updateUserSettings``.
"""

from __future__ import annotations

import time
from typing import Any

from vp_tui.sim.cloud import SimCloud, SimError, SimInstance
from vp_tui.sim.faults import HttpRequest, HttpResponse
from vp_tui.sim.graphql import (
    GqlObject,
    GraphQLError,
    GraphQLSyntaxError,
    execute,
    parse,
)
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
    value = args.get("input")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise GraphQLError('Argument "input" must be an input object.')
    return value


def _env_dict(value: Any) -> dict[str, str]:
    """RunPod env input: a list of ``{key, value}`` objects or of ``"K=V"`` strings."""
    env: dict[str, str] = {}
    for item in value or []:
        if isinstance(item, dict):
            env[str(item.get("key", ""))] = "" if item.get("value") is None else str(item["value"])
        elif isinstance(item, str):
            key, _, val = item.partition("=")
            env[key] = val
    return {k: v for k, v in env.items() if k}


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}Z"


class RunPodAPI:
    """RunPod's GraphQL API over a :class:`SimCloud`."""

    platform = "runpod"

    def __init__(self, cloud: SimCloud, api_key: str) -> None:
        self.cloud = cloud
        self._api_key = api_key

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

    def handle(self, req: HttpRequest) -> HttpResponse:
        """Answer one request."""
        if req.path.rstrip("/") != "/graphql":
            return HttpResponse.text(404, "404 page not found")
        if req.method not in ("POST", "GET"):
            return _gql_errors(405, "GraphQL only supports GET and POST requests.")
        if req.bearer() != self._api_key:
            return self.unauthorized()
        if req.method == "GET":
            body: Any = {
                "query": req.query.get("query", ""),
                "operationName": req.query.get("operationName"),
            }
        else:
            try:
                body = req.json()
            except ValueError:
                return _gql_errors(400, "POST body sent invalid JSON.")
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _gql_errors(400, "GraphQL operations must contain a non-empty `query`.")
        if body.get("variables"):
            return _gql_errors(
                400, "Variables are not supported by this server: put the values in the query."
            )
        try:
            document = parse(body["query"])
        except GraphQLSyntaxError as exc:
            return HttpResponse.json_body(400, {"errors": [exc.to_dict()], "data": None})
        except GraphQLError as exc:
            return HttpResponse.json_body(200, {"errors": [exc.to_dict()], "data": None})
        result = execute(
            document,
            query=self._query_root(),
            mutation=self._mutation_root(req),
            operation_name=body.get("operationName") or None,
        )
        return HttpResponse.json_body(200, result)

    # -- objects -------------------------------------------------------------------

    def _gpu_type(self, data: dict[str, Any]) -> GqlObject:
        type_id = data["id"]

        def lowest_price(args: dict[str, Any]) -> GqlObject | None:
            spec = _input(args)
            count = int(spec.get("gpuCount") or 1)
            secure = spec.get("secureCloud")
            found = self.cloud.market.runpod.lowest_price(
                type_id, count, None if secure is None else bool(secure), self.cloud.now()
            )
            return GqlObject("LowestPrice", found) if found is not None else None

        return GqlObject("GpuType", {**data, "lowestPrice": lowest_price})

    def _gpu_types(self, args: dict[str, Any]) -> list[GqlObject]:
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

    def pod(self, inst: SimInstance) -> GqlObject:
        """A pod as RunPod's ``Pod`` type describes it."""
        now = self.cloud.now()
        extra = inst.extra
        datacenter, country = self._datacenter(inst)
        running = inst.intended_running and not inst.destroyed

        def runtime(_: dict[str, Any]) -> GqlObject | None:
            obs = self.cloud.observe(inst, now)
            if obs.phase != "running":
                return None
            ports: list[GqlObject] = []
            if obs.endpoint is not None:
                ports.append(
                    GqlObject(
                        "PodRuntimePorts",
                        {
                            "ip": obs.endpoint[0],
                            "isIpPublic": True,
                            "privatePort": 22,
                            "publicPort": obs.endpoint[1],
                            "type": "tcp",
                        },
                    )
                )
            for index, port_spec in enumerate(str(extra.get("ports") or "").split(",")):
                number, _sep, kind = port_spec.strip().partition("/")
                if not number.isdigit() or number == "22":
                    continue
                ports.append(
                    GqlObject(
                        "PodRuntimePorts",
                        {
                            "ip": f"100.65.{int(unit_hash(inst.id, 'ip') * 250)}.{index + 2}",
                            "isIpPublic": False,
                            "privatePort": int(number),
                            "publicPort": 60000 + int(unit_hash(inst.id, number) * 5000),
                            "type": kind or "http",
                        },
                    )
                )
            util = self.cloud.gpu_util(inst, now)
            gpus = [
                GqlObject(
                    "PodRuntimeGpus",
                    {
                        "id": f"GPU-{inst.id[:4]}{n:02d}{inst.id[4:8]}",
                        "gpuUtilPercent": int(util),
                        "memoryUtilPercent": int(util * 0.7),
                    },
                )
                for n in range(inst.num_gpus)
            ]
            uptime = int(max(0.0, now - inst.started_at - self.cloud.boot_seconds))
            return GqlObject(
                "PodRuntime",
                {
                    "uptimeInSeconds": uptime,
                    "ports": ports,
                    "gpus": gpus,
                    "container": GqlObject(
                        "PodRuntimeContainer",
                        {"cpuPercent": int(util * 0.2), "memoryPercent": int(util * 0.3)},
                    ),
                },
            )

        machine = GqlObject(
            "PodMachineInfo",
            {
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
            },
        )
        cost = round(inst.price_per_hour, 4)
        uptime = int(max(0.0, now - inst.started_at)) if running else 0
        return GqlObject(
            "Pod",
            {
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
                "interruptible": inst.is_bid,
                "bidPerGpu": inst.bid_price,
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
            },
        )

    def _user(self) -> GqlObject:
        account = self.cloud.account("runpod")

        def pods(_: dict[str, Any]) -> list[GqlObject]:
            return [self.pod(i) for i in self.cloud.instances("runpod")]

        def pub_key(_: dict[str, Any]) -> str:
            return "\n".join(k["key"] for k in self.cloud.ssh_keys("runpod"))

        return GqlObject(
            "User",
            {
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
            },
        )

    def _find_pod(self, args: dict[str, Any]) -> SimInstance | None:
        pod_id = _input(args).get("podId")
        if not pod_id:
            raise GraphQLError('Field "podId" of required type "String!" was not provided.')
        return self.cloud.get("runpod", str(pod_id))

    def _require_pod(self, args: dict[str, Any]) -> SimInstance:
        inst = self._find_pod(args)
        if inst is None:
            raise GraphQLError("Pod not found.")
        return inst

    # -- roots -----------------------------------------------------------------------

    def _query_root(self) -> GqlObject:
        def pod(args: dict[str, Any]) -> GqlObject | None:
            inst = self._find_pod(args)
            return self.pod(inst) if inst is not None else None

        return GqlObject(
            "Query",
            {
                "gpuTypes": self._gpu_types,
                "myself": lambda _args: self._user(),
                "pod": pod,
            },
        )

    def _deploy(self, spec: dict[str, Any], bid: float | None) -> GqlObject:
        gpu_type_id = spec.get("gpuTypeId")
        if not gpu_type_id:
            raise GraphQLError("gpuTypeId is required.")
        try:
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
        except SimError as exc:
            raise GraphQLError(exc.message) from None
        return self.pod(inst)

    def _mutation_root(self, req: HttpRequest) -> GqlObject:
        cloud = self.cloud

        def deploy(args: dict[str, Any]) -> GqlObject:
            return self._deploy(_input(args), None)

        def rent_interruptable(args: dict[str, Any]) -> GqlObject:
            spec = _input(args)
            if spec.get("bidPerGpu") is None:
                raise GraphQLError("bidPerGpu is required for an interruptible pod.")
            return self._deploy(spec, float(spec["bidPerGpu"]))

        def lifecycle(action: str) -> Any:
            def run(args: dict[str, Any]) -> GqlObject:
                inst = self._require_pod(args)
                spec = _input(args)
                try:
                    if action == "stop":
                        inst = cloud.stop("runpod", inst.id)
                    else:
                        if action == "bid" and spec.get("bidPerGpu") is not None:
                            cloud.change_bid("runpod", inst.id, float(spec["bidPerGpu"]))
                        inst = cloud.start("runpod", inst.id)
                except SimError as exc:
                    raise GraphQLError(exc.message) from None
                return self.pod(inst)

            return run

        def terminate(args: dict[str, Any]) -> None:
            inst = self._require_pod(args)
            if not req.nodestroy:
                cloud.destroy("runpod", inst.id)

        def update_user_settings(args: dict[str, Any]) -> GqlObject:
            spec = _input(args)
            if "pubKey" in spec:
                cloud.set_ssh_keys("runpod", str(spec["pubKey"] or "").splitlines())
            return self._user()

        def cpu_pod(_: dict[str, Any]) -> None:
            raise GraphQLError("CPU pods are not offered by the demo cloud: choose a GPU type.")

        return GqlObject(
            "Mutation",
            {
                "podFindAndDeployOnDemand": deploy,
                "podRentInterruptable": rent_interruptable,
                "podStop": lifecycle("stop"),
                "podResume": lifecycle("resume"),
                "podBidResume": lifecycle("bid"),
                "podTerminate": terminate,
                "updateUserSettings": update_user_settings,
                "deployCpuPod": cpu_pod,
            },
        )
