"""RunPod through the official ``runpod`` SDK: GPU types as offers, pods, account, SSH keys.

Every RunPod wire detail lives in this module: the GraphQL texts, the field
names, the state words and the error messages. RunPod announced the end of its
GraphQL API for 2027; moving to REST v2 means rewriting this module only.

The SDK is imported on first use: it takes over a second, prints, and calls
``logging.basicConfig``, so the import is done quietly and the root logger is
put back as it was. The SDK reads its base URL from ``RUNPOD_API_BASE_URL`` and,
for some calls, its key from the module global ``runpod.api_key``; ``_SdkGate``
sets both and lets only calls for the same account run at the same time.

The SDK builds query text with f-strings, so every user string is checked
against a strict pattern (names, image, GPU type, ids) or escaped as a GraphQL
string (environment values) before it reaches a query.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import requests

from vp_tui.config import RunPodSettings
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
from vp_tui.platforms.base import (
    AuthError,
    CapacityError,
    NotFound,
    OfferQuery,
    PlatformError,
    RateLimited,
    Unavailable,
    check_price_cap,
    filter_offers,
)
from vp_tui.platforms.errors import (
    is_html,
    key_identity,
    malformed,
    map_requests_error,
    parse_public_key,
    quiet_output,
    scrub,
    shorten,
)
from vp_tui.platforms.parsing import as_int as _int
from vp_tui.platforms.parsing import as_number as _num
from vp_tui.platforms.parsing import as_text as _text

log = logging.getLogger(__name__)

T = TypeVar("T")

PLATFORM: PlatformName = "runpod"
_SERVICE = "RunPod"
_KEY_HINT = "runpod-api-key"
CLOUDS = ("SECURE", "COMMUNITY")
_KINDS = ("ondemand", "spot")
_MOUNT_PATH = "/workspace"
_PROXY_HOST = "ssh.runpod.io"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,254}$")
_GPU_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()/+-]{0,127}$")
_POD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_PORT = re.compile(r"^\d{1,5}/(tcp|http|udp)$")

_CAPACITY_WORDS = (
    "no longer any instances available",
    "not enough free gpus",
    "no instances available",
    "out of stock",
    "no gpus available",
)
_NOT_FOUND_WORDS = ("not found", "does not exist", "no pod", "unknown pod")
_RATE_WORDS = ("too many requests", "rate limit", "too frequent", "ratelimit")
_AUTH_WORDS = ("unauthorized", "unauthenticated", "invalid api key", "forbidden")
_SERVER_WORDS = ("internal server error", "service unavailable", "bad gateway", "gateway timeout")

# ------------------------------------------------------------------------------ GraphQL text

_PRICE_FIELDS = "minimumBidPrice uninterruptablePrice stockStatus"
_GPU_TYPE_FIELDS = (
    "id displayName manufacturer memoryInGb maxGpuCount secureCloud communityCloud "
    "securePrice communityPrice secureSpotPrice communitySpotPrice"
)
_POD_FIELDS = (
    "id name desiredStatus costPerHr imageName gpuCount vcpuCount memoryInGb "
    "containerDiskInGb volumeInGb env podType uptimeSeconds lastStatusChange "
    "machine { gpuDisplayName podHostId } "
    "runtime { uptimeInSeconds ports { ip isIpPublic privatePort publicPort type } "
    "gpus { id gpuUtilPercent memoryUtilPercent } }"
)
_PODS_QUERY = "query Pods { myself { pods { " + _POD_FIELDS + " } } }"
_ACCOUNT_QUERY = "query Account { myself { clientBalance currentSpendPerHr } }"
_PUBKEY_QUERY = "query PubKey { myself { pubKey } }"


def gpu_types_query(gpu_count: int) -> str:
    """GPU types with both clouds' lowest price and stock for ``gpu_count`` GPUs."""
    count = max(1, int(gpu_count))
    return (
        "query GpuTypes { gpuTypes { " + _GPU_TYPE_FIELDS + " "
        f"secure: lowestPrice(input: {{gpuCount: {count}, secureCloud: true}}) "
        f"{{ {_PRICE_FIELDS} }} "
        f"community: lowestPrice(input: {{gpuCount: {count}, secureCloud: false}}) "
        f"{{ {_PRICE_FIELDS} }} }} }}"
    )


