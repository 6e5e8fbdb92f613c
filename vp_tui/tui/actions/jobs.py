"""Job actions: run a command, follow its output, list an instance's jobs, cancel.

A run is push -> start -> stream -> pull in one thread worker; streaming
stops when the app quits (the job keeps running on the instance and is
re-attached on the next start). The log pane shows the job's local log file,
tailed off the UI thread (``tailing.py``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work

from vp_tui.core.cancel import Cancelled
from vp_tui.core.models import Instance, Job, JobState
from vp_tui.core.money import format_duration, format_money
from vp_tui.tui.base import DashboardBase, user_errors
from vp_tui.tui.messages import ActionFailed, JobChanged
from vp_tui.tui.screens.confirm import ConfirmScreen
from vp_tui.tui.screens.run import RunRequest, RunScreen

if TYPE_CHECKING:
    from vp_tui.services.jobs import RunOptions
    from vp_tui.tui.widgets.log_view import JobLog

log = logging.getLogger(__name__)


class JobActions(DashboardBase):
    """Run, follow, list and cancel jobs; the log pane shows the job in focus."""

    # ---------------------------------------------------------------------- run

    def action_run_command(self) -> None:
        """Ask for a command and run it on the highlighted instance."""
        instance = self.current_instance()
        if instance is None:
            return

        def run(request: RunRequest | None) -> None:
            if request is not None and not self.stopping:
                self.run_job(instance, request)

        self.push_screen(
            RunScreen(instance.name, self.engine.settings.sync.remote_dir, str(self.project)), run
        )

    @work(thread=True, group="jobs", exit_on_error=False)
    def run_job(self, instance: Instance, request: RunRequest) -> None:
        """Push, start, stream, pull: the whole run, reporting through messages."""
        from vp_tui.services.jobs import RunOptions

        service = self.engine.job_service
        options = RunOptions(
            project=self.project, sync_up=request.push, pull=request.pull, workdir=request.workdir
        )

        def changed(job: Job) -> None:
            self.post_message(JobChanged(job))

        try:
            job = service.start(instance, request.command, options, on_state=changed)
        except Cancelled:
            return
        except user_errors() as exc:
            self.post_message(ActionFailed("Run failed", str(exc)))
            return
        self.post_message(JobChanged(job, focus=True))
        try:
            self._follow(job, options)
        except Cancelled:
            return
        except user_errors() as exc:
            self.post_message(ActionFailed("Run", str(exc)))

    def _follow(self, job: Job, options: RunOptions | None) -> None:
        service = self.engine.job_service

        def changed(current: Job) -> None:
            self.post_message(JobChanged(current))

        job = service.follow(job, on_state=changed, stop=self.stop_event)
        if job.state.is_final and options is not None and not self.stop_event.is_set():
            job, result = service.finish(job, options, on_state=changed, stop=self.stop_event)
            if result is not None:
                self.notify(f"Pulled {result.files} files, {result.bytes:,} bytes", title="Pull")
                if result.conflicts:
                    from vp_tui.tui.actions.sync import conflicts_text

                    self.notify(
                        conflicts_text(result.conflicts),
                        title="Pull: local files kept",
                        severity="warning",
                        timeout=15,
                    )
        if job.state.is_final:
            self.post_message(JobChanged(job, ended=True))

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
        shown = self.state.shown_job
        job_log = self.job_log
        if shown is not None and shown.job_id == job.job_id and job_log is not None:
            self.state.shown_job = job
            job_log.update_job(
                state=str(job.state), elapsed=job.duration_seconds, exit_code=job.exit_code
            )
        if message.ended:
            self.state.following.discard(job.job_id)
            self._announce_end(job)

    def _announce_end(self, job: Job) -> None:
        if job.state is JobState.LOST:
            self.notify(
                f"Job {job.job_id} lost: {job.error or 'instance gone'}", severity="warning"
            )
        elif job.state.is_final:
            self.notify(
                f"{job.command}\nexit code {job.exit_code}, "
                f"{format_duration(job.duration_seconds)}, ~{format_money(job.estimated_cost)}",
                title=f"Job {job.state}",
                severity="information" if job.state is JobState.SUCCEEDED else "warning",
            )

    # -------------------------------------------------------------------- show

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
        )
        job_log.border_title = f"4 Log: {job.job_id}"
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
                self.cancel_job(job)

        self.push_screen(
            ConfirmScreen(
                "Cancel job?",
                f"{job.job_id}: {job.command}\nIts whole process group on the instance is stopped.",
                yes="Cancel job",
            ),
            answer,
        )

    @work(thread=True, group="cancel", exit_on_error=False)
    def cancel_job(self, job: Job) -> None:
        """Stop a job on its instance."""
        try:
            canceled = self.engine.job_service.cancel(job)
        except user_errors() as exc:
            self.post_message(ActionFailed("Cancel failed", str(exc)))
            return
        self.post_message(JobChanged(canceled))

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
