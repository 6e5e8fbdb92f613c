"""Remote commands and detached jobs, each against a real sshd and a demo SSH host."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import paramiko
import pytest

from vp_tui.core.cancel import Cancelled
from vp_tui.core.models import SSHEndpoint
from vp_tui.remote.keys import HostAlias, Identity
from vp_tui.remote.ssh import (
    CommandTimeout,
    ConnectionLost,
    JobExists,
    JobNotFound,
    JobStream,
    Remote,
    RemoteError,
)

if TYPE_CHECKING:
    from sshd_fixture import TransportHost

pytest_plugins = ["sshd_fixture"]


def _job_id() -> str:
    return f"job-{uuid.uuid4().hex[:10]}"


def _seq(first: int, last: int) -> Iterator[bytes]:
    """What ``seq first last`` prints, in chunks."""
    step = 10_000
    for start in range(first, last + 1, step):
        stop = min(last, start + step - 1)
        yield "".join(f"{i}\n" for i in range(start, stop + 1)).encode()


def _running(remote: Remote, pid: int) -> bool:
    """Whether ``pid`` runs on the instance (zombies waiting to be reaped do not count)."""
    result = remote.run(f"cat /proc/{pid}/stat")
    return result.rc == 0 and result.out.rpartition(")")[2].split()[0] not in {"Z", "X"}


def _collect(stream: JobStream) -> bytes:
    return b"".join(stream)


# ------------------------------------------------------------------------ commands


def test_run_gives_exit_code_stdout_and_stderr(remote: Remote) -> None:
    rc, out, err = remote.run("echo out; echo err >&2; exit 3")
    assert (rc, out, err) == (3, "out\n", "err\n")


def test_run_carries_unicode_both_ways(remote: Remote) -> None:
    result = remote.run("printf '%s\\n' 'grüße ✓ 日本'")
    assert result.rc == 0
    assert result.out == "grüße ✓ 日本\n"


def test_run_check_and_timeout(remote: Remote) -> None:
    with pytest.raises(RemoteError, match="exit code 2"):
        remote.run("echo broken >&2; exit 2", check=True)
    with pytest.raises(CommandTimeout):
        remote.run("sleep 30", timeout=0.5)
    assert remote.run("echo still usable").out == "still usable\n"


# ---------------------------------------------------------------------------- jobs


def test_job_output_interleaves_stderr_and_keeps_exit_code(remote: Remote) -> None:
    job = _job_id()
    remote.start_job(job, "echo one; echo two >&2; echo three; exit 3")
    stream = remote.stream_job(job)
    assert _collect(stream) == b"one\ntwo\nthree\n"
    assert stream.status is not None
    assert (stream.status.state, stream.status.exit_code) == ("exited", 3)
    assert stream.offset == len(b"one\ntwo\nthree\n")
    status = remote.job_status(job)
    assert (status.state, status.exit_code, status.output_size) == ("exited", 3, 14)


def test_job_final_line_without_newline_and_unicode(remote: Remote) -> None:
    job = _job_id()
    remote.start_job(job, "printf 'héllo ✓\\nno newline at the end'")
    stream = remote.stream_job(job)
    assert _collect(stream).decode() == "héllo ✓\nno newline at the end"
    assert stream.status is not None and stream.status.exit_code == 0


def test_job_environment_values_arrive_literally(remote: Remote) -> None:
    env = {
        "PLAIN": "value",
        "SPACES": "a b  c",
        "QUOTES": 'it\'s "quoted"',
        "SHELLISH": "$HOME `id` $(id) ; rm -rf / &",
        "UNICODE": "über ✓",
        "NEWLINE": "one\ntwo",
    }
    job = _job_id()
    command = " ".join(f'printf "%s|\\n" "${name}";' for name in env)
    remote.start_job(job, command, env=env)
    output = _collect(remote.stream_job(job)).decode()
    assert output.split("|\n")[:-1] == list(env.values())


def test_job_runs_in_workdir(remote: Remote, ssh_host: TransportHost) -> None:
    (ssh_host.local_root / "marker with space.txt").write_text("here")
    job = _job_id()
    remote.start_job(job, "cat 'marker with space.txt'", workdir=ssh_host.remote_root)
    assert _collect(remote.stream_job(job)) == b"here"


def test_job_with_missing_workdir_is_refused(remote: Remote, ssh_host: TransportHost) -> None:
    job = _job_id()
    with pytest.raises(RemoteError, match="no such directory"):
        remote.start_job(job, "true", workdir=ssh_host.remote_root + "/nope")
    assert remote.job_status(job).state == "unknown"


def test_job_ids_are_unique_and_unknown_jobs_say_so(remote: Remote) -> None:
    job = _job_id()
    remote.start_job(job, "true")
    with pytest.raises(JobExists):
        remote.start_job(job, "true")
    missing = _job_id()
    assert remote.job_status(missing).state == "unknown"
    with pytest.raises(JobNotFound):
        _collect(remote.stream_job(missing))
    assert job in remote.list_jobs()


def test_ten_megabytes_stream_through_intact(remote: Remote) -> None:
    job = _job_id()
    remote.start_job(job, "seq 1 1500000")
    expected = hashlib.sha256()
    expected_size = 0
    for chunk in _seq(1, 1_500_000):
        expected.update(chunk)
        expected_size += len(chunk)
    received = hashlib.sha256()
    size = 0
    stream = remote.stream_job(job)
    for chunk in stream:
        received.update(chunk)
        size += len(chunk)
    assert size == expected_size > 10_000_000
    assert received.hexdigest() == expected.hexdigest()
    assert stream.status is not None and stream.status.exit_code == 0


def _gated_job(remote: Remote, host: TransportHost) -> tuple[str, bytes]:
    """A job printing 1..200000, then waiting for a gate file, then 200001..400000."""
    job = _job_id()
    remote.start_job(
        job,
        "seq 1 200000; while [ ! -e gate ]; do sleep 0.05; done; seq 200001 400000",
        workdir=host.remote_root,
    )
    return job, b"".join(_seq(1, 400_000))


@pytest.mark.parametrize("drop", ["client", "server"])
def test_dropped_connection_then_reattach_loses_and_repeats_nothing(
    ssh_host: TransportHost, drop: str
) -> None:
    remote = ssh_host.remote()
    job, expected = _gated_job(remote, ssh_host)
    received = bytearray()
    dropped = False
    stream = remote.stream_job(job)
    with pytest.raises(ConnectionLost):
        for chunk in stream:  # goes on with what was already buffered, then raises
            received += chunk
            if len(received) >= 100_000 and not dropped:
                dropped = True
                if drop == "client":
                    remote.close()
                else:
                    ssh_host.drop_connections()
    assert stream.offset == len(received)
    assert 0 < len(received) < len(expected)

    # The job kept running on the instance; a new connection picks up at the offset.
    again = ssh_host.remote()
    assert again.job_status(job).state == "running"
    (ssh_host.local_root / "gate").touch()
    rest = again.stream_job(job, offset=stream.offset)
    received += _collect(rest)
    again.close()
    assert bytes(received) == expected
    assert rest.status is not None and rest.status.exit_code == 0


def test_stop_following_and_resume_from_a_new_process(ssh_host: TransportHost) -> None:
    remote = ssh_host.remote()
    job, expected = _gated_job(remote, ssh_host)
    stream = remote.stream_job(job)
    received = bytearray()
    for chunk in stream:
        received += chunk
        if len(received) > 50_000:
            break
    stream.close()
    remote.close()  # vp exits; the job does not notice
    (ssh_host.local_root / "gate").touch()
    fresh = ssh_host.remote()
    resumed = fresh.stream_job(job, offset=len(received))
    received += _collect(resumed)
    fresh.close()
    assert bytes(received) == expected


def test_stream_of_a_finished_job_from_any_offset(remote: Remote) -> None:
    job = _job_id()
    remote.start_job(job, "seq 1 1000")
    full = _collect(remote.stream_job(job))
    for offset in (0, 1, 500, len(full) - 1, len(full)):
        assert _collect(remote.stream_job(job, offset=offset)) == full[offset:]
    with pytest.raises(RemoteError, match="past the end"):
        _collect(remote.stream_job(job, offset=len(full) + 1))


@pytest.mark.parametrize(
    "detachers", [("setsid",), ("python3",), ()], ids=["setsid", "python3", "no-setsid"]
)
def test_cancel_stops_the_whole_process_group(
    ssh_host: TransportHost, detachers: tuple[str, ...]
) -> None:
    remote = ssh_host.remote()
    remote.detachers = detachers
    job = _job_id()
    remote.start_job(
        job,
        "sleep 300 & echo $! > child.pid; echo started; sleep 300",
        workdir=ssh_host.remote_root,
    )
    stream = remote.stream_job(job)
    assert next(stream) == b"started\n"
    child = int((ssh_host.local_root / "child.pid").read_text())
    assert remote.job_status(job).state == "running"
    status = remote.cancel_job(job, grace=5)
    assert status.state == "exited"
    assert status.canceled
    assert status.exit_code is not None and status.exit_code != 0
    rest = _collect(stream)  # the stream ends by itself once the job has ended
    assert stream.status is not None and stream.status.canceled
    assert b"started" not in rest
    assert not _running(remote, child), "the job's background child survived"
    remote.close()


def test_cancel_kills_a_job_that_ignores_sigterm(remote: Remote) -> None:
    job = _job_id()
    remote.start_job(job, "trap '' TERM; echo ready; sleep 300")
    stream = remote.stream_job(job)
    assert next(stream) == b"ready\n"
    status = remote.cancel_job(job, grace=0.5)
    assert (status.state, status.exit_code, status.canceled) == ("exited", 137, True)
    _collect(stream)
    assert stream.status is not None and stream.status.exit_code == 137
    assert remote.cancel_job(job).exit_code == 137  # cancelling again changes nothing


def test_job_killed_behind_our_back_is_lost(remote: Remote) -> None:
    job = _job_id()
    remote.start_job(job, "echo ready; sleep 300")
    stream = remote.stream_job(job)
    assert next(stream) == b"ready\n"
    # Kill the job's whole group hard, as an OOM killer or a reboot would.
    remote.run(f'kill -s KILL -- "-$(cat "$HOME/.vp/jobs/{job}/pgid")"', check=True)
    _collect(stream)
    assert stream.status is not None and stream.status.state == "lost"
    assert remote.job_status(job).state == "lost"


def test_remove_job(remote: Remote) -> None:
    job = _job_id()
    remote.start_job(job, "true")
    _collect(remote.stream_job(job))
    remote.remove_job(job)
    assert remote.job_status(job).state == "unknown"
    assert job not in remote.list_jobs()


def test_bad_job_ids_and_env_names_are_refused(remote: Remote) -> None:
    for bad in ("", "../x", "a b", "-x", "a/b"):
        with pytest.raises(ValueError):
            remote.start_job(bad, "true")
    with pytest.raises(ValueError):
        remote.start_job(_job_id(), "true", env={"BAD-NAME": "x"})


def test_silence_past_the_idle_timeout_counts_as_a_lost_connection(
    ssh_host: TransportHost,
) -> None:
    remote = ssh_host.remote()
    job = _job_id()
    remote.start_job(
        job,
        "echo ready; while [ ! -e gate ]; do sleep 0.05; done; echo done",
        workdir=ssh_host.remote_root,
    )
    # Heartbeats come every few seconds; a much shorter idle timeout sees a dead line.
    stream = remote.stream_job(job, idle_timeout=0.3)
    received = bytearray()
    with pytest.raises(ConnectionLost, match="nothing heard"):
        for chunk in stream:
            received += chunk
    assert not remote.is_connected
    assert bytes(received) == b"ready\n"
    (ssh_host.local_root / "gate").touch()
    remote.connect(timeout=30)
    rest = remote.stream_job(job, offset=stream.offset)
    assert _collect(rest) == b"done\n"
    remote.close()


# ------------------------------------------------------------ threads and cancelling


def _open_transports() -> set[paramiko.Transport]:
    """The SSH connections this process holds open (each is a paramiko Transport thread)."""
    return {
        thread
        for thread in threading.enumerate()
        if isinstance(thread, paramiko.Transport) and thread.is_active()
    }


def test_threads_connecting_at_once_share_one_connection(ssh_host: TransportHost) -> None:
    before = _open_transports()
    remote = Remote(ssh_host.endpoint, HostAlias("test", "threads"), identity=ssh_host.identity)
    threads = 8
    start = threading.Barrier(threads)
    outputs: list[str] = []
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            start.wait(timeout=30)
            remote.connect(timeout=30)
            outputs.append(remote.run(f"echo {index}").out)
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    try:
        assert not errors, errors
        assert sorted(outputs) == sorted(f"{i}\n" for i in range(threads))
        assert len(_open_transports() - before) == 1
    finally:
        remote.close()
    deadline = time.monotonic() + 10
    while _open_transports() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _open_transports() - before


def test_threads_using_a_new_remote_at_once_share_one_connection(
    ssh_host: TransportHost,
) -> None:
    # Not connected first: every command connects on demand.
    before = _open_transports()
    remote = Remote(ssh_host.endpoint, HostAlias("test", "lazy"), identity=ssh_host.identity)
    start = threading.Barrier(6)
    results: list[int] = []

    def work() -> None:
        start.wait(timeout=30)
        results.append(remote.run("true").rc)

    workers = [threading.Thread(target=work) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    try:
        assert results == [0] * 6
        assert len(_open_transports() - before) == 1
    finally:
        remote.close()


def _refusing_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _set_later(stop: threading.Event, seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    return timer


def test_stop_cancels_connect_retries() -> None:
    endpoint = SSHEndpoint(host="127.0.0.1", port=_refusing_port(), user="nobody")
    remote = Remote(endpoint, HostAlias("test", "refused"), identity=Identity(None))
    attempts: list[int] = []
    stop = threading.Event()
    timer = _set_later(stop, 1.0)  # in the middle of a back-off sleep
    started = time.monotonic()
    try:
        with pytest.raises(Cancelled):
            remote.connect(timeout=120, on_retry=lambda n, _error: attempts.append(n), stop=stop)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 10  # generous: the bound is a fraction of a second
    assert 1 <= len(attempts) < 10
    assert not remote.is_connected


def test_stop_ends_following_a_silent_job(remote: Remote) -> None:
    job = _job_id()
    remote.start_job(job, "echo started; sleep 60; echo never")
    stop = threading.Event()
    stream = remote.stream_job(job, stop=stop)
    received = b""
    while received != b"started\n":
        received += next(stream)
    timer = _set_later(stop, 0.3)
    started = time.monotonic()
    try:
        with pytest.raises(Cancelled):
            next(stream)
        assert time.monotonic() - started < 10  # generous: the bound is a fraction of a second
        assert stream.offset == len(b"started\n")
        # The job is not affected, and a new stream resumes where this one stopped.
        assert remote.job_status(job).state == "running"
    finally:
        timer.cancel()
        remote.cancel_job(job, grace=1)
    rest = _collect(remote.stream_job(job, stream.offset))  # resumes after "started"
    assert b"started" not in rest and b"never" not in rest


def test_stop_set_before_a_command_cancels_it(remote: Remote) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        remote.run("sleep 30", stop=stop)
    assert remote.run("echo still usable").out == "still usable\n"