def pod_query(pod_id: str) -> str:
    """One pod by id (the id must already be checked with ``_check_pod_id``)."""
    return f'query Pod {{ pod(input: {{podId: "{pod_id}"}}) {{ {_POD_FIELDS} }} }}'


def graphql_escape(value: str) -> str:
    """``value`` escaped for the inside of a GraphQL string literal.

    Backslash, double quote and every control character are escaped (``\\n``,
    ``\\t``, ``\\uXXXX`` ...), so no value can end the string or the query early.
    """
    out = []
    for char in value:
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def _gql_number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def spot_mutation(
    *,
    bid_per_gpu: float,
    cloud: str,
    gpu_type_id: str,
    gpu_count: int,
    name: str,
    image: str,
    container_disk_gb: int,
    volume_gb: int,
    ports: str,
    env: Mapping[str, str],
) -> str:
    """The ``podRentInterruptable`` mutation for a spot pod (all inputs already checked)."""
    env_items = ", ".join(
        f'{{key: "{key}", value: "{graphql_escape(value)}"}}' for key, value in env.items()
    )
    fields = [
        f"bidPerGpu: {_gql_number(bid_per_gpu)}",
        f"cloudType: {cloud}",
        f'gpuTypeId: "{gpu_type_id}"',
        f"gpuCount: {gpu_count}",
        f'name: "{name}"',
        f'imageName: "{image}"',
        f"containerDiskInGb: {container_disk_gb}",
        f"volumeInGb: {volume_gb}",
        f'volumeMountPath: "{_MOUNT_PATH}"',
        f'ports: "{ports}"',
        "startSsh: true",
        "supportPublicIp: true",
        f"env: [{env_items}]",
    ]
    return (
        "mutation { podRentInterruptable(input: { " + ", ".join(fields) + " }) "
        "{ id imageName machineId machine { podHostId } } }"
    )


# ------------------------------------------------------------------------------ normalisers


def _price(value: Any) -> float | None:
    number = _num(value)
    return number if number is not None and number > 0 else None


def _stock(value: Any) -> Stock | None:
    if isinstance(value, Mapping):
        if "stockStatus" in value and value["stockStatus"] is None:
            return Stock.NONE  # a lowestPrice without a stock word: none free
        value = value.get("stockStatus")
    if not isinstance(value, str):
        return None
    for stock in Stock:
        if stock.value.lower() == value.strip().lower():
            return stock
    return None


def offers_from_runpod_gpu_type(
    row: Mapping[str, Any],
    stock_secure: Any = None,
    stock_community: Any = None,
    *,
    gpu_count: int = 1,
) -> list[Offer]:
    """One RunPod GPU type as offers: one per cloud (SECURE/COMMUNITY) and pricing (on-demand/spot).

    Prices are RunPod's per-GPU prices times ``gpu_count`` (1 unless more GPUs are
    asked for); a missing or zero price means no offer. Spot offers are
    interruptible and their ``min_bid`` is the spot price. ``stock_*`` may be the
    ``stockStatus`` word or the ``lowestPrice`` object carrying it. Never raises.
    """
    try:
        return _offers_from_runpod_gpu_type(row, stock_secure, stock_community, gpu_count)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        return []


