"""Vast.ai through the official ``vastai`` SDK: offers, instances, account, SSH keys.

The SDK is imported on first use (it pulls in aiohttp and friends), never at
module import. Every SDK call goes through ``VastPlatform._call``, which turns
``requests`` failures and surprising answers into the ``PlatformError`` family
with the provider's own words and without the API key. The pure functions
``offer_from_vast`` and ``instance_from_vast`` turn Vast's dicts into the
shared models; they never raise and return None for rows they cannot use.
See docs/platforms.md for the state table and where prices come from.
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal, TypeVar

import requests

from vp_tui.config import VastSettings
from vp_tui.core.costs import burn_rate
from vp_tui.core.gpus import GPUS, canonical_gpu, gpu_spec
from vp_tui.core.models import (
    Account,
    Instance,
    InstanceState,
    LaunchSpec,
    Offer,
    PlatformName,
    SSHEndpoint,
    TransferEndpoint,
)
from vp_tui.core.threads import parallel_map
from vp_tui.platforms.base import (
    AuthError,
    CapacityError,
    LaunchLeftInstance,
    NotFound,
    OfferQuery,
    PlatformError,
    check_price_cap,
    filter_offers,
)
from vp_tui.platforms.errors import (
    key_identity,
    malformed,
    map_requests_error,
    parse_public_key,
    quiet_output,
    scrub,
)
from vp_tui.platforms.parsing import as_int as _int
from vp_tui.platforms.parsing import as_number as _num
from vp_tui.platforms.parsing import as_text as _text

log = logging.getLogger(__name__)

T = TypeVar("T")

PLATFORM: PlatformName = "vast"
_SERVICE = "Vast.ai"
_KEY_HINT = "vast-api-key"
_ATTEMPTS = 2
"""Tries per request inside the SDK (one retry of 429/502/503/504 and network errors)."""
_MAX_PAGES = 400
_BID_SUFFIX = "-bid"
_HOURS_PER_MONTH = 730.0

# Canonical catalog name -> how Vast spells the GPU in `gpu_name` (when it differs).
# Models that share a Vast spelling (A100 SXM4 40/80 GB) are told apart by gpu_ram.
VAST_GPU_NAMES: dict[str, tuple[str, ...]] = {
    "H200 SXM": ("H200",),
    "H100 PCIe": ("H100 PCIE",),
    "GH200": ("GH200 SXM",),
    "A100 SXM 80GB": ("A100 SXM4",),
    "A100 SXM 40GB": ("A100 SXM4",),
    "A100 PCIe 80GB": ("A100 PCIE", "A100X"),
    "A100 PCIe 40GB": ("A100 PCIE",),
    "T4": ("Tesla T4",),
    "V100 SXM2 32GB": ("Tesla V100",),
    "V100 SXM2 16GB": ("Tesla V100",),
    "V100 PCIe 32GB": ("Tesla V100",),
    "V100 PCIe 16GB": ("Tesla V100",),
    "P100": ("Tesla P100",),
    "MI300X": ("MI300X", "InstinctMI300X"),
    "MI250X": ("MI250X", "InstinctMI250X"),
    "RTX PRO 6000": ("RTX PRO 6000 WS", "RTX PRO 6000 S"),
    "RTX 6000 Ada": ("RTX 6000Ada",),
    "RTX 5000 Ada": ("RTX 5000Ada",),
    "RTX 4500 Ada": ("RTX 4500Ada",),
    "RTX 4000 Ada": ("RTX 4000Ada",),
    "RTX 4000 SFF Ada": ("RTX 4000SFFAda", "RTX 4000 SFF Ada"),
    "RTX 2000 Ada": ("RTX 2000Ada",),
    "Quadro RTX 8000": ("Q RTX 8000",),
    "Quadro RTX 6000": ("Q RTX 6000",),
    "RTX 4080 SUPER": ("RTX 4080S",),
    "RTX 4070 Ti SUPER": ("RTX 4070S Ti",),
    "RTX 4070 SUPER": ("RTX 4070S",),
}
_DSL_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_DSL_WORDS = frozenset({"true", "false", "none", "null", "any"})
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_PORT = re.compile(r"^(\d{1,5})(?:/(tcp|udp))?$")
COPY_USER = "vastai_kaalia"
"""The SSH login of Vast's transfer service (what ``vastai copy`` hands to rsync)."""
_COPY_LOCAL = "."
"""The local side of a copy request: any local path without a colon (Vast never sees it)."""
_NO_SUCH_INSTANCE = "no_such_instance"
"""Vast's error code for an instance id it does not know (a 200 with ``success: false``)."""
_GONE_WORDS = ("no longer available", "not available", "no_such_ask", "already rented", "unavail")


def vast_gpu_names(gpu: str) -> tuple[str, ...]:
    """Vast's spellings of a GPU given by canonical name (or any spelling we know)."""
    canonical = canonical_gpu(gpu) or gpu
    names = (canonical, *VAST_GPU_NAMES.get(canonical, ()))
    return tuple(dict.fromkeys(names))


