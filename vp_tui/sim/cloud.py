"""The demo cloud's state: instances of both platforms, account SSH keys and balances.

Lifecycles are derived from timestamps and the injected clock rather than
advanced by a ticker: an instance created (or started) at ``t`` is booting
until ``t + boot_seconds`` and running after that, so a frozen clock freezes
the cloud and two processes agree on every state.

The state lives in ``state_dir/state.json`` (written atomically) guarded by an
``fcntl`` lock on ``state_dir/state.lock``; each operation re-reads the file
when another process changed it, so a ``vp`` process and a ``vp-tui`` process
share one demo cloud.
"""

from __future__ import annotations

import contextlib
import copy
import hmac
import json
import os
import random
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from vp_tui.sim.market import (
    RUNPOD_DATACENTERS,
    STORAGE_HOURS_PER_MONTH,
    Market,
    RunPodGpuType,
    cuda_version_key,
    runpod_cuda_versions,
    runpod_datacenter_stock,
    stock_level,
    unit_hash,
)
from vp_tui.sim.sandbox import home_of, job_running

try:  # POSIX only; elsewhere the demo cloud is shared between threads, not processes
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

STATE_VERSION = 1
STARTING_CREDIT = 25.0
"""Dollars of credit each demo account starts with."""
RUNPOD_VOLUME_STOPPED_PER_GB_MONTH = 0.20
"""RunPod bills a stopped pod's volume at $0.20 per GB-month."""
KEEP_DESTROYED = 200
"""How many destroyed instances the state keeps for history and logs."""

FAILING_IMAGE_MARK = "does-not-exist"
"""A RunPod image reference containing this cannot be pulled: the pod ends in ERROR."""
DEFAULT_PORT_DELAY_SECONDS = 3.0
"""How long after boot a RunPod pod's public port 22 mapping appears, at most."""

NO_INSTANCES_AVAILABLE = (
    "There are no longer any instances available with the requested specifications. "
    "Please refresh and try again."
)

OCI_ERROR = (
    "Error response from daemon: failed to create task for container: failed to create shim "
    "task: OCI runtime create failed: runc create failed: unable to start container process: "
    "error during container init: error running hook #0: error running hook: exit status 1, "
    "stdout: , stderr: Auto-detected mode as 'legacy' nvidia-container-cli: initialization "
    "error: nvml error: driver/library version mismatch: unknown"
)
"""What Docker says when a Vast host cannot start the container (the ``ocifail`` fate)."""

EndpointProvider = Callable[["SimInstance"], "tuple[str, int] | None"]

INSTANCE_KEY_FIELD = "instance_api_key"
"""Where an instance's own API key is kept in :attr:`SimInstance.extra`."""
DEMO_API_URL_ENV = "VP_DEMO_API_URL"
"""The variable that tells commands on a demo instance its provider API's base URL (on a
real cloud the watchdog uses the provider's public URL instead)."""
IDLE_GPU_PERCENT = 3.0
"""A running instance with no vp-tui job running shows a GPU utilisation below this."""


def new_instance_key(platform: str) -> str:
    """A fresh random API key for one instance: 64 hex digits on Vast (the form of Vast's
    keys), ``rpa_`` and 40 upper-case hex digits on RunPod."""
    if platform == "runpod":
        return "rpa_" + secrets.token_hex(20).upper()
    return secrets.token_hex(32)


