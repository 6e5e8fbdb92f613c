"""`vp run`, `vp logs`, `vp jobs`, `vp sync`, `vp ssh`: work on instances."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
from pathlib import Path

from vp_tui.bootstrap import Context
from vp_tui.cli.context import add_platform_option, chosen_platforms, opened
from vp_tui.cli.instances_cmd import instance_json
from vp_tui.cli.output import CliError, error, print_json, stderr, stdout, table, warn
from vp_tui.cli.validate import identifier, pull_path
from vp_tui.core.models import Instance, InstanceState, Job, JobState
from vp_tui.core.money import format_duration, format_money
from vp_tui.platforms.base import PlatformError
from vp_tui.remote.sync import SyncProgress, SyncResult
from vp_tui.services.jobs import JobError, Jobs, RunOptions, shell_command


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the job commands."""
    p = sub.add_parser(
        "run",
        help="push the project, run a command on an instance, stream it, pull results",
        description="Push the project, run CMD detached on the instance, stream its output "
        "live, pull what it wrote, and exit with its exit code. One CMD argument is shell "
        "text ('apt update && apt install -y x'); several are quoted word by word.",
    )
    add_platform_option(p)
    p.add_argument(
        "--instance-id", type=identifier, help="the instance (default: the only running one)"
    )
    p.add_argument("--project", type=Path, default=None, help="project dir (default: cwd)")
    p.add_argument("--no-sync", action="store_true", help="do not push the project first")
    p.add_argument("--delete", action="store_true", help="delete remote files not in the project")
    p.add_argument("--no-pull", action="store_true", help="do not pull results afterwards")
    p.add_argument(
        "--pull",
        action="append",
        default=[],
        type=pull_path,
        metavar="PATH",
        help="pull only PATH (repeatable)",
    )
    p.add_argument("--pull-to", type=Path, help="pull into this dir (default: the project)")
    p.add_argument("--workdir", help="where the command runs (default: sync.remote_dir)")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--detach", action="store_true", help="print the job id once started")
    p.add_argument(
        "--destroy-after",
        action="store_true",
        help="when the job ends (and its results are pulled), destroy the instance and verify "
        "it is gone; kept if the job is interrupted or the pull fails",
    )
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ...")
    p.set_defaults(handler=run)

    p = sub.add_parser("logs", help="a job's output (--follow streams until it ends)")
    p.add_argument("job_id", metavar="JOB", type=identifier)
    p.add_argument("--follow", "-f", action="store_true", help="stream until the job ends")
    p.set_defaults(handler=logs)

    p = sub.add_parser("jobs", help="jobs run from this machine, newest first")
    add_platform_option(p)
    p.add_argument("--instance-id", type=identifier)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=jobs)

    p = sub.add_parser("cancel", help="stop a running job on its instance")
    p.add_argument("job_id", metavar="JOB", type=identifier)
    p.set_defaults(handler=cancel)

    p = sub.add_parser("sync", help="push the project to an instance, or pull results back")
    p.add_argument("direction", choices=["push", "pull"])
    p.add_argument("paths", nargs="*", metavar="PATH", help="pull: only these paths")
    add_platform_option(p)
    p.add_argument("--instance-id", type=identifier)
    p.add_argument("--project", type=Path, default=None, help="project dir (default: cwd)")
    p.add_argument("--pull-to", type=Path, help="pull into this dir (default: the project)")
    p.add_argument("--delete", action="store_true", help="push: delete remote extras")
    p.add_argument("--json", action="store_true", help="print JSON")
    # PATHs may also follow the options: `vp sync pull --instance-id ID outputs`.
    p.set_defaults(handler=sync, trailing="paths")

    p = sub.add_parser(
        "ssh",
        help="a shell on an instance (system ssh with vp-tui's key and known_hosts)",
        usage="vp ssh [--platform P] [ID] [-- CMD ...]",
    )
    add_platform_option(p)
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(handler=ssh)

    p = sub.add_parser(
        "ssh-forget", help="forget an instance's recorded host key (after a legitimate change)"
    )
    p.add_argument("instance_id", metavar="ID", type=identifier)
    add_platform_option(p)
    p.set_defaults(handler=ssh_forget)


