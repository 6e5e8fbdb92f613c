"""RunPod over REST API v2: GPU types as offers, pods, account, SSH keys, billing.

Every RunPod wire detail lives here and in :mod:`vp_tui.platforms.runpod_rest`
(the HTTP client): routes, field names, status words and error texts. What
each call uses, and why the released ``runpod`` package is not used, is in
docs/platforms.md.

Traps this module handles (sources in docs/platforms.md and the reference notes):

- v2 has no spot pods: offers are on-demand; spot pods made elsewhere are
  listed and destroyed like any pod.
- ``cost`` reads 0 while a pod is stopped, yet its volume bills: the storage
  rate comes from the pod's persistent mount.
- ``runtime`` and the port mapping arrive apart, and some Community hosts
  never get a public port 22; the proxy ``ssh.runpod.io`` answers any
  connection and proves nothing, so only ``ssh.direct`` makes a pod reachable.
- Account keys reach a pod only as ``PUBLIC_KEY`` at creation, honoured by
  RunPod's own images; any other image gets a container command that installs
  sshd and the keys.
- Balance and spend per hour have no v2 route: they are the one GraphQL query
  left, and when GraphQL is gone (410) or rate limited the balance reads as
  unknown with the reason, while everything else keeps working.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vp_tui.config import RunPodSettings
from vp_tui.core.costs import burn_rate
from vp_tui.core.gpus import canonical_gpu
from vp_tui.core.models import (
    Account,
    Instance,
    InstanceState,
    LaunchSpec,
    Offer,
    PlatformName,
    SSHEndpoint,
    Stock,
)
from vp_tui.core.threads import parallel_map
from vp_tui.platforms.base import (
    NotFound,
    OfferQuery,
    PlatformError,
    RateLimited,
    check_price_cap,
    filter_offers,
)
from vp_tui.platforms.errors import key_identity, malformed, parse_public_key
from vp_tui.platforms.parsing import as_int as _int
from vp_tui.platforms.parsing import as_number as _num
from vp_tui.platforms.parsing import as_text as _text
from vp_tui.platforms.runpod_rest import ApiRetired, RunPodHttp

log = logging.getLogger(__name__)

PLATFORM: PlatformName = "runpod"
CLOUDS = ("SECURE", "COMMUNITY")
ON_DEMAND = "ondemand"
_PROXY_HOST = "ssh.runpod.io"
_MOUNT_PATH = "/workspace"

VOLUME_STOPPED_PER_GB_MONTH = 0.20
"""RunPod bills a stopped pod's volume at $0.20 per GB-month (running: $0.10)."""
HOURS_PER_MONTH = 730.0
MIN_VOLUME_GB = 10
"""The smallest persistent mount RunPod v2 accepts."""
PORT_GRACE_SECONDS = 90.0
"""How long a running pod may go without a public port 22 before it is judged to have none."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,254}$")
_GPU_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()/+-]{0,127}$")
_POD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_PORT = re.compile(r"^\d{1,5}/(tcp|http|udp)$")

_ACCOUNT_QUERY = "query Account { myself { clientBalance currentSpendPerHr } }"

_STOCK = {"HIGH": Stock.HIGH, "MEDIUM": Stock.MEDIUM, "LOW": Stock.LOW, "NONE": Stock.NONE}
_STATES = {
    "PROVISIONING": InstanceState.PROVISIONING,
    "STARTING": InstanceState.STARTING,
    "EXITED": InstanceState.STOPPED,
    "ERROR": InstanceState.ERROR,
    "TERMINATED": InstanceState.TERMINATED,
}

SSHD_SETUP = (
    "set -e; "
    "if ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ]; then "
    "(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
    "openssh-server) || apk add --no-cache openssh || dnf install -y openssh-server "
    "|| yum install -y openssh-server; fi; "
    "mkdir -p /root/.ssh /run/sshd; chmod 700 /root/.ssh; "
    'printf "%s\\n" "$PUBLIC_KEY" >> /root/.ssh/authorized_keys; '
    "chmod 600 /root/.ssh/authorized_keys; ssh-keygen -A >/dev/null 2>&1 || true; "
    "$(command -v sshd || echo /usr/sbin/sshd); "
    "exec sleep infinity"
)
"""What a pod of an image without RunPod's start script runs instead of its own command:
install sshd if missing, authorize ``$PUBLIC_KEY`` (the account's keys, which RunPod
sets at creation), start sshd and stay up. SkyPilot and dstack do the same."""


def has_runpod_start_script(image: str) -> bool:
    """Whether ``image`` is one of RunPod's own, whose start script installs ``PUBLIC_KEY``
    and starts sshd; any other image gets :data:`SSHD_SETUP` as its command."""
    return image.lower().startswith(("runpod/", "docker.io/runpod/"))


def container_args(image: str) -> str | None:
    """The container command for a new pod: None for RunPod's images, else sshd set-up."""
    if has_runpod_start_script(image):
        return None
    return "sh -c " + shlex.quote(SSHD_SETUP)


