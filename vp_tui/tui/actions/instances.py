"""Instance actions: rent an offer, stop/start, shell, destroy with verification.

Each blocking step runs in a thread worker that reports by message; every
wait takes the app's stop event, so quitting never waits on a booting
instance. A launch is written to the store as soon as the platform has
created it and removed once it is reachable (or has failed): one still
booting when the app quits is picked up again on the next start.
"""

from __future__ import annotations

import logging
import subprocess
from typing import TYPE_CHECKING

from textual import work

from vp_tui.core.cancel import Cancelled
from vp_tui.core.costs import hourly_rate, spent_so_far
from vp_tui.core.models import Instance, InstanceState
from vp_tui.core.money import format_money, format_price
from vp_tui.tui.base import DashboardBase, user_errors
from vp_tui.tui.messages import (
    ActionFailed,
    DestroyFinished,
    InstanceProgress,
    InstanceReady,
    RefreshWanted,
    ShellReady,
)
from vp_tui.tui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from vp_tui.core.models import LaunchSpec, Offer

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
"""How often a launch in the dashboard asks the platform whether it is up yet."""


class InstanceActions(DashboardBase):
    """Create, stop/start, shell and destroy, for the highlighted offer or instance."""

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
        """The create dialog for ``offer``, prefilled from the settings."""
        from vp_tui.tui.screens.create import CreateDefaults, CreateScreen

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
        self._wait_until_ready(instance)

    @work(thread=True, group="create", exit_on_error=False)
    def resume_launch(self, instance: Instance) -> None:
        """Wait again for a launch that was still booting when the app last quit."""
        self._wait_until_ready(instance)

    def _wait_until_ready(self, instance: Instance) -> None:
        fleet = self.engine.fleet
        store = self.engine.job_service.store

        def progress(current: Instance, text: str) -> None:
            self.post_message(InstanceProgress(current, text))

        try:
            ready = fleet.wait_ready(
                instance, poll_seconds=POLL_SECONDS, on_progress=progress, stop=self.stop_event
            )
        except Cancelled:
            return  # quitting: the launch stays in the store and resumes next time
        except user_errors() as exc:
            store.remove_pending_launch(instance.platform, instance.instance_id)
            self.post_message(
                ActionFailed(
                    "Create failed",
                    f"{exc}\n{instance.platform} instance {instance.instance_id} may still exist "
                    "and bill: check it in the instances pane.",
                )
            )
            return
        store.remove_pending_launch(instance.platform, instance.instance_id)
        self.post_message(InstanceReady(ready))

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

    # ------------------------------------------------------------------ destroy

    def action_destroy(self) -> None:
        """Confirm, then destroy the highlighted instance and verify it is gone."""
        instance = self.current_instance(running=False)
        if instance is None:
            return
        now = self.clock()
        running = [
            j
            for j in self.engine.job_service.history(
                platform=instance.platform, instance_id=instance.instance_id
            )
            if not j.state.is_final
        ]
        jobs = ", ".join(f"{j.job_id} ({j.command})" for j in running) or "none"
        body = (
            f"{instance.platform} {instance.instance_id}"
            f"{' ' + instance.label if instance.label else ''}\n"
            f"{instance.gpu_count}x {instance.gpu or instance.gpu_raw}, "
            f"{format_price(hourly_rate(instance))}/h now, "
            f"spent so far {format_money(spent_so_far(instance, now))}\n"
            f"Running jobs: {jobs}\n\nIts disk and everything on it is lost."
        )

        def answer(yes: bool | None) -> None:
            table = self.instances_table
            if yes and table is not None and not self.stopping:
                from vp_tui.tui.widgets.instances_table import RowOverride

                table.set_override(
                    instance.key, RowOverride(InstanceState.TERMINATING), self.clock()
                )
                self.destroy_instance(instance)

        self.push_screen(ConfirmScreen("Destroy instance?", body, yes="Destroy"), answer)

    @work(thread=True, group="destroy", exit_on_error=False)
    def destroy_instance(self, instance: Instance) -> None:
        """Destroy and re-list until gone; an unverifiable destroy is an error."""
        try:
            self.engine.fleet.destroy(
                instance.instance_id,
                instance.platform,
                timeout=self.destroy_timeout,
                stop=self.stop_event,
            )
        except Cancelled:
            return  # quitting: the next listing shows whether it went
        except user_errors() as exc:
            self.post_message(DestroyFinished(instance.key, str(exc)))
            return
        store = self.engine.job_service.store
        store.mark_gone(instance.platform, instance.instance_id)
        store.remove_pending_launch(instance.platform, instance.instance_id)
        self.post_message(DestroyFinished(instance.key, None))

    def on_destroy_finished(self, message: DestroyFinished) -> None:
        from vp_tui.tui.widgets.instances_table import RowOverride

        table = self.instances_table
        if table is None:
            return
        if message.error is None:
            table.forget(message.key)
            self.state.fleet = self.state.fleet.without(message.key)
            self.show_fleet()
            self.notify(f"{message.key} is gone (verified).", title="Destroyed")
        else:
            table.set_override(
                message.key, RowOverride(InstanceState.ERROR, "destroy unverified"), self.clock()
            )
            self.notify(message.error, title="Destroy NOT verified", severity="error", timeout=15)
