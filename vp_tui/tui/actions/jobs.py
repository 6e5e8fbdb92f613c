"""Job actions: run a command, follow its output, list an instance's jobs, cancel, copy.

A run is push -> start -> stream -> pull in one thread worker; streaming
stops when the app quits (the job keeps running on the instance and is
re-attached on the next start). The log pane shows the job's local log file,
tailed off the UI thread (``tailing.py``).

Each event toasts once: a job's start says what its push moved, its end says
how it went together with what its pull brought back, and a job lost because
this dashboard destroyed its instance is told by the destroy (the destroy dialog
named the job before the user confirmed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.message import Message

from vp_tui.core.cancel import Cancelled
from vp_tui.core.models import Instance, InstanceState, Job, JobState
from vp_tui.core.money import format_duration, format_money
from vp_tui.core.sizes import describe_transfer
from vp_tui.core.text import visible
from vp_tui.tui.base import DashboardBase, user_errors
from vp_tui.tui.messages import ActionFailed, JobChanged
from vp_tui.tui.screens.confirm import ConfirmScreen
from vp_tui.tui.screens.run import RunRequest, RunScreen, RunTarget

if TYPE_CHECKING:
    from vp_tui.remote.sync import SyncProgress
    from vp_tui.services.jobs import RunOptions
    from vp_tui.tui.widgets.log_view import JobLog

log = logging.getLogger(__name__)


def target_label(instance: Instance) -> str:
    """How an instance reads in the run dialog's choice: id, label, platform, GPUs."""
    label = f" {instance.label}" if instance.label else ""
    gpu = instance.gpu or instance.gpu_raw or "?"
    return visible(
        f"{instance.instance_id}{label} ({instance.platform}, {instance.gpu_count}x {gpu})"
    )