class SimError(Exception):
    """A refusal by the demo cloud, with a provider-style code and an HTTP-ish status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class CreateLeftStopped(SimError):
    """A Vast create that failed yet left a *stopped* instance behind (billing storage),
    as Vast does unless the create asked for ``cancel_unavail``."""

    def __init__(self, code: str, message: str, instance: SimInstance) -> None:
        super().__init__(code, message, 200)
        self.instance = instance


VAST_BOOTED_FATES = ("frozen", "offline", "unknown", "ocifail")
"""Vast fates that replace ``running`` once the instance has booted (no SSH then)."""


@dataclass
class SimInstance:
    """One rented machine of either platform, as the demo cloud keeps it."""

    platform: str
    """``vast`` or ``runpod``."""
    id: str
    label: str
    gpu_name: str
    """The provider's spelling: ``RTX 4090`` on Vast, the display name on RunPod."""
    num_gpus: int
    price_per_hour: float
    """What it bills while running ($/h, whole machine)."""
    created_at: float
    image: str
    env: dict[str, str] = field(default_factory=dict)
    disk: float = 10.0
    """GB of disk (Vast) / container disk + volume (RunPod)."""
    is_bid: bool = False
    bid_price: float | None = None
    """The bid: $/h per machine on Vast, per GPU on RunPod."""
    storage_per_hour: float = 0.0
    """What it bills while stopped ($/h)."""
    intended_running: bool = True
    started_at: float = 0.0
    """When the last create/start began: the boot timer runs from here."""
    stopped_at: float | None = None
    destroyed: bool = False
    destroyed_at: float | None = None
    boot_count: int = 1
    onstart: str | None = None
    spent: float = 0.0
    """Dollars billed up to ``settled_at``."""
    settled_at: float = 0.0
    offer_id: int | None = None
    """Vast: the offer (ask) it was rented from."""
    offer: dict[str, Any] = field(default_factory=dict)
    """Vast: the offer as it was when rented (machine facts for instance rows)."""
    gpu_type_id: str | None = None
    """RunPod: the GPU type id, e.g. ``NVIDIA GeForce RTX 4090``."""
    cloud_type: str | None = None
    """RunPod: ``SECURE`` or ``COMMUNITY``."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Provider details that only the emulators read (ports, volume sizes, machine ids...)."""
    ssh_keys: list[str] = field(default_factory=list)
    """Vast: the keys that open this instance: the account's keys copied at creation
    (``extra["keys_copied"]``) plus those added with ``attach ssh``."""
    events: list[tuple[float, str]] = field(default_factory=list)
    """Life events for the instance log: (time, text)."""
    billing: list[tuple[float, str, float]] = field(default_factory=list)
    """Billing history: ``(since, kind, $/h)`` with kind ``gpu`` (running), ``disk``
    (stopped) or ``none`` (destroyed); each entry lasts until the next one."""
    ssh_host: str | None = None
    """Where its demo SSH server listens, when known (not persisted)."""
    ssh_port: int | None = None

    def phase(self, now: float, boot_seconds: float) -> str:
        """``starting``, ``running``, ``stopped`` or ``destroyed`` at ``now`` (no SSH check)."""
        if self.destroyed:
            return "destroyed"
        if not self.intended_running:
            return "stopped"
        if now - self.started_at < boot_seconds:
            return "starting"
        return "running"

    def rate(self) -> float:
        """What it bills per hour in its current state."""
        if self.destroyed:
            return 0.0
        return self.price_per_hour if self.intended_running else self.storage_per_hour

    def spent_at(self, now: float) -> float:
        """Dollars billed from creation up to ``now``."""
        return self.spent + self.rate() * max(0.0, now - self.settled_at) / 3600.0

    def to_json(self) -> dict[str, Any]:
        """The persisted form (without the per-process SSH endpoint)."""
        data = asdict(self)
        data.pop("ssh_host")
        data.pop("ssh_port")
        data["events"] = [list(e) for e in self.events]
        data["billing"] = [list(b) for b in self.billing]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimInstance:
        """Rebuild an instance from :meth:`to_json` output (unknown keys ignored)."""
        names = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs["events"] = [(float(t), str(text)) for t, text in data.get("events", [])]
        kwargs["billing"] = [
            (float(t), str(kind), float(rate)) for t, kind, rate in data.get("billing", [])
        ]
        return cls(**kwargs)

    def bill_from(self, at: float) -> None:
        """Record that from ``at`` on it bills at its current rate."""
        kind = "none" if self.destroyed else "gpu" if self.intended_running else "disk"
        self.billing.append((at, kind, self.rate()))

    def billing_history(self) -> list[tuple[float, str, float]]:
        """:attr:`billing`, or for an instance saved before it was kept, a reconstruction
        from its events (exact unless its price changed)."""
        if self.billing:
            return list(self.billing)
        history: list[tuple[float, str, float]] = []
        for at, text in self.events:
            if text.startswith("created") or text.startswith("started"):
                history.append((at, "gpu", self.price_per_hour))
            elif text.startswith("stopped"):
                history.append((at, "disk", self.storage_per_hour))
            elif text.startswith("destroyed"):
                history.append((at, "none", 0.0))
        return history

    def spend_between(self, start: float, end: float) -> tuple[float, float]:
        """Dollars billed in ``[start, end)``: ``(running part, stopped storage part)``."""
        history = self.billing_history()
        gpu = disk = 0.0
        for index, (since, kind, rate) in enumerate(history):
            until = history[index + 1][0] if index + 1 < len(history) else end
            overlap = min(until, end) - max(since, start)
            if overlap <= 0 or kind == "none":
                continue
            if kind == "gpu":
                gpu += rate * overlap / 3600.0
            else:
                disk += rate * overlap / 3600.0
        return gpu, disk

    def image_fails(self) -> bool:
        """Whether its image cannot be pulled (a RunPod pod then ends in ERROR)."""
        return self.platform == "runpod" and FAILING_IMAGE_MARK in self.image

    def runs_sshd(self) -> bool:
        """Whether an sshd runs in a RunPod pod: RunPod's own images start one from their
        start script unless ``args`` replaces it; other images only when ``args`` installs
        ``$PUBLIC_KEY`` into ``authorized_keys`` and starts sshd itself."""
        args = str(self.extra.get("dockerArgs") or "")
        if self.image.startswith("runpod/") and not args.strip():
            return True
        return all(word in args for word in ("authorized_keys", "sshd", "PUBLIC_KEY"))


@dataclass(frozen=True)
class Observation:
    """What an emulator reports about an instance at one moment."""

    phase: str
    """``starting``, ``running``, ``stopped`` or ``destroyed``; ``starting`` also while the
    instance is booted but its SSH endpoint does not exist yet."""
    endpoint: tuple[str, int] | None
    first_boot: bool
    """Whether it is still in its very first boot (Vast reports no status at all early on)."""
    boot_fraction: float
    """How far through booting it is, 0..1 (1 once running)."""
    fate: str | None = None
    """Vast: what a booted instance shows instead of running (one of
    :data:`VAST_BOOTED_FATES`), or None."""


@dataclass(frozen=True)
class AccountView:
    """One demo account's money at a moment."""

    credit: float
    """What the account started with."""
    spent: float
    remaining: float
    spend_per_hour: float


def _empty_state(seed: int) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "seed": seed,
        "instances": [],
        "ssh_keys": {"vast": [], "runpod": []},
        "accounts": {
            "vast": {"credit": STARTING_CREDIT, "spent_closed": 0.0},
            "runpod": {"credit": STARTING_CREDIT, "spent_closed": 0.0},
        },
        "counters": {"vast": 0, "runpod": 0, "vast_key": 0},
    }


