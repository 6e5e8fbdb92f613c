"""The shared vocabulary: offers, instances, jobs and what a platform reports.

Money is dollars per hour as a float (rounded only for display); every time is
timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field

from vp_tui.core.gpus import gpu_spec
from vp_tui.core.money import cost
from vp_tui.core.states import InstanceState, JobState, Stock

__all__ = [
    "PLATFORMS",
    "Account",
    "Instance",
    "InstanceState",
    "Job",
    "JobState",
    "LaunchSpec",
    "Offer",
    "PlatformName",
    "PlatformStatus",
    "SSHEndpoint",
    "Stock",
    "TransferEndpoint",
    "UTCDateTime",
    "utcnow",
]

PlatformName = Literal["vast", "runpod"]
"""The platforms vp-tui rents from."""

PLATFORMS: tuple[PlatformName, ...] = ("vast", "runpod")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return value.astimezone(UTC)


UTCDateTime = Annotated[datetime, AfterValidator(_aware_utc)]
"""A datetime that must carry a timezone and is stored as UTC."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SSHEndpoint(_Model):
    """Where to reach an instance over SSH."""

    host: str
    port: int = Field(ge=1, le=65535)
    user: str = "root"
    kind: Literal["direct", "proxy"] = "direct"
    """`direct` is the machine's own address; `proxy` a provider's SSH relay."""

    def __str__(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


class Offer(_Model):
    """One thing that can be rented: a machine (Vast) or a GPU type in a cloud (RunPod)."""

    platform: PlatformName
    offer_id: str
    gpu: str | None
    """Canonical GPU name from the catalog, or None when the model is unknown."""
    gpu_raw: str
    """The provider's own spelling, shown when ``gpu`` is None."""
    gpu_count: int = Field(ge=1)
    vram_gb: float = Field(ge=0)
    """VRAM per GPU."""
    price_per_hour: float = Field(ge=0)
    """Dollars per hour for all GPUs of the offer (on-demand price, or the
    minimum bid for an interruptible offer)."""
    interruptible: bool = False
    min_bid: float | None = None
    """The lowest accepted bid in $/h for all GPUs, for interruptible offers."""
    reliability: float | None = Field(default=None, ge=0, le=1)
    location: str | None = None
    cpu_cores: float | None = None
    ram_gb: float | None = None
    disk_gb: float | None = None
    inet_down_mbps: float | None = None
    inet_up_mbps: float | None = None
    cuda_version: float | None = None
    """The newest CUDA version the host's driver runs (Vast's ``cuda_max_good``)."""
    driver_version: str | None = None
    """The host's NVIDIA driver, as the provider spells it (``535.183.01``)."""
    stock: Stock | None = None
    verified: bool | None = None
    cloud: str | None = None
    """RunPod's SECURE or COMMUNITY cloud; None on Vast."""
    max_gpu_count: int | None = None
    """How many GPUs one instance of this offer may have (RunPod GPU types)."""

    @property
    def label(self) -> str:
        """The GPU as shown to a person: canonical name, or the raw one."""
        return self.gpu or self.gpu_raw

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tflops_bf16(self) -> float | None:
        """Dense BF16 tensor TFLOPs of all GPUs, from the catalog."""
        spec = gpu_spec(self.gpu)
        return None if spec is None else round(spec.bf16_tflops * self.gpu_count, 3)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dollars_per_tflop_hour(self) -> float | None:
        """Price per BF16 TFLOP per hour: the value measure for compute."""
        tflops = self.tflops_bf16
        if not tflops:
            return None
        return self.price_per_hour / tflops

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dollars_per_vram_gb_hour(self) -> float | None:
        """Price per GB of VRAM per hour: the value measure for memory-bound work."""
        total = self.vram_gb * self.gpu_count
        if total <= 0:
            return None
        return self.price_per_hour / total

    @property
    def key(self) -> str:
        """A key unique across platforms."""
        return f"{self.platform}:{self.offer_id}"


class LaunchSpec(_Model):
    """What to start on an offer: image, disk, label, environment."""

    image: str
    disk_gb: float = Field(default=20, gt=0, le=100_000)
    label: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    onstart: str | None = None
    gpu_count: int = Field(default=1, ge=1, le=16)
    """GPUs to ask for where the offer lets you choose (RunPod)."""
    bid_price: float | None = Field(default=None, gt=0)
    """$/h for all GPUs to bid on an interruptible offer."""
    max_price_per_hour: float | None = Field(default=None, gt=0)
    """Refuse to rent above this; None means the platform's configured cap."""
    ports: list[str] = Field(default_factory=lambda: ["22/tcp"])
    max_lifetime_seconds: float | None = Field(default=None, gt=0)
    """Tear the instance down this long after launch, by its own watchdog (vp-tui or not)."""


class Instance(_Model):
    """A rented machine, as the platform last reported it."""

    platform: PlatformName
    instance_id: str
    label: str | None = None
    gpu: str | None = None
    gpu_raw: str | None = None
    gpu_count: int = 1
    state: InstanceState = InstanceState.UNKNOWN
    status_message: str | None = None
    price_per_hour: float = 0.0
    """What it costs now, $/h, all GPUs."""
    storage_price_per_hour: float = 0.0
    """What it costs while stopped, $/h."""
    started_at: UTCDateTime | None = None
    uptime_seconds: float | None = None
    ssh: SSHEndpoint | None = None
    ssh_proxy: SSHEndpoint | None = None
    unreachable: str | None = None
    """Why the instance, though running, will not be reachable over SSH the way jobs
    reach it (e.g. no public port 22), when the platform's answer shows it; None
    while it is reachable or may still become so."""
    image: str | None = None
    gpu_util: float | None = None
    """GPU utilisation in percent, when the provider reports it."""
    interruptible: bool = False
    outbid: bool = False
    """An interruptible instance stopped because someone bid more (it bills storage)."""
    location: str | None = None
    observed_at: UTCDateTime = Field(default_factory=utcnow)

    @property
    def key(self) -> str:
        """A key unique across platforms."""
        return f"{self.platform}:{self.instance_id}"

    @property
    def name(self) -> str:
        """The instance as shown to a person: label, else id."""
        return self.label or self.instance_id

    def uptime_at(self, now: datetime) -> float | None:
        """Seconds the instance has been up (since it last started) at ``now``; None while
        it is not up (stopped, failed, gone), so a stopped instance's uptime never ticks."""
        if not self.state.is_billing_compute:
            return None
        if self.uptime_seconds is not None:
            return self.uptime_seconds + max(0.0, (now - self.observed_at).total_seconds())
        if self.started_at is not None:
            return max(0.0, (now - self.started_at).total_seconds())
        return None


class Job(_Model):
    """A command run on an instance, and what became of it."""

    job_id: str
    platform: PlatformName
    instance_id: str
    command: str
    workdir: str | None = None
    state: JobState = JobState.PENDING
    exit_code: int | None = None
    created_at: UTCDateTime = Field(default_factory=utcnow)
    started_at: UTCDateTime | None = None
    finished_at: UTCDateTime | None = None
    bytes_synced: int = 0
    log_path: str | None = None
    log_offset: int = 0
    """Bytes of remote output already received (for re-attaching)."""
    price_per_hour: float = 0.0
    error: str | None = None

    @property
    def duration_seconds(self) -> float | None:
        """How long the job ran (so far, if still running)."""
        if self.started_at is None:
            return None
        end = self.finished_at or utcnow()
        return max(0.0, (end - self.started_at).total_seconds())

    @property
    def estimated_cost(self) -> float | None:
        """Dollars of instance time the job used."""
        duration = self.duration_seconds
        return None if duration is None else cost(self.price_per_hour, duration)


class Account(_Model):
    """Money on a platform account."""

    platform: PlatformName
    balance: float | None = None
    """Credit left in dollars."""
    spend_per_hour: float | None = None
    """What the account burns now, $/h, as the provider reports it."""
    balance_unknown: str | None = None
    """Why ``balance`` is None although the account answered (e.g. the provider has
    switched off the only API that tells it)."""
    email: str | None = None


class PlatformStatus(_Model):
    """How the last conversation with a platform went."""

    platform: PlatformName
    ok: bool
    error: str | None = None
    """What went wrong, in the provider's words plus what to do."""
    stale_since: UTCDateTime | None = None
    """When data shown for this platform was last fresh, if it is not now."""
    skipped_rows: int = 0
    """Rows of the answer that could not be read and were left out."""
    checked_at: UTCDateTime = Field(default_factory=utcnow)


class TransferEndpoint(_Model):
    """Where a provider's own transfer service takes an rsync for one instance.

    Vast's ``copy`` answers this for local<->instance copies: an rsync daemon
    reached over SSH as ``user@host::module/path`` (``rsync -e "ssh -p PORT"``),
    with a module named after the instance.
    """

    host: str
    port: int = Field(ge=1, le=65535)
    user: str
    """The SSH login of the transfer service (``vastai_kaalia`` on Vast)."""
    module: str
    """The rsync module: the instance id."""
    path: str
    """The instance path the transfer was asked for (absolute)."""

    @property
    def rsync_url(self) -> str:
        """``user@host::module/path``, as the provider's own CLI hands it to rsync."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user}@{host}::{self.module}/{self.path}"