def _offers_from_runpod_gpu_type(
    row: Mapping[str, Any], stock_secure: Any, stock_community: Any, gpu_count: int
) -> list[Offer]:
    if not isinstance(row, Mapping):
        return []
    type_id = _text(row.get("id"))
    if type_id is None or "|" in type_id:
        return []
    display = _text(row.get("displayName")) or type_id
    vram = _num(row.get("memoryInGb"))
    if vram is None or vram < 0:
        return []
    max_count = _int(row.get("maxGpuCount"))
    if max_count is not None and max_count < 1:
        max_count = None
    count = max(1, int(gpu_count))
    if max_count is not None and count > max_count:
        return []
    gpu = canonical_gpu(type_id, vram) or canonical_gpu(display, vram)
    offers = []
    for cloud, flag, stock in (
        ("SECURE", row.get("secureCloud"), stock_secure),
        ("COMMUNITY", row.get("communityCloud"), stock_community),
    ):
        if flag is False:
            continue
        prefix = "secure" if cloud == "SECURE" else "community"
        for kind, field in (("ondemand", f"{prefix}Price"), ("spot", f"{prefix}SpotPrice")):
            per_gpu = _price(row.get(field))
            if per_gpu is None:
                continue
            price = round(per_gpu * count, 6)
            offers.append(
                Offer(
                    platform=PLATFORM,
                    offer_id=f"{type_id}|{cloud}|{kind}",
                    gpu=gpu,
                    gpu_raw=display,
                    gpu_count=count,
                    vram_gb=vram,
                    price_per_hour=price,
                    interruptible=kind == "spot",
                    min_bid=price if kind == "spot" else None,
                    reliability=None,
                    location=None,
                    stock=_stock(stock),
                    verified=None,
                    cloud=cloud,
                    max_gpu_count=max_count,
                )
            )
    return offers


_STATES = {
    "CREATED": InstanceState.PROVISIONING,
    "RESTARTING": InstanceState.STARTING,
    "EXITED": InstanceState.STOPPED,
    "PAUSED": InstanceState.STOPPED,
    "TERMINATED": InstanceState.TERMINATED,
    "DEAD": InstanceState.ERROR,
}


def runpod_state(desired_status: Any, has_runtime: bool) -> InstanceState:
    """Our state for a pod's ``desiredStatus`` and whether its ``runtime`` is there yet."""
    status = desired_status.strip().upper() if isinstance(desired_status, str) else ""
    if status == "RUNNING":
        return InstanceState.RUNNING if has_runtime else InstanceState.STARTING
    return _STATES.get(status, InstanceState.UNKNOWN)


def pod_env(row: Mapping[str, Any]) -> dict[str, str]:
    """A pod's environment, given as ``"K=V"`` strings or ``{key, value}`` objects."""
    env: dict[str, str] = {}
    items = row.get("env") if isinstance(row, Mapping) else None
    if not isinstance(items, list):
        return env
    for item in items:
        if isinstance(item, str) and "=" in item:
            key, value = item.split("=", 1)
            env[key] = value
        elif isinstance(item, Mapping):
            name, given = item.get("key"), item.get("value")
            if isinstance(name, str) and isinstance(given, str | int | float):
                env[name] = str(given)
    return env


def _public_ssh(runtime: Mapping[str, Any]) -> SSHEndpoint | None:
    ports = runtime.get("ports")
    if not isinstance(ports, list):
        return None
    for port in ports:
        if not isinstance(port, Mapping):
            continue
        if _int(port.get("privatePort")) != 22 or port.get("isIpPublic") is not True:
            continue
        host = _text(port.get("ip"))
        number = _int(port.get("publicPort"))
        if host and number is not None and 1 <= number <= 65535:
            return SSHEndpoint(host=host, port=number, user="root", kind="direct")
    return None


def instance_from_runpod_pod(row: Mapping[str, Any]) -> Instance | None:
    """One RunPod pod dict as an ``Instance``, or None when it has no usable id. Never raises.

    SSH is the runtime port mapped from 22 on a public IP (user root); the proxy
    ``<podHostId>@ssh.runpod.io`` is kept as ``ssh_proxy`` (interactive shells only).
    """
    try:
        return _instance_from_runpod_pod(row)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        return None