def choose_instance(context: Context, instance_id: str | None, platform: str | None) -> Instance:
    """The instance a command works on: the given one, else the only running one."""
    names = chosen_platforms(context, platform)
    if instance_id:
        try:
            return context.fleet.find(instance_id, names[0] if platform else None)
        except PlatformError as exc:
            raise CliError(str(exc)) from None
    result = context.fleet.list(names)
    failed = [s for s in result.statuses.values() if not s.ok]
    if failed:
        # A platform that did not answer may have the instance meant (or several):
        # choosing from the rest, or suggesting a new rental, could be wrong and costly.
        problems = "; ".join(
            f"{s.platform}: instances could not be listed: {s.error or 'no reason given'}"
            for s in failed
        )
        raise CliError(
            f"{problems}; not choosing an instance from a partial list: "
            "name one with --instance-id ID (see `vp list-instances`)"
        )
    running = [i for i in result.instances if i.state is InstanceState.RUNNING]
    if len(running) == 1:
        return running[0]
    if not running:
        others = ", ".join(f"{i.instance_id} ({i.state})" for i in result.instances)
        hint = f" (not running: {others})" if others else ""
        raise CliError(
            f"no running instance{hint}; rent one with `vp create-instance --gpu-type RTX_4090 "
            "--wait`",
            2,
        )
    listing = "; ".join(
        f"{i.platform} {i.instance_id} {i.gpu or i.gpu_raw or ''}".strip() for i in running
    )
    raise CliError(f"several running instances, pick one with --instance-id: {listing}", 2)


def _progress(progress: SyncProgress) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(
            f"\r  {progress.direction}: {progress.files} files, {progress.bytes:,} bytes\033[K"
        )
        sys.stderr.flush()


def _sync_warnings(result: SyncResult) -> None:
    """What the user must know besides the counts: conflicts, a transfer endpoint given up."""
    if result.endpoint_host_key_changed:
        warn(
            "the SSH host key of Vast's transfer endpoint for this instance has changed, so "
            "it was not used and the files went over the instance's own SSH; if you did not "
            "expect a new key, treat the endpoint as untrusted "
            "(`vp ssh-forget ID` forgets the recorded keys)"
        )
    elif result.native_fallback:
        warn(f"Vast's transfer endpoint was given up ({result.native_fallback}); synced over SSH")
    if result.conflicts:
        warn(f"{len(result.conflicts)} not pulled, your copy kept:")
        for conflict in result.conflicts:
            stderr.print(f"  {conflict}")


def _sync_summary(result: SyncResult) -> str:
    if result.note:
        how = f" via SFTP ({result.note})"
    elif result.method == "rsync-native":
        how = " via Vast's transfer endpoint"
    else:
        how = ""
    return f"{result.direction}: {result.files} files, {result.bytes:,} bytes{how}"


def _write(chunk: bytes) -> None:
    sys.stdout.buffer.write(chunk)
    sys.stdout.flush()


