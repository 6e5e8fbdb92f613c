"""Guards that act while nobody watches: budget, idle teardown, on-instance watchdogs.

One ``check`` looks at everything once (both faces and ``vp guard`` run it):

- **budget**: today's and this month's spend (the ledger) against
  ``budget.daily_usd`` / ``budget.monthly_usd``: at 80 % a warning; at 100 %
  ``budget.action`` (warn, stop or destroy) on the instances vp-tui started
  and that bill, each verified;
- **idle**: an instance with no job of ours running whose GPU utilisation
  (the provider's listing, else ``nvidia-smi`` over SSH) stays under
  ``idle.gpu_percent`` for ``idle.after`` gets ``idle.action``;
- **leases**: instances armed with a lease get it renewed (their watchdog
  tears them down when nobody does).

What has been seen idle since when, and which instances hold a lease, is kept
in ``guard-state.json`` in the data directory, so ``vp guard --once`` from
cron remembers between runs. A failed lookup is never read as idle or gone.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from vp_tui import locations
from vp_tui.config import Settings
from vp_tui.core.costs import hourly_rate
from vp_tui.core.models import Instance, InstanceState, utcnow
from vp_tui.platforms.base import PlatformError
from vp_tui.remote.keys import RemoteError
from vp_tui.remote.watchdog import WatchdogPlan, install, renew_lease
from vp_tui.services.fleet import Fleet, FleetResult
from vp_tui.services.jobs import JobError, Jobs
from vp_tui.services.ledger import local_midnight, month_start

log = logging.getLogger(__name__)

__all__ = ["BUDGET_WARN_SHARE", "GuardEvent", "GuardReport", "Guards"]

BUDGET_WARN_SHARE = 0.8
"""The share of a budget at which the guards warn."""

EventKind = Literal["warn", "stop", "destroy", "renew", "failed"]


@dataclass(frozen=True)
class GuardEvent:
    """One thing a check found or did."""

    kind: EventKind
    guard: Literal["budget", "idle", "lease", "listing"]
    """Which guard; ``listing`` when instances could not be listed, so none could run."""
    message: str
    instance: str | None = None
    """The instance key (``platform:id``) it concerns, if one."""
    verified: bool = False
    """For stop/destroy: the platform confirmed it."""


@dataclass
class GuardReport:
    """What one check found and did; ``exit_code`` summarises it for ``vp guard``."""

    events: list[GuardEvent] = field(default_factory=list)
    budget_share: float | None = None
    """The highest share of a budget spent (1.0 = all of it), when a budget is set."""

    @property
    def acted(self) -> bool:
        """Whether an instance was stopped or destroyed."""
        return any(e.kind in ("stop", "destroy") for e in self.events)

    @property
    def failed(self) -> bool:
        """Whether something could not be checked or done."""
        return any(e.kind == "failed" for e in self.events)

    @property
    def exit_code(self) -> int:
        """1 when something failed, 4 when it acted, 3 when it warned, else 0."""
        if self.failed:
            return 1
        if self.acted:
            return 4
        if any(e.kind == "warn" for e in self.events):
            return 3
        return 0

    def as_json(self) -> dict[str, object]:
        """The report as ``vp guard --json`` prints it."""
        return {
            "exit_code": self.exit_code,
            "budget_share": self.budget_share,
            "events": [
                {
                    "kind": e.kind,
                    "guard": e.guard,
                    "instance": e.instance,
                    "message": e.message,
                    "verified": e.verified,
                }
                for e in self.events
            ],
        }


class Guards:
    """Budget, idle and lease checks over the fleet, the ledger and the jobs."""

    def __init__(
        self,
        settings: Settings,
        fleet: Fleet,
        jobs: Jobs,
        *,
        state_path: Path | None = None,
        clock: Callable[[], datetime] = utcnow,
        gpu_probe: Callable[[Instance], float | None] | None = None,
    ) -> None:
        self.settings = settings
        self.fleet = fleet
        self.jobs = jobs
        self.state_path = state_path or locations.data_dir() / "guard-state.json"
        self.clock = clock
        self.gpu_probe = gpu_probe or self._nvidia_smi
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ state

    def _load(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {"idle_since": {}, "leases": {}}
        if not isinstance(data, dict):
            return {"idle_since": {}, "leases": {}}
        data.setdefault("idle_since", {})
        data.setdefault("leases", {})
        return data

    def _save(self, data: dict[str, dict[str, object]]) -> None:
        locations.ensure_private_dir(self.state_path.parent)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(self.state_path)

    # ------------------------------------------------------------------ watchdogs

    def arm(
        self,
        instance: Instance,
        *,
        max_lifetime: float | None = None,
        lease: float | None = None,
        idle: float | None = None,
        action: Literal["stop", "destroy"] = "destroy",
        stop: threading.Event | None = None,
    ) -> WatchdogPlan:
        """Start the watchdog on ``instance``: it tears the instance down ``max_lifetime``
        seconds from now, when its lease of ``lease`` seconds is not renewed, or after
        ``idle`` seconds with no job of ours and no GPU in use.

        Raises ``JobError`` when the instance cannot be reached or cannot run it.
        """
        if max_lifetime is None and lease is None and idle is None:
            raise ValueError("a watchdog needs a maximum lifetime, a lease or an idle limit")
        now = self.clock().timestamp()
        section = getattr(self.settings, instance.platform)
        plan = WatchdogPlan(
            platform=instance.platform,
            api_url=section.api_url,
            action=action,
            deadline=None if max_lifetime is None else now + max_lifetime,
            lease_seconds=lease,
            idle_seconds=idle,
            idle_gpu_percent=self.settings.idle.gpu_percent,
            armed_at=now,
        )
        remote = self.jobs.remote(instance, stop=stop)
        try:
            install(remote, plan)
        except RemoteError as exc:
            raise JobError(
                f"could not start the watchdog on {instance.instance_id}: {exc}"
            ) from exc
        if lease is not None:
            with self._lock:
                data = self._load()
                data["leases"][instance.key] = lease
                self._save(data)
        return plan

    # ------------------------------------------------------------------ checks

    def check(
        self,
        *,
        act: bool = True,
        stop: threading.Event | None = None,
        listing: FleetResult | None = None,
    ) -> GuardReport:
        """List the instances (or take ``listing``, one the caller has just made), then
        run every guard once; ``act=False`` only reports."""
        report = GuardReport()
        if listing is None:
            listing = self.fleet.list()
        for status in listing.statuses.values():
            if not status.ok:
                report.events.append(
                    GuardEvent(
                        "failed",
                        "listing",
                        f"{status.platform}: instances could not be listed ({status.error}); "
                        "its guards could not run",
                    )
                )
        known = [
            i
            for i in listing.instances
            if listing.statuses.get(i.platform) is not None and listing.statuses[i.platform].ok
        ]
        self._check_budget(known, report, act=act, stop=stop)
        self._check_idle(known, report, act=act, stop=stop)
        self._renew_leases(known, report)
        return report

    def _ours(self, instances: Sequence[Instance]) -> list[Instance]:
        ledger = self.fleet.ledger
        if ledger is None:
            return []
        return [
            i
            for i in instances
            if ledger.started_by_us(i.platform, i.instance_id) and hourly_rate(i) > 0
        ]

    def _check_budget(
        self,
        instances: Sequence[Instance],
        report: GuardReport,
        *,
        act: bool,
        stop: threading.Event | None,
    ) -> None:
        budget = self.settings.budget
        ledger = self.fleet.ledger
        if ledger is None or (budget.daily_usd is None and budget.monthly_usd is None):
            return
        now = self.clock()
        limits = [
            ("daily", budget.daily_usd, ledger.spent(local_midnight(now), now)),
            ("monthly", budget.monthly_usd, ledger.spent(month_start(now), now)),
        ]
        for name, limit, spent in limits:
            if limit is None:
                continue
            share = spent / limit
            report.budget_share = max(report.budget_share or 0.0, share)
            said = f"{name} budget: ${spent:.2f} of ${limit:.2f} spent ({share:.0%})"
            if share < BUDGET_WARN_SHARE:
                continue
            if share < 1.0 or budget.action == "warn" or not act:
                report.events.append(GuardEvent("warn", "budget", said))
                continue
            targets = [  # a stop leaves stopped ones alone; a destroy takes them too
                i
                for i in self._ours(instances)
                if budget.action == "destroy" or i.state is not InstanceState.STOPPED
            ]
            if not targets:
                report.events.append(GuardEvent("warn", "budget", f"{said}; nothing to stop"))
            for instance in targets:
                report.events.append(self._act(instance, budget.action, "budget", said, stop))
            return  # one limit acting is enough

    def _check_idle(
        self,
        instances: Sequence[Instance],
        report: GuardReport,
        *,
        act: bool,
        stop: threading.Event | None,
    ) -> None:
        idle = self.settings.idle
        if idle.action == "off":
            return
        now = self.clock()
        with self._lock:
            data = self._load()
        since: dict[str, object] = data["idle_since"]
        seen: dict[str, object] = {}
        for instance in instances:
            if instance.state is not InstanceState.RUNNING:
                continue
            if self._job_running(instance):
                continue
            util = instance.gpu_util
            if util is None:
                util = self.gpu_probe(instance)
            if util is None or util >= idle.gpu_percent:
                continue
            began = since.get(instance.key)
            began_at = datetime.fromisoformat(began) if isinstance(began, str) else now
            seen[instance.key] = began_at.isoformat()
            quiet = (now - began_at).total_seconds()
            if quiet < idle.after:
                continue
            said = (
                f"idle for {timedelta(seconds=int(quiet))} (GPU {util:.0f} % < "
                f"{idle.gpu_percent:g} %, no job running)"
            )
            if idle.action == "warn" or not act:
                report.events.append(GuardEvent("warn", "idle", said, instance.key))
            else:
                report.events.append(self._act(instance, idle.action, "idle", said, stop))
                seen.pop(instance.key, None)
        with self._lock:
            data = self._load()
            data["idle_since"] = seen
            self._save(data)

    def _job_running(self, instance: Instance) -> bool:
        return any(
            not job.state.is_final
            for job in self.jobs.history(
                platform=instance.platform, instance_id=instance.instance_id
            )
        )

    def _nvidia_smi(self, instance: Instance) -> float | None:
        """GPU utilisation (%) read over SSH, for providers whose listing has none."""
        try:
            result = self.jobs.remote(instance).run(
                "nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits",
                timeout=20,
            )
        except (JobError, RemoteError, OSError) as exc:
            log.info("reading the GPU use of %s failed: %s", instance.key, exc)
            return None
        values = []
        for line in result.out.splitlines():
            try:
                values.append(float(line.strip()))
            except ValueError:
                continue
        return sum(values) / len(values) if result.rc == 0 and values else None

    def _renew_leases(self, instances: Sequence[Instance], report: GuardReport) -> None:
        with self._lock:
            data = self._load()
        leases: dict[str, object] = data["leases"]
        alive = {i.key: i for i in instances}
        for key in list(leases):
            instance = alive.get(key)
            if instance is None or instance.state is not InstanceState.RUNNING:
                continue
            try:
                renewed = renew_lease(self.jobs.remote(instance))
            except (JobError, RemoteError, OSError) as exc:
                report.events.append(
                    GuardEvent("failed", "lease", f"could not renew the lease: {exc}", key)
                )
                continue
            if renewed:
                report.events.append(GuardEvent("renew", "lease", "lease renewed", key))

    def _act(
        self,
        instance: Instance,
        action: Literal["stop", "destroy"],
        guard: Literal["budget", "idle"],
        reason: str,
        stop: threading.Event | None,
    ) -> GuardEvent:
        """Stop or destroy ``instance`` and verify it; the event says what happened."""
        try:
            if action == "stop":
                self.fleet.stop(instance.instance_id, instance.platform, stop=stop)
            else:
                self.fleet.destroy(instance.instance_id, instance.platform, stop=stop)
        except PlatformError as exc:
            return GuardEvent(
                "failed",
                guard,
                f"{reason}: {action} of {instance.instance_id} failed ({exc}); it may be billing",
                instance.key,
            )
        done = "stopped" if action == "stop" else "destroyed"
        return GuardEvent(action, guard, f"{reason}: {done} (verified)", instance.key, True)
