"""Jobs on instances: push the project, start the command detached, stream its output,
pull the results, and remember all of it.

A job keeps running on the instance when the connection drops or vp exits;
``follow`` (also used to re-attach) resumes from the last byte received. Every
chunk of output is appended to a local log file as it arrives, and the byte
offset to resume from is that file's size, so nothing is lost or repeated.
"""

from __future__ import annotations

import shlex
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vp_tui import locations
from vp_tui.config import Settings
from vp_tui.core import cancel
from vp_tui.core.cancel import Cancelled
from vp_tui.core.models import Instance, InstanceState, Job, JobState, PlatformName, utcnow
from vp_tui.platforms.base import NotFound, PlatformError
from vp_tui.remote.keys import RemoteError
from vp_tui.remote.ssh import ConnectionLost, JobNotFound, Remote, remote_path_word
from vp_tui.remote.sync import DaemonTarget, Syncer, SyncProgress, SyncResult
from vp_tui.services.fleet import Fleet
from vp_tui.services.store import Store

OutputCallback = Callable[[bytes], None]
JobCallback = Callable[[Job], None]
ProgressCallback = Callable[[SyncProgress], None]


class JobError(Exception):
    """A job could not be started, followed or finished; the message says why."""


def new_job_id() -> str:
    """A short id that is unique enough and safe in paths and shell words."""
    return uuid.uuid4().hex[:12]


def shell_command(argv: Sequence[str]) -> str:
    """The command line for ``vp run -- ARGS``: one argument is taken as shell text
    (``"apt update && apt install -y rsync"``), several are quoted word by word."""
    if len(argv) == 1:
        return argv[0]
    return shlex.join(argv)


@dataclass
class RunOptions:
    """How to run one job."""

    project: Path
    sync_up: bool = True
    pull: bool = True
    pull_paths: tuple[str, ...] = ()
    pull_to: Path | None = None
    workdir: str | None = None
    """Where the command runs on the instance; default the sync remote dir."""
    env: dict[str, str] | None = None
    delete: bool = False
    """Delete remote files that are not in the project when pushing."""