def _env(items: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--env {item!r}: expected KEY=VALUE", 2)
        env[key] = value
    return env


def run(args: argparse.Namespace) -> int:
    """`vp run -- CMD`.

    Exit status: the job's exit code; with ``--destroy-after``, the job's exit code
    only once the destroy is verified, 1 when the instance was kept (results not
    pulled) or its destroy could not be verified, 130 when interrupted.
    """
    argv = list(args.cmd)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise CliError("nothing to run: vp run [options] -- CMD ...", 2)
    if args.destroy_after and args.detach:
        raise CliError("--destroy-after waits for the job to end: it cannot go with --detach", 2)
    command = shell_command(argv)
    project = (args.project or Path.cwd()).resolve()
    _check_pull_to(args.pull_to)
    options = RunOptions(
        project=project,
        sync_up=not args.no_sync,
        pull=not args.no_pull and not args.detach,
        pull_paths=tuple(args.pull),
        pull_to=args.pull_to,
        workdir=args.workdir,
        env=_env(args.env),
        delete=args.delete,
    )
    with opened(args) as context:
        service = context.job_service
        instance = choose_instance(context, args.instance_id, args.platform)
        stderr.print(f"Running on {instance.platform} {instance.instance_id}: {command}")
        try:
            job = service.start(instance, command, options, on_progress=_progress)
        except JobError as exc:
            raise CliError(str(exc)) from None
        if options.sync_up and sys.stderr.isatty():
            sys.stderr.write("\n")
        if args.detach:
            stdout.print(job.job_id)
            stderr.print(f"Follow it with `vp logs {job.job_id} --follow`.")
            return 0
        job, interrupted = _follow_with_interrupt(service, job)
        if not job.state.is_final:
            if args.destroy_after:
                _keep(instance, "the job was interrupted and keeps running there")
            return 130
        try:
            job, result = service.finish(job, options, on_progress=_progress)
        except BaseException:
            if args.destroy_after:
                _keep(instance, "the job's results were not pulled")
            raise
        if result is not None:
            if sys.stderr.isatty():
                sys.stderr.write("\n")
            stderr.print(f"Pulled {_sync_summary(result)}")
            _sync_warnings(result)
        if not args.destroy_after:
            return _report_end(job)
        if job.state is JobState.LOST:
            _keep(instance, "the job was lost, so nothing of it was pulled")
            return _report_end(job)
        code = _report_end(job)
        if interrupted:
            _keep(instance, "the job was interrupted")
            return 130
        if result is not None and result.conflicts:
            _keep(instance, "some results were not pulled (listed above)")
            return 1
        return _destroy_after(context, instance, code)


def _keep(instance: Instance, why: str) -> None:
    """Say that ``--destroy-after`` did not destroy ``instance``, why, and how to."""
    warn(
        f"not destroying {instance.platform} instance {instance.instance_id}: {why}; it is "
        f"still billing: destroy it with `vp destroy-instance {instance.instance_id}` when done"
    )


def _destroy_after(context: Context, instance: Instance, code: int) -> int:
    """Destroy ``instance`` once its job ended; ``code`` if verified gone, else 1 (or 130)."""
    name = f"{instance.platform} instance {instance.instance_id}"
    stderr.print(f"Destroying {name}...")
    try:
        context.fleet.destroy(instance.instance_id, instance.platform)
    except PlatformError as exc:
        error(f"{name} may still be billing: {exc}")
        return 1
    except KeyboardInterrupt:
        error(
            f"the destroy of {name} was requested but not verified (interrupted); it may still "
            "be billing: check with `vp list-instances`"
        )
        return 130
    stderr.print(f"Destroyed {name} (verified gone)")
    return code


def _follow_with_interrupt(service: Jobs, job: Job) -> tuple[Job, bool]:
    """Follow a job; on Ctrl-C ask whether to cancel it or leave it running.

    Returns the job as it now is, and whether the following was interrupted.
    """
    stop = threading.Event()
    try:
        return service.follow(job, on_output=_write, stop=stop), False
    except KeyboardInterrupt:
        stop.set()
    except JobError as exc:
        raise CliError(str(exc)) from None
    leave = f"The job keeps running: `vp logs {job.job_id} --follow` re-attaches."
    if not sys.stdin.isatty():
        stderr.print(f"\n{leave}")
        return service.get(job.job_id), True
    stderr.print("\nCancel the job on the instance, or leave it running? [c/L] ", end="")
    try:
        answer = input().strip().lower()
    except (EOFError, KeyboardInterrupt):
        answer = ""
    if answer.startswith("c"):
        canceled = service.cancel(job)
        stderr.print(f"Job {job.job_id} canceled.")
        return canceled, True
    stderr.print(leave)
    return service.get(job.job_id), True


def _report_end(job: Job) -> int:
    duration = format_duration(job.duration_seconds)
    cost = format_money(job.estimated_cost)
    if job.state is JobState.LOST:
        raise CliError(f"job {job.job_id} lost: {job.error or 'the instance is gone'}")
    code = job.exit_code if job.exit_code is not None else 1
    stderr.print(
        f"Job {job.job_id} {job.state} (exit code {job.exit_code}) after {duration}, ~{cost}"
    )
    return code if 0 <= code < 256 else 1


def logs(args: argparse.Namespace) -> int:
    """Print a job's local log; with --follow re-attach and stream until it ends."""
    from vp_tui.services.store import Store

    # The local log and the store need no platform: start the engine only to follow.
    job = Store().job(args.job_id)
    if job is None:
        raise CliError(f"no job {args.job_id!r} (see `vp jobs`)")
    path = Path(job.log_path) if job.log_path else None
    if path is not None and path.exists():
        with path.open("rb") as handle:  # in chunks: a log may be large
            while chunk := handle.read(1 << 20):
                sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
    if not args.follow:
        return 0
    if job.state.is_final:
        return _report_end(job)
    with opened(args) as context:
        job, _ = _follow_with_interrupt(context.job_service, job)
        if not job.state.is_final:
            return 130
    return _report_end(job)


def job_json(job: Job) -> dict[str, object]:
    """The `--json` shape of a job."""
    return {
        "job_id": job.job_id,
        "platform": job.platform,
        "instance_id": job.instance_id,
        "command": job.command,
        "workdir": job.workdir,
        "state": str(job.state),
        "exit_code": job.exit_code,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "log_path": job.log_path,
        "bytes_synced": job.bytes_synced,
        "estimated_cost": job.estimated_cost,
    }


def jobs(args: argparse.Namespace) -> int:
    """List jobs from the store (no platform is asked)."""
    from vp_tui.services.store import Store

    found = Store().jobs(platform=args.platform, instance_id=args.instance_id)
    if args.json:
        print_json([job_json(j) for j in found])
        return 0
    if not found:
        stdout.print("No jobs yet. Start one with `vp run -- python train.py`.")
        return 0
    table(
        ["job", "platform", "instance", "state", "exit", "took", "command"],
        [
            (
                j.job_id,
                j.platform,
                j.instance_id,
                str(j.state),
                "" if j.exit_code is None else str(j.exit_code),
                format_duration(j.duration_seconds),
                j.command if len(j.command) < 60 else j.command[:57] + "...",
            )
            for j in found
        ],
    )
    return 0


def cancel(args: argparse.Namespace) -> int:
    """Cancel a job."""
    with opened(args) as context:
        service = context.job_service
        try:
            job = service.cancel(service.get(args.job_id))
        except JobError as exc:
            raise CliError(str(exc)) from None
    stdout.print(f"Job {job.job_id} {job.state}")
    return 0


def sync(args: argparse.Namespace) -> int:
    """`vp sync push|pull`."""
    paths = [_checked_path(path) for path in args.paths]
    if args.direction == "push" and paths:
        raise CliError("push sends the whole project; PATHs are for pull", 2)
    _check_pull_to(args.pull_to)
    project = (args.project or Path.cwd()).resolve()
    with opened(args) as context:
        service = context.job_service
        instance = choose_instance(context, args.instance_id, args.platform)
        try:
            if args.direction == "push":
                result = service.push(instance, project, delete=args.delete, progress=_progress)
            else:
                result = service.pull(
                    instance, project, paths, dest=args.pull_to, progress=_progress
                )
        except JobError as exc:
            raise CliError(str(exc)) from None
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    if args.json:
        print_json(
            {
                "direction": result.direction,
                "method": result.method,
                "files": result.files,
                "bytes": result.bytes,
                "deleted": result.deleted,
                "missing": result.missing,
                "conflicts": result.conflicts,
                "native_fallback": result.native_fallback,
                "endpoint_host_key_changed": result.endpoint_host_key_changed,
                "instance": instance_json(instance),
            }
        )
    else:
        stdout.print(_sync_summary(result))
        for missing in result.missing:
            stderr.print(f"  not on the instance: {missing}")
    _sync_warnings(result)  # on stderr, beside the JSON too
    return 0


def _check_pull_to(dest: Path | None) -> None:
    """Refuse (exit 2) a --pull-to that is an existing file, before anything runs."""
    if dest is not None and dest.exists() and not dest.is_dir():
        raise CliError(f"--pull-to {dest}: not a directory", 2)


def _checked_path(path: str) -> str:
    """A PATH argument of `vp sync pull`, refused (exit 2) when it leaves the remote dir."""
    try:
        return pull_path(path)
    except argparse.ArgumentTypeError as exc:
        raise CliError(f"PATH: {exc}", 2) from None


def ssh(args: argparse.Namespace) -> int:
    """Replace this process with the system ssh, using vp-tui's key and known_hosts."""
    rest = list(args.rest)
    instance_id = None
    if rest and rest[0] != "--":
        try:
            instance_id = identifier(rest.pop(0))
        except argparse.ArgumentTypeError as exc:
            raise CliError(f"ID: {exc}", 2) from None
    command = rest[1:] if rest and rest[0] == "--" else rest
    with opened(args) as context:
        instance = choose_instance(context, instance_id, args.platform)
        remote = context.job_service.remote(instance)
        argv = remote.ssh_command(shell_command(command) if command else None, tty=not command)
        if context.demo:
            # The demo host lives in this process: keep it serving while ssh runs.
            return subprocess.call(argv)
    os.execvp(argv[0], argv)
    return 0  # pragma: no cover


def ssh_forget(args: argparse.Namespace) -> int:
    """Drop the known host key of an instance so the next login records the new one."""
    from vp_tui.remote.keys import HostAlias, KnownHosts

    known = KnownHosts()
    platforms = [args.platform] if args.platform else ["vast", "runpod"]
    removed = sum(known.forget(HostAlias(p, args.instance_id)) for p in platforms)
    # Vast's transfer endpoint has a host key of its own, recorded under a second alias.
    removed += sum(known.forget(HostAlias(p, f"{args.instance_id}-copy")) for p in platforms)
    if not removed:
        raise CliError(f"no host key recorded for instance {args.instance_id}")
    stdout.print(f"Forgot {removed} host key(s) of instance {args.instance_id}.")
    return 0