def _shares_vast_name(canonical: str) -> bool:
    mine = set(VAST_GPU_NAMES.get(canonical, ()))
    return any(other != canonical and mine & set(names) for other, names in VAST_GPU_NAMES.items())


def _fmt(value: float) -> str:
    """A number for the query language: plain decimal, no exponent."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def build_search_query(query: OfferQuery) -> str:
    """The ``search_offers`` query string for what Vast can filter on its side.

    Region is left to local filtering; GPU names Vast cannot be asked for safely
    are too (the result is then filtered locally by canonical name).
    """
    parts: list[str] = []
    min_vram = query.min_vram_gb
    if query.gpus:
        spellings: list[str] = []
        expressible = True
        for gpu in query.gpus:
            for name in vast_gpu_names(gpu):
                token = name.strip().replace(" ", "_")
                if not _DSL_TOKEN.match(token) or token.lower() in _DSL_WORDS:
                    expressible = False
                spellings.append(token)
        if expressible and spellings:
            unique = list(dict.fromkeys(spellings))
            if len(unique) == 1:
                parts.append(f"gpu_name={unique[0]}")
            else:
                parts.append(f"gpu_name in [{','.join(unique)}]")
            if len(query.gpus) == 1:
                canonical = canonical_gpu(query.gpus[0])
                spec = GPUS.get(canonical) if canonical else None
                if spec is not None and _shares_vast_name(spec.name):
                    floor = spec.vram_gb * 0.9
                    min_vram = floor if min_vram is None else max(min_vram, floor)
    if query.min_gpu_count is not None:
        parts.append(f"num_gpus>={query.min_gpu_count}")
    if query.max_gpu_count is not None:
        parts.append(f"num_gpus<={query.max_gpu_count}")
    if min_vram is not None and min_vram > 0:
        parts.append(f"gpu_ram>={_fmt(min_vram)}")
    if query.min_reliability is not None and query.min_reliability > 0:
        parts.append(f"reliability>={_fmt(query.min_reliability)}")
    return " ".join(parts)


# --------------------------------------------------------------------------- normalisers


def _nonneg(value: Any) -> float | None:
    number = _num(value)
    return number if number is not None and number >= 0 else None


def _ratio(value: Any) -> float | None:
    number = _num(value)
    return number if number is not None and 0 <= number <= 1 else None


def _vast_id(value: Any) -> str | None:
    number = _int(value)
    return str(number) if number is not None and number >= 0 else None


def _mb_to_gb(value: Any) -> float | None:
    number = _nonneg(value)
    return None if number is None else round(number / 1024, 1)


MARKETED_VRAM_SPREAD = 0.08
"""How far what the driver reports may be from a model's marketed memory and still be
read as that size (an H100 80 GB reports 81,559 MiB: 79.6 GiB)."""


def marketed_vram(reported_gb: float | None, gpu: str | None) -> float | None:
    """The memory a GPU is sold with, from the catalog, when what Vast reports (nvidia-smi
    MiB) is that size give or take :data:`MARKETED_VRAM_SPREAD`; else what was reported."""
    spec = gpu_spec(gpu)
    if reported_gb is None:
        return None if spec is None else spec.vram_gb
    if spec is not None and abs(spec.vram_gb - reported_gb) <= spec.vram_gb * MARKETED_VRAM_SPREAD:
        return spec.vram_gb
    return reported_gb


def _cuda_version(value: Any) -> float | None:
    """The CUDA version a host runs (``12.4``); None for anything that is not one."""
    number = _num(value)
    return number if number is not None and 0 < number < 100 else None


def _driver_version(value: Any) -> str | None:
    """The host's driver version as text (``535.183.01``); None when missing or odd."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = _num(value)
        return None if number is None or number <= 0 else f"{number:g}"
    text = _text(value)
    if text is None or len(text) > 40 or not re.fullmatch(r"[0-9A-Za-z.\-]+", text):
        return None
    return text


def _ram_share_gb(row: Mapping[str, Any]) -> float | None:
    """The offer's share of the machine's RAM: Vast's ``cpu_ram`` is the whole machine's,
    and an offer of some of its GPUs gets the same share of it as of its cores."""
    total = _mb_to_gb(row.get("cpu_ram"))
    cores = _nonneg(row.get("cpu_cores"))
    share = _nonneg(row.get("cpu_cores_effective"))
    if total is None or not cores or share is None or share > cores:
        return total
    return round(total * share / cores, 1)


