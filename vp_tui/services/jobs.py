"""Jobs on instances: push the project, start the command detached, stream its output,
pull the results, and remember all of it.

A job keeps running on the instance when the connection drops or vp exits;
``follow`` (also used to re-attach) resumes from the last byte received. Every
chunk of output is appended to a local log file as it arrives, and the byte
offset to resume from is that file's size, so nothing is lost or repeated.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from vp_tui import locations
from vp_tui.config import Settings
from vp_tui.core import cancel
from vp_tui.core.cancel import Cancelled
from vp_tui.core.models import Instance, InstanceState, Job, JobState, PlatformName, utcnow
from vp_tui.platforms.base import NotFound, PlatformError
from vp_tui.remote.keys import RemoteError
from vp_tui.remote.ssh import ConnectionLost, JobNotFound, Remote, job_dir, remote_path_word
from vp_tui.remote.sync import DaemonTarget, Syncer, SyncProgress, SyncResult
from vp_tui.services.fleet import Fleet
from vp_tui.services.store import Store

OutputCallback = Callable[[bytes], None]
JobCallback = Callable[[Job], None]
ProgressCallback = Callable[[SyncProgress], None]


class JobError(Exception):
    """A job could not be started, followed or finished; the message says why."""


def _try_lock(log: BinaryIO) -> bool:
    """Take the exclusive writer's lock on a job's log file, without waiting."""
    try:
        fcntl.flock(log.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _size(log: BinaryIO) -> int:
    """How many bytes the log file holds: the offset to resume the job's output from."""
    log.flush()
    return os.fstat(log.fileno()).st_size


def _pass_on(tail: BinaryIO, on_output: OutputCallback | None) -> None:
    """Read what was appended to a log since the last read and hand it to ``on_output``."""
    while chunk := tail.read(1 << 20):
        if on_output is not None:
            on_output(chunk)