def _instance_from_runpod_pod(row: Mapping[str, Any]) -> Instance | None:
    if not isinstance(row, Mapping):
        return None
    pod_id = _text(row.get("id"))
    if pod_id is None:
        return None
    runtime = row.get("runtime")
    runtime = runtime if isinstance(runtime, Mapping) else None
    state = runpod_state(row.get("desiredStatus"), runtime is not None)
    machine = row.get("machine")
    machine = machine if isinstance(machine, Mapping) else {}
    gpu_raw = _text(machine.get("gpuDisplayName"))
    host_id = _text(machine.get("podHostId"))
    proxy = None
    if host_id and re.fullmatch(r"[A-Za-z0-9._-]{1,128}", host_id):
        proxy = SSHEndpoint(host=_PROXY_HOST, port=22, user=host_id, kind="proxy")
    ssh = _public_ssh(runtime) if runtime is not None else None
    uptime: float | None = None
    util: float | None = None
    if runtime is not None:
        uptime = _num(runtime.get("uptimeInSeconds"))
        gpus = runtime.get("gpus")
        if isinstance(gpus, list):
            values = [
                value
                for value in (_num(g.get("gpuUtilPercent")) for g in gpus if isinstance(g, Mapping))
                if value is not None and 0 <= value <= 100
            ]
            util = sum(values) / len(values) if values else None
    if uptime is None and state is InstanceState.RUNNING:
        uptime = _num(row.get("uptimeSeconds"))
    if uptime is not None and uptime < 0:
        uptime = None
    count = _int(row.get("gpuCount"))
    price = _num(row.get("costPerHr"))
    pod_type = row.get("podType")
    status = _text(row.get("lastStatusChange"))
    return Instance(
        platform=PLATFORM,
        instance_id=pod_id,
        label=_text(row.get("name")),
        gpu=canonical_gpu(gpu_raw) if gpu_raw else None,
        gpu_raw=gpu_raw,
        gpu_count=count if count is not None and count >= 1 else 1,
        state=state,
        status_message=status[:500] if status else None,
        price_per_hour=price if price is not None and price >= 0 else 0.0,
        storage_price_per_hour=0.0,
        started_at=None,
        uptime_seconds=uptime,
        ssh=ssh,
        ssh_proxy=proxy,
        image=_text(row.get("imageName")),
        gpu_util=util,
        interruptible=isinstance(pod_type, str) and pod_type.upper().startswith("INTERRUPT"),
        location=None,
    )


# ------------------------------------------------------------------------------ the SDK