def offer_from_vast(
    row: Mapping[str, Any], *, interruptible: bool = False, disk_gb: float = 0.0
) -> Offer | None:
    """One Vast ``search_offers`` row as an ``Offer``, or None when it is unusable.

    On-demand rows cost ``dph_total`` (all GPUs, storage at the searched disk size
    included). Rows from a ``bid`` search become interruptible offers: ``min_bid`` is
    the lowest accepted bid (compute only, what a launch bids), and the price is that
    bid plus storage for ``disk_gb`` at the row's ``storage_cost`` (a bid search's own
    ``dph_total`` is not documented to be priced at the bid, so it is not trusted);
    the ``offer_id`` carries a ``-bid`` suffix so both kinds of the same machine can
    be listed side by side. VRAM is the marketed size when the model is known, and
    RAM the offer's share of the machine.
    """
    try:
        return _offer_from_vast(row, interruptible, disk_gb)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        return None


def _offer_from_vast(row: Mapping[str, Any], interruptible: bool, disk_gb: float) -> Offer | None:
    if not isinstance(row, Mapping):
        return None
    offer_id = _vast_id(row.get("id"))
    gpu_raw = _text(row.get("gpu_name"))
    count = _int(row.get("num_gpus"))
    if offer_id is None or gpu_raw is None or count is None or count < 1:
        return None
    vram = _mb_to_gb(row.get("gpu_ram"))
    if vram is None:
        total = _nonneg(row.get("gpu_total_ram"))
        vram = None if total is None else round(total / 1024 / count, 1)
    gpu = canonical_gpu(gpu_raw, vram)
    vram = marketed_vram(vram, gpu)
    if vram is None:
        return None
    min_bid = _nonneg(row.get("min_bid"))
    if interruptible:
        if min_bid is None:
            return None
        storage_cost = _nonneg(row.get("storage_cost")) or 0.0
        price = min_bid + storage_cost * max(0.0, disk_gb) / _HOURS_PER_MONTH
        offer_id += _BID_SUFFIX
    else:
        dph = _nonneg(row.get("dph_total"))
        if dph is None:
            return None
        price = dph
    reliability = _ratio(row.get("reliability2"))
    if reliability is None:
        reliability = _ratio(row.get("reliability"))
    verification = row.get("verification")
    verified: bool | None
    if verification == "verified":
        verified = True
    elif verification in ("unverified", "deverified"):
        verified = False
    else:
        flag = row.get("verified")
        verified = flag if isinstance(flag, bool) else None
    cores = _nonneg(row.get("cpu_cores_effective"))
    if cores is None:
        cores = _nonneg(row.get("cpu_cores"))
    return Offer(
        platform=PLATFORM,
        offer_id=offer_id,
        gpu=gpu,
        gpu_raw=gpu_raw,
        gpu_count=count,
        vram_gb=vram,
        price_per_hour=price,
        interruptible=interruptible,
        min_bid=min_bid if interruptible else None,
        reliability=reliability,
        location=_text(row.get("geolocation")),
        cpu_cores=cores,
        ram_gb=_ram_share_gb(row),
        disk_gb=_nonneg(row.get("disk_space")),
        inet_down_mbps=_nonneg(row.get("inet_down")),
        inet_up_mbps=_nonneg(row.get("inet_up")),
        cuda_version=_cuda_version(row.get("cuda_max_good")),
        driver_version=_driver_version(row.get("driver_version")),
        stock=None,
        verified=verified,
        cloud=None,
        max_gpu_count=None,
    )


def vast_state(actual: Any, intended: Any, cur: Any) -> tuple[InstanceState, str | None]:
    """Our state for Vast's ``actual_status``/``intended_status``/``cur_state`` (docs/platforms.md).

    Returns the state and a note for the user when the combination says more than
    the state does (a container that exited on its own, an offline host).
    """
    if actual is not None and not isinstance(actual, str):
        return InstanceState.UNKNOWN, None
    a = actual.strip().lower() if isinstance(actual, str) else None
    i = intended.strip().lower() if isinstance(intended, str) else None
    c = cur.strip().lower() if isinstance(cur, str) else None
    wants_stop = i == "stopped"
    if a in (None, "", "created", "scheduling"):
        if wants_stop:
            return (InstanceState.STOPPED if c == "stopped" else InstanceState.STOPPING), None
        return InstanceState.PROVISIONING, None
    if a == "loading":
        return (InstanceState.STOPPING if wants_stop else InstanceState.STARTING), None
    if a == "running":
        if wants_stop:
            return InstanceState.STOPPING, None
        return InstanceState.RUNNING, None
    if a in ("exited", "stopped"):
        if wants_stop or i is None:
            return InstanceState.STOPPED, None
        if c == "running":
            return InstanceState.ERROR, "the container exited on its own"
        return InstanceState.STARTING, None
    if a == "offline":
        return InstanceState.ERROR, "the host machine is offline"
    if a == "frozen":
        return InstanceState.FROZEN, "paused with its memory kept; the GPU is still billed"
    if a == "rebooting":
        return InstanceState.STARTING, "rebooting"
    if a in ("destroyed", "deleted"):
        return InstanceState.TERMINATED, None
    if a == "unknown":
        return InstanceState.UNKNOWN, "Vast does not know the instance's state"
    return InstanceState.UNKNOWN, None