def _pull_command(job: Job, options: RunOptions) -> str:
    """The ``vp sync pull`` command that brings back what ``options`` would have pulled."""
    words = ["vp", "sync", "pull", "--platform", job.platform, "--instance-id", job.instance_id]
    if options.project != Path.cwd():
        words += ["--project", str(options.project)]
    if options.pull_to is not None:
        words += ["--pull-to", str(options.pull_to)]
    words += list(options.pull_paths)
    return shlex.join(words)


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
        lookup_timeout: float = 30.0,
    ) -> None:
        self.settings = settings
        self.fleet = fleet
        self.store = store
        self.logs_dir = logs_dir or locations.data_dir() / "jobs"
        self._remote_factory = remote_factory
        self._remotes: dict[str, Remote] = {}
        self._authorized: set[str] = set()
        """Instances vp-tui's key was attached to in this process (Vast ``attach ssh``)."""
        self._syncers: dict[tuple[int, str], Syncer] = {}
        self._lock = threading.Lock()
        self.lookup_timeout = lookup_timeout
        """How long a failing lookup of a job's instance is retried before it is reported."""
        self.lock_poll_seconds = 0.2
        """How often a second follower of a job checks whether it can take over the log."""

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
            first = instance.key not in self._authorized
            self._authorized.add(instance.key)
        if first:
            # An instance made elsewhere (or before vp-tui's key was registered) does not
            # have the key: account keys reach an instance only when it is created.
            self.fleet.authorize(instance)
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

    def unpulled(
        self, instance: Instance, project: Path, *, stop: threading.Event | None = None
    ) -> list[str]:
        """Files written on the instance since the last push or pull with ``project``
        (see :meth:`Syncer.unpulled`); ``stop`` cancels the look (``Cancelled``)."""
        try:
            return self.syncer(instance, project, "pull", stop).unpulled(stop=stop)
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
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_path(job_id)
        with log_path.open("ab") as log:
            # Held until the job runs: a follower meanwhile waits instead of finding
            # no job on the instance and calling it never started.
            _try_lock(log)
            return self._start(
                instance, command, options, job_id, log_path, on_state, on_progress, stop
            )

    def _start(
        self,
        instance: Instance,
        command: str,
        options: RunOptions,
        job_id: str,
        log_path: Path,
        on_state: JobCallback | None,
        on_progress: ProgressCallback | None,
        stop: threading.Event | None,
    ) -> Job:
        """The body of ``start``, run while the job's log is locked."""
        workdir = options.workdir or self.settings.sync.remote_dir
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

    def _instance_of(
        self, job: Job, *, stop: threading.Event | None = None, timeout: float | None = None
    ) -> Instance | None:
        """The job's instance, or None only when its platform says it is gone.

        A lookup that fails is asked again with growing pauses for up to ``timeout``
        seconds (default ``lookup_timeout``); then, or at once for an error that
        retrying cannot fix (a rejected key), the platform's error is raised. ``stop``
        cancels the pauses (``Cancelled``).
        """
        budget = self.lookup_timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        delay = 0.5
        while True:
            try:
                return self.fleet.find(job.instance_id, job.platform)
            except NotFound:
                return None
            except PlatformError as exc:
                remaining = deadline - time.monotonic()
                if not exc.retryable or remaining <= 0:
                    raise
                cancel.pause(min(delay, remaining), stop, f"looking up {job.instance_id}")
                delay = min(delay * 2, 8.0)

    @staticmethod
    def _unreachable(job: Job, exc: PlatformError) -> str:
        """Words for a job whose instance could not be looked up."""
        return (
            f"could not look up {job.platform} instance {job.instance_id} of job {job.job_id}: "
            f"{exc}; the job may still be running (and billing): re-attach with "
            f"`vp logs {job.job_id} --follow`"
        )

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

        One follower writes a job's log: the one holding an exclusive lock on the
        file. Another follower of the same job (in this or another process) passes
        on what the writer appends, takes over when the writer goes away, and
        otherwise returns the final state the writer records.

        Raises ``JobError`` when the job's platform cannot be reached (the job may
        still be running) or the connection cannot be restored within
        ``reconnect_timeout``; the job is marked lost only when the platform says its
        instance is gone.
        """
        log_path = Path(job.log_path or self.log_path(job.job_id))
        log_path.parent.mkdir(parents=True, exist_ok=True)
        if job.state.is_final:
            if replay and on_output is not None and log_path.exists():
                with log_path.open("rb") as old:
                    while chunk := old.read(1 << 20):
                        on_output(chunk)
            return job
        with log_path.open("ab") as log, log_path.open("rb") as tail:
            if not replay:
                tail.seek(0, os.SEEK_END)
            while not _try_lock(log):
                _pass_on(tail, on_output)
                current = self.store.job(job.job_id) or job
                if current.state.is_final:
                    _pass_on(tail, on_output)
                    return current
                try:
                    cancel.pause(self.lock_poll_seconds, stop, f"following {job.job_id}")
                except Cancelled:
                    return current
            # The writer now: first what an earlier writer stored and was not passed on.
            _pass_on(tail, on_output)
            current = self.store.job(job.job_id) or job
            if current.state.is_final:
                return current
            return self._stream(current, log, on_output, on_state, stop, reconnect_timeout)

    def _stream(
        self,
        job: Job,
        log: BinaryIO,
        on_output: OutputCallback | None,
        on_state: JobCallback | None,
        stop: threading.Event | None,
        reconnect_timeout: float,
    ) -> Job:
        """The writer's part of ``follow``: stream into ``log`` (locked) until the job ends.

        Each (re)attach asks for the output from the size of the log file: the bytes
        actually stored, so nothing is asked for twice or skipped.
        """
        deadline: float | None = None
        while True:
            if stop is not None and stop.is_set():
                return self._checkpoint(job, _size(log))
            budget = reconnect_timeout if deadline is None else deadline - time.monotonic()
            try:
                instance = self._instance_of(job, stop=stop, timeout=max(0.0, budget))
            except Cancelled:
                return self._checkpoint(job, _size(log))
            except PlatformError as exc:
                self._checkpoint(job, _size(log))
                raise JobError(self._unreachable(job, exc)) from exc
            if instance is None or instance.state is InstanceState.TERMINATED:
                return self._end(job, JobState.LOST, None, on_state, "the instance is gone")
            try:
                remote = self.remote(instance, stop=stop)
                stream = remote.stream_job(job.job_id, _size(log))
                for chunk in stream:
                    log.write(chunk)
                    log.flush()
                    if on_output is not None:
                        on_output(chunk)
                    if stop is not None and stop.is_set():
                        stream.close()
                        return self._checkpoint(job, _size(log))
                status = stream.status
            except Cancelled:
                return self._checkpoint(job, _size(log))
            except JobNotFound:
                if job.state in (JobState.PENDING, JobState.SYNCING):
                    return self._end(
                        job,
                        JobState.FAILED,
                        None,
                        on_state,
                        "the job never started: the vp starting it stopped first",
                    )
                return self._end(job, JobState.LOST, None, on_state, "the job's files are gone")
            except (ConnectionLost, JobError, RemoteError) as exc:
                job = self._checkpoint(job, _size(log))
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
                    return self._checkpoint(job, _size(log))
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
            job = self._checkpoint(job, _size(log))
            ended = self._ended_at(remote, job)
            return self._end(job, state, status.exit_code, on_state, None, finished_at=ended)

    def _ended_at(self, remote: Remote, job: Job) -> datetime | None:
        """When the job ended, by its exit record on the instance (the ``exit_code``
        file's time), so a job followed long after it ended is not billed for the wait.

        None when that cannot be read; never before the job started or after now.
        """
        record = f"{job_dir(job.job_id)}/exit_code"
        script = f"stat -c %Y {record} 2>/dev/null || date -r {record} +%s"
        try:
            result = remote.run("sh -c " + shlex.quote(script), timeout=30.0)
            seconds = int(result.out.split()[-1])
            when = datetime.fromtimestamp(seconds, UTC)
        except (RemoteError, ValueError, IndexError, OverflowError, OSError):
            return None
        if job.started_at is not None and when < job.started_at:
            # The record's time is in whole seconds: a job that ended within the second
            # it started would otherwise end before it began.
            when = job.started_at
        return min(when, utcnow())

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
        *,
        finished_at: datetime | None = None,
    ) -> Job:
        """Record how the job ended; ``finished_at`` is when, if known (else when first
        recorded as ended, else now)."""
        current = self.store.job(job.job_id) or job
        if current.state is JobState.CANCELED:
            state = JobState.CANCELED
        return self._save(
            current.model_copy(
                update={
                    "state": state,
                    "exit_code": exit_code,
                    "finished_at": finished_at or current.finished_at or utcnow(),
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
        try:
            instance = self._instance_of(job, stop=stop)
        except PlatformError as exc:
            raise JobError(
                f"job {job.job_id} {job.state}, but its results were not pulled: could not look "
                f"up {job.platform} instance {job.instance_id}: {exc}; pull them with "
                f"`{_pull_command(job, options)}`"
            ) from exc
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

    def cancel(self, job: Job, grace: float = 5.0, *, stop: threading.Event | None = None) -> Job:
        """Stop a running job: its whole process group on the instance.

        Raises ``JobError`` when the instance cannot be reached (the job may still be
        running); the job is recorded lost only when its platform says the instance
        is gone. ``stop`` cancels the waits (``Cancelled``).
        """
        if job.state.is_final:
            return job
        try:
            instance = self._instance_of(job, stop=stop)
        except PlatformError as exc:
            raise JobError(
                f"could not cancel job {job.job_id}: could not look up {job.platform} instance "
                f"{job.instance_id}: {exc}; the job may still be running (and billing): try "
                f"`vp cancel {job.job_id}` again"
            ) from exc
        if instance is None:
            return self._end(job, JobState.LOST, None, None, "the instance is gone")
        try:
            status = self.remote(instance, stop=stop).cancel_job(job.job_id, grace)
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
