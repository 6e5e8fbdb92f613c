"""What every platform adapter offers, and the errors the faces can act on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from vp_tui.core.launch_price import launch_price
from vp_tui.core.models import Account, Instance, LaunchSpec, Offer, PlatformName

SortKey = Literal["price", "value", "vram", "reliability"]

VRAM_TOLERANCE = 0.03
"""How far below a VRAM floor an offer may read and still meet it: providers report what
the driver sees (an H100 80 GB reads 81,559 MiB, 79.6 GiB), not the size on the box."""


class OfferQuery(BaseModel):
    """What offers to look for. Every field narrows; None means any."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gpus: tuple[str, ...] = ()
    """Canonical GPU names (or provider spellings) to include; empty for all."""
    min_gpu_count: int | None = Field(default=None, ge=1)
    max_gpu_count: int | None = Field(default=None, ge=1)
    max_price_per_hour: float | None = Field(default=None, gt=0)
    min_vram_gb: float | None = Field(default=None, ge=0)
    min_reliability: float | None = Field(default=None, ge=0, le=1)
    interruptible: bool | None = None
    """True for interruptible (spot/bid) only, False for on-demand only, None for both."""
    region: str | None = None
    """A substring of the location, e.g. "US", "Sweden", "EU-RO-1"."""
    limit: int = Field(default=2000, ge=1, le=100_000)
    sort: SortKey = "price"


class PlatformError(Exception):
    """Something a platform refused or could not do, in words a person can act on."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        platform: PlatformName | None = None,
        status: int | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.platform = platform
        self.status = status
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        prefix = {"vast": "Vast.ai", "runpod": "RunPod"}.get(self.platform or "", "")
        return f"{prefix}: {self.message}" if prefix else self.message


class AuthError(PlatformError):
    """The API key is missing, wrong, expired or lacks a permission."""


class RateLimited(PlatformError):
    """Too many requests; try again later."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class NotFound(PlatformError):
    """The instance or offer does not exist (any more)."""


class CapacityError(PlatformError):
    """The offer is gone or there are no free GPUs of that kind."""


class Unavailable(PlatformError):
    """The platform could not be reached or answered nonsense (network, 5xx, malformed)."""

    retryable = True


class LaunchLeftInstance(PlatformError):
    """A launch failed, yet the platform made an instance anyway (Vast creates a stopped one
    that bills storage when scheduling fails): ``instance_id`` must be destroyed."""

    def __init__(self, message: str, *, instance_id: str, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.instance_id = instance_id


class QuotaExceeded(RateLimited):
    """A quota that only resets at a set time (Vast's daily search quota): asking again
    before ``resets_at`` only spends more of it."""

    retryable = False

    def __init__(self, message: str, *, resets_at: datetime, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.resets_at = resets_at


class PriceCapExceeded(PlatformError):
    """The launch would cost more per hour than the configured cap allows."""


@runtime_checkable
class Platform(Protocol):
    """One GPU provider, behind one interface. All methods block; call them off the UI thread."""

    name: PlatformName

    def list_offers(self, query: OfferQuery) -> list[Offer]:
        """Offers matching ``query``."""
        ...

    def list_instances(self) -> list[Instance]:
        """Every instance of the account, whatever its state."""
        ...

    def get_instance(self, instance_id: str) -> Instance | None:
        """One instance, or None when the platform no longer knows it."""
        ...

    def create_instance(self, offer: Offer, spec: LaunchSpec) -> Instance:
        """Rent ``offer`` and start ``spec`` on it; returns the new instance as first seen."""
        ...

    def destroy_instance(self, instance_id: str) -> None:
        """Ask the platform to destroy the instance (the caller verifies it is gone)."""
        ...

    def stop_instance(self, instance_id: str) -> None:
        """Stop the instance (its disk stays and keeps billing)."""
        ...

    def start_instance(self, instance_id: str) -> None:
        """Start a stopped instance again."""
        ...

    def account(self) -> Account:
        """Balance and spend rate of the account."""
        ...

    def ensure_ssh_key(self, public_key: str) -> None:
        """Make sure new instances accept ``public_key``; adds, never replaces."""
        ...

    def authorize_key(self, instance_id: str, public_key: str) -> bool:
        """Make an existing instance accept ``public_key``; False where the platform has
        no way to (the key then only reaches instances created after ``ensure_ssh_key``)."""
        ...


def check_price_cap(offer: Offer, spec: LaunchSpec, configured_cap: float) -> float:
    """The $/h the launch will cost; raises ``PriceCapExceeded`` above the cap.

    ``spec.max_price_per_hour`` raises (or lowers) the configured cap for one launch.
    """
    cap = spec.max_price_per_hour if spec.max_price_per_hour is not None else configured_cap
    price = launch_price(offer, spec.gpu_count, spec.bid_price)
    if price > cap + 1e-9:
        raise PriceCapExceeded(
            f"{offer.label} costs ${price:.3f}/h, above your cap of ${cap:.2f}/h; "
            "raise it for this launch with --max-price",
            platform=offer.platform,
        )
    return price


def filter_offers(offers: Sequence[Offer], query: OfferQuery) -> list[Offer]:
    """Apply ``query`` to offers locally (for filters a provider cannot express)."""
    from vp_tui.core.gpus import canonical_gpu

    wanted = {canonical_gpu(g) or g for g in query.gpus}
    out = []
    for offer in offers:
        if wanted and offer.gpu not in wanted and offer.gpu_raw not in wanted:
            continue
        if query.min_gpu_count is not None and offer.gpu_count < query.min_gpu_count:
            continue
        if query.max_gpu_count is not None and offer.gpu_count > query.max_gpu_count:
            continue
        if query.max_price_per_hour is not None and offer.price_per_hour > query.max_price_per_hour:
            continue
        if query.min_vram_gb is not None and offer.vram_gb < query.min_vram_gb * (
            1 - VRAM_TOLERANCE
        ):
            continue
        if query.min_reliability is not None and (
            offer.reliability is not None and offer.reliability < query.min_reliability
        ):
            continue
        if query.interruptible is not None and offer.interruptible != query.interruptible:
            continue
        if query.region and query.region.lower() not in (offer.location or "").lower():
            continue
        out.append(offer)
    return out