# ------------------------------------------------------------------------------ normalisers


def _stock(value: Any) -> Stock | None:
    if not isinstance(value, str):
        return None
    return _STOCK.get(value.strip().upper())


def _cloud_facts(row: Mapping[str, Any], cloud: str) -> tuple[float | None, int | None]:
    """Per-GPU price and max GPUs of one cloud for a GPU type (None where not offered)."""
    key = cloud.lower()
    if row.get(key) is False:
        return None, None
    prices = row.get("price")
    price = _num(prices.get(key)) if isinstance(prices, Mapping) else None
    if price is None or price <= 0:
        return None, None
    counts = row.get("maxCount")
    most = _int(counts.get(key)) if isinstance(counts, Mapping) else None
    if most is not None and most < 1:
        return None, None
    return price, most


def _datacenters(row: Mapping[str, Any]) -> str | None:
    """The data centres with stock, as ``US-KS-2, EU-RO-1``, or None when none is listed."""
    found = []
    centres = row.get("dataCenters")
    for centre in centres if isinstance(centres, list) else []:
        if not isinstance(centre, Mapping):
            continue
        name = _text(centre.get("id"))
        if name and _stock(centre.get("availability")) not in (None, Stock.NONE):
            found.append(name)
    return ", ".join(found) or None


def offers_from_runpod_gpu_type(
    row: Mapping[str, Any], *, cloud: str, gpu_count: int = 1
) -> list[Offer]:
    """One v2 catalog GPU type as the on-demand offer of ``cloud`` (empty when not offered).

    The price is RunPod's per-GPU list price times ``gpu_count``; stock is the
    catalog's ``availability`` for that cloud and count. Never raises.
    """
    try:
        return _offers_from_gpu_type(row, cloud, gpu_count)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        return []


def _offers_from_gpu_type(row: Mapping[str, Any], cloud: str, gpu_count: int) -> list[Offer]:
    if not isinstance(row, Mapping) or cloud not in CLOUDS:
        return []
    type_id = _text(row.get("id"))
    if type_id is None or "|" in type_id:
        return []
    name = _text(row.get("name")) or type_id
    vram = _num(row.get("memory"))
    if vram is None or vram < 0:
        return []
    per_gpu, most = _cloud_facts(row, cloud)
    count = max(1, int(gpu_count))
    if per_gpu is None or (most is not None and count > most):
        return []
    return [
        Offer(
            platform=PLATFORM,
            offer_id=f"{type_id}|{cloud}|{ON_DEMAND}",
            gpu=canonical_gpu(type_id, vram) or canonical_gpu(name, vram),
            gpu_raw=name,
            gpu_count=count,
            vram_gb=vram,
            price_per_hour=round(per_gpu * count, 6),
            interruptible=False,
            reliability=None,
            location=_datacenters(row),
            stock=_stock(row.get("availability")),
            verified=None,
            cloud=cloud,
            max_gpu_count=most,
        )
    ]