_OCI_FAILED = "oci runtime create failed"


def _failed_container(actual: Any, status_msg: str | None) -> bool:
    """A container Vast could not create: ``created`` with an OCI runtime error."""
    return (
        isinstance(actual, str)
        and actual.strip().lower() == "created"
        and status_msg is not None
        and _OCI_FAILED in status_msg.lower()
    )


def outbid_note(row: Mapping[str, Any]) -> str | None:
    """Why a stopped interruptible instance is stopped, when it was out-bid: the machine's
    minimum bid (``min_bid``) rose above the instance's bid (its compute price)."""
    if row.get("is_bid") is not True:
        return None
    states = [row.get(k) for k in ("cur_state", "intended_status", "next_state")]
    if not all(isinstance(v, str) and v.strip().lower() == "stopped" for v in states):
        return None
    min_bid = _nonneg(row.get("min_bid"))
    bid = _nonneg(row.get("dph_base"))
    if min_bid is None or bid is None or min_bid <= bid:
        return None
    return f"out-bid: the minimum bid is now ${min_bid:.3f}/h, above your ${bid:.3f}/h"


def _endpoint(host: Any, port: Any, kind: str) -> SSHEndpoint | None:
    name = _text(host)
    number = _int(port)
    if name is None or number is None or not 1 <= number <= 65535:
        return None
    return SSHEndpoint(
        host=name, port=number, user="root", kind="proxy" if kind == "proxy" else "direct"
    )


def _direct_port(ports: Any) -> Any:
    if not isinstance(ports, Mapping):
        return None
    mapping = ports.get("22/tcp")
    if isinstance(mapping, list) and mapping and isinstance(mapping[0], Mapping):
        return mapping[0].get("HostPort")
    return None


def _epoch(value: Any) -> datetime | None:
    number = _num(value)
    if number is None or not 0 < number < 32_503_680_000:  # before year 3000
        return None
    return datetime.fromtimestamp(number, tz=UTC)


def instance_from_vast(row: Mapping[str, Any]) -> Instance | None:
    """One Vast instance dict (``show_instances``/``show_instance``) as an ``Instance``.

    ``ssh`` is the direct endpoint (public IP + mapped port 22) when Vast gives
    one, else the proxy; ``ssh_proxy`` is always the proxy (``ssh_host:ssh_port``).
    Returns None for rows without a usable id.
    """
    try:
        return _instance_from_vast(row)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        return None


def _instance_from_vast(row: Mapping[str, Any]) -> Instance | None:
    if not isinstance(row, Mapping):
        return None
    instance_id = _vast_id(row.get("id"))
    if instance_id is None:
        return None
    proxy_port = _int(row.get("ssh_port"))
    runtype = _text(row.get("image_runtype")) or ""
    if proxy_port is not None and "jupyter" in runtype.lower():
        proxy_port += 1  # Vast's Jupyter run types serve the SSH proxy one port up
    proxy = _endpoint(row.get("ssh_host"), proxy_port, "proxy")
    direct = _endpoint(row.get("public_ipaddr"), _direct_port(row.get("ports")), "direct")
    state, note = vast_state(
        row.get("actual_status"), row.get("intended_status"), row.get("cur_state")
    )
    status_msg = _text(row.get("status_msg"))
    if _failed_container(row.get("actual_status"), status_msg):
        state, note = InstanceState.ERROR, "the container could not be started"
    outbid = outbid_note(row) if state is InstanceState.STOPPED else None
    if outbid is not None:
        note = outbid
    gpu_raw = _text(row.get("gpu_name"))
    vram = _mb_to_gb(row.get("gpu_ram"))
    count = _int(row.get("num_gpus"))
    storage = _nonneg(row.get("storage_total_cost"))
    if storage is None:  # estimate from $/GB/month and the disk size
        storage_cost = _nonneg(row.get("storage_cost"))
        disk = _nonneg(row.get("disk_space"))
        storage = storage_cost * disk / _HOURS_PER_MONTH if storage_cost and disk else 0.0
    util = _num(row.get("gpu_util"))
    message = f"{note}: {status_msg}" if note and status_msg else (note or status_msg)
    uptime_mins = _nonneg(row.get("uptime_mins"))
    uptime: float | None = None
    if state.is_billing_compute:
        # start_date is the creation: after a stop and a start only uptime_mins is true.
        uptime = uptime_mins * 60.0 if uptime_mins is not None else 0.0
    is_bid = row.get("is_bid")
    return Instance(
        platform=PLATFORM,
        instance_id=instance_id,
        label=_text(row.get("label")),
        gpu=canonical_gpu(gpu_raw, vram) if gpu_raw else None,
        gpu_raw=gpu_raw,
        gpu_count=count if count is not None and count >= 1 else 1,
        state=state,
        status_message=message[:500] if message else None,
        price_per_hour=_nonneg(row.get("dph_total")) or 0.0,
        storage_price_per_hour=round(storage, 6),
        started_at=_epoch(row.get("start_date")),
        uptime_seconds=uptime,
        ssh=direct or proxy,
        ssh_proxy=proxy,
        image=_text(row.get("image_uuid")),
        gpu_util=util if util is not None and 0 <= util <= 100 else None,
        interruptible=is_bid is True,
        outbid=outbid is not None,
        location=_text(row.get("geolocation")),
    )