class _SdkGate:
    """Holds the SDK's process-wide settings (base URL env var, ``runpod.api_key``).

    Calls for the same (URL, key) run concurrently; a call for another account or
    URL waits until those are done before switching the globals.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active: tuple[str, str] | None = None
        self._users = 0

    @contextlib.contextmanager
    def use(self, module: Any, url: str, key: str) -> Iterator[None]:
        """Point the SDK at ``url`` with ``key`` for the duration of the block."""
        wanted = (url, key)
        with self._cond:
            while self._users and self._active != wanted:
                self._cond.wait()
            os.environ["RUNPOD_API_BASE_URL"] = url
            module.api_key = key
            self._active = wanted
            self._users += 1
        try:
            yield
        finally:
            with self._cond:
                self._users -= 1
                if not self._users:
                    self._cond.notify_all()


_GATE = _SdkGate()
_IMPORT_LOCK = threading.Lock()
_SDK: Any = None


def _import_sdk() -> Any:
    """``import runpod`` once, quietly, leaving logging as it found it."""
    global _SDK
    with _IMPORT_LOCK:
        if _SDK is not None:
            return _SDK
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        touched = {
            name: logging.getLogger(name).level for name in ("urllib3", "paramiko", "uvicorn")
        }
        try:
            with quiet_output():
                import runpod
                import runpod.api.graphql
                import runpod.error
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
            for name, old in touched.items():
                logging.getLogger(name).setLevel(old)
        _SDK = runpod
        return runpod


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


def _check_ports(ports: list[str]) -> str:
    cleaned = []
    for port in ports:
        text = port.strip()
        if not _PORT.match(text) or not 1 <= int(text.split("/")[0]) <= 65535:
            raise PlatformError(f"port {port!r} is not like 8888/http or 22/tcp", platform=PLATFORM)
        cleaned.append(text)
    if "22/tcp" not in cleaned:
        cleaned.insert(0, "22/tcp")
    return ",".join(dict.fromkeys(cleaned))


def _split_offer_id(offer: Offer) -> tuple[str, str, str]:
    parts = offer.offer_id.rsplit("|", 2)
    if offer.platform != PLATFORM or len(parts) != 3:
        raise PlatformError(f"{offer.offer_id!r} is not a RunPod offer", platform=PLATFORM)
    type_id, cloud, kind = parts
    if cloud not in CLOUDS or kind not in _KINDS:
        raise PlatformError(f"{offer.offer_id!r} is not a RunPod offer", platform=PLATFORM)
    _check(_GPU_TYPE, type_id, "GPU type", "letters, digits, spaces and ._()/+-")
    return type_id, cloud, kind


def _has(message: str, words: tuple[str, ...]) -> bool:
    lowered = message.lower()
    return any(word in lowered for word in words)


def _data(answer: Any, *path: str) -> Any:
    """``answer["data"][path...]``, or a malformed-answer error."""
    node = answer
    for step in ("data", *path):
        if not isinstance(node, Mapping) or step not in node:
            raise malformed(PLATFORM, f"no {'.'.join(('data', *path))}")
        node = node[step]
    return node


class RunPodPlatform:
    """RunPod behind the ``Platform`` protocol, through the official SDK."""

    name: PlatformName = PLATFORM

    def __init__(self, settings: RunPodSettings) -> None:
        self.settings = settings
        self.skipped_rows = 0
        """Rows of the last answer (offers or instances) that could not be read."""
        self.skipped_offer_rows = 0
        """Rows of the last offer listing that could not be read."""
        """Rows of the last answer that could not be understood (and were left out)."""

    # ------------------------------------------------------------------ plumbing

    @property
    def _url(self) -> str:
        return self.settings.api_url.rstrip("/")

    def _key(self) -> str:
        key = self.settings.api_key
        value = key.get_secret_value().strip() if key is not None else ""
        if not value:
            raise AuthError(
                "no API key configured: set one with `vp config-set --runpod-api-key -`",
                platform=PLATFORM,
            )
        return value

    def _scrub(self, text: str) -> str:
        key = self.settings.api_key
        return scrub(text, [key.get_secret_value() if key is not None else None])

    def _call(self, what: str, fn: Callable[[Any, str], T]) -> T:
        """Run ``fn(sdk, key)`` with the SDK pointed at our account; map every failure."""
        key = self._key()
        sdk = _import_sdk()
        try:
            with _GATE.use(sdk, self._url, key):
                return fn(sdk, key)
        except PlatformError:
            raise
        except sdk.error.AuthenticationError as exc:
            words = self._scrub(shorten(str(exc)))
            raise AuthError(
                f"API key rejected ({words}): check it with `vp config-set --{_KEY_HINT} -`",
                platform=PLATFORM,
                status=401,
            ) from None
        except sdk.error.QueryError as exc:
            raise self._query_error(what, str(exc)) from None
        except requests.JSONDecodeError as exc:
            raise self._not_json(what, exc) from None
        except requests.RequestException as exc:
            error = map_requests_error(
                exc,
                platform=PLATFORM,
                service=_SERVICE,
                url=self._url,
                key_hint=_KEY_HINT,
                secrets=[key],
            )
            log.info("runpod %s failed: %s", what, error)
            raise error from None
        except json.JSONDecodeError as exc:
            raise self._not_json(what, exc) from None
        except (KeyError, TypeError, AttributeError, IndexError) as exc:
            raise malformed(PLATFORM, f"{what}: {type(exc).__name__}") from None

    def _query_error(self, what: str, message: str) -> PlatformError:
        words = self._scrub(shorten(message))
        if _has(words, _CAPACITY_WORDS):
            return CapacityError(words, platform=PLATFORM)
        if _has(words, _RATE_WORDS):
            return RateLimited(
                f"too many requests ({words}); try again in a little while", platform=PLATFORM
            )
        if _has(words, _AUTH_WORDS):
            return AuthError(
                f"API key rejected ({words}): check it with `vp config-set --{_KEY_HINT} -`",
                platform=PLATFORM,
            )
        if _has(words, _SERVER_WORDS):
            return Unavailable(
                f"the API failed to answer ({words}); try again shortly", platform=PLATFORM
            )
        if _has(words, _NOT_FOUND_WORDS):
            return NotFound(words, platform=PLATFORM)
        return PlatformError(f"{what}: {words}", platform=PLATFORM)

    def _not_json(self, what: str, exc: json.JSONDecodeError) -> PlatformError:
        doc = exc.doc or ""
        body = self._scrub(shorten(doc, 160))
        if _has(body, _RATE_WORDS):
            return RateLimited(
                f"too many requests ({body}); try again in a little while", platform=PLATFORM
            )
        if _has(body, _AUTH_WORDS):
            return AuthError(
                f"API key rejected ({body}): check it with `vp config-set --{_KEY_HINT} -`",
                platform=PLATFORM,
            )
        if is_html(doc):
            return Unavailable(
                f"the API answered with an error page ({body}); try again shortly",
                platform=PLATFORM,
            )
        return malformed(PLATFORM, f"{what}: not valid JSON")

    def _query(self, what: str, text: str) -> Any:
        return self._call(
            what, lambda sdk, key: sdk.api.graphql.run_graphql_query(text, api_key=key)
        )

    # ------------------------------------------------------------------ offers

    def list_offers(self, query: OfferQuery) -> list[Offer]:
        """Every GPU type x cloud x pricing RunPod offers, filtered locally by ``query``."""
        count = query.min_gpu_count or 1
        answer = self._query("list GPU types", gpu_types_query(count))
        rows = _data(answer, "gpuTypes")
        if not isinstance(rows, list):
            raise malformed(PLATFORM, "gpuTypes is not a list")
        offers: list[Offer] = []
        skipped = 0
        for row in rows:
            if not isinstance(row, Mapping):
                skipped += 1
                continue
            found = offers_from_runpod_gpu_type(
                row, row.get("secure"), row.get("community"), gpu_count=count
            )
            if not found and not _text(row.get("id")):
                skipped += 1
            offers.extend(found)
        self.skipped_rows = self.skipped_offer_rows = skipped
        if skipped:
            log.warning("runpod: skipped %d GPU type rows that could not be read", skipped)
        if self.settings.cloud_type != "ALL":
            offers = [offer for offer in offers if offer.cloud == self.settings.cloud_type]
        result = filter_offers(offers, query)
        result.sort(key=lambda offer: (offer.price_per_hour, offer.offer_id))
        return result[: query.limit]

    # ------------------------------------------------------------------ pods

    def list_instances(self) -> list[Instance]:
        """Every pod of the account, whatever its state.

        An answer without a ``myself.pods`` list is a ``PlatformError``, never an empty account.
        """
        answer = self._query("list pods", _PODS_QUERY)
        pods = _data(answer, "myself", "pods")
        if not isinstance(pods, list):  # null is not "no pods": an empty account answers []
            raise malformed(PLATFORM, "pods is not a list")
        instances = []
        skipped = 0
        for row in pods:
            instance = instance_from_runpod_pod(row)
            if instance is None:
                skipped += 1
            else:
                instances.append(instance)
        self.skipped_rows = skipped
        return instances

    def get_instance(self, instance_id: str) -> Instance | None:
        """One pod, or None when RunPod no longer knows it.

        Gone means RunPod said so (``pod: null``, or a "not found" error); an
        answer without a readable pod is a ``PlatformError``, never None.
        """
        try:
            pod_id = _check_pod_id(instance_id)
            answer = self._query("get pod", pod_query(pod_id))
        except NotFound:
            return None
        row = _data(answer, "pod")
        if row is None:
            return None
        instance = instance_from_runpod_pod(row)
        if instance is None:
            raise malformed(PLATFORM, "get pod: unreadable pod")
        return instance

    def create_instance(self, offer: Offer, spec: LaunchSpec) -> Instance:
        """Rent a pod of ``offer``'s GPU type (after the price cap check) and return it."""
        price = check_price_cap(offer, spec, self.settings.max_price_per_hour)
        type_id, cloud, kind = _split_offer_id(offer)
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
        disk = max(1, math.ceil(spec.disk_gb))
        volume = int(self.settings.volume_gb)

        if kind == "spot":
            if spec.bid_price:
                per_gpu = spec.bid_price / gpu_count
            else:
                per_gpu = (offer.min_bid or offer.price_per_hour) / max(1, offer.gpu_count)
            mutation = spot_mutation(
                bid_per_gpu=per_gpu,
                cloud=cloud,
                gpu_type_id=type_id,
                gpu_count=gpu_count,
                name=name,
                image=image,
                container_disk_gb=disk,
                volume_gb=volume,
                ports=ports,
                env=env,
            )
            answer = self._query("rent spot pod", mutation)
            created = _data(answer, "podRentInterruptable")
        else:
            escaped = {key: graphql_escape(value) for key, value in env.items()}

            def deploy(sdk: Any, key: str) -> Any:
                try:
                    return sdk.create_pod(
                        name=name,
                        image_name=image,
                        gpu_type_id=type_id,
                        cloud_type=cloud,
                        support_public_ip=True,
                        start_ssh=True,
                        gpu_count=gpu_count,
                        volume_in_gb=volume,
                        container_disk_in_gb=disk,
                        ports=ports,
                        volume_mount_path=_MOUNT_PATH,
                        env=escaped,
                    )
                except ValueError as exc:
                    if isinstance(exc, json.JSONDecodeError):
                        raise
                    raise CapacityError(
                        f"RunPod no longer offers {offer.label} ({type_id}): refresh the offers",
                        platform=PLATFORM,
                    ) from None

            created = self._call("create pod", deploy)
        pod_id = _text(created.get("id")) if isinstance(created, Mapping) else None
        if pod_id is None:
            raise malformed(PLATFORM, "create pod: no pod id")
        instance = self.get_instance(pod_id)
        if instance is not None:
            return instance
        return Instance(
            platform=PLATFORM,
            instance_id=pod_id,
            label=name,
            gpu=offer.gpu,
            gpu_raw=offer.gpu_raw,
            gpu_count=gpu_count,
            state=InstanceState.PROVISIONING,
            price_per_hour=price,
            image=image,
            interruptible=offer.interruptible,
        )

    def destroy_instance(self, instance_id: str) -> None:
        """Terminate the pod (its disk and volume are deleted)."""
        pod_id = _check_pod_id(instance_id)
        self._call("terminate pod", lambda sdk, key: sdk.terminate_pod(pod_id))

    def stop_instance(self, instance_id: str) -> None:
        """Stop the pod; its volume stays and keeps billing."""
        pod_id = _check_pod_id(instance_id)
        self._call("stop pod", lambda sdk, key: sdk.stop_pod(pod_id))

    def start_instance(self, instance_id: str) -> None:
        """Resume a stopped pod with as many GPUs as it had."""
        pod_id = _check_pod_id(instance_id)
        current = self.get_instance(pod_id)
        if current is None:
            raise NotFound(f"pod {pod_id} not found", platform=PLATFORM)
        count = max(1, current.gpu_count)
        self._call("resume pod", lambda sdk, key: sdk.resume_pod(pod_id, count))

    # ------------------------------------------------------------------ account

    def account(self) -> Account:
        """Balance and current spend, as RunPod reports them."""
        me = _data(self._query("account", _ACCOUNT_QUERY), "myself")
        if not isinstance(me, Mapping):
            raise malformed(PLATFORM, "myself is not an object")
        return Account(
            platform=PLATFORM,
            balance=_num(me.get("clientBalance")),
            spend_per_hour=_num(me.get("currentSpendPerHr")),
        )

    def ensure_ssh_key(self, public_key: str) -> None:
        """Append ``public_key`` to the account's keys unless it is there; never replaces."""
        wanted = parse_public_key(public_key)
        me = _data(self._query("read SSH keys", _PUBKEY_QUERY), "myself")
        current = me.get("pubKey") if isinstance(me, Mapping) else None
        current = current if isinstance(current, str) else ""
        lines = [line for line in current.splitlines() if line.strip()]
        if any(key_identity(line) == wanted for line in lines):
            return
        # The SDK escapes the newlines between keys; everything else is escaped here.
        escaped = "\n".join(graphql_escape(line) for line in [*lines, public_key.strip()])
        self._call(
            "add SSH key",
            lambda sdk, key: sdk.update_user_settings(escaped, api_key=key),
        )