def runpod_state(status: Any, has_runtime: bool) -> InstanceState:
    """Our state for a v2 pod ``status``, and whether its ``runtime`` is there yet."""
    word = status.strip().upper() if isinstance(status, str) else ""
    if word == "RUNNING":
        return InstanceState.RUNNING if has_runtime else InstanceState.STARTING
    return _STATES.get(word, InstanceState.UNKNOWN)


def _routable(host: str) -> bool:
    """Whether ``host`` could be reached from outside the provider's network.

    Private and carrier-grade NAT addresses (RunPod's ``100.65.x.x``) cannot;
    loopback can (the demo cloud serves its pods there), and so can names.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    if address.is_loopback:
        return True
    return address.is_global


def _endpoint(host: Any, port: Any, kind: str, user: str = "root") -> SSHEndpoint | None:
    name = _text(host)
    number = _int(port)
    if not name or number is None or not 1 <= number <= 65535:
        return None
    return SSHEndpoint(host=name, port=number, user=user, kind=kind)


@dataclass(frozen=True)
class _PortWord:
    endpoint: SSHEndpoint | None
    problem: str | None


def _direct_ssh(row: Mapping[str, Any], runtime: Mapping[str, Any] | None) -> _PortWord:
    """The pod's direct SSH endpoint, or why there is none (None while it may still come)."""
    ssh = row.get("ssh")
    direct = ssh.get("direct") if isinstance(ssh, Mapping) else None
    if isinstance(direct, Mapping):
        endpoint = _endpoint(direct.get("host"), direct.get("port"), "direct")
        if endpoint is not None:
            return _PortWord(endpoint, None)
    if runtime is None:
        return _PortWord(None, None)
    ports = runtime.get("ports")
    private_only = False
    for port in ports if isinstance(ports, list) else []:
        if not isinstance(port, Mapping) or _int(port.get("private")) != 22:
            continue
        if str(port.get("type") or "tcp").lower() != "tcp":
            continue
        host = _text(port.get("ip"))
        endpoint = _endpoint(host, port.get("public"), "direct")
        if endpoint is not None and host is not None and _routable(host):
            return _PortWord(endpoint, None)
        private_only = True
    hint = "rent on the Secure Cloud or pick another offer"
    if private_only:
        return _PortWord(
            None, f"its host has no public IP, so port 22 is not reachable from outside; {hint}"
        )
    exposed = row.get("ports")
    if isinstance(exposed, list) and "22/tcp" not in [str(p).strip() for p in exposed]:
        return _PortWord(None, "port 22/tcp is not exposed, so there is no way in over SSH")
    uptime = _num(runtime.get("uptime"))
    if uptime is not None and uptime >= PORT_GRACE_SECONDS:
        return _PortWord(None, f"no public port 22 after {uptime:.0f} s of running; {hint}")
    return _PortWord(None, None)


def _proxy_ssh(row: Mapping[str, Any]) -> SSHEndpoint | None:
    ssh = row.get("ssh")
    proxy = ssh.get("proxy") if isinstance(ssh, Mapping) else None
    if not isinstance(proxy, Mapping):
        return None
    user = _text(proxy.get("username"))
    if not user or not re.fullmatch(r"[A-Za-z0-9._-]{1,128}", user):
        return None
    return _endpoint(proxy.get("host") or _PROXY_HOST, proxy.get("port") or 22, "proxy", user)


def _storage_rate(row: Mapping[str, Any]) -> float:
    """$/h a stopped pod bills for its persistent volume (0 without one)."""
    mounts = row.get("mounts")
    persistent = mounts.get("persistent") if isinstance(mounts, Mapping) else None
    size = _num(persistent.get("size")) if isinstance(persistent, Mapping) else None
    if size is None or size <= 0:
        return 0.0
    return size * VOLUME_STOPPED_PER_GB_MONTH / HOURS_PER_MONTH