def _ask_id(offer: Offer) -> int:
    raw = offer.offer_id.removesuffix(_BID_SUFFIX)
    if offer.platform != PLATFORM or not raw.isdigit():
        raise PlatformError(f"{offer.offer_id!r} is not a Vast.ai offer", platform=PLATFORM)
    return int(raw)


def _instance_number(instance_id: str) -> int:
    text = str(instance_id).strip()
    if not text.isdigit():
        raise NotFound(f"instance {instance_id!r} not found", platform=PLATFORM)
    return int(text)


def _copy_path(remote_path: str) -> str | None:
    """An instance path as the copy endpoint takes it (absolute, normalised), or None."""
    text = remote_path.strip()
    if not text.startswith("/") or ":" in text or "\0" in text:
        return None
    path = posixpath.normpath(text)
    return "/" + path.lstrip("/")  # normpath keeps a leading "//"


def _launch_env(spec: LaunchSpec) -> dict[str, str]:
    """The env dict the SDK sends: variables plus ``-p PORT:PORT`` entries for extra ports."""
    env: dict[str, str] = {}
    for key, value in spec.env.items():
        if not _ENV_KEY.match(key):
            raise PlatformError(
                f"environment variable name {key!r} is not allowed "
                "(letters, digits and _ only, not starting with a digit)",
                platform=PLATFORM,
            )
        env[key] = value
    for port in spec.ports:
        match = _PORT.match(port.strip())
        if match is None or not 1 <= int(match.group(1)) <= 65535:
            raise PlatformError(f"port {port!r} is not like 8080/tcp", platform=PLATFORM)
        number, protocol = match.group(1), match.group(2)
        if number == "22" and protocol != "udp":
            continue  # SSH is opened by the ssh run type itself
        suffix = "/udp" if protocol == "udp" else ""
        env[f"-p {number}:{number}{suffix}"] = "1"
    return env


