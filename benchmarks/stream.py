"""Job output streaming: lines/s of ``seq 1 2000000`` through ``Remote.start_job`` and
``Remote.stream_job``, compared with reading plain ``ssh host seq 1 2000000``.

Both run against a private OpenSSH sshd on 127.0.0.1 (primary) and a demo SSH
host (``vp_tui.sim.ssh_host``, served from this process as in ``vp --demo``).
The system ``ssh`` uses vp-tui's own options, key and known_hosts; its stdout
is read fully here and its lines counted, as vp counts the job's chunks.
Per host, interleaved, ``--runs`` times:

- ssh, new connection: ``ssh host seq ...`` as typed (includes the set-up);
- ssh, open connection: the same over an established ControlMaster connection;
- vp, connected: ``start_job`` + ``stream_job`` on a connected ``Remote`` (as in
  ``vp run``, where the connection is already up after the push);
- vp, cold: ``Remote.connect`` + ``start_job`` + ``stream_job`` (as ``vp run --no-sync``);
- live: ``sleep 0.5; seq ...``, so the job is still writing when streaming
  starts (``tail -f`` path): first byte to last byte, vp connected against
  ssh over the open connection;
- set-up: ``ssh host true``, ``Remote.connect``, and ``Remote.run("true")`` (one
  session round trip on an open connection), on an idle connection and right
  after another command.

Ratios (vp lines/s over ssh lines/s, goal >= 0.8): connected against open
connection, cold against new connection, and live.

Run: ``python benchmarks/stream.py [--runs 7] [--lines 2000000] [--no-demo]``.
Prints numbers; asserts nothing. Everything (sshd, keys, known_hosts, jobs)
lives in a temporary directory removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sshd import DemoHost, Sshd, Unavailable, start_demo_host, start_sshd

from vp_tui.core.models import SSHEndpoint
from vp_tui.remote.keys import HostAlias, Identity, KnownHosts
from vp_tui.remote.ssh import Remote

TIME_BUDGET = 100.0
"""Seconds after which remaining runs are skipped (the script stays under 2 minutes)."""
LIVE_DELAY = 0.5
"""Seconds the live variant's job sleeps before printing, so streaming starts first."""


def seq_size(lines: int) -> int:
    """Bytes ``seq 1 LINES`` prints."""
    total, width, low = 0, 1, 1
    while low <= lines:
        high = min(lines, 10**width - 1)
        total += (high - low + 1) * (width + 1)
        width, low = width + 1, 10**width
    return total


@dataclass
class Sample:
    """One measured transfer: whole time, time from the first byte, what arrived."""

    seconds: float
    from_first_byte: float
    lines: int
    size: int
    phases: dict[str, float] = field(default_factory=dict)


@dataclass
class Target:
    """A host under test and how to reach it."""

    name: str
    endpoint: SSHEndpoint
    identity: Identity
    known_hosts: KnownHosts
    alias: HostAlias
    control_path: Path

    def remote(self) -> Remote:
        """A new, not yet connected Remote for the host."""
        return Remote(
            self.endpoint,
            self.alias,
            identity=self.identity,
            known_hosts=self.known_hosts,
            connect_timeout=10,
        )

    def ssh_argv(self, command: str, *, mux: bool = False) -> list[str]:
        """The system ssh running ``command``, over the master connection with ``mux``."""
        options = self.remote().ssh_options()
        if mux:
            options += ["-o", f"ControlPath={self.control_path}", "-o", "ControlMaster=no"]
        return ["ssh", *options, self.endpoint.host, "--", command]


