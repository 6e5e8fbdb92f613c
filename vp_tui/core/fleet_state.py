"""The instances as last known on each platform, and what may honestly be said of them.

A listing that fails does not mean the instances are gone: the last rows a
platform answered with stay, marked stale with the time they were true and
the error that followed, and totals (burn rate, instances running) say
"unknown" for that platform instead of counting it as zero. Both faces read
the same figures from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from vp_tui.core.costs import hourly_rate
from vp_tui.core.models import Account, Instance, PlatformName, PlatformStatus
from vp_tui.core.states import InstanceState

__all__ = ["Burn", "FleetState", "PlatformListing", "hourly_rate"]


@dataclass(frozen=True)
class PlatformListing:
    """One platform's instances as last listed, and how the last attempt went."""

    platform: PlatformName
    instances: tuple[Instance, ...] = ()
    listed_at: datetime | None = None
    """When a listing last succeeded (None: never yet)."""
    error: str | None = None
    """Why the latest attempt failed; None when it succeeded."""
    checked_at: datetime | None = None
    """When the platform was last asked."""

    @property
    def known(self) -> bool:
        """True when the rows are what the platform said on its latest answer."""
        return self.error is None and self.listed_at is not None

    @property
    def stale(self) -> bool:
        """True when rows are shown from an earlier listing because the latest failed."""
        return self.error is not None and self.listed_at is not None


@dataclass(frozen=True)
class Burn:
    """The burn rate that is known, and the platforms it could not include."""

    per_hour: float
    unknown: tuple[PlatformName, ...] = ()

    @property
    def complete(self) -> bool:
        """True when every platform answered, so ``per_hour`` is the whole burn."""
        return not self.unknown


def balance_runway(accounts: Mapping[PlatformName, Account], fleet: FleetState) -> float | None:
    """Hours until the first account runs dry at its platform's burn now; None when no
    account with a known balance is burning."""
    hours = [
        account.balance / burn
        for name, account in accounts.items()
        if account.balance is not None and (burn := fleet.burn_of(name)) is not None and burn > 0
    ]
    return max(0.0, min(hours)) if hours else None


@dataclass(frozen=True)
class FleetState:
    """Every platform's last listing, merged into one view of the user's instances."""

    listings: Mapping[PlatformName, PlatformListing] = field(default_factory=dict)

    @classmethod
    def empty(cls, platforms: Iterable[PlatformName]) -> FleetState:
        """Nothing listed yet on any of ``platforms``."""
        return cls({name: PlatformListing(name) for name in platforms})

    def updated(
        self,
        instances: Sequence[Instance],
        statuses: Mapping[PlatformName, PlatformStatus],
        now: datetime,
    ) -> FleetState:
        """This state after a listing: answered platforms replace their rows, failed ones
        keep their last rows and record the error."""
        listings = dict(self.listings)
        for name, status in statuses.items():
            before = listings.get(name, PlatformListing(name))
            if status.ok:
                rows = tuple(i for i in instances if i.platform == name)
                listings[name] = PlatformListing(name, rows, now, None, now)
            else:
                listings[name] = replace(
                    before, error=status.error or "listing failed", checked_at=now
                )
        return FleetState(listings)

    def with_instance(self, instance: Instance) -> FleetState:
        """This state with one instance added or replaced (a launch reporting progress)."""
        before = self.listings.get(instance.platform, PlatformListing(instance.platform))
        rows = (*(i for i in before.instances if i.key != instance.key), instance)
        listings = dict(self.listings)
        listings[instance.platform] = replace(before, instances=rows)
        return FleetState(listings)

    def without(self, key: str) -> FleetState:
        """This state without one instance (its destroy was verified)."""
        listings = {
            name: replace(listing, instances=tuple(i for i in listing.instances if i.key != key))
            for name, listing in self.listings.items()
        }
        return FleetState(listings)

    @property
    def instances(self) -> list[Instance]:
        """Every instance shown: fresh rows and the stale rows of failing platforms."""
        return [i for listing in self.listings.values() for i in listing.instances]

    def find(self, key: str) -> Instance | None:
        """The instance with ``key``, if shown."""
        return next((i for i in self.instances if i.key == key), None)

    @property
    def listed_as_of(self) -> datetime | None:
        """When the oldest rows shown were listed (None before any listing worked)."""
        times = [listing.listed_at for listing in self.listings.values() if listing.listed_at]
        return min(times) if times else None

    @property
    def unknown(self) -> tuple[PlatformName, ...]:
        """Platforms whose current instances are not known (failing, or not listed yet)."""
        return tuple(name for name, listing in self.listings.items() if not listing.known)

    def stale_since(self, platform: PlatformName) -> datetime | None:
        """When ``platform``'s shown rows were last true, if they are stale."""
        listing = self.listings.get(platform)
        return listing.listed_at if listing is not None and listing.stale else None

    def error(self, platform: PlatformName) -> str | None:
        """Why ``platform``'s latest listing failed, if it did."""
        listing = self.listings.get(platform)
        return None if listing is None else listing.error

    def burn(self) -> Burn:
        """$/h of everything billing on the platforms that answered, and which did not."""
        total = sum(
            hourly_rate(i)
            for listing in self.listings.values()
            if listing.known
            for i in listing.instances
        )
        return Burn(total, self.unknown)

    def burn_of(self, platform: PlatformName) -> float | None:
        """$/h billing on one platform now; None when its listing is not known."""
        listing = self.listings.get(platform)
        if listing is None or not listing.known:
            return None
        return sum((hourly_rate(i) for i in listing.instances), 0.0)

    def running(self, platform: PlatformName | None = None) -> int | None:
        """Instances running (on one platform, or all); None when not known."""
        names = [platform] if platform is not None else list(self.listings)
        total = 0
        for name in names:
            listing = self.listings.get(name)
            if listing is None or not listing.known:
                return None
            total += sum(1 for i in listing.instances if i.state is InstanceState.RUNNING)
        return total

    def running_known(self) -> int:
        """Instances running on the platforms that answered."""
        return sum(self.running(name) or 0 for name in self.listings if name not in self.unknown)