class VastPlatform:
    """Vast.ai behind the ``Platform`` protocol, through the official SDK."""

    name: PlatformName = PLATFORM

    def __init__(self, settings: VastSettings) -> None:
        self.settings = settings
        self._sdk: Any = None
        self._lock = threading.Lock()
        self.skipped_rows = 0
        """Rows of the last answer (offers or instances) that could not be read."""
        self.skipped_offer_rows = 0
        """Rows of the last offer search that could not be read."""
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
                "no API key configured: set one with `vp config-set --vast-api-key -`",
                platform=PLATFORM,
            )
        return value

    def _client(self) -> Any:
        with self._lock:
            if self._sdk is None:
                key = self._key()
                # Import quietly: the SDK reads sys.stdout.encoding at import, which a
                # full-screen UI's stdout capture does not have.
                with quiet_output():
                    from vastai import VastAI

                _quiet_sdk_logger()
                sdk = VastAI(
                    api_key=key, server_url=self._url, retry=_ATTEMPTS, raw=True, quiet=True
                )
                sdk.client.timeout = self.settings.timeout_seconds
                sdk.client.explain = False
                sdk.client.curl = False
                self._sdk = sdk
            return self._sdk

    def _scrub(self, text: str) -> str:
        key = self.settings.api_key
        return scrub(text, [key.get_secret_value() if key is not None else None])

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one SDK call, turning every failure into a ``PlatformError``."""
        try:
            return fn()
        except PlatformError:
            raise
        except requests.RequestException as exc:
            error = map_requests_error(
                exc,
                platform=PLATFORM,
                service=_SERVICE,
                url=self._url,
                key_hint=_KEY_HINT,
                secrets=[self.settings.api_key.get_secret_value()] if self.settings.api_key else [],
            )
            log.info("vast %s failed: %s", what, error)
            raise error from None
        except json.JSONDecodeError:
            raise malformed(PLATFORM, f"{what}: not valid JSON") from None
        except (KeyError, TypeError, AttributeError, IndexError) as exc:
            raise malformed(PLATFORM, f"{what}: {type(exc).__name__}") from None
        except ValueError as exc:
            raise PlatformError(f"{what}: {self._scrub(str(exc))}", platform=PLATFORM) from None

    def _check_success(self, what: str, answer: Any) -> Any:
        if isinstance(answer, Mapping) and answer.get("success") is False:
            words = answer.get("msg") or answer.get("error") or "refused"
            raise PlatformError(f"{what} refused: {self._scrub(str(words))}", platform=PLATFORM)
        return answer

    # ------------------------------------------------------------------ offers

    def list_offers(self, query: OfferQuery) -> list[Offer]:
        """Offers matching ``query``: searched on Vast, then filtered locally (region etc.)."""
        sdk = self._client()
        text = build_search_query(query)
        parsed = _parse_query(text)
        kinds = [False, True] if query.interruptible is None else [query.interruptible]

        def search(interruptible: bool) -> Any:
            body = {k: dict(v) if isinstance(v, dict) else v for k, v in parsed.items()}
            if query.max_price_per_hour is not None:
                field = "min_bid" if interruptible else "dph_total"
                body[field] = {"lte": _fmt(query.max_price_per_hour)}
            return self._call(
                "search offers",
                partial(
                    _search,
                    sdk,
                    body,
                    interruptible,
                    min(query.limit, self.settings.search_limit),
                    float(self.settings.disk_gb),
                ),
            )

        # On-demand and bid searches are independent: ask both at once.
        answers = parallel_map(search, kinds, name="vast-search")
        offers: list[Offer] = []
        skipped = 0
        for interruptible, rows in zip(kinds, answers, strict=True):
            if not isinstance(rows, list):
                raise malformed(PLATFORM, "search offers: no list of offers")
            for row in rows:
                offer = offer_from_vast(
                    row, interruptible=interruptible, disk_gb=float(self.settings.disk_gb)
                )
                if offer is None:
                    skipped += 1
                else:
                    offers.append(offer)
        self.skipped_rows = self.skipped_offer_rows = skipped
        if skipped:
            log.warning("vast: skipped %d offer rows that could not be read", skipped)
        result = filter_offers(offers, query)
        result.sort(key=lambda offer: (offer.price_per_hour, offer.offer_id))
        return result[: query.limit]

    # ------------------------------------------------------------------ instances

    def _instance_rows(self) -> list[Any]:
        sdk = self._client()
        params: dict[str, Any] = {
            "select_filters": {},
            "order_by": [{"col": "id", "dir": "asc"}],
            "limit": 25,
        }
        rows: list[Any] = []
        seen_tokens: set[str] = set()
        for _ in range(_MAX_PAGES):
            data = self._call("list instances", lambda: sdk.show_instances_v1(dict(params)))
            if not isinstance(data, Mapping):
                raise malformed(PLATFORM, "list instances: not an object")
            page = data.get("instances")
            if not isinstance(page, list):  # missing or null is not "no instances"
                raise malformed(PLATFORM, "list instances: no list of instances")
            rows.extend(page)
            token = data.get("next_token")
            if not token or not isinstance(token, str | int) or str(token) in seen_tokens:
                break
            seen_tokens.add(str(token))
            params["after_token"] = token
        return rows

    def list_instances(self) -> list[Instance]:
        """Every instance of the account (all pages), whatever its state.

        A page without an ``instances`` list is a ``PlatformError``, never an empty account.
        """
        instances = []
        skipped = 0
        for row in self._instance_rows():
            instance = instance_from_vast(row)
            if instance is None:
                skipped += 1
            else:
                instances.append(instance)
        self.skipped_rows = skipped
        if skipped:
            log.warning("vast: skipped %d instance rows that could not be read", skipped)
        return instances

    def get_instance(self, instance_id: str) -> Instance | None:
        """One instance, or None when Vast no longer knows it.

        Gone means Vast said so: HTTP 404, ``{"instances": null}`` or the
        ``no_such_instance`` error. Any other answer without the instance is a
        ``PlatformError``, never None.
        """
        try:
            number = _instance_number(instance_id)
        except NotFound:
            return None
        sdk = self._client()

        def fetch() -> Any:
            # The SDK's show_instance reshapes the row and fails on a fresh instance
            # (start_date still null); the same request through its client does not.
            response = sdk.client.get(f"/instances/{number}/", query_args={"owner": "me"})
            response.raise_for_status()
            return response.json()

        try:
            data = self._call("show instance", fetch)
        except NotFound:
            return None
        if not isinstance(data, Mapping):
            raise malformed(PLATFORM, "show instance: not an object")
        if data.get("success") is False:
            if data.get("error") == _NO_SUCH_INSTANCE:
                return None
            self._check_success("show instance", data)  # raises with Vast's words
        if "instances" not in data:
            raise malformed(PLATFORM, "show instance: no instances field")
        row = data["instances"]
        if row is None:
            return None
        if isinstance(row, list):
            if len(row) != 1:
                raise malformed(PLATFORM, f"show instance: {len(row)} instances for one id")
            row = row[0]
        instance = instance_from_vast(row)
        if instance is None:
            raise malformed(PLATFORM, "show instance: unreadable instance")
        return instance

    def create_instance(self, offer: Offer, spec: LaunchSpec) -> Instance:
        """Rent ``offer`` (after the price cap check) and return the new instance."""
        price = check_price_cap(offer, spec, self.settings.max_price_per_hour)
        ask = _ask_id(offer)
        env = _launch_env(spec)
        bid: float | None = None
        if offer.interruptible:
            bid = spec.bid_price or offer.min_bid or offer.price_per_hour
        sdk = self._client()

        def rent() -> Any:
            try:
                return sdk.create_instance(
                    id=ask,
                    image=spec.image,
                    disk=float(spec.disk_gb),
                    env=env,
                    price=bid,
                    label=spec.label,
                    onstart_cmd=spec.onstart,
                    ssh=True,
                    direct=True,
                    # Without it Vast answers a failed scheduling or a low bid by
                    # creating a stopped instance that bills storage.
                    cancel_unavail=True,
                )
            except requests.HTTPError as exc:
                self._raise_if_left_behind(_json_body(exc.response))
                raise

        try:
            answer = self._call("create instance", rent)
        except LaunchLeftInstance:
            raise
        except PlatformError as error:
            if isinstance(error, NotFound) or _looks_gone(error.message):
                raise CapacityError(
                    f"offer {offer.offer_id} ({offer.label}) is no longer available: "
                    "refresh the offers and pick another",
                    platform=PLATFORM,
                    status=error.status,
                ) from None
            raise
        if isinstance(answer, Mapping) and answer.get("success") is False:
            self._raise_if_left_behind(answer)
            words = str(answer.get("msg") or answer.get("error") or "refused")
            if _looks_gone(words):
                raise CapacityError(
                    f"offer {offer.offer_id} is no longer available ({self._scrub(words)})",
                    platform=PLATFORM,
                )
            raise PlatformError(f"create refused: {self._scrub(words)}", platform=PLATFORM)
        new_id = _vast_id(answer.get("new_contract")) if isinstance(answer, Mapping) else None
        if new_id is None:
            raise malformed(PLATFORM, "create instance: no new_contract")
        placeholder = Instance(
            platform=PLATFORM,
            instance_id=new_id,
            label=spec.label,
            gpu=offer.gpu,
            gpu_raw=offer.gpu_raw,
            gpu_count=offer.gpu_count,
            state=InstanceState.PROVISIONING,
            price_per_hour=price,
            image=spec.image,
            interruptible=offer.interruptible,
            location=offer.location,
        )
        try:
            instance = self.get_instance(new_id)
        except PlatformError as exc:  # rented all the same: the id must reach the caller
            log.warning("vast: reading new instance %s failed: %s", new_id, exc)
            return placeholder
        return instance if instance is not None else placeholder

    def _raise_if_left_behind(self, answer: Any) -> None:
        """Raise ``LaunchLeftInstance`` when a refused create still names an instance."""
        if not isinstance(answer, Mapping) or answer.get("success") is not False:
            return
        left = _vast_id(answer.get("new_contract"))
        if left is None:
            return
        words = self._scrub(str(answer.get("msg") or answer.get("error") or "refused"))
        raise LaunchLeftInstance(
            f"create refused ({words}), but Vast made instance {left} anyway (stopped, "
            "billing storage)",
            platform=PLATFORM,
            instance_id=left,
        )

    def destroy_instance(self, instance_id: str) -> None:
        """Ask Vast to destroy the instance (immediate and irreversible)."""
        number = _instance_number(instance_id)
        sdk = self._client()
        answer = self._call("destroy instance", lambda: sdk.destroy_instance(id=number))
        if isinstance(answer, Mapping) and answer.get("error") == _NO_SUCH_INSTANCE:
            return  # already gone (a second destroy); the caller verifies by listing
        self._check_success("destroy", answer)

    def stop_instance(self, instance_id: str) -> None:
        """Stop the instance; its disk stays and keeps billing."""
        number = _instance_number(instance_id)
        sdk = self._client()
        answer = self._call("stop instance", lambda: sdk.stop_instance(id=number))
        self._check_success("stop", answer)

    def start_instance(self, instance_id: str) -> None:
        """Start a stopped instance again (it may wait for its GPUs to be free)."""
        number = _instance_number(instance_id)
        sdk = self._client()
        answer = self._call("start instance", lambda: sdk.start_instance(id=number))
        self._check_success("start", answer)

    # ------------------------------------------------------------------ transfers

    def transfer_endpoint(
        self, instance_id: str, direction: Literal["push", "pull"], remote_path: str
    ) -> TransferEndpoint | None:
        """Vast's own rsync endpoint for copying between this machine and the instance.

        Asks the copy endpoint exactly as ``vastai copy local_dir ID:PATH`` (push) or
        ``vastai copy ID:PATH local_dir`` (pull) does; the answer is an rsync daemon
        reached over SSH, ``vastai_kaalia@ADDR::ID/PATH`` with ``ssh -p PORT``.
        Returns None when Vast does not offer one (refused, no address, or a
        ``remote_path`` the copy endpoint cannot express: relative, or with a colon).
        Raises the ``PlatformError`` family when the request fails (``NotFound`` for
        an unknown instance).
        """
        number = _instance_number(instance_id)
        path = _copy_path(remote_path)
        if path is None:
            return None
        remote = f"{number}:{path}"
        src, dst = (_COPY_LOCAL, remote) if direction == "push" else (remote, _COPY_LOCAL)
        sdk = self._client()

        def ask() -> Any:
            from vastai.utils import VRLException

            try:
                return sdk.copy(src=src, dst=dst)
            except VRLException:
                return None  # the SDK refused the path before asking

        answer = self._call("copy", ask)
        if not isinstance(answer, Mapping):
            return None
        if answer.get("success") is False:
            words = answer.get("msg") or answer.get("error") or "refused"
            log.info("vast copy endpoint refused: %s", self._scrub(str(words)))
            return None
        side = "dst" if direction == "push" else "src"
        host = _text(answer.get(f"{side}_addr"))
        port = _int(answer.get(f"{side}_port"))
        if host is None or port is None or not 1 <= port <= 65535:
            return None
        return TransferEndpoint(host=host, port=port, user=COPY_USER, module=str(number), path=path)

    # ------------------------------------------------------------------ account

    def account(self) -> Account:
        """Credit left, and the burn rate summed over the account's instances."""
        sdk = self._client()
        user = self._call("show user", sdk.show_user)
        if not isinstance(user, Mapping):
            raise malformed(PLATFORM, "show user: not an object")
        balance = _num(user.get("credit"))
        if balance is None:
            balance = _num(user.get("balance"))
        spend = burn_rate(self.list_instances())
        email = user.get("email")
        return Account(
            platform=PLATFORM,
            balance=balance,
            spend_per_hour=round(spend, 6),
            email=email if isinstance(email, str) else None,
        )

    def authorize_key(self, instance_id: str, public_key: str) -> bool:
        """Attach ``public_key`` to one existing instance (``attach ssh``).

        Vast copies the account's keys into an instance only when it is created, so an
        instance made elsewhere (or before the key was registered) needs this.
        """
        parse_public_key(public_key)
        number = _instance_number(instance_id)
        sdk = self._client()
        answer = self._call(
            "attach ssh key", lambda: sdk.attach_ssh(instance_id=number, ssh_key=public_key.strip())
        )
        self._check_success("attach ssh key", answer)
        return True

    def ensure_ssh_key(self, public_key: str) -> None:
        """Add ``public_key`` to the account's SSH keys unless it is already there."""
        wanted = parse_public_key(public_key)
        sdk = self._client()
        answer = self._call("show ssh keys", sdk.show_ssh_keys)
        for existing in _key_texts(answer):
            if key_identity(existing) == wanted:
                return
        created = self._call("add ssh key", lambda: sdk.create_ssh_key(ssh_key=public_key.strip()))
        self._check_success("add ssh key", created)