class SimCloud:
    """The demo cloud's state: the market, both platforms' instances, keys and balances.

    ``ssh_endpoint_provider`` (set by the demo SSH hosts) maps a booted instance to the
    ``(host, port)`` its SSH server listens on, or None while that is not ready; it is
    called each time an emulator reports a booted instance, outside the state lock, so it
    may call back into the cloud. Without a provider a booted instance is reported as
    running with no SSH endpoint. ``on_destroy`` hooks run after an instance is destroyed
    (and for every live instance on :meth:`reset`), before its sandbox is removed.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        seed: int = 7,
        boot_seconds: float = 4.0,
        clock: Callable[[], float] = time.time,
        market: Market | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.seed = seed
        self.boot_seconds = boot_seconds
        self._port_delay: float | None = None
        self.clock = clock
        self.market = market or Market(seed)
        self.ssh_endpoint_provider: EndpointProvider | None = None
        self.on_destroy: list[Callable[[SimInstance], None]] = []
        self._rlock = threading.RLock()
        self._depth = 0
        self._lock_fd: int | None = None
        self._signature: tuple[int, int, int] | None = None
        self._state: dict[str, Any] = _empty_state(seed)
        self._instances: dict[tuple[str, str], SimInstance] = {}
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            pass

    @property
    def port_delay_seconds(self) -> float:
        """How long after a RunPod pod has booted its public port 22 mapping (and
        ``ssh.direct``) appears; ``min(3, boot_seconds)`` unless set."""
        if self._port_delay is not None:
            return self._port_delay
        return min(DEFAULT_PORT_DELAY_SECONDS, self.boot_seconds)

    @port_delay_seconds.setter
    def port_delay_seconds(self, value: float | None) -> None:
        self._port_delay = None if value is None else max(0.0, float(value))

    # -- persistence -------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        """``state_dir/state.json``."""
        return self.state_dir / "state.json"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._rlock:
            outermost = self._depth == 0
            self._depth += 1
            try:
                if outermost:
                    self._acquire_file_lock()
                    self._reload_if_changed()
                    self._advance()
                yield
            finally:
                self._depth -= 1
                if outermost:
                    self._release_file_lock()

    def _acquire_file_lock(self) -> None:
        if fcntl is None:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state_dir / "state.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._lock_fd = fd

    def _release_file_lock(self) -> None:
        if self._lock_fd is not None and fcntl is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
        self._lock_fd = None

    def _stat_signature(self) -> tuple[int, int, int] | None:
        try:
            st = self.state_file.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _reload_if_changed(self) -> None:
        signature = self._stat_signature()
        if signature == self._signature:
            return
        self._signature = signature
        if signature is None:
            self._state = _empty_state(self.seed)
            self._instances = {}
            return
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            data = _empty_state(self.seed)
        base = _empty_state(self.seed)
        base.update({k: v for k, v in data.items() if k != "instances"})
        self._state = base
        self._instances = {}
        for raw in data.get("instances", []):
            inst = SimInstance.from_json(raw)
            self._instances[(inst.platform, inst.id)] = inst

    def _save(self) -> None:
        destroyed = sorted(
            (i for i in self._instances.values() if i.destroyed),
            key=lambda i: i.destroyed_at or 0.0,
        )
        for old in destroyed[:-KEEP_DESTROYED] if len(destroyed) > KEEP_DESTROYED else []:
            del self._instances[(old.platform, old.id)]
        data = dict(self._state)
        data["instances"] = [i.to_json() for i in self._instances.values()]
        tmp = self.state_dir / f".state.json.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.state_file)
        self._signature = self._stat_signature()

    def _advance(self) -> None:
        """Carry out what happened by itself up to now: an interruptible Vast instance with
        the ``outbid`` fate is out-bid the moment it has booted (stopped, storage only)."""
        now = self.now()
        changed = False
        for inst in self._instances.values():
            if inst.platform != "vast" or inst.destroyed or not inst.intended_running:
                continue
            if inst.extra.get("fate") != "outbid" or not inst.is_bid:
                continue
            at = inst.started_at + self.boot_seconds
            if at > now:
                continue
            self._outbid(inst, at)
            changed = True
        if changed:
            self._save()

    def _outbid(self, inst: SimInstance, at: float) -> None:
        """Stop an interruptible Vast instance at ``at`` because a higher bid took its GPUs:
        the machine's minimum bid rises above its bid and it bills storage only."""
        self._settle(inst, at)
        bid = float(inst.bid_price or 0.0)
        floor = float(inst.offer.get("min_bid") or 0.0)
        min_bid = round(max(bid, floor) * 1.25 + 0.01, 4)
        inst.intended_running = False
        inst.stopped_at = at
        inst.bill_from(at)
        inst.extra.pop("fate", None)
        inst.extra["min_bid"] = min_bid
        inst.extra["stop_msg"] = (
            f"Instance stopped: outbid (your bid ${bid:.4f}/hr is below the current "
            f"minimum bid of ${min_bid:.4f}/hr)"
        )
        inst.events.append((at, "stopped: outbid by a higher bid"))

    def reset(self) -> None:
        """Wipe the demo state: instances (their destroy hooks run), keys, balances, sandboxes."""
        with self._locked():
            live = [copy.deepcopy(i) for i in self._instances.values() if not i.destroyed]
            self.state_file.unlink(missing_ok=True)
            self._state = _empty_state(self.seed)
            self._instances = {}
            self._signature = None
        for inst in live:
            self._run_destroy_hooks(inst)
        shutil.rmtree(self.state_dir / "sandboxes", ignore_errors=True)

    # -- reading -----------------------------------------------------------------

    def now(self) -> float:
        """The cloud's current time (the injected clock)."""
        return float(self.clock())

    def instances(
        self, platform: str | None = None, *, include_destroyed: bool = False
    ) -> list[SimInstance]:
        """Copies of the instances (live ones unless asked otherwise), oldest first."""
        with self._locked():
            found = [
                copy.deepcopy(i)
                for i in self._instances.values()
                if (platform is None or i.platform == platform)
                and (include_destroyed or not i.destroyed)
            ]
        found.sort(key=lambda i: (i.created_at, i.id))
        return found

    def get(
        self, platform: str, instance_id: str, *, include_destroyed: bool = False
    ) -> SimInstance | None:
        """A copy of one instance, or None when unknown (or destroyed)."""
        with self._locked():
            inst = self._instances.get((platform, str(instance_id)))
            if inst is None or (inst.destroyed and not include_destroyed):
                return None
            return copy.deepcopy(inst)

    def observe(self, inst: SimInstance, now: float | None = None) -> Observation:
        """What the emulators should report about ``inst`` now; asks the SSH endpoint provider.

        Call it on a copy from :meth:`instances`/:meth:`get`; it fills in the copy's
        ``ssh_host``/``ssh_port``. It never holds the state lock while the provider runs.
        """
        now = self.now() if now is None else now
        phase = inst.phase(now, self.boot_seconds)
        first_boot = inst.boot_count <= 1
        if phase != "running":
            fraction = 0.0
            if phase == "starting" and self.boot_seconds > 0:
                fraction = min(1.0, max(0.0, (now - inst.started_at) / self.boot_seconds))
            return Observation(phase, None, first_boot and phase == "starting", fraction)
        fate = inst.extra.get("fate") if inst.platform == "vast" else None
        if fate in VAST_BOOTED_FATES:
            return Observation("running", None, False, 1.0, fate=str(fate))
        provider = self.ssh_endpoint_provider
        if provider is None:
            return Observation("running", None, False, 1.0)
        endpoint = provider(inst)
        if endpoint is None:
            return Observation("starting", None, False, 1.0)
        inst.ssh_host, inst.ssh_port = endpoint[0], int(endpoint[1])
        return Observation("running", (inst.ssh_host, inst.ssh_port), False, 1.0)

    def gpu_util(self, inst: SimInstance, now: float | None = None) -> float:
        """A plausible GPU utilisation (%) for a running instance, steady for 30 s at a time:
        35-95 % while a vp-tui job runs on it (:meth:`job_running`), 0-3 % otherwise."""
        now = self.now() if now is None else now
        if inst.phase(now, self.boot_seconds) != "running":
            return 0.0
        if inst.platform == "vast" and inst.extra.get("fate") in VAST_BOOTED_FATES:
            return 0.0
        if not self.job_running(inst):
            idle = IDLE_GPU_PERCENT * unit_hash(self.seed, inst.id, "idle", int(now // 30))
            return round(idle, 1)
        return round(35.0 + 60.0 * unit_hash(self.seed, inst.id, int(now // 30)), 1)

    def job_running(self, inst: SimInstance) -> bool:
        """Whether a detached vp-tui job runs on the instance now: a job directory under
        ``~/.vp/jobs`` without ``exit_code`` whose ``pid`` process is alive. Cheap (one
        directory scan, no state lock) and never raises."""
        return job_running(self.home_dir(inst))

    def sandbox_dir(self, inst: SimInstance) -> Path:
        """The local directory standing in for the instance's disk (``/workspace``)."""
        return self.state_dir / "sandboxes" / f"{inst.platform}-{inst.id}"

    def home_dir(self, inst: SimInstance) -> Path:
        """The instance's home directory (``~``), beside its sandbox."""
        return home_of(self.sandbox_dir(inst))

    # -- the instance's own credential -------------------------------------------------

    def instance_api_key(self, platform: str, instance_id: str) -> str:
        """The instance's own API key (Vast ``CONTAINER_API_KEY``, RunPod's pod-scoped
        ``RUNPOD_API_KEY``), made at creation; an instance saved before keys existed gets
        one now. SimError 404 when there is no such live instance."""
        with self._locked():
            inst = self._live(platform, instance_id)
            key = inst.extra.get(INSTANCE_KEY_FIELD)
            if not isinstance(key, str) or not key:
                key = inst.extra[INSTANCE_KEY_FIELD] = new_instance_key(platform)
                self._save()
            return key

    def instance_for_key(self, platform: str, key: str) -> SimInstance | None:
        """A copy of the live instance of ``platform`` whose own API key is ``key``, or None."""
        if not key:
            return None
        wanted = key.encode()
        with self._locked():
            for inst in self._instances.values():
                if inst.platform != platform or inst.destroyed:
                    continue
                own = inst.extra.get(INSTANCE_KEY_FIELD)
                if isinstance(own, str) and own and hmac.compare_digest(own.encode(), wanted):
                    return copy.deepcopy(inst)
        return None

    def instance_environment(self, inst: SimInstance, api_url: str = "") -> dict[str, str]:
        """The variables the provider puts in the environment of every command on the
        instance: Vast ``CONTAINER_ID``, ``CONTAINER_API_KEY`` and ``VAST_CONTAINERLABEL``;
        RunPod ``RUNPOD_POD_ID`` and ``RUNPOD_API_KEY``; plus :data:`DEMO_API_URL_ENV` with
        the emulator's base URL when ``api_url`` is given."""
        key = inst.extra.get(INSTANCE_KEY_FIELD)
        if not isinstance(key, str) or not key:
            key = self.instance_api_key(inst.platform, inst.id)
        if inst.platform == "runpod":
            env = {"RUNPOD_POD_ID": inst.id, "RUNPOD_API_KEY": key}
        else:
            env = {
                "CONTAINER_ID": inst.id,
                "CONTAINER_API_KEY": key,
                "VAST_CONTAINERLABEL": f"C.{inst.id}",
            }
        if api_url:
            env[DEMO_API_URL_ENV] = api_url
        return env

    def account(self, platform: str) -> AccountView:
        """The platform's demo account: credit, spend so far, what remains, burn rate."""
        now = self.now()
        with self._locked():
            acct = self._state["accounts"][platform]
            live = [i for i in self._instances.values() if i.platform == platform]
            spent = float(acct["spent_closed"]) + sum(
                i.spent_at(now) for i in live if not i.destroyed
            )
            rate = sum((i.rate() for i in live if not i.destroyed), 0.0)
            credit = float(acct["credit"])
        return AccountView(
            credit=credit,
            spent=round(spent, 6),
            remaining=round(credit - spent, 6),
            spend_per_hour=round(rate, 6),
        )

    def instance_log(self, inst: SimInstance, now: float | None = None) -> list[str]:
        """The container log of an instance: timestamped lines from its life so far."""
        now = self.now() if now is None else now
        lines: list[tuple[float, str]] = []
        for at, text in inst.events:
            if at > now:
                continue
            lines.append((at, text))
            if text.startswith(("created", "started")):
                done = at + self.boot_seconds
                lines.append((at + 0.01, f"Pulling image {inst.image}"))
                if done <= now and not self._stopped_between(inst, at, done):
                    lines.extend(self._boot_lines(inst, at, done))
        lines.sort(key=lambda x: x[0])
        return [f"{_iso(at)} {text}" for at, text in lines]

    def _boot_lines(self, inst: SimInstance, at: float, done: float) -> list[tuple[float, str]]:
        """The log lines of one finished boot."""
        if inst.image_fails():
            return [(done, pull_error(inst.image))]
        if inst.platform == "vast" and inst.extra.get("fate") == "ocifail":
            pulled = at + self.boot_seconds * 0.6
            return [(pulled, "Status: Image is up to date"), (done, OCI_ERROR)]
        started = "Container started"
        if inst.platform != "runpod" or inst.runs_sshd():
            started += "; sshd listening on port 22"
        return [(at + self.boot_seconds * 0.6, "Status: Image is up to date"), (done, started)]

    @staticmethod
    def _stopped_between(inst: SimInstance, start: float, end: float) -> bool:
        return any(start <= at <= end and text.startswith("stopped") for at, text in inst.events)

    # -- keys ----------------------------------------------------------------------

    def ssh_keys(self, platform: str) -> list[dict[str, Any]]:
        """The account's SSH keys: dicts with ``id``, ``key`` and ``created_at``."""
        with self._locked():
            return copy.deepcopy(self._state["ssh_keys"][platform])

    def add_ssh_key(self, platform: str, key: str) -> dict[str, Any]:
        """Register a public key with the account (an existing identical key is returned)."""
        key = key.strip()
        if not key:
            raise SimError("invalid_args", "ssh_key is required", 400)
        with self._locked():
            keys = self._state["ssh_keys"][platform]
            for entry in keys:
                if entry["key"] == key:
                    return dict(entry)
            self._state["counters"]["vast_key"] += 1
            entry = {
                "id": 70_000 + self._state["counters"]["vast_key"],
                "key": key,
                "created_at": self.now(),
            }
            keys.append(entry)
            self._save()
            return dict(entry)

    def update_ssh_key(self, platform: str, key_id: int, key: str) -> dict[str, Any]:
        """Replace the text of one account key."""
        with self._locked():
            for entry in self._state["ssh_keys"][platform]:
                if entry["id"] == key_id:
                    entry["key"] = key.strip()
                    self._save()
                    return dict(entry)
        raise SimError("no_such_key", f"SSH key {key_id} not found", 404)

    def delete_ssh_key(self, platform: str, key_id: int) -> None:
        """Remove one account key."""
        with self._locked():
            keys = self._state["ssh_keys"][platform]
            kept = [k for k in keys if k["id"] != key_id]
            if len(kept) == len(keys):
                raise SimError("no_such_key", f"SSH key {key_id} not found", 404)
            self._state["ssh_keys"][platform] = kept
            self._save()

    def set_ssh_keys(self, platform: str, keys: list[str]) -> None:
        """Replace all of the account's keys (RunPod's ``updateUserSettings(pubKey)``)."""
        with self._locked():
            current = {k["key"]: k for k in self._state["ssh_keys"][platform]}
            fresh: list[dict[str, Any]] = []
            for key in (k.strip() for k in keys):
                if not key or any(e["key"] == key for e in fresh):
                    continue
                if key in current:
                    fresh.append(current[key])
                    continue
                self._state["counters"]["vast_key"] += 1
                fresh.append(
                    {
                        "id": 70_000 + self._state["counters"]["vast_key"],
                        "key": key,
                        "created_at": self.now(),
                    }
                )
            self._state["ssh_keys"][platform] = fresh
            self._save()

    def attach_ssh_key(self, platform: str, instance_id: str, key: str) -> SimInstance:
        """Add a key to one instance only (Vast ``attach ssh``)."""
        with self._locked():
            inst = self._live(platform, instance_id)
            key = key.strip()
            if key and key not in inst.ssh_keys:
                inst.ssh_keys.append(key)
                self._save()
            return copy.deepcopy(inst)

    def detach_ssh_key(self, platform: str, instance_id: str, key_ref: str) -> SimInstance:
        """Remove a key from one instance, by its text or by its account key id."""
        with self._locked():
            inst = self._live(platform, instance_id)
            account = {str(k["id"]): k["key"] for k in self._state["ssh_keys"][platform]}
            text = account.get(str(key_ref), key_ref)
            inst.ssh_keys = [k for k in inst.ssh_keys if k != text]
            self._save()
            return copy.deepcopy(inst)

    def authorized_keys(self, platform: str, inst: SimInstance | None = None) -> list[str]:
        """Public keys that open ``inst`` (or, without one, the account's keys).

        Vast: the account's keys as they were when the instance was created plus the ones
        attached to it since (an instance saved before creation copies were kept falls
        back to the account's keys as they are now). RunPod: the keys
        the pod got in ``PUBLIC_KEY`` when it was created, and none at all when no sshd
        runs in it (see :meth:`SimInstance.runs_sshd`).
        """
        with self._locked():
            keys = [k["key"] for k in self._state["ssh_keys"][platform]]
            if inst is not None and platform == "runpod":
                pod = self._instances.get((inst.platform, inst.id)) or inst
                if "podKeys" not in pod.extra:
                    return keys  # a pod saved before keys were fixed at creation
                return list(pod.extra["podKeys"]) if pod.runs_sshd() else []
            if inst is not None:
                current = self._instances.get((inst.platform, inst.id)) or inst
                if current.extra.get("keys_copied"):
                    keys = []
                for key in current.ssh_keys:
                    if key not in keys:
                        keys.append(key)
        return keys

    # -- creating ------------------------------------------------------------------

    def _live(self, platform: str, instance_id: str) -> SimInstance:
        inst = self._instances.get((platform, str(instance_id)))
        if inst is None or inst.destroyed:
            raise SimError("no_such_instance", f"Instance {instance_id} not found.", 404)
        return inst

    def _check_credit(self, platform: str, now: float) -> None:
        acct = self._state["accounts"][platform]
        spent = float(acct["spent_closed"]) + sum(
            i.spent_at(now)
            for i in self._instances.values()
            if i.platform == platform and not i.destroyed
        )
        if float(acct["credit"]) - spent <= 0:
            raise SimError(
                "insufficient_credit",
                "Your account has no credit left: add credit (or run `vp demo reset`).",
                402,
            )

    def rented_offer_ids(self) -> set[int]:
        """Vast offers taken by live demo instances (off the market until destroyed)."""
        with self._locked():
            return {
                i.offer_id
                for i in self._instances.values()
                if i.platform == "vast" and not i.destroyed and i.offer_id is not None
            }

    def vast_offers(self, now: float | None = None) -> list[dict[str, Any]]:
        """The Vast offers on the market now (shared dicts: copy before changing them)."""
        now = self.now() if now is None else now
        rented = self.rented_offer_ids()
        return [o for o in self.market.vast.snapshot(now) if o["id"] not in rented]

    def _add(self, inst: SimInstance) -> None:
        self._instances[(inst.platform, inst.id)] = inst
        self.sandbox_dir(inst).mkdir(parents=True, exist_ok=True)

    def create_vast(
        self,
        offer_id: int,
        *,
        image: str | None,
        disk: float = 10.0,
        env: dict[str, str] | None = None,
        label: str | None = None,
        onstart: str | None = None,
        bid_price: float | None = None,
        runtype: str | None = None,
        cancel_unavail: bool = False,
        schedule_fails: bool = False,
        fate: str | None = None,
    ) -> SimInstance:
        """Rent a Vast offer; the offer leaves the market until the instance is destroyed.

        The instance gets a copy of the account's SSH keys as they are now. A bid below
        the offer's ``min_bid``, or ``schedule_fails`` (the ``schedfail`` fault: no free
        GPUs on the host), fails the create: with ``cancel_unavail`` as a SimError and no
        instance; without it, as Vast does, a *stopped* instance billing storage is made
        and :class:`CreateLeftStopped` (carrying it) is raised. ``fate`` (one of
        ``faults.VAST_FATES``) decides what becomes of it once it has booted.
        """
        now = self.now()
        if not image:
            raise SimError("invalid_args", "image is required (or a template_hash_id).", 400)
        with self._locked():
            offer = self.market.vast.offer(int(offer_id), now)
            rented = {
                i.offer_id
                for i in self._instances.values()
                if i.platform == "vast" and not i.destroyed
            }
            if offer is None or int(offer_id) in rented:
                raise SimError(
                    "no_such_ask", f"Instance type by id {offer_id} is not available.", 404
                )
            self._check_credit("vast", now)
            disk = float(disk or 10.0)
            storage = offer["storage_cost"] * disk / STORAGE_HOURS_PER_MONTH
            compute = float(offer["dph_base"])
            failure: tuple[str, str] | None = None
            if bid_price is not None:
                if bid_price < offer["min_bid"]:
                    msg = (
                        f"Bid price ${bid_price:.4f}/hr is below this machine's minimum bid "
                        f"of ${offer['min_bid']:.4f}/hr."
                    )
                    if cancel_unavail:
                        raise SimError("invalid_args", msg, 400)
                    failure = ("insufficient_bid", msg)
                compute = float(bid_price)
            if failure is None and schedule_fails:
                msg = (
                    f"Instance type by id {offer_id} is not available: scheduling failed, "
                    "the host has no free GPUs right now."
                )
                if cancel_unavail:
                    raise SimError("unavailable", msg, 400)
                failure = ("scheduling_failed", msg)
            counter = self._state["counters"]["vast"] = self._state["counters"]["vast"] + 1
            base = 21_000_000 + (self.seed % 997) * 1000
            instance_id = str(base + counter * 17 + int(unit_hash(self.seed, "vi", counter) * 16))
            inst = SimInstance(
                platform="vast",
                id=instance_id,
                label=label or "",
                gpu_name=offer["gpu_name"],
                num_gpus=int(offer["num_gpus"]),
                price_per_hour=round(compute + storage, 6),
                created_at=now,
                image=image,
                env={str(k): str(v) for k, v in (env or {}).items()},
                disk=disk,
                is_bid=bid_price is not None,
                bid_price=bid_price,
                storage_per_hour=round(storage, 6),
                started_at=now,
                settled_at=now,
                onstart=onstart,
                offer_id=int(offer_id),
                offer=dict(offer),
                extra={
                    "runtype": runtype or "ssh_proxy",
                    "keys_copied": True,
                    "boot": "create",
                    INSTANCE_KEY_FIELD: new_instance_key("vast"),
                },
                ssh_keys=[k["key"] for k in self._state["ssh_keys"]["vast"]],
                events=[(now, f"created from offer {offer_id}")],
            )
            if fate:
                inst.extra["fate"] = fate
            if failure is not None:
                inst.intended_running = False
                inst.stopped_at = now
                inst.extra["create_failure"] = {"error": failure[0], "msg": failure[1]}
                inst.events.append((now, f"stopped: {failure[1]}"))
            inst.bill_from(now)
            self._add(inst)
            self._save()
            made = copy.deepcopy(inst)
        if failure is not None:
            raise CreateLeftStopped(failure[0], failure[1], made)
        return made

    def create_runpod(
        self,
        *,
        gpu_type_id: str,
        gpu_count: int = 1,
        cloud_type: str = "ALL",
        name: str = "",
        image: str = "",
        env: dict[str, str] | None = None,
        ports: str | list[str] | None = None,
        volume_in_gb: float = 0.0,
        container_disk_in_gb: float = 10.0,
        volume_mount_path: str = "/runpod-volume",
        docker_args: str = "",
        start_ssh: bool = True,
        start_jupyter: bool = False,
        support_public_ip: bool = True,
        bid_per_gpu: float | None = None,
        placement: PodPlacement | None = None,
        global_networking: bool = False,
        no_public_port: bool = False,
    ) -> SimInstance:
        """Deploy a RunPod pod (on demand, or interruptible when ``bid_per_gpu`` is given).

        ``cloud_type`` ``ALL`` takes whichever cloud has stock; ``ports`` is a list
        (``["22/tcp"]``) or RunPod's old comma string, ``22/tcp`` when None.
        ``placement`` narrows where it may land (data centres, CUDA, host size): none
        matching is the same 400 as no stock. With ``start_ssh`` and no ``PUBLIC_KEY`` in
        ``env``, the pod's ``PUBLIC_KEY`` is the account's keys as they are now.
        ``no_public_port`` (the ``noport`` fault) gives it no public port 22, ever.
        """
        now = self.now()
        runpod = self.market.runpod
        spec = runpod.types.get(gpu_type_id)
        if spec is None:
            raise SimError("invalid_args", f'GPU type "{gpu_type_id}" does not exist.', 400)
        if not image:
            raise SimError("invalid_args", "imageName is required.", 400)
        gpu_count = int(gpu_count or 1)
        placement = placement or PodPlacement()
        with self._locked():
            self._check_credit("runpod", now)
            secure, per_gpu, datacenter, cuda = self._place_pod(
                spec, gpu_count, cloud_type, bid_per_gpu, placement, now
            )
            if bid_per_gpu is not None:
                if bid_per_gpu < per_gpu:
                    raise SimError(
                        "invalid_args",
                        f"Your bid of ${bid_per_gpu:.3f}/hr per GPU is below the current minimum "
                        f"bid of ${per_gpu:.3f}/hr.",
                        400,
                    )
                per_gpu = float(bid_per_gpu)
            counter = self._state["counters"]["runpod"] = self._state["counters"]["runpod"] + 1
            rng = random.Random(f"{self.seed}:pod:{counter}")
            alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
            pod_id = "".join(rng.choice(alphabet) for _ in range(14))
            machine_id = "".join(rng.choice(alphabet) for _ in range(12))
            volume = float(volume_in_gb or 0.0)
            container = float(container_disk_in_gb if container_disk_in_gb is not None else 10.0)
            user_env = {str(k): str(v) for k, v in (env or {}).items()}
            pod_keys = self._pod_public_keys(user_env, start_ssh)
            effective_env = dict(user_env)
            if pod_keys and "PUBLIC_KEY" not in effective_env:
                effective_env["PUBLIC_KEY"] = "\n".join(pod_keys)
            if start_jupyter and "JUPYTER_PASSWORD" not in effective_env:
                effective_env["JUPYTER_PASSWORD"] = f"{rng.getrandbits(64):016x}"
            mount_path = volume_mount_path or "/runpod-volume"
            inst = SimInstance(
                platform="runpod",
                id=pod_id,
                label=name or "",
                gpu_name=spec.display_name,
                num_gpus=gpu_count,
                price_per_hour=round(per_gpu * gpu_count, 4),
                created_at=now,
                image=image,
                env=effective_env,
                disk=container + volume,
                is_bid=bid_per_gpu is not None,
                bid_price=bid_per_gpu,
                storage_per_hour=round(
                    volume * RUNPOD_VOLUME_STOPPED_PER_GB_MONTH / STORAGE_HOURS_PER_MONTH, 6
                ),
                started_at=now,
                settled_at=now,
                gpu_type_id=gpu_type_id,
                cloud_type="SECURE" if secure else "COMMUNITY",
                extra={
                    "ports": _port_list(ports),
                    "userEnv": user_env,
                    "podKeys": pod_keys,
                    "volumeInGb": _whole(volume),
                    "containerDiskInGb": _whole(container),
                    "volumeMountPath": mount_path,
                    "mounts": (
                        {"persistent": {"size": _whole(volume), "path": mount_path}}
                        if volume > 0
                        else {}
                    ),
                    "dockerArgs": docker_args or "",
                    "vcpuCount": spec.vcpus_per_gpu * gpu_count,
                    "memoryInGb": spec.ram_gb_per_gpu * gpu_count,
                    "machineId": machine_id,
                    "podHostId": f"{pod_id}-{64410000 + counter}",
                    "dataCenterId": datacenter,
                    "cudaVersion": cuda,
                    "startSsh": bool(start_ssh),
                    "startJupyter": bool(start_jupyter),
                    "supportPublicIp": bool(support_public_ip),
                    "globalNetworking": bool(global_networking),
                    "noPublicPort": bool(no_public_port),
                    "lastStatusChange": f"Rented by User: {_js_date(now)}",
                    INSTANCE_KEY_FIELD: new_instance_key("runpod"),
                },
                events=[(now, f"created on {spec.display_name} x{gpu_count}")],
            )
            inst.bill_from(now)
            self._add(inst)
            self._save()
            return copy.deepcopy(inst)

    def _pod_public_keys(self, user_env: dict[str, str], start_ssh: bool) -> list[str]:
        """The keys a new pod gets in ``PUBLIC_KEY``: the env's own, else (with
        ``startSsh``) the account's keys at this moment."""
        if "PUBLIC_KEY" in user_env:
            return [line.strip() for line in user_env["PUBLIC_KEY"].splitlines() if line.strip()]
        if not start_ssh:
            return []
        return [k["key"] for k in self._state["ssh_keys"]["runpod"]]

    def _place_pod(
        self,
        spec: RunPodGpuType,
        gpu_count: int,
        cloud_type: str,
        bid_per_gpu: float | None,
        placement: PodPlacement,
        now: float,
    ) -> tuple[bool, float, str, str | None]:
        """Where a new pod lands: ``(secure, $/h per GPU, data centre, CUDA version)``;
        SimError 400 (``NO_INSTANCES_AVAILABLE``) when nothing fits."""
        runpod = self.market.runpod
        kind = (cloud_type or "ALL").upper()
        clouds = {"SECURE": [True], "COMMUNITY": [False]}.get(kind, [False, True])
        known = {dc for dc, _name, _country in RUNPOD_DATACENTERS}
        for dc in placement.data_center_ids or ():
            if dc not in known:
                raise SimError("invalid_args", f"Unknown data center id {dc!r}.", 400)
        cuda = placement.cuda_version(runpod_cuda_versions(spec, self.seed))
        if cuda is None or not placement.fits_host(spec):
            raise SimError("out_of_stock", NO_INSTANCES_AVAILABLE, 400)
        for secure in clouds:
            listed = spec.secure_price if secure else spec.community_price
            if bid_per_gpu is not None:
                listed = spec.secure_spot if secure else spec.community_spot
            current = runpod.price(listed, spec.id, now)
            if current is None:
                continue
            stock = runpod_datacenter_stock(runpod, spec.id, gpu_count, secure, now)
            wanted = placement.data_center_ids or sorted(
                stock, key=lambda dc: -stock_level(stock[dc])
            )
            for dc in wanted:
                if stock.get(dc) is not None:
                    return secure, current, dc, cuda or None
        raise SimError("out_of_stock", NO_INSTANCES_AVAILABLE, 400)

    def update_pod(
        self,
        instance_id: str,
        *,
        name: str | None = None,
        env: dict[str, str] | None = None,
        ports: list[str] | None = None,
    ) -> SimInstance:
        """Change a RunPod pod's name, env (the user's part) or ports."""
        with self._locked():
            inst = self._live("runpod", instance_id)
            if name is not None:
                inst.label = name
            if env is not None:
                injected = {
                    k: v
                    for k, v in inst.env.items()
                    if k in ("PUBLIC_KEY", "JUPYTER_PASSWORD")
                    and k not in inst.extra.get("userEnv", {})
                }
                inst.extra["userEnv"] = dict(env)
                inst.env = {**injected, **env}
            if ports is not None:
                inst.extra["ports"] = list(ports)
            self._save()
            return copy.deepcopy(inst)

    # -- lifecycle -----------------------------------------------------------------

    @staticmethod
    def _settle(inst: SimInstance, now: float) -> None:
        inst.spent = inst.spent_at(now)
        inst.settled_at = max(now, inst.settled_at)

    def stop(self, platform: str, instance_id: str) -> SimInstance:
        """Stop an instance: it keeps its disk (billed as storage) and stays listed."""
        now = self.now()
        with self._locked():
            inst = self._live(platform, instance_id)
            if inst.intended_running:
                self._settle(inst, now)
                inst.intended_running = False
                inst.stopped_at = now
                inst.bill_from(now)
                inst.events.append((now, "stopped by user"))
                inst.extra["lastStatusChange"] = f"Exited by user: {_js_date(now)}"
                self._save()
            return copy.deepcopy(inst)

    def start(self, platform: str, instance_id: str) -> SimInstance:
        """Start a stopped instance: it boots again."""
        now = self.now()
        with self._locked():
            inst = self._live(platform, instance_id)
            if not inst.intended_running:
                self._check_credit(platform, now)
                self._settle(inst, now)
                inst.intended_running = True
                inst.started_at = now
                inst.boot_count += 1
                inst.bill_from(now)
                inst.extra["boot"] = "start"
                for stale in ("create_failure", "stop_msg", "min_bid"):
                    inst.extra.pop(stale, None)
                inst.events.append((now, "started by user"))
                inst.extra["lastStatusChange"] = f"Resumed by user: {_js_date(now)}"
                self._save()
            return copy.deepcopy(inst)

    def reboot(self, platform: str, instance_id: str) -> SimInstance:
        """Restart a running instance's container: it boots again."""
        now = self.now()
        with self._locked():
            inst = self._live(platform, instance_id)
            self._settle(inst, now)
            inst.intended_running = True
            inst.started_at = now
            inst.boot_count += 1
            inst.bill_from(now)
            inst.extra["boot"] = "reboot"
            for stale in ("create_failure", "stop_msg", "min_bid"):
                inst.extra.pop(stale, None)
            inst.events.append((now, "started after reboot"))
            self._save()
            return copy.deepcopy(inst)

    def set_label(self, platform: str, instance_id: str, label: str) -> SimInstance:
        """Rename an instance."""
        with self._locked():
            inst = self._live(platform, instance_id)
            inst.label = label
            self._save()
            return copy.deepcopy(inst)

    def change_bid(self, platform: str, instance_id: str, price: float) -> SimInstance:
        """Change an interruptible instance's bid (its hourly price follows)."""
        now = self.now()
        with self._locked():
            inst = self._live(platform, instance_id)
            if not inst.is_bid:
                raise SimError("invalid_args", "Instance is not an interruptible (bid) instance.")
            self._settle(inst, now)
            inst.bid_price = float(price)
            per_machine = price * inst.num_gpus if platform == "runpod" else price
            storage = inst.storage_per_hour if platform == "vast" else 0.0
            inst.price_per_hour = round(per_machine + storage, 6)
            inst.bill_from(now)
            self._save()
            return copy.deepcopy(inst)

    def destroy(self, platform: str, instance_id: str) -> SimInstance:
        """Destroy an instance for good: it leaves the listings, its offer returns to the
        market, the ``on_destroy`` hooks run and its sandbox is removed."""
        now = self.now()
        with self._locked():
            inst = self._live(platform, instance_id)
            self._settle(inst, now)
            inst.destroyed = True
            inst.destroyed_at = now
            inst.intended_running = False
            inst.bill_from(now)
            inst.events.append((now, "destroyed by user"))
            self._state["accounts"][platform]["spent_closed"] = (
                float(self._state["accounts"][platform]["spent_closed"]) + inst.spent
            )
            self._save()
            gone = copy.deepcopy(inst)
        self._run_destroy_hooks(gone)
        shutil.rmtree(self.sandbox_dir(gone), ignore_errors=True)
        return gone

    def _run_destroy_hooks(self, inst: SimInstance) -> None:
        for hook in list(self.on_destroy):
            with contextlib.suppress(Exception):
                hook(inst)


@dataclass(frozen=True)
class PodPlacement:
    """Where a new RunPod pod may land (REST v2 ``dataCenterIds`` and ``gpu`` filters)."""

    data_center_ids: tuple[str, ...] = ()
    """Allowed data centres, in order of preference; empty means any."""
    allowed_cuda_versions: tuple[str, ...] = ()
    min_cuda_version: str | None = None
    min_ram_per_gpu: int = 0
    """GB of host RAM per GPU the host must have at least."""
    min_vcpus_per_gpu: int = 0

    def cuda_version(self, offered: list[dict[str, Any]]) -> str | None:
        """The CUDA version the pod gets: the newest available one that fits; ``""`` for a
        type without CUDA; None when none fits."""
        usable = [str(v["version"]) for v in offered if v["available"]]
        if not offered:
            return "" if not (self.allowed_cuda_versions or self.min_cuda_version) else None
        if self.allowed_cuda_versions:
            usable = [v for v in usable if v in self.allowed_cuda_versions]
        if self.min_cuda_version:
            floor = cuda_version_key(self.min_cuda_version)
            usable = [v for v in usable if cuda_version_key(v) >= floor]
        return usable[0] if usable else None

    def fits_host(self, spec: RunPodGpuType) -> bool:
        """Whether the biggest hosts of a GPU type meet the RAM and vCPU floors."""
        max_ram = max(spec.ram_gb_per_gpu * 4, spec.memory_gb * 2)
        return self.min_ram_per_gpu <= max_ram and self.min_vcpus_per_gpu <= spec.vcpus_per_gpu * 2


def _port_list(ports: str | list[str] | None) -> list[str]:
    """Pod ports as a list: RunPod's old comma string, a list, or None (``22/tcp``)."""
    if ports is None:
        return ["22/tcp"]
    if isinstance(ports, str):
        return [p.strip() for p in ports.split(",") if p.strip()]
    return [str(p) for p in ports]


def pull_error(image: str) -> str:
    """Docker's answer to pulling an image that does not exist."""
    name = image.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    return (
        f"Error response from daemon: pull access denied for {name}, repository does not "
        "exist or may require 'docker login'"
    )


def _whole(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}Z"


def _js_date(at: float) -> str:
    """A date the way RunPod's ``lastStatusChange`` spells it."""
    return time.strftime(
        "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)", time.gmtime(at)
    )