def _when(value: Any) -> datetime | None:
    text = _text(value)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _gpu_util(runtime: Mapping[str, Any] | None) -> float | None:
    gpus = runtime.get("gpus") if runtime is not None else None
    if not isinstance(gpus, list):
        return None
    values = [
        value
        for value in (_num(g.get("util")) for g in gpus if isinstance(g, Mapping))
        if value is not None and 0 <= value <= 100
    ]
    return sum(values) / len(values) if values else None


def instance_from_runpod_pod(row: Mapping[str, Any]) -> Instance | None:
    """One v2 pod as an ``Instance``, or None when it has no usable id. Never raises.

    SSH is ``ssh.direct`` (or a runtime port 22 mapped on a routable address);
    the proxy is kept as ``ssh_proxy`` for interactive shells only.
    """
    try:
        return _instance_from_pod(row)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        return None


def _instance_from_pod(row: Mapping[str, Any]) -> Instance | None:
    if not isinstance(row, Mapping):
        return None
    pod_id = _text(row.get("id"))
    if pod_id is None:
        return None
    runtime = row.get("runtime")
    runtime = runtime if isinstance(runtime, Mapping) else None
    state = runpod_state(row.get("status"), runtime is not None)
    gpu = row.get("gpu")
    gpu = gpu if isinstance(gpu, Mapping) else {}
    type_id = _text(gpu.get("id"))
    count = _int(gpu.get("count"))
    direct = _direct_ssh(row, runtime) if state is InstanceState.RUNNING else _PortWord(None, None)
    uptime = _num(runtime.get("uptime")) if runtime is not None else None
    price = _num(row.get("cost"))
    return Instance(
        platform=PLATFORM,
        instance_id=pod_id,
        label=_text(row.get("name")),
        gpu=canonical_gpu(type_id) if type_id else None,
        gpu_raw=type_id,
        gpu_count=count if count is not None and count >= 1 else 1,
        state=state,
        price_per_hour=price if price is not None and price >= 0 else 0.0,
        storage_price_per_hour=_storage_rate(row),
        started_at=_when(row.get("startedAt")) if state is InstanceState.RUNNING else None,
        uptime_seconds=uptime if uptime is not None and uptime >= 0 else None,
        ssh=direct.endpoint,
        ssh_proxy=_proxy_ssh(row),
        unreachable=direct.problem,
        image=_text(row.get("image")),
        gpu_util=_gpu_util(runtime),
        interruptible=False,
        location=_text(row.get("dataCenterId")),
    )


# ------------------------------------------------------------------------------ input checks