def _key_texts(answer: Any) -> list[str]:
    """Every key text in a ``show_ssh_keys`` answer (list of dicts/strings, or wrapped)."""
    items: Any = answer
    if isinstance(answer, Mapping):
        for field in ("ssh_keys", "keys", "results"):
            if isinstance(answer.get(field), list):
                items = answer[field]
                break
        else:
            items = [answer]
    if not isinstance(items, list):
        return []
    texts = []
    for item in items:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, Mapping):
            for field in ("public_key", "ssh_key", "key"):
                value = item.get(field)
                if isinstance(value, str):
                    texts.append(value)
                    break
    return texts


def _search(sdk: Any, body: dict[str, Any], interruptible: bool, limit: int, disk_gb: float) -> Any:
    return sdk.search_offers(
        query=body,
        type="bid" if interruptible else "on-demand",
        order="min_bid" if interruptible else "dph_total",
        limit=limit,
        storage=disk_gb,
    )


def _json_body(response: requests.Response | None) -> Any:
    """A failed response's JSON body, or None."""
    if response is None:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _looks_gone(words: str) -> bool:
    lowered = words.lower()
    return any(word in lowered for word in _GONE_WORDS)


def _parse_query(text: str) -> dict[str, Any]:
    """The SDK's own parser for the query string, with its stderr warnings kept quiet."""
    from vastai.api.query import offers_alias, offers_fields, offers_mult, parse_query

    with quiet_output() as printed:
        parsed = parse_query(text, {}, offers_fields, offers_alias, offers_mult) if text else {}
    if printed.getvalue():
        log.debug("vast query warnings: %s", printed.getvalue().strip())
    return dict(parsed or {})


def _quiet_sdk_logger() -> None:
    """The SDK gives its logger a stderr handler; send its records to ours instead."""
    sdk_log = logging.getLogger("vastai")
    for handler in list(sdk_log.handlers):
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            sdk_log.removeHandler(handler)
    if not sdk_log.handlers:
        sdk_log.addHandler(logging.NullHandler())
    sdk_log.propagate = True