class JobActions(DashboardBase):
    """Run, follow, list, cancel and copy jobs; the log pane shows the job in focus."""

    @dataclass
    class JobEnded(Message):
        """A followed job has ended (and its results were pulled, if asked): say how, once."""

        job: Job
        pulled: str = ""
        """What the pull after the job moved (``Pulled 2 files, 1.2 kB from …``), if any."""

    def __init__(self) -> None:
        super().__init__()
        self.job_hosts: dict[str, str] = {}
        """Job id -> key of the instance it runs on, for every job not yet ended."""

    # ---------------------------------------------------------------------- run

    def action_run_command(self) -> None:
        """Ask for a command and run it on the highlighted instance (or another running one)."""
        if not self.engine_up():
            return
        table = self.instances_table
        order = {key: n for n, key in enumerate(table.row_keys if table is not None else [])}
        running = sorted(
            (i for i in self.state.fleet.instances if i.state is InstanceState.RUNNING),
            key=lambda i: order.get(i.key, len(order)),
        )
        highlighted = table.current if table is not None else None
        if highlighted is not None and highlighted.state is InstanceState.RUNNING:
            first = highlighted
        elif running:
            first = running[0]
        else:
            # Says why: nothing selected, or the highlighted one is not running.
            found = self.current_instance()
            if found is None:
                return
            first = found
        from vp_tui.services.input_history import InputHistory

        history = InputHistory(self.engine.job_service.store, "command")
        targets = [RunTarget(i.key, target_label(i)) for i in running]
        if first.key not in {t.key for t in targets}:
            targets.insert(0, RunTarget(first.key, target_label(first)))

        def run(request: RunRequest | None) -> None:
            if request is None or self.stopping:
                return
            history.add(request.command)
            instance = self.state.fleet.find(request.target or first.key) or first
            if instance.state is not InstanceState.RUNNING:
                self.notify(
                    f"{instance.name} is {instance.state}; nothing was started.",
                    severity="warning",
                )
                return
            self.run_job(instance, request)

        self.push_screen(
            RunScreen(
                first.name,
                self.engine.settings.sync.remote_dir,
                str(self.project),
                targets=targets,
                target=first.key,
                history=history.recent(),
            ),
            run,
        )

    @work(thread=True, group="jobs", exit_on_error=False)
    def run_job(self, instance: Instance, request: RunRequest) -> None:
        """Push, start, stream, pull: the whole run, reporting through messages."""
        from vp_tui.services.jobs import RunOptions

        service = self.engine.job_service
        options = RunOptions(
            project=self.project,
            sync_up=request.push,
            pull=request.pull,
            workdir=request.workdir,
            env=request.env or None,
        )
        pushed: list[SyncProgress] = []

        def changed(job: Job) -> None:
            self.post_message(JobChanged(job))

        def progress(step: SyncProgress) -> None:
            if step.direction == "push":
                pushed[:] = [step]

        if request.env:
            # Names only: the values may be secrets.
            log.info("running with environment variables %s", ", ".join(sorted(request.env)))
        try:
            job = service.start(
                instance, request.command, options, on_state=changed, on_progress=progress
            )
        except Cancelled:
            return
        except user_errors() as exc:
            self.post_message(ActionFailed("Run failed", str(exc)))
            return
        self.post_message(JobChanged(job, focus=True))
        if request.push:
            files = pushed[-1].files if pushed else 0
            self.notify(
                describe_transfer("push", files, job.bytes_synced, instance.name),
                title=f"Job {job.job_id} started",
            )
        try:
            self._follow(job, options, instance.name)
        except Cancelled:
            return
        except user_errors() as exc:
            self.post_message(ActionFailed("Run", str(exc)))

    def _follow(self, job: Job, options: RunOptions | None, where: str = "") -> None:
        """Stream ``job`` to its end; then pull (when ``options`` ask) and report the end."""
        service = self.engine.job_service

        def changed(current: Job) -> None:
            self.post_message(JobChanged(current))

        job = service.follow(job, on_state=changed, stop=self.stop_event)
        pulled = ""
        if job.state.is_final and options is not None and not self.stop_event.is_set():
            job, result = service.finish(job, options, on_state=changed, stop=self.stop_event)
            if result is not None:
                from vp_tui.tui.actions.sync import conflicts_text, transfer_text

                pulled = transfer_text(result, where or job.instance_id)
                if result.conflicts:
                    self.notify(
                        conflicts_text(result.conflicts),
                        title="Pull: local files kept",
                        severity="warning",
                        timeout=15,
                    )
        if job.state.is_final:
            self.post_message(self.JobEnded(job, pulled))

    @work(thread=True, group="jobs", exit_on_error=False)
    def follow_job(self, job: Job) -> None:
        """Re-attach to a job started earlier (by this app, or by `vp run --detach`)."""
        try:
            self._follow(job, None)
        except Cancelled:
            return
        except user_errors() as exc:
            self.post_message(ActionFailed("Log", str(exc)))

    def start_following(self, job: Job) -> None:
        """Stream ``job`` unless a worker already does."""
        if job.job_id in self.state.following or job.state.is_final:
            return
        self.state.following.add(job.job_id)
        self._track(job)
        self.follow_job(job)

    def reattach_jobs(self, running: list[Job]) -> None:
        """Jobs still running from an earlier session resume streaming."""
        for job in running:
            self.start_following(job)
        if running:
            self.show_job(running[0])

    def on_job_changed(self, message: JobChanged) -> None:
        job = message.job
        if message.focus:
            self.state.following.add(job.job_id)
            self.state.pending_focus_job = job.job_id
        if self.state.pending_focus_job == job.job_id and job.state is JobState.RUNNING:
            self.state.pending_focus_job = None
            self.show_job(job)
            self.action_focus_pane("log")
        self._update_shown(job)
        self._track(job)
        if message.ended:
            self._ended(job, "")

    def on_job_actions_job_ended(self, message: JobActions.JobEnded) -> None:
        self._update_shown(message.job)
        self._ended(message.job, message.pulled)

    def _update_shown(self, job: Job) -> None:
        """The log pane's header follows the state of the job it shows."""
        shown = self.state.shown_job
        job_log = self.job_log
        if shown is not None and shown.job_id == job.job_id and job_log is not None:
            self.state.shown_job = job
            job_log.update_job(
                state=str(job.state), elapsed=job.duration_seconds, exit_code=job.exit_code
            )

    def _ended(self, job: Job, pulled: str) -> None:
        """A job is over: no longer followed, no longer marks its instance, said once."""
        self.state.following.discard(job.job_id)
        self._track(job)
        self._announce_end(job, pulled)

    def _track(self, job: Job) -> None:
        """Keep ``job_hosts`` (and the instances table's job marks) up to date."""
        key = f"{job.platform}:{job.instance_id}"
        before = set(self.job_hosts.values())
        if job.state.is_final:
            self.job_hosts.pop(job.job_id, None)
        else:
            self.job_hosts[job.job_id] = key
        keys = set(self.job_hosts.values())
        if keys != before:
            self.mark_job_instances()

    def mark_job_instances(self) -> None:
        """Tell the instances table which instances run a job now."""
        table = self.instances_table
        if table is not None:
            table.set_job_instances(set(self.job_hosts.values()))

    def _announce_end(self, job: Job, pulled: str = "") -> None:
        if job.state is JobState.LOST:
            if self.destroying(f"{job.platform}:{job.instance_id}"):
                return  # the destroy says it; the dialog named this job before it began
            self.notify(
                f"Job {job.job_id} lost: {job.error or 'instance gone'}", severity="warning"
            )
        elif job.state.is_final:
            lines = [
                job.command,
                f"exit code {job.exit_code}, {format_duration(job.duration_seconds)}, "
                f"~{format_money(job.estimated_cost)}",
            ]
            if pulled:
                lines.append(pulled)
            self.notify(
                "\n".join(lines),
                title=f"Job {job.state}",
                severity="information" if job.state is JobState.SUCCEEDED else "warning",
            )

    def destroying(self, key: str) -> bool:
        """True when this dashboard destroys (or has destroyed) the instance ``key``
        (``actions.instances`` keeps track; nothing is being destroyed without it)."""
        return False

    # -------------------------------------------------------------------- show

    def where(self, job: Job) -> str:
        """The job's instance and platform in words (``12345 on vast``)."""
        instance = self.state.fleet.find(f"{job.platform}:{job.instance_id}")
        name = instance.name if instance is not None else job.instance_id
        return f"{name} on {job.platform}"

    def show_job(self, job: Job) -> None:
        """Show a job in the log pane: what is on disk, then what arrives."""
        job_log = self.job_log
        if job_log is None:
            return
        self.state.shown_job = job
        self.state.log_generation += 1
        log_path = job.log_path or str(self.engine.job_service.log_path(job.job_id))
        job_log.show_job(
            job.job_id,
            job.command,
            log_path=log_path,
            state=str(job.state),
            elapsed=job.duration_seconds,
            exit_code=job.exit_code,
            where=self.where(job),
        )
        self.tail_log(job.job_id, self.state.log_generation, Path(log_path))

    def tick_job(self) -> None:
        """The shown job's elapsed time moves with the clock while it runs."""
        job = self.state.shown_job
        job_log = self.job_log
        if job is not None and not job.state.is_final and job_log is not None:
            job_log.update_job(state=str(job.state), elapsed=job.duration_seconds, exit_code=None)

    def action_instance_jobs(self) -> None:
        """List the highlighted instance's jobs; pick one to show its log."""
        from vp_tui.tui.screens.jobs import JobsScreen

        instance = self.current_instance(running=False)
        if instance is None:
            return
        jobs = self.engine.job_service.history(
            platform=instance.platform, instance_id=instance.instance_id
        )

        def chosen(job: Job | None) -> None:
            if job is None:
                return
            self.show_job(job)
            self.start_following(job)
            self.action_focus_pane("log")

        self.push_screen(JobsScreen(f"Jobs on {instance.name}", jobs), chosen)

    # -------------------------------------------------------------------- copy

    def action_copy_job_id(self) -> None:
        """Copy the id of the job in the log pane to the clipboard."""
        job_log = self.job_log
        job_id = job_log.job_id if job_log is not None else None
        if not job_id:
            self.notify("No job in the log pane to copy.", severity="warning")
            return
        self.copy_text(job_id, f"the job id {job_id}")

    # ------------------------------------------------------------------ cancel

    def on_job_log_cancel_requested(self, event: JobLog.CancelRequested) -> None:
        self.action_cancel_job()

    def action_cancel_job(self) -> None:
        """Stop the job shown in the log pane (after a confirmation)."""
        job = self.state.shown_job
        if job is None or job.state.is_final:
            self.notify("No running job in the log pane.", severity="warning")
            return

        def answer(yes: bool | None) -> None:
            if yes and not self.stopping:
                # A followed job's end is said by its follower; otherwise by the cancel.
                self.cancel_job(job, announce=job.job_id not in self.state.following)

        self.push_screen(
            ConfirmScreen(
                "Cancel job?",
                f"{job.job_id}: {job.command}\nIts whole process group on the instance is stopped.",
                yes="Cancel the job",
                no="Keep it running",
            ),
            answer,
        )

    @work(thread=True, group="cancel", exit_on_error=False)
    def cancel_job(self, job: Job, announce: bool = False) -> None:
        """Stop a job on its instance; ``announce`` says so when no follower will."""
        try:
            canceled = self.engine.job_service.cancel(job)
        except user_errors() as exc:
            self.post_message(ActionFailed("Cancel failed", str(exc)))
            return
        self.post_message(JobChanged(canceled, ended=announce))

    def action_toggle_log_follow(self) -> None:
        """Follow the end of the log, or stop following."""
        job_log = self.job_log
        if job_log is not None:
            job_log.action_toggle_follow()

    def action_toggle_log_wrap(self) -> None:
        """Wrap long lines in the log, or not."""
        job_log = self.job_log
        if job_log is not None:
            job_log.action_toggle_wrap()

    def on_action_failed(self, message: ActionFailed) -> None:
        self.notify(message.text, title=message.title, severity="error", timeout=10)