class Jobs:
    """Starts, follows, cancels and remembers jobs."""

    def __init__(
        self,
        settings: Settings,
        fleet: Fleet,
        store: Store,
        *,
        logs_dir: Path | None = None,
        remote_factory: Callable[[Instance, Settings], Remote] = Remote.for_instance,
    ) -> None:
        self.settings = settings
        self.fleet = fleet
        self.store = store
        self.logs_dir = logs_dir or locations.data_dir() / "jobs"
        self._remote_factory = remote_factory
        self._remotes: dict[str, Remote] = {}
        self._syncers: dict[tuple[int, str], Syncer] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- plumbing

    def remote(
        self, instance: Instance, *, fresh: bool = False, stop: threading.Event | None = None
    ) -> Remote:
        """A connected Remote for ``instance`` (shared; one per endpoint); ``stop`` cancels
        the connection attempts."""
        if instance.ssh is None:
            raise JobError(
                f"{instance.platform} instance {instance.instance_id} is not reachable yet "
                f"(state {instance.state})"
            )
        key = f"{instance.key}@{instance.ssh}"
        with self._lock:
            remote = self._remotes.get(key)
            if remote is None or fresh:
                if remote is not None:
                    remote.close()
                remote = self._remote_factory(instance, self.settings)
                self._remotes[key] = remote
        try:
            return remote.connect(
                timeout=max(30.0, self.settings.ssh.connect_timeout * 3), stop=stop
            )
        except RemoteError as exc:
            raise JobError(str(exc)) from exc

    def close(self) -> None:
        """Close every SSH connection."""
        with self._lock:
            remotes, self._remotes = list(self._remotes.values()), {}
        for remote in remotes:
            remote.close()

    def syncer(
        self,
        instance: Instance,
        project: Path,
        direction: str = "push",
        stop: threading.Event | None = None,
    ) -> Syncer:
        """A Syncer between ``project`` and the instance (kept, so what it learnt about the
        instance, such as whether rsync is there, is not asked again).

        On platforms with a native transfer endpoint (Vast's copy endpoint, as `vastai
        copy` uses), rsync goes there first and falls back to plain SSH.
        """
        remote = self.remote(instance, stop=stop)
        key = (id(remote), f"{project}|{direction}")
        with self._lock:
            syncer = self._syncers.get(key)
        if syncer is None or syncer.remote is not remote:
            target = self._daemon_target(instance, direction)
            syncer = Syncer.from_settings(remote, project, self.settings, daemon_target=target)
            with self._lock:
                self._syncers[key] = syncer
        return syncer

    def _daemon_target(self, instance: Instance, direction: str) -> DaemonTarget | None:
        platform = self.fleet.platforms.get(instance.platform)
        get = getattr(platform, "transfer_endpoint", None)
        if get is None:
            return None
        try:
            endpoint = get(instance.instance_id, direction, self.settings.sync.remote_dir)
            return DaemonTarget.from_endpoint(endpoint) if endpoint is not None else None
        except (PlatformError, ValueError):
            return None  # the plain SSH path still works

    def log_path(self, job_id: str) -> Path:
        """Where the local copy of a job's output lives."""
        return self.logs_dir / f"{job_id}.log"

    def _save(self, job: Job, on_state: JobCallback | None) -> Job:
        self.store.save_job(job)
        if on_state is not None:
            on_state(job)
        return job

    # ------------------------------------------------------------------- sync

    def push(
        self,
        instance: Instance,
        project: Path,
        *,
        delete: bool = False,
        progress: ProgressCallback | None = None,
        stop: threading.Event | None = None,
    ) -> SyncResult:
        """Send the project to the instance; ``stop`` cancels it (``Cancelled``)."""
        try:
            return self.syncer(instance, project, "push", stop).push(
                delete=delete, progress=progress, stop=stop
            )
        except RemoteError as exc:
            raise JobError(str(exc)) from exc

    def pull(
        self,
        instance: Instance,
        project: Path,
        paths: Sequence[str] = (),
        *,
        dest: Path | None = None,
        progress: ProgressCallback | None = None,
        stop: threading.Event | None = None,
    ) -> SyncResult:
        """Bring files back from the instance (never deleting local files); ``stop`` cancels
        it (``Cancelled``)."""
        try:
            return self.syncer(instance, project, "pull", stop).pull(
                paths, dest=dest, progress=progress, stop=stop
            )
        except RemoteError as exc:
            raise JobError(str(exc)) from exc

    # ------------------------------------------------------------------- jobs

    def start(
        self,
        instance: Instance,
        command: str,
        options: RunOptions,
        *,
        on_state: JobCallback | None = None,
        on_progress: ProgressCallback | None = None,
        stop: threading.Event | None = None,
    ) -> Job:
        """Push (if asked) and start ``command`` detached; returns the running job.

        ``stop`` cancels the push (``Cancelled``; the job is then recorded as failed)."""
        if instance.state is not InstanceState.RUNNING:
            raise JobError(
                f"{instance.platform} instance {instance.instance_id} is {instance.state}, "
                "not running"
            )
        job_id = new_job_id()
        workdir = options.workdir or self.settings.sync.remote_dir
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_path(job_id)
        log_path.touch()
        job = Job(
            job_id=job_id,
            platform=instance.platform,
            instance_id=instance.instance_id,
            command=command,
            workdir=workdir,
            log_path=str(log_path),
            price_per_hour=instance.price_per_hour,
        )
        self._save(job, on_state)
        try:
            if options.sync_up:
                job = self._save(job.model_copy(update={"state": JobState.SYNCING}), on_state)
                result = self.push(
                    instance,
                    options.project,
                    delete=options.delete,
                    progress=on_progress,
                    stop=stop,
                )
                job = job.model_copy(update={"bytes_synced": result.bytes})
            remote = self.remote(instance, stop=stop)
            if not options.sync_up:
                remote.run(f"mkdir -p {remote_path_word(workdir)}")
            remote.start_job(job_id, command, workdir, options.env)
        except (JobError, RemoteError, ValueError, Cancelled) as exc:
            self._save(
                job.model_copy(
                    update={"state": JobState.FAILED, "error": str(exc), "finished_at": utcnow()}
                ),
                on_state,
            )
            if isinstance(exc, Cancelled):
                raise
            raise JobError(str(exc)) from exc
        return self._save(
            job.model_copy(update={"state": JobState.RUNNING, "started_at": utcnow()}), on_state
        )

    def _instance_of(self, job: Job) -> Instance | None:
        try:
            return self.fleet.find(job.instance_id, job.platform)
        except NotFound:
            return None

    def follow(
        self,
        job: Job,
        *,
        on_output: OutputCallback | None = None,
        on_state: JobCallback | None = None,
        stop: threading.Event | None = None,
        reconnect_timeout: float = 120.0,
        replay: bool = False,
    ) -> Job:
        """Stream a job's output until it ends (or ``stop`` is set); re-attaches after drops.

        New output is appended to the job's local log and passed to ``on_output``;
        with ``replay`` the part already on disk is passed first. Returns the job as
        it stands: final, or still running when stopped.
        """
        log_path = Path(job.log_path or self.log_path(job.job_id))
        log_path.parent.mkdir(parents=True, exist_ok=True)
        if replay and on_output is not None and log_path.exists():
            with log_path.open("rb") as old:
                while chunk := old.read(1 << 20):
                    on_output(chunk)
        if job.state.is_final:
            return job
        deadline: float | None = None
        with log_path.open("ab") as log:
            while True:
                if stop is not None and stop.is_set():
                    return self.store.job(job.job_id) or job
                instance = self._instance_of(job)
                if instance is None or instance.state is InstanceState.TERMINATED:
                    return self._end(job, JobState.LOST, None, on_state, "the instance is gone")
                try:
                    remote = self.remote(instance, stop=stop)
                    stream = remote.stream_job(job.job_id, log.tell())
                    for chunk in stream:
                        log.write(chunk)
                        log.flush()
                        if on_output is not None:
                            on_output(chunk)
                        if stop is not None and stop.is_set():
                            stream.close()
                            return self._checkpoint(job, log.tell())
                    status = stream.status
                except Cancelled:
                    return self._checkpoint(job, log.tell())
                except JobNotFound:
                    return self._end(job, JobState.LOST, None, on_state, "the job's files are gone")
                except (ConnectionLost, JobError, RemoteError, PlatformError) as exc:
                    job = self._checkpoint(job, log.tell())
                    now = time.monotonic()
                    deadline = deadline or now + reconnect_timeout
                    if now > deadline:
                        raise JobError(
                            f"lost the connection to job {job.job_id} and could not re-attach: "
                            f"{exc}; it may still be running: `vp logs {job.job_id} --follow`"
                        ) from exc
                    with self._lock:
                        for remote_key in [k for k in self._remotes if k.startswith(instance.key)]:
                            self._remotes.pop(remote_key).close()
                    try:
                        cancel.pause(1.0, stop)
                    except Cancelled:
                        return self._checkpoint(job, log.tell())
                    continue
                deadline = None
                if status is None or not status.ended:
                    continue
                if status.state == "lost":
                    return self._end(
                        job,
                        JobState.FAILED,
                        None,
                        on_state,
                        "the job's process vanished without an exit code (killed or rebooted)",
                    )
                state = (
                    JobState.CANCELED
                    if status.canceled
                    else JobState.SUCCEEDED
                    if status.exit_code == 0
                    else JobState.FAILED
                )
                job = self._checkpoint(job, log.tell())
                return self._end(job, state, status.exit_code, on_state, None)

    def _checkpoint(self, job: Job, offset: int) -> Job:
        current = self.store.job(job.job_id) or job
        updated = current.model_copy(update={"log_offset": offset})
        self.store.save_job(updated)
        return updated

    def _end(
        self,
        job: Job,
        state: JobState,
        exit_code: int | None,
        on_state: JobCallback | None,
        error: str | None,
    ) -> Job:
        current = self.store.job(job.job_id) or job
        if current.state is JobState.CANCELED:
            state = JobState.CANCELED
        return self._save(
            current.model_copy(
                update={
                    "state": state,
                    "exit_code": exit_code,
                    "finished_at": current.finished_at or utcnow(),
                    "error": error,
                }
            ),
            on_state,
        )

    def finish(
        self,
        job: Job,
        options: RunOptions,
        *,
        on_state: JobCallback | None = None,
        on_progress: ProgressCallback | None = None,
        stop: threading.Event | None = None,
    ) -> tuple[Job, SyncResult | None]:
        """Pull results after a job ended (if asked): the last step of ``launch``."""
        if not options.pull or job.state is JobState.LOST:
            return job, None
        instance = self._instance_of(job)
        if instance is None:
            return job, None
        final_state = job.state
        job = self._save(job.model_copy(update={"state": JobState.PULLING}), on_state)
        try:
            result = self.pull(
                instance,
                options.project,
                options.pull_paths,
                dest=options.pull_to,
                progress=on_progress,
                stop=stop,
            )
        finally:
            job = self._save(job.model_copy(update={"state": final_state}), on_state)
        return job, result

    def launch(
        self,
        instance: Instance,
        command: str,
        options: RunOptions,
        *,
        on_output: OutputCallback | None = None,
        on_state: JobCallback | None = None,
        on_progress: ProgressCallback | None = None,
        stop: threading.Event | None = None,
    ) -> Job:
        """Push -> start -> stream -> pull. Returns the finished job (or the running one
        when ``stop`` was set: it keeps running on the instance)."""
        job = self.start(
            instance, command, options, on_state=on_state, on_progress=on_progress, stop=stop
        )
        job = self.follow(job, on_output=on_output, on_state=on_state, stop=stop)
        if job.state.is_final:
            job, _ = self.finish(
                job, options, on_state=on_state, on_progress=on_progress, stop=stop
            )
        return job

    def cancel(self, job: Job, grace: float = 5.0) -> Job:
        """Stop a running job: its whole process group on the instance."""
        if job.state.is_final:
            return job
        instance = self._instance_of(job)
        if instance is None:
            return self._end(job, JobState.LOST, None, None, "the instance is gone")
        try:
            status = self.remote(instance).cancel_job(job.job_id, grace)
        except RemoteError as exc:
            raise JobError(str(exc)) from exc
        current = self.store.job(job.job_id) or job
        return self._save(
            current.model_copy(
                update={
                    "state": JobState.CANCELED,
                    "exit_code": status.exit_code,
                    "finished_at": utcnow(),
                }
            ),
            None,
        )

    def attach(self, job: Job, **kwargs: object) -> Job:
        """Re-attach to a job started earlier (by this or another vp)."""
        return self.follow(job, **kwargs)  # type: ignore[arg-type]

    def history(
        self, *, platform: PlatformName | None = None, instance_id: str | None = None
    ) -> list[Job]:
        """Jobs, newest first."""
        return self.store.jobs(platform=platform, instance_id=instance_id)

    def get(self, job_id: str) -> Job:
        """One job by id or unique prefix."""
        job = self.store.job(job_id)
        if job is None:
            raise JobError(f"no job {job_id!r} (see `vp jobs`)")
        return job

    def running(self) -> list[Job]:
        """Jobs that have not ended (to re-attach on start-up)."""
        return self.store.jobs(states=[JobState.PENDING, JobState.SYNCING, JobState.RUNNING])