@contextlib.contextmanager
def control_master(target: Target) -> Iterator[None]:
    """An OpenSSH master connection that ``ssh_argv(mux=True)`` commands share."""
    options = target.remote().ssh_options()
    path = ["-o", f"ControlPath={target.control_path}"]
    master = subprocess.Popen(
        ["ssh", *options, *path, "-o", "ControlMaster=yes", "-N", target.endpoint.host],
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        check = ["ssh", *options, *path, "-O", "check", target.endpoint.host]
        while subprocess.run(check, capture_output=True).returncode != 0:
            if master.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the ssh master connection did not come up")
            time.sleep(0.05)
        yield
    finally:
        master.terminate()
        try:
            master.wait(timeout=10)
        except subprocess.TimeoutExpired:
            master.kill()
            master.wait(timeout=10)


def run_ssh(argv: list[str]) -> Sample:
    """Run the ssh client; read and count its stdout."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    assert process.stdout is not None
    fd = process.stdout.fileno()
    lines = size = 0
    first: float | None = None
    while chunk := os.read(fd, 65536):
        if first is None:
            first = time.perf_counter()
        size += len(chunk)
        lines += chunk.count(b"\n")
    rc = process.wait()
    ended = time.perf_counter()
    process.stdout.close()
    if rc != 0:
        raise RuntimeError(f"ssh exited with {rc}")
    return Sample(ended - started, ended - (first or ended), lines, size)


_job_counter = 0


def run_vp(target: Target, remote: Remote | None, command: str) -> Sample:
    """Start ``command`` as a job and stream it to the end; connect first if no ``remote``."""
    global _job_counter
    _job_counter += 1
    job_id = f"bench-{os.getpid()}-{_job_counter}"
    started = time.perf_counter()
    own = remote is None
    if remote is None:
        remote = target.remote().connect(timeout=30)
    connected = time.perf_counter()
    remote.start_job(job_id, command)
    job_started = time.perf_counter()
    lines = size = 0
    first: float | None = None
    stream = remote.stream_job(job_id)
    for chunk in stream:
        if first is None:
            first = time.perf_counter()
        size += len(chunk)
        lines += chunk.count(b"\n")
    ended = time.perf_counter()
    status = stream.status
    if status is None or status.exit_code != 0:
        raise RuntimeError(f"job {job_id} ended as {status}")
    remote.remove_job(job_id)
    if own:
        remote.close()
    first = first or ended
    phases = {
        "connect": connected - started,
        "start_job": job_started - connected,
        "to first byte": first - job_started,
        "first to last byte": ended - first,
    }
    return Sample(ended - started, ended - first, lines, size, phases)


def time_call(action: Callable[[], object]) -> float:
    """Seconds one call takes."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def round_trip(remote: Remote, after: str | None) -> float:
    """Seconds of one ``Remote.run("true")``: on a connection idle for 0.2 s, or right
    after ``Remote.run(after)`` (as ``stream_job`` follows ``start_job``)."""
    time.sleep(0.2)
    if after is not None:
        remote.run(after)
    return time_call(lambda: remote.run("true"))


@dataclass
class HostResult:
    """Every sample taken against one host."""

    name: str
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    setup: dict[str, list[float]] = field(default_factory=dict)

    def add(self, key: str, sample: Sample) -> None:
        """Record a transfer."""
        self.samples.setdefault(key, []).append(sample)

    def add_setup(self, key: str, seconds: float) -> None:
        """Record a set-up time."""
        self.setup.setdefault(key, []).append(seconds)


def measure(target: Target, runs: int, lines: int, deadline: float) -> HostResult:
    """Interleave the ways of reading the output, ``runs`` times (fewer past the deadline)."""
    command = f"seq 1 {lines}"
    live = f"sleep {LIVE_DELAY}; seq 1 {lines}"
    result = HostResult(target.name)
    remote = target.remote().connect(timeout=30)
    try:
        run_ssh(target.ssh_argv("true"))  # accepts the host key once
        run_vp(target, remote, command)  # warm-up
        with control_master(target):
            for index in range(runs):
                if index > 1 and time.monotonic() > deadline:
                    print(f"  ({target.name}: time budget reached after {index} runs)")
                    break
                steps: list[Callable[[], None]] = [
                    lambda: result.add("ssh new", run_ssh(target.ssh_argv(command))),
                    lambda: result.add("ssh open", run_ssh(target.ssh_argv(command, mux=True))),
                    lambda: result.add("vp connected", run_vp(target, remote, command)),
                    lambda: result.add("vp cold", run_vp(target, None, command)),
                    lambda: result.add("ssh live", run_ssh(target.ssh_argv(live, mux=True))),
                    lambda: result.add("vp live", run_vp(target, remote, live)),
                    lambda: result.add_setup(
                        "ssh host true", time_call(lambda: run_ssh(target.ssh_argv("true")))
                    ),
                    lambda: result.add_setup(
                        "Remote.connect",
                        time_call(lambda: target.remote().connect(timeout=30).close()),
                    ),
                    lambda: result.add_setup(
                        "Remote.run('true'), idle connection", round_trip(remote, after=None)
                    ),
                    lambda: result.add_setup(
                        "Remote.run('true') right after another", round_trip(remote, after="true")
                    ),
                ]
                shift = index % len(steps)
                for step in steps[shift:] + steps[:shift]:
                    step()
    finally:
        remote.close()
    expected = seq_size(lines)
    for key, samples in result.samples.items():
        for sample in samples:
            if sample.lines != lines or sample.size != expected:
                raise RuntimeError(
                    f"{target.name} {key}: got {sample.lines} lines / {sample.size} bytes, "
                    f"expected {lines} / {expected}"
                )
    return result


def median(values: list[float]) -> float:
    """The median (0 for no values)."""
    return statistics.median(values) if values else 0.0


def report(result: HostResult, lines: int) -> None:
    """Print one host's table."""

    def whole(key: str) -> float:
        return median([s.seconds for s in result.samples.get(key, [])])

    def streaming(key: str) -> float:
        return median([s.from_first_byte for s in result.samples.get(key, [])])

    def rate(seconds: float) -> str:
        return f"{lines / seconds / 1e6:6.2f} M lines/s" if seconds > 0 else ""

    runs = len(result.samples.get("ssh new", []))
    size = seq_size(lines) / 1e6
    print(f"\n{result.name}: seq 1 {lines} ({size:.1f} MB), median of {runs} runs")
    rows = [
        ("ssh host seq, new connection", whole("ssh new")),
        ("ssh host seq, open connection", whole("ssh open")),
        ("vp start_job + stream_job, connected", whole("vp connected")),
        ("vp connect + start_job + stream_job", whole("vp cold")),
        ("live: ssh, first to last byte", streaming("ssh live")),
        ("live: vp connected, first to last byte", streaming("vp live")),
    ]
    for label, seconds in rows:
        print(f"  {label:<48} {seconds * 1000:7.0f} ms  {rate(seconds)}")
    for label, values in result.setup.items():
        print(f"  {'set-up: ' + label:<48} {median(values) * 1000:7.0f} ms")
    for key in ("vp connected", "vp cold", "vp live"):
        samples = result.samples.get(key, [])
        names = list(samples[0].phases) if samples else []
        parts = [f"{n} {median([s.phases[n] for s in samples]) * 1000:.0f}" for n in names]
        print(f"  {key} phases (ms, medians): " + ", ".join(parts))
    ratios = [
        ("vp connected / ssh open connection", whole("ssh open") / whole("vp connected")),
        ("vp cold / ssh new connection", whole("ssh new") / whole("vp cold")),
        ("live, from first byte", streaming("ssh live") / streaming("vp live")),
    ]
    for label, ratio in ratios:
        print(f"  ratio {label:<36} {ratio:5.2f}  (goal >= 0.8)")


def main() -> None:
    """Start the hosts, measure, print, clean up."""
    parser = argparse.ArgumentParser(description="Job output streaming benchmark")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--no-demo", action="store_true", help="only the real sshd")
    args = parser.parse_args()
    deadline = time.monotonic() + TIME_BUDGET
    with tempfile.TemporaryDirectory(prefix="vp-bench-stream-") as tmp:
        base = Path(tmp)
        os.environ["VP_DATA_DIR"] = str(base / "data")  # vp-tui's known_hosts lives here
        known_hosts = KnownHosts(base / "data" / "ssh" / "known_hosts")
        sshd: Sshd | None = None
        demo: DemoHost | None = None
        try:
            try:
                sshd = start_sshd(base / "sshd")
            except Unavailable as exc:
                print(f"OpenSSH sshd: skipped ({exc})")
            if sshd is not None:
                target = Target(
                    "OpenSSH sshd",
                    SSHEndpoint(host=sshd.host, port=sshd.port, user=sshd.user),
                    Identity(sshd.client_key),
                    known_hosts,
                    HostAlias("bench", "openssh"),
                    base / "ctl-openssh",
                )
                budget = deadline if args.no_demo else deadline - TIME_BUDGET / 2
                report(measure(target, args.runs, args.lines, budget), args.lines)
            if not args.no_demo:
                demo = start_demo_host(base / "demo")
                target = Target(
                    "demo SSH host (asyncssh, in this process)",
                    SSHEndpoint(host=demo.host, port=demo.port, user=demo.user),
                    Identity(demo.client_key),
                    known_hosts,
                    HostAlias("bench", "demo"),
                    base / "ctl-demo",
                )
                report(measure(target, args.runs, args.lines, deadline), args.lines)
        finally:
            if sshd is not None:
                sshd.stop()
            if demo is not None:
                demo.stop()


if __name__ == "__main__":
    main()
