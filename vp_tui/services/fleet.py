"""Instances across platforms: create until reachable, destroy until verified gone, live cost.

``create`` returns only when the instance accepts SSH connections (a RUNNING
flag alone is not enough), and ``destroy`` returns only when the platform no
longer lists the instance: an unverifiable destroy is an error, never a success.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from vp_tui.core import cancel, costs
from vp_tui.core.models import (
    Instance,
    InstanceState,
    LaunchSpec,
    Offer,
    PlatformName,
    PlatformStatus,
    utcnow,
)
from vp_tui.core.threads import parallel_map
from vp_tui.platforms.base import (
    AuthError,
    LaunchLeftInstance,
    NotFound,
    Platform,
    PlatformError,
)
from vp_tui.remote.probe import ssh_banner
from vp_tui.services.ledger import Ledger

log = logging.getLogger(__name__)

Progress = Callable[[Instance, str], None]
"""Called with the instance as last seen and a line saying what is happening."""
Probe = Callable[[Instance], bool]
"""True when the instance is reachable for work."""


class LaunchTimeout(PlatformError):
    """The instance did not become reachable in time (it may still be billing)."""


class DestroyUnverified(PlatformError):
    """The platform did not confirm that the instance is gone."""


class StateUnverified(PlatformError):
    """A stop or start was accepted, but the platform did not show the new state in time."""


def ssh_reachable(instance: Instance) -> bool:
    """The cheapest readiness check: the SSH server jobs use greets us.

    Only ``instance.ssh`` counts: a provider's relay (RunPod's ``ssh.runpod.io``)
    greets any connection and proves nothing about the instance.
    """
    return instance.ssh is not None and ssh_banner(instance.ssh)


class Unreachable(PlatformError):
    """The instance runs (and bills) but the platform shows it cannot be reached over SSH."""


@dataclass
class FleetResult:
    """Every instance found, and how each platform answered."""

    instances: list[Instance]
    statuses: dict[PlatformName, PlatformStatus]


def burn_rate(instances: Sequence[Instance]) -> float:
    """$/h of everything that bills now (see :func:`vp_tui.core.costs.burn_rate`)."""
    return costs.burn_rate(instances)


def spent_since(
    instances: Sequence[Instance], since: datetime, now: datetime | None = None
) -> float:
    """Dollars billed between ``since`` and ``now`` (see :func:`vp_tui.core.costs.spent_since`)."""
    return costs.spent_since(instances, since, now or utcnow())


class Fleet:
    """The user's instances on every platform."""

    def __init__(
        self,
        platforms: Mapping[PlatformName, Platform],
        *,
        probe: Probe = ssh_reachable,
        public_key: Callable[[], str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        ledger: Ledger | None = None,
    ) -> None:
        self.platforms = dict(platforms)
        self.ledger = ledger
        """Where launches, listings and verified stops, starts and destroys are recorded."""
        self.probe = probe
        self.public_key = public_key
        """vp-tui's SSH public key, registered with a platform before each launch."""
        self._sleep = sleep
        self._monotonic = monotonic

    def _pause(self, seconds: float, stop: threading.Event | None, what: str) -> None:
        """Sleep between polls; with ``stop``, wake (and raise ``Cancelled``) when it is set."""
        if stop is None:
            self._sleep(seconds)
        else:
            cancel.pause(seconds, stop, what)

    def platform(self, name: PlatformName) -> Platform:
        """The adapter for ``name``; a clear error when it is not configured."""
        try:
            return self.platforms[name]
        except KeyError:
            raise PlatformError(
                f"{name} is not configured: set an API key with `vp config-set --{name}-api-key -`"
            ) from None

    def list(self, platforms: Sequence[PlatformName] | None = None) -> FleetResult:
        """Instances of every (or the chosen) platform, asked at the same time."""
        names = [n for n in (platforms or list(self.platforms)) if n in self.platforms]
        instances: list[Instance] = []
        statuses: dict[PlatformName, PlatformStatus] = {}
        if not names:
            return FleetResult(instances, statuses)

        def fetch(name: PlatformName) -> tuple[list[Instance], PlatformStatus]:
            try:
                found = self.platforms[name].list_instances()
            except PlatformError as exc:
                log.warning("listing %s instances failed: %s", name, exc)
                return [], PlatformStatus(platform=name, ok=False, error=str(exc))
            except Exception as exc:
                log.exception("listing %s instances failed unexpectedly", name)
                error = f"unexpected error: {type(exc).__name__}: {exc}"
                return [], PlatformStatus(platform=name, ok=False, error=error)
            return found, PlatformStatus(platform=name, ok=True)

        for name, (found, status) in zip(
            names, parallel_map(fetch, names, name="fleet"), strict=True
        ):
            instances.extend(i for i in found if i.state is not InstanceState.TERMINATED)
            statuses[name] = status
        self._record(
            lambda ledger: ledger.observe(
                instances, [name for name, status in statuses.items() if status.ok]
            )
        )
        return FleetResult(instances, statuses)

    def _record(self, write: Callable[[Ledger], None]) -> None:
        """Write to the ledger; a failing write is logged and never fails the operation."""
        if self.ledger is None:
            return
        try:
            write(self.ledger)
        except Exception:
            log.exception("writing the spend ledger failed")

    def find(self, instance_id: str, platform: PlatformName | None = None) -> Instance:
        """One instance by id, looked up on one or every platform.

        Raises ``NotFound`` only when every platform asked answered that it does not
        know the instance (or knows it as terminated). When a lookup failed and no
        other platform has the instance, the platform's own error is raised instead:
        a lookup that failed is not an absence.
        """
        names = [platform] if platform else list(self.platforms)
        failures: list[PlatformError] = []
        for name in names:
            try:
                found = self.platform(name).get_instance(instance_id)
            except NotFound:
                continue
            except PlatformError as exc:
                log.warning("looking up %s instance %s failed: %s", name, instance_id, exc)
                failures.append(exc)
                continue
            if found is not None and found.state is not InstanceState.TERMINATED:
                return found
        if len(failures) == 1:
            raise failures[0]
        if failures:
            raise PlatformError(
                f"could not look up instance {instance_id!r}: "
                + "; ".join(str(f) for f in failures),
                retryable=all(f.retryable for f in failures),
            )
        raise NotFound(f"no instance {instance_id!r} found")

    def create(
        self,
        offer: Offer,
        spec: LaunchSpec,
        *,
        wait: bool = True,
        timeout: float = 900.0,
        poll_seconds: float = 3.0,
        on_progress: Progress | None = None,
        stop: threading.Event | None = None,
    ) -> Instance:
        """Rent ``offer``; with ``wait``, return once the instance accepts SSH connections.

        ``stop`` cancels the wait (``Cancelled``); the instance then keeps booting.
        """
        platform = self.platform(offer.platform)
        if self.public_key is not None:
            platform.ensure_ssh_key(self.public_key())
        try:
            instance = platform.create_instance(offer, spec)
        except LaunchLeftInstance as failed:
            raise self._clean_up(failed, offer.platform, stop) from None
        self._record(lambda ledger: ledger.record_launch(instance))
        if on_progress:
            on_progress(instance, f"created {instance.instance_id} ({instance.state})")
        if not wait:
            return instance
        return self.wait_ready(
            instance, timeout=timeout, poll_seconds=poll_seconds, on_progress=on_progress, stop=stop
        )

    def _clean_up(
        self, failed: LaunchLeftInstance, platform: PlatformName, stop: threading.Event | None
    ) -> PlatformError:
        """Destroy (verified) what a failed launch left behind; the error that says so."""
        left = failed.instance_id
        log.warning("launch failed but left instance %s: destroying it", left)
        try:
            self.destroy(left, platform, stop=stop)
        except PlatformError as exc:
            return PlatformError(
                f"{failed.message}; destroying it failed ({exc}): it may be billing: "
                f"destroy it with `vp destroy-instance {left}`",
                platform=platform,
            )
        return PlatformError(
            f"{failed.message}; it has been destroyed (verified gone)", platform=platform
        )

    def authorize(self, instance: Instance) -> bool:
        """Make ``instance`` accept vp-tui's key if the platform can add keys to an existing
        instance (Vast: the account's keys reach an instance only when it is created).
        A refusal is logged, not raised: the key may be there already."""
        if self.public_key is None:
            return False
        try:
            return self.platform(instance.platform).authorize_key(
                instance.instance_id, self.public_key()
            )
        except PlatformError as exc:
            log.info("attaching vp-tui's key to %s failed: %s", instance.key, exc)
            return False

    def wait_ready(
        self,
        instance: Instance,
        *,
        timeout: float = 900.0,
        poll_seconds: float = 3.0,
        on_progress: Progress | None = None,
        stop: threading.Event | None = None,
    ) -> Instance:
        """Poll until ``instance`` is running and reachable; raises ``LaunchTimeout``, or
        ``Cancelled`` as soon as ``stop`` is set."""
        platform = self.platform(instance.platform)
        what = f"waiting for {instance.instance_id} to be ready"
        deadline = self._monotonic() + timeout
        last_state: InstanceState | None = None
        current = instance
        while True:
            cancel.check(stop, what)
            try:
                found = platform.get_instance(instance.instance_id)
            except PlatformError as exc:
                if not exc.retryable:
                    raise
                found = None
                if on_progress:
                    on_progress(current, f"still waiting: {exc}")
            if found is not None:
                current = found
                if current.state is InstanceState.TERMINATED:
                    raise PlatformError(
                        f"instance {instance.instance_id} was terminated while starting",
                        platform=instance.platform,
                    )
                if current.state is InstanceState.ERROR:
                    raise PlatformError(
                        f"instance {instance.instance_id} failed to start: "
                        f"{current.status_message or 'no reason given'}; it may still be "
                        f"billing: destroy it with `vp destroy-instance {instance.instance_id}`",
                        platform=instance.platform,
                    )
                if current.state is InstanceState.RUNNING and current.unreachable:
                    raise Unreachable(
                        f"instance {instance.instance_id} is running but cannot be reached over "
                        f"SSH: {current.unreachable}. It is billing "
                        f"${costs.hourly_rate(current):.3f}/h until you destroy it with "
                        f"`vp destroy-instance {instance.instance_id}`",
                        platform=instance.platform,
                    )
                if current.state != last_state and on_progress:
                    on_progress(current, str(current.state))
                last_state = current.state
                if current.state is InstanceState.RUNNING and self.probe(current):
                    if on_progress:
                        on_progress(current, "reachable over SSH")
                    return current
            if self._monotonic() >= deadline:
                raise LaunchTimeout(
                    f"instance {instance.instance_id} not reachable after {timeout:.0f}s "
                    f"(last state: {current.state}); it may still be billing: "
                    f"destroy it with `vp destroy-instance {instance.instance_id}`",
                    platform=instance.platform,
                )
            self._pause(poll_seconds, stop, what)

    def destroy(
        self,
        instance_id: str,
        platform: PlatformName,
        *,
        timeout: float = 120.0,
        poll_seconds: float = 2.0,
        stop: threading.Event | None = None,
    ) -> None:
        """Destroy and re-list until gone; raises ``DestroyUnverified`` if it stays, and
        ``Cancelled`` as soon as ``stop`` is set (the destroy was still requested).

        A destroy request whose answer failed (an error page, a cut-off body) may
        still have been carried out, so it is verified by re-listing like any other:
        only an instance still listed at the end is reported, with the request's error.
        A rejected API key is reported at once (nothing was done, nothing can be checked).
        """
        adapter = self.platform(platform)
        what = f"verifying the destroy of {instance_id}"
        request_error: PlatformError | None = None
        try:
            adapter.destroy_instance(instance_id)
        except NotFound:
            pass  # verified below: gone is gone
        except AuthError:
            raise
        except PlatformError as exc:
            log.warning("destroy of %s: the request failed: %s; re-listing", instance_id, exc)
            request_error = exc
        deadline = self._monotonic() + timeout
        last: Instance | None = None
        while True:
            cancel.check(stop, what)
            try:
                listed = {i.instance_id: i for i in adapter.list_instances()}
            except PlatformError as exc:
                log.warning("verifying the destroy of %s: listing failed: %s", instance_id, exc)
                if self._monotonic() >= deadline:
                    said = f" (the request itself failed: {request_error})" if request_error else ""
                    raise DestroyUnverified(
                        f"destroy of {instance_id} requested{said}, but it could not be verified: "
                        f"{exc}; check the provider's console, it may still be billing",
                        platform=platform,
                    ) from exc
            else:
                last = listed.get(instance_id)
                if last is None or last.state is InstanceState.TERMINATED:
                    self._record(lambda ledger: ledger.record_gone(platform, instance_id))
                    return
                if self._monotonic() >= deadline:
                    if request_error is not None:
                        head = (
                            f"the destroy request for {instance_id} failed ({request_error}); "
                            f"it may or may not have been accepted, and after {timeout:.0f}s "
                            "the instance is"
                        )
                    else:
                        head = (
                            f"destroy of {instance_id} was accepted, but after {timeout:.0f}s it is"
                        )
                    raise DestroyUnverified(
                        f"{head} still listed as {last.state}; it may still be billing: try "
                        "again or check the provider's console",
                        platform=platform,
                    ) from request_error
            self._pause(poll_seconds, stop, what)

    def stop(
        self,
        instance_id: str,
        platform: PlatformName,
        *,
        wait: bool = True,
        timeout: float = 120.0,
        poll_seconds: float = 2.0,
        stop: threading.Event | None = None,
    ) -> Instance | None:
        """Stop an instance (disk kept, storage still billed); with ``wait``, until seen stopped.

        Returns the instance as seen stopped (None without ``wait``). Raises
        ``StateUnverified`` when the platform does not show it stopped within ``timeout``
        and ``Cancelled`` as soon as ``stop`` is set.
        """
        self.platform(platform).stop_instance(instance_id)
        if not wait:
            return None
        return self._await_state(
            instance_id, platform, InstanceState.STOPPED, "stop", timeout, poll_seconds, stop
        )

    def start(
        self,
        instance_id: str,
        platform: PlatformName,
        *,
        wait: bool = True,
        timeout: float = 300.0,
        poll_seconds: float = 2.0,
        stop: threading.Event | None = None,
    ) -> Instance | None:
        """Start a stopped instance; with ``wait``, until the platform shows it running.

        Returns the instance as seen running (None without ``wait``). Raises
        ``StateUnverified`` when it is not seen running within ``timeout``, a
        ``PlatformError`` when it fails to start or disappears, and ``Cancelled`` as soon
        as ``stop`` is set.
        """
        self.platform(platform).start_instance(instance_id)
        if not wait:
            return None
        return self._await_state(
            instance_id, platform, InstanceState.RUNNING, "start", timeout, poll_seconds, stop
        )

    def _await_state(
        self,
        instance_id: str,
        platform: PlatformName,
        wanted: InstanceState,
        verb: str,
        timeout: float,
        poll_seconds: float,
        stop: threading.Event | None,
    ) -> Instance:
        """Poll ``get_instance`` until it shows ``wanted``; a failed lookup confirms nothing."""
        adapter = self.platform(platform)
        what = f"waiting for the {verb} of {instance_id}"
        deadline = self._monotonic() + timeout
        seen: InstanceState | None = None
        problem: str | None = None
        while True:
            cancel.check(stop, what)
            try:
                found = adapter.get_instance(instance_id)
            except PlatformError as exc:
                problem = str(exc)
            else:
                problem = None
                if found is None or found.state is InstanceState.TERMINATED:
                    raise PlatformError(
                        f"instance {instance_id} no longer exists ({verb} was requested)",
                        platform=platform,
                    )
                seen = found.state
                if seen is wanted:
                    self._record(partial(Ledger.record_seen, instance=found))
                    return found
                if seen is InstanceState.ERROR:
                    raise PlatformError(
                        f"{verb} of {instance_id} failed: "
                        f"{found.status_message or 'the platform reports an error'}",
                        platform=platform,
                    )
            if self._monotonic() >= deadline:
                last = f"it was last seen {seen}" if seen else "its state was never read"
                if problem:
                    last += f", and the latest check failed: {problem}"
                raise StateUnverified(
                    f"{verb} of {instance_id} was requested, but after {timeout:.0f}s it is "
                    f"not {wanted}: {last}; check with `vp list-instances`",
                    platform=platform,
                )
            self._pause(poll_seconds, stop, what)
