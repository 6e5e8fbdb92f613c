"""Instance actions: rent an offer, stop/start, shell, destroy with verification.

Each blocking step runs in a thread worker that reports by message; every
wait takes the app's stop event, so quitting never waits on a booting
instance. A launch is written to the store as soon as the platform has
created it and removed once it is reachable (or has failed): one still
booting when the app quits is picked up again on the next start.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING

from textual import work

from vp_tui.core.cancel import Cancelled
from vp_tui.core.costs import hourly_rate, spent_so_far
from vp_tui.core.durations import format_span
from vp_tui.core.models import Instance, InstanceState
from vp_tui.core.money import format_money, format_price
from vp_tui.core.text import visible
from vp_tui.tui.actions.sync import conflicts_text, transfer_text
from vp_tui.tui.base import DashboardBase, user_errors
from vp_tui.tui.messages import (
    ActionFailed,
    BulkDestroyFinished,
    DestroyFinished,
    DestroyStarted,
    FilesChecked,
    InstanceProgress,
    InstanceReady,
    RefreshWanted,
    ShellReady,
)
from vp_tui.tui.screens.destroy import CHECKING, Choice, DestroyScreen, Teardown

if TYPE_CHECKING:
    from vp_tui.core.models import LaunchSpec, Offer

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
"""How often a launch in the dashboard asks the platform whether it is up yet."""


class InstanceActions(DashboardBase):
    """Create, stop/start, shell, copy and destroy, for the highlighted offer or instance."""

    def __init__(self) -> None:
        super().__init__()
        self.destroy_asked: set[str] = set()
        """Keys of the instances this dashboard was asked to destroy (and has not failed
        to): the jobs they ran end with them, which the destroy itself tells."""

    # ------------------------------------------------------------------ helpers

    def current_instance(self, *, running: bool = True) -> Instance | None:
        """The highlighted instance; says why when there is none (or it is not running)."""
        if not self.engine_up():
            return None
        table = self.instances_table
        instance = table.current if table is not None else None
        if instance is None:
            self.notify(
                "No instance selected: create one from the offers pane.", severity="warning"
            )
            return None
        if running and instance.state is not InstanceState.RUNNING:
            self.notify(
                f"{instance.name} is {instance.state}; wait until it is running.",
                severity="warning",
            )
            return None
        return instance

    def merge_instance(self, instance: Instance) -> None:
        """Show what a worker learnt about one instance before the next listing."""
        self.state.fleet = self.state.fleet.with_instance(instance)
        self.show_fleet()

    # ------------------------------------------------------------------- create

    def action_create_from_offer(self) -> None:
        """Rent the highlighted offer (opens the create dialog)."""
        if not self.engine_up():
            return
        table = self.offers_table
        offer = table.cursor_offer if table is not None else None
        if offer is None:
            self.notify("No offer selected.", severity="warning")
            return
        self.open_create(offer)

    def open_create(self, offer: Offer) -> None:
        """The create dialog for ``offer``, prefilled from the settings (not for an offer
        that cannot be rented now: that is said instead)."""
        from vp_tui.core.ranking import unavailable_reason
        from vp_tui.tui.screens.create import CreateDefaults, CreateScreen

        reason = unavailable_reason(offer)
        if reason is not None:
            self.notify(
                f"{offer.label} is {reason}: pick another offer.",
                title="Create",
                severity="warning",
            )
            return

        settings = self.engine.settings
        if offer.platform == "vast":
            defaults = CreateDefaults(
                settings.vast.default_image, settings.vast.disk_gb, settings.vast.max_price_per_hour
            )
        else:
            defaults = CreateDefaults(
                settings.runpod.default_image,
                float(settings.runpod.container_disk_gb),
                settings.runpod.max_price_per_hour,
            )

        def launch(spec: LaunchSpec | None) -> None:
            if spec is not None and not self.stopping:
                self.create_instance(offer, spec)

        self.push_screen(CreateScreen(offer, defaults), launch)

    @work(thread=True, group="create", exit_on_error=False)
    def create_instance(self, offer: Offer, spec: LaunchSpec) -> None:
        """Rent an offer and wait until it is reachable, reporting progress."""
        fleet = self.engine.fleet
        store = self.engine.job_service.store
        self.notify(f"Renting {offer.label} on {offer.platform}…", title="Create")
        try:
            instance = fleet.create(offer, spec, wait=False)
        except user_errors() as exc:
            self.post_message(ActionFailed("Create failed", str(exc)))
            return
        store.add_pending_launch(instance)
        self.post_message(InstanceProgress(instance, f"created {instance.instance_id}"))
        ready = self._wait_until_ready(instance)
        if ready is not None and spec.max_lifetime_seconds is not None:
            self._arm_watchdog(ready, spec.max_lifetime_seconds)

    def _arm_watchdog(self, instance: Instance, lifetime: float) -> None:
        """Start the instance's own watchdog (it tears the instance down at the deadline)."""
        guards = self.engine.guards
        if guards is None:
            return
        try:
            guards.arm(instance, max_lifetime=lifetime, stop=self.stop_event)
        except Cancelled:
            return
        except user_errors() as exc:
            self.post_message(
                ActionFailed(
                    "Watchdog not started",
                    f"{exc}\n{instance.platform} instance {instance.instance_id} runs without a "
                    "maximum lifetime: destroy it when you are done.",
                )
            )
            return
        self.notify(
            f"{instance.instance_id} will destroy itself in {format_span(lifetime)}, "
            "with or without vp-tui.",
            title="Max lifetime",
            markup=False,
        )

    @work(thread=True, group="create", exit_on_error=False)
    def resume_launch(self, instance: Instance) -> None:
        """Wait again for a launch that was still booting when the app last quit."""
        self._wait_until_ready(instance)

    def _wait_until_ready(self, instance: Instance) -> Instance | None:
        fleet = self.engine.fleet
        store = self.engine.job_service.store

        def progress(current: Instance, text: str) -> None:
            self.post_message(InstanceProgress(current, text))

        try:
            ready = fleet.wait_ready(
                instance, poll_seconds=POLL_SECONDS, on_progress=progress, stop=self.stop_event
            )
        except Cancelled:
            return None  # quitting: the launch stays in the store and resumes next time
        except user_errors() as exc:
            store.remove_pending_launch(instance.platform, instance.instance_id)
            self.post_message(
                ActionFailed(
                    "Create failed",
                    f"{exc}\n{instance.platform} instance {instance.instance_id} may still exist "
                    "and bill: check it in the instances pane.",
                )
            )
            return None
        store.remove_pending_launch(instance.platform, instance.instance_id)
        self.post_message(InstanceReady(ready))
        return ready

    def resume_launches(self, launches: list[Instance]) -> None:
        """Launches still booting when the app last quit: shown, and waited for again."""
        for instance in launches:
            self.merge_instance(instance)
            self.notify(
                f"{instance.platform} {instance.instance_id} ({instance.name}) was still starting "
                "when vp-tui closed; it may be billing. Waiting for it again.",
                title="Launch resumed",
                severity="warning",
                timeout=10,
            )
            self.resume_launch(instance)

    def on_instance_progress(self, message: InstanceProgress) -> None:
        self.merge_instance(message.instance)

    def on_instance_ready(self, message: InstanceReady) -> None:
        instance = message.instance
        self.merge_instance(instance)
        self.notify(
            f"{instance.platform} {instance.instance_id} is running and reachable "
            f"({instance.ssh}). Press r on it to run a command.",
            title="Instance ready",
        )
        self.request_fetch("instances")

    # --------------------------------------------------------------- stop/start

    def action_stop_start(self) -> None:
        """Stop a running instance, or start a stopped one."""
        instance = self.current_instance(running=False)
        if instance is None:
            return
        if instance.state is InstanceState.RUNNING:
            self.stop_start(instance, "stop")
        elif instance.state is InstanceState.STOPPED:
            self.stop_start(instance, "start")
        else:
            self.notify(f"{instance.name} is {instance.state}", severity="warning")

    @work(thread=True, group="stop-start", exit_on_error=False)
    def stop_start(self, instance: Instance, verb: str) -> None:
        """Stop or start an instance and wait until the platform shows it done."""
        fleet = self.engine.fleet
        self.notify(f"{instance.name}: {verb} requested…", title=verb.capitalize(), timeout=3)
        self.post_message(RefreshWanted("instances"))  # the rows show the transition
        try:
            if verb == "stop":
                done = fleet.stop(instance.instance_id, instance.platform, stop=self.stop_event)
            else:
                done = fleet.start(instance.instance_id, instance.platform, stop=self.stop_event)
        except Cancelled:
            return
        except user_errors() as exc:
            self.post_message(ActionFailed(f"{verb.capitalize()} failed", str(exc)))
            return
        if done is not None:
            self.post_message(InstanceProgress(done, f"{verb} verified"))
        note = " (its disk still bills)" if verb == "stop" else ""
        state = "stopped" if verb == "stop" else "running"
        self.notify(f"{instance.name} is {state} (verified){note}", title=verb.capitalize())
        self.post_message(RefreshWanted("instances"))

    # -------------------------------------------------------------------- shell

    def action_shell(self) -> None:
        """Open a shell on the highlighted instance (the app is suspended meanwhile)."""
        instance = self.current_instance()
        if instance is not None:
            self.prepare_shell(instance)

    @work(thread=True, group="shell", exit_on_error=False)
    def prepare_shell(self, instance: Instance) -> None:
        """Connect once (records the host key), then hand over to the system ssh."""
        try:
            remote = self.engine.job_service.remote(instance)
            argv = remote.ssh_command(tty=True)
        except user_errors() as exc:
            self.post_message(ActionFailed("Shell", str(exc)))
            return
        self.post_message(ShellReady(argv))

    def on_shell_ready(self, message: ShellReady) -> None:
        try:
            with self.suspend():
                subprocess.call(message.argv)
        except Exception as exc:  # e.g. no terminal to hand over in headless runs
            self.notify(f"cannot open a shell here: {exc}", title="Shell", severity="warning")
            return
        self.request_fetch("instances")

    # --------------------------------------------------------------------- copy

    def action_copy_ssh(self) -> None:
        """Copy the SSH command of the highlighted instance (the one `S` runs)."""
        instance = self.current_instance(running=False)
        if instance is None:
            return
        if instance.ssh is None:
            self.notify(
                f"{instance.name} has no SSH address yet ({instance.state}).", severity="warning"
            )
            return
        from vp_tui.remote.ssh import Remote

        failures: tuple[type[Exception], ...] = (*user_errors(), OSError)
        try:
            argv = Remote.for_instance(instance, self.engine.settings).ssh_command(tty=True)
        except failures as exc:
            self.notify(f"cannot build the SSH command: {exc}", severity="warning")
            return
        self.copy_text(shlex.join(argv), f"the SSH command of {instance.name}")

    def action_copy_instance_id(self) -> None:
        """Copy the id of the highlighted instance."""
        instance = self.current_instance(running=False)
        if instance is None:
            return
        self.copy_text(instance.instance_id, f"the instance id {instance.instance_id}")

    # ------------------------------------------------------------------ destroy

    def destroying(self, key: str) -> bool:
        """True when this dashboard destroys (or has destroyed) the instance ``key``."""
        return key in self.destroy_asked

    def action_destroy(self) -> None:
        """Show what destroying loses (running jobs, files not pulled, spend), then destroy
        the highlighted instance, or every marked one, and verify each is gone."""
        if not self.engine_up():
            return
        table = self.instances_table
        marked = table.marked_instances if table is not None else []
        instances = marked or [i for i in [self.current_instance(running=False)] if i is not None]
        if not instances:
            return
        now = self.clock()
        items = [
            Teardown(i.key, self._teardown_summary(i, now), CHECKING if i.ssh else "")
            for i in instances
        ]
        items = [
            item if item.files else Teardown(item.key, item.summary, _unreachable(i))
            for item, i in zip(items, instances, strict=True)
        ]
        if len(instances) == 1:
            title = "Destroy instance?"
        else:
            total = sum(hourly_rate(i) for i in instances)
            title = f"Destroy {len(instances)} instances ({format_price(total)}/h together)?"
        single = instances[0] if len(instances) == 1 else None
        screen = DestroyScreen(title, items, pull=single is not None and single.ssh is not None)
        stop = _CheckStop(self.stop_event, CHECK_SECONDS)
        by_key = {i.key: i for i in instances}

        def answer(choice: Choice | None) -> None:
            stop.set()  # the dialog is closed: its checks are no longer wanted
            if choice is None or self.stopping:
                return
            if choice == "pull" and single is not None:
                self.pull_then_destroy(single)
            elif len(instances) == 1:
                self.on_destroy_started(DestroyStarted(instances[0].key))
                self.destroy_instance(instances[0])
            else:
                for instance in instances:
                    self.on_destroy_started(DestroyStarted(instance.key))
                self.destroy_instances(instances)

        self.push_screen(screen, answer)
        for key in screen.still_checking():
            self.check_unpulled(by_key[key], id(screen), stop)
        self.set_timer(CHECK_SECONDS + 2, lambda: self._checks_overdue(screen))

    def _teardown_summary(self, instance: Instance, now: datetime) -> str:
        """What the destroy dialog says of one instance before its files are checked."""
        running = [
            j
            for j in self.engine.job_service.history(
                platform=instance.platform, instance_id=instance.instance_id
            )
            if not j.state.is_final
        ]
        jobs = ", ".join(f"{j.job_id} ({visible(j.command)})" for j in running) or "none"
        name = visible(instance.instance_id + (f" {instance.label}" if instance.label else ""))
        gpu = visible(f"{instance.gpu_count}x {instance.gpu or instance.gpu_raw or '?'}")
        return (
            f"{instance.platform} {name}\n"
            f"{gpu}, {format_price(hourly_rate(instance))}/h now, "
            f"spent so far {format_money(spent_so_far(instance, now))}\n"
            f"Running jobs: {jobs}"
        )

    @work(thread=True, group="preflight", exit_on_error=False)
    def check_unpulled(self, instance: Instance, dialog: int, stop: threading.Event) -> None:
        """Look over SSH for files written on the instance since the last pull."""
        try:
            files = self.engine.job_service.unpulled(instance, self.project, stop=stop)
        except Cancelled:
            if self.stop_event.is_set():
                return
            text = f"could not check: no answer within {CHECK_SECONDS:.0f}s"
        except Exception as exc:  # whatever it was, the dialog must not claim "none"
            text = f"could not check: {exc}"
        else:
            text = _files_text(files)
        self.post_message(FilesChecked(dialog, instance.key, text))

    def _destroy_screen(self, dialog: int) -> DestroyScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, DestroyScreen) and id(screen) == dialog:
                return screen
        return None

    def on_files_checked(self, message: FilesChecked) -> None:
        screen = self._destroy_screen(message.dialog)
        if screen is not None:
            screen.files_checked(message.key, message.text)

    def _checks_overdue(self, screen: DestroyScreen) -> None:
        """A check that has not answered in time is reported as not done."""
        if self._destroy_screen(id(screen)) is None:
            return
        for key in screen.still_checking():
            screen.files_checked(key, f"could not check: no answer within {CHECK_SECONDS:.0f}s")

    @work(thread=True, group="destroy", exit_on_error=False)
    def pull_then_destroy(self, instance: Instance) -> None:
        """Pull the project's files from the instance; destroy it only if that worked."""
        self.notify(f"pulling {instance.name} before destroying it…", title="Pull", timeout=3)
        # OSError: the project cannot be written into.
        failures: tuple[type[Exception], ...] = (*user_errors(), OSError)
        try:
            result = self.engine.job_service.pull(instance, self.project, stop=self.stop_event)
        except Cancelled:
            return
        except failures as exc:
            self.post_message(ActionFailed("Pull failed: instance kept", str(exc)))
            return
        if result.conflicts:
            self.post_message(
                ActionFailed(
                    "Pull left files on the instance: instance kept",
                    f"{conflicts_text(result.conflicts)}\nResolve them, or destroy with d, y.",
                )
            )
            return
        self.notify(f"{transfer_text(result, instance.name)}; destroying it…", title="Pull done")
        self.post_message(DestroyStarted(instance.key))
        self._destroy(instance)

    def on_destroy_started(self, message: DestroyStarted) -> None:
        from vp_tui.tui.widgets.instances_table import RowOverride

        self.destroy_asked.add(message.key)
        table = self.instances_table
        if table is not None:
            table.set_override(message.key, RowOverride(InstanceState.TERMINATING), self.clock())

    @work(thread=True, group="destroy", exit_on_error=False)
    def destroy_instance(self, instance: Instance) -> None:
        """Destroy and re-list until gone; an unverifiable destroy is an error."""
        self._destroy(instance)

    @work(thread=True, group="destroy", exit_on_error=False)
    def destroy_instances(self, instances: list[Instance]) -> None:
        """Destroy several instances at once, verify each, and sum up once."""
        with ThreadPoolExecutor(max_workers=min(8, len(instances))) as pool:
            errors = list(pool.map(lambda i: self._destroy(i, announce=False), instances))
        if self.stop_event.is_set():
            return
        gone = [i.key for i, error in zip(instances, errors, strict=True) if error is None]
        failed = {
            i.key: error for i, error in zip(instances, errors, strict=True) if error is not None
        }
        self.post_message(BulkDestroyFinished(gone, failed))

    def _destroy(self, instance: Instance, *, announce: bool = True) -> str | None:
        """Destroy one instance and verify it is gone; the error, or None when gone."""
        try:
            self.engine.fleet.destroy(
                instance.instance_id,
                instance.platform,
                timeout=self.destroy_timeout,
                stop=self.stop_event,
            )
        except Cancelled:
            return "cancelled: vp-tui is quitting"  # the next listing shows whether it went
        except user_errors() as exc:
            self.post_message(DestroyFinished(instance.key, str(exc), announce))
            return str(exc)
        store = self.engine.job_service.store
        store.mark_gone(instance.platform, instance.instance_id)
        store.remove_pending_launch(instance.platform, instance.instance_id)
        self.post_message(DestroyFinished(instance.key, None, announce))
        return None

    def on_destroy_finished(self, message: DestroyFinished) -> None:
        from vp_tui.tui.widgets.instances_table import RowOverride

        if message.error is not None:
            self.destroy_asked.discard(message.key)
        table = self.instances_table
        if table is None:
            return
        if message.error is None:
            table.forget(message.key)
            self.state.fleet = self.state.fleet.without(message.key)
            self.show_fleet()
            if message.announce:
                self.notify(f"{message.key} is gone (verified).", title="Destroyed")
        else:
            table.set_override(
                message.key, RowOverride(InstanceState.ERROR, "destroy unverified"), self.clock()
            )
            if message.announce:
                self.notify(
                    message.error, title="Destroy NOT verified", severity="error", timeout=15
                )

    def on_bulk_destroy_finished(self, message: BulkDestroyFinished) -> None:
        lines = [f"{key}: gone (verified)" for key in message.gone]
        lines += [f"{key}: NOT verified: {error}" for key, error in message.failed.items()]
        if message.failed:
            total = len(message.gone) + len(message.failed)
            title = f"{len(message.failed)} of {total} destroys NOT verified"
            self.notify("\n".join(lines), title=title, severity="error", timeout=30)
        else:
            self.notify("\n".join(lines), title=f"{len(message.gone)} destroyed", timeout=10)


CHECK_SECONDS = 10.0
"""How long the destroy dialog waits for the look at an instance's files."""


class _CheckStop(threading.Event):
    """Set when the dialog closes, when the app quits, or once ``seconds`` have passed."""

    def __init__(self, app_stop: threading.Event, seconds: float) -> None:
        super().__init__()
        self.app_stop = app_stop
        self.deadline = time.monotonic() + seconds

    def is_set(self) -> bool:
        return super().is_set() or self.app_stop.is_set() or time.monotonic() >= self.deadline

    def wait(self, timeout: float | None = None) -> bool:
        end = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            left = 0.05 if end is None else min(0.05, end - time.monotonic())
            if left <= 0:
                return False
            super().wait(left)
        return True


def _unreachable(instance: Instance) -> str:
    """The files line of an instance that cannot be looked at over SSH."""
    return f"could not check: it is {instance.state}, not reachable over SSH"


def _files_text(files: list[str], most: int = 6) -> str:
    """The files line: how many, a few by name."""
    if not files:
        return "none"
    shown = ", ".join(visible(name) for name in files[:most])
    more = f" … and {len(files) - most} more" if len(files) > most else ""
    return f"{len(files)}: {shown}{more}"