def _check(pattern: re.Pattern[str], value: str, what: str, allowed: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise PlatformError(f"{what} {value!r} is not allowed ({allowed})", platform=PLATFORM)
    return value


def _check_pod_id(pod_id: str) -> str:
    text = str(pod_id).strip()
    if not _POD_ID.match(text):
        raise NotFound(f"pod {pod_id!r} not found", platform=PLATFORM)
    return text


def _check_env(env: Mapping[str, str]) -> dict[str, str]:
    checked = {}
    for key, value in env.items():
        _check(_ENV_KEY, key, "environment variable name", "letters, digits and _")
        if not isinstance(value, str):
            raise PlatformError(f"environment variable {key} must be text", platform=PLATFORM)
        checked[key] = value
    return checked


def _check_ports(ports: list[str]) -> list[str]:
    cleaned = []
    for port in ports:
        text = port.strip()
        if not _PORT.match(text) or not 1 <= int(text.split("/")[0]) <= 65535:
            raise PlatformError(f"port {port!r} is not like 8888/http or 22/tcp", platform=PLATFORM)
        cleaned.append(text)
    if "22/tcp" not in cleaned:
        cleaned.insert(0, "22/tcp")
    return list(dict.fromkeys(cleaned))


def _split_offer_id(offer: Offer) -> tuple[str, str]:
    parts = offer.offer_id.rsplit("|", 2)
    if offer.platform != PLATFORM or len(parts) != 3 or parts[1] not in CLOUDS:
        raise PlatformError(f"{offer.offer_id!r} is not a RunPod offer", platform=PLATFORM)
    type_id, cloud, kind = parts
    if kind != ON_DEMAND:
        raise PlatformError(
            "RunPod's API has no spot pods any more: rent the on-demand offer", platform=PLATFORM
        )
    _check(_GPU_TYPE, type_id, "GPU type", "letters, digits, spaces and ._()/+-")
    return type_id, cloud


@dataclass(frozen=True)
class BilledPod:
    """What RunPod billed one pod in one time bucket (``/v2/billing/pods``)."""

    pod_id: str
    start: datetime
    end: datetime
    total: float
    gpu: float
    cpu: float
    disk: float


def _billed(row: Any) -> BilledPod | None:
    if not isinstance(row, Mapping):
        return None
    pod_id = _text(row.get("podId"))
    start, end = _when(row.get("startTime")), _when(row.get("endTime"))
    total = _num(row.get("totalAmount"))
    if pod_id is None or start is None or end is None or total is None:
        return None
    return BilledPod(
        pod_id=pod_id,
        start=start,
        end=end,
        total=total,
        gpu=_num(row.get("gpuAmount")) or 0.0,
        cpu=_num(row.get("cpuAmount")) or 0.0,
        disk=_num(row.get("diskAmount")) or 0.0,
    )


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RunPodPlatform:
    """RunPod behind the ``Platform`` protocol, over REST API v2."""

    name: PlatformName = PLATFORM

    def __init__(self, settings: RunPodSettings) -> None:
        self.settings = settings
        self.http = RunPodHttp(settings.api_url, settings.api_key)
        self.skipped_rows = 0
        """Rows of the last pod listing that could not be read (and were left out)."""
        self.skipped_offer_rows = 0
        """Rows of the last offer listing that could not be read."""

    # ------------------------------------------------------------------ offers

    def _clouds(self) -> list[str]:
        wanted = self.settings.cloud_type
        return list(CLOUDS) if wanted == "ALL" else [wanted]

    def list_offers(self, query: OfferQuery) -> list[Offer]:
        """The on-demand offer of every GPU type in each configured cloud, filtered by ``query``.

        The catalog is asked once per cloud, the clouds at the same time. Spot offers
        exist no more (v2 has none); ``interruptible=True`` finds nothing.
        """
        count = query.min_gpu_count or 1

        def catalog(cloud: str) -> list[Any]:
            answer = self.http.rest_object(
                "GET",
                "/v2/catalog/gpus",
                "list GPU types",
                params={
                    "include": "AVAILABILITY",
                    "product": "POD",
                    "count": count,
                    "cloud": cloud,
                },
            )
            rows = answer.get("gpus")
            if not isinstance(rows, list):
                raise malformed(PLATFORM, "list GPU types: no gpus list")
            return rows

        clouds = self._clouds()
        offers: list[Offer] = []
        skipped = 0
        for cloud, rows in zip(clouds, parallel_map(catalog, clouds, name="runpod"), strict=True):
            for row in rows:
                found = offers_from_runpod_gpu_type(row, cloud=cloud, gpu_count=count)
                if not found and not (isinstance(row, Mapping) and _text(row.get("id"))):
                    skipped += 1
                offers.extend(found)
        self.skipped_offer_rows = skipped
        if skipped:
            log.warning("runpod: skipped %d GPU type rows that could not be read", skipped)
        result = filter_offers(offers, query)
        result.sort(key=lambda offer: (offer.price_per_hour, offer.offer_id))
        return result[: query.limit]

    # ------------------------------------------------------------------ pods

    def list_instances(self) -> list[Instance]:
        """Every pod of the account, through every page of the listing.

        An answer without a ``pods`` list is a ``PlatformError``, never an empty account.
        """
        rows = self.http.rest_list("/v2/pods", "pods", "list pods")
        instances = []
        skipped = 0
        for row in rows:
            instance = instance_from_runpod_pod(row)
            if instance is None:
                skipped += 1
            else:
                instances.append(instance)
        self.skipped_rows = skipped
        return instances

    def _get_pod(self, pod_id: str) -> Mapping[str, Any] | None:
        try:
            return self.http.rest_object("GET", self.http.path("pods", pod_id), "get pod")
        except NotFound:
            return None

    def get_instance(self, instance_id: str) -> Instance | None:
        """One pod, or None when RunPod answers 404 (unknown or terminated).

        A pod in ``ERROR`` carries the last lines of its system log as the reason.
        """
        try:
            pod_id = _check_pod_id(instance_id)
        except NotFound:
            return None
        row = self._get_pod(pod_id)
        if row is None:
            return None
        instance = instance_from_runpod_pod(row)
        if instance is None:
            raise malformed(PLATFORM, "get pod: unreadable pod")
        if instance.state is InstanceState.ERROR:
            instance = instance.model_copy(update={"status_message": self._error_reason(pod_id)})
        return instance

    def _error_reason(self, pod_id: str) -> str:
        """Why a pod went to ERROR: the last system log lines, when they can be read."""
        try:
            events = self.http.events(
                self.http.path("pods", pod_id, "logs"),
                "read pod log",
                params={"tail": 5, "source": "system"},
                limit=5,
            )
        except PlatformError as exc:
            return f"RunPod gives no reason ({exc})"
        lines = [
            str(e.get("line")).strip()
            for e in events
            if isinstance(e, Mapping) and str(e.get("line") or "").strip()
        ]
        return lines[-1][:300] if lines else "RunPod gives no reason; see the pod's log"

    def create_instance(self, offer: Offer, spec: LaunchSpec) -> Instance:
        """Rent a pod of ``offer``'s GPU type (after the price cap check) and return it."""
        check_price_cap(offer, spec, self.settings.max_price_per_hour)
        type_id, cloud = _split_offer_id(offer)
        name = _check(_NAME, spec.label or "vp-tui", "label", "letters, digits, space and ._-")
        image = _check(_IMAGE, spec.image, "image", "a Docker image reference")
        env = _check_env(spec.env)
        ports = _check_ports(spec.ports)
        if spec.onstart:
            raise PlatformError(
                "RunPod pods take no start-up command here: run it as a job once the pod is up",
                platform=PLATFORM,
            )
        gpu_count = spec.gpu_count if spec.gpu_count > 1 else offer.gpu_count
        if offer.max_gpu_count is not None and gpu_count > offer.max_gpu_count:
            raise PlatformError(
                f"{offer.label} pods have at most {offer.max_gpu_count} GPUs", platform=PLATFORM
            )
        volume = int(self.settings.volume_gb)
        if 0 < volume < MIN_VOLUME_GB:
            raise PlatformError(
                f"a RunPod volume is at least {MIN_VOLUME_GB} GB (runpod.volume_gb is {volume})",
                platform=PLATFORM,
            )
        body: dict[str, Any] = {
            "name": name,
            "image": image,
            "gpu": {"id": type_id, "count": gpu_count},
            "cloud": cloud,
            "disk": max(1, math.ceil(spec.disk_gb)),
            "ports": ports,
            "env": env,
            "startSsh": True,
        }
        args = container_args(image)
        if args is not None:
            body["args"] = args
        if volume:
            body["mounts"] = {"persistent": {"size": volume, "path": _MOUNT_PATH}}
        row = self.http.rest_object("POST", "/v2/pods", "create pod", body=body)
        instance = instance_from_runpod_pod(row)
        if instance is None:
            raise malformed(PLATFORM, "create pod: no pod id")
        return instance

    def destroy_instance(self, instance_id: str) -> None:
        """Delete the pod (its container disk and persistent volume go with it)."""
        pod_id = _check_pod_id(instance_id)
        self.http.rest("DELETE", self.http.path("pods", pod_id), "delete pod")

    def _action(self, pod_id: str, action: str, what: str) -> None:
        self.http.rest(
            "POST", self.http.path("pods", pod_id, "action"), what, body={"action": action}
        )

    def stop_instance(self, instance_id: str) -> None:
        """Stop the pod; its volume stays and keeps billing."""
        self._action(_check_pod_id(instance_id), "stop", "stop pod")

    def start_instance(self, instance_id: str) -> None:
        """Start a stopped pod again, on the same host."""
        self._action(_check_pod_id(instance_id), "start", "start pod")

    # ------------------------------------------------------------------ account

    def account(self) -> Account:
        """Balance and spend per hour.

        Both come from GraphQL (v2 has no route for them). When GraphQL is gone
        or rate limited, the balance is unknown with the reason, and the spend
        per hour is added up from the pods instead.
        """
        try:
            data = self.http.graphql(_ACCOUNT_QUERY, "read balance")
        except (ApiRetired, RateLimited) as exc:
            reason = (
                "RunPod's GraphQL API is switched off and REST v2 has no balance route yet"
                if isinstance(exc, ApiRetired)
                else f"RunPod's GraphQL API is rate limited ({exc.message})"
            )
            return Account(
                platform=PLATFORM,
                balance=None,
                spend_per_hour=self._burn_from_pods(),
                balance_unknown=reason,
            )
        me = data.get("myself")
        if not isinstance(me, Mapping):
            raise malformed(PLATFORM, "read balance: myself is not an object")
        return Account(
            platform=PLATFORM,
            balance=_num(me.get("clientBalance")),
            spend_per_hour=_num(me.get("currentSpendPerHr")),
        )

    def _burn_from_pods(self) -> float | None:
        """$/h of the account's pods (compute while up, volumes while stopped), or None."""
        try:
            return round(burn_rate(self.list_instances()), 6)
        except PlatformError as exc:
            log.info("runpod: no spend per hour from the pods either: %s", exc)
            return None

    def billed_pods(
        self, start: datetime, end: datetime, *, pod_id: str | None = None
    ) -> list[BilledPod]:
        """What RunPod billed each pod per day between ``start`` and ``end``."""
        params: dict[str, Any] = {
            "startTime": _rfc3339(start),
            "endTime": _rfc3339(end),
            "bucketSize": "day",
        }
        if pod_id is not None:
            params["podId"] = _check_pod_id(pod_id)
        answer = self.http.rest_object("GET", "/v2/billing/pods", "read billing", params=params)
        rows = answer.get("records")
        if not isinstance(rows, list):
            raise malformed(PLATFORM, "read billing: no records list")
        return [record for record in (_billed(row) for row in rows) if record is not None]

    def authorize_key(self, instance_id: str, public_key: str) -> bool:
        """RunPod has no way to add a key to an existing pod: its keys are the account's
        as they were at creation (``PUBLIC_KEY``)."""
        return False

    def ensure_ssh_key(self, public_key: str) -> None:
        """Add ``public_key`` to the account's keys unless it is there (PUT replaces the set,
        so the current keys are read first and sent back with it)."""
        wanted = parse_public_key(public_key)
        answer = self.http.rest_object("GET", "/v2/account/ssh-keys", "read SSH keys")
        keys = answer.get("keys")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise malformed(PLATFORM, "read SSH keys: no keys list")
        if any(key_identity(key) == wanted for key in keys):
            return
        self.http.rest(
            "PUT",
            "/v2/account/ssh-keys",
            "add SSH key",
            body={"keys": [*keys, public_key.strip()]},
        )
