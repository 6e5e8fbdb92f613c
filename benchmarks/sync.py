"""File sync: ``Syncer.push`` of a 2,000-file project against plain ``rsync -az --partial``.

A generated tree (2,000 files in nested directories, mixed sizes and content,
36 MB) is pushed to a private OpenSSH sshd on 127.0.0.1 three ways, each
into a fresh remote directory, ``--runs`` times in rotating order:

- rsync: ``rsync -az --partial -e "ssh <vp-tui's options>" tree/ host:dir/``;
- vp, connected: a new ``Syncer`` on an already connected ``Remote`` per push,
  as ``JobService.push`` (``vp run``) does;
- vp, cold: ``Remote.connect`` + ``Syncer.push`` per push, as one ``vp sync push``
  process does.

Each way does a first sync, a no-change re-sync and, after one file is
rewritten, a one-file re-sync. Set-up is measured too: ``ssh host true`` and
``Remote.connect``. The goal: vp within rsync x 1.1 + one connection set-up.

Run: ``python benchmarks/sync.py [--runs 5] [--files 2000]``. Prints numbers;
asserts nothing. Everything (sshd, keys, tree, remote copies) lives in a
temporary directory removed at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sshd import Sshd, Unavailable, start_sshd

from vp_tui.config import DEFAULT_EXCLUDES
from vp_tui.core.models import SSHEndpoint
from vp_tui.remote.ignore import load_rules
from vp_tui.remote.keys import HostAlias, Identity, KnownHosts
from vp_tui.remote.ssh import Remote
from vp_tui.remote.sync import Syncer

TIME_BUDGET = 100.0
"""Seconds after which remaining runs are skipped (the script stays under 2 minutes)."""
STEPS = ("first sync", "no-change re-sync", "one-file re-sync")
WAYS = ("rsync", "vp connected", "vp cold")

# fmt: off
_WORDS = (
    "import", "def", "return", "self", "model", "loss", "step", "batch", "epoch", "tensor",
    "grad", "optimizer", "for", "in", "if", "else", "print", "config", "data", "path", "value",
    "train", "eval", "checkpoint", "logits", "torch", "numpy",
)
# fmt: on


def _text(rng: random.Random, size: int) -> bytes:
    """Source-like text of about ``size`` bytes (compressible)."""
    lines = []
    total = 0
    while total < size:
        line = "    " * rng.randrange(3) + " ".join(rng.choices(_WORDS, k=rng.randrange(3, 12)))
        lines.append(line)
        total += len(line) + 1
    return ("\n".join(lines) + "\n").encode()[:size]


def make_tree(root: Path, files: int, seed: int = 7) -> tuple[int, list[Path]]:
    """Write the project tree; return its total size and the files in creation order.

    75% small text files (100 B - 4 KB), 23% medium (4 - 48 KB, half of them
    random bytes), 2% large random files (100 - 800 KB), in 79 directories up
    to three levels deep.
    """
    rng = random.Random(seed)
    dirs = [root]
    for top in range(6):
        a = root / f"pkg{top}"
        dirs.append(a)
        for mid in range(3):
            b = a / f"module_{mid}"
            dirs.append(b)
            for low in range(2):
                dirs.append(b / f"sub {low}" if low else b / "data")
    for extra in range(9):
        dirs.append(root / "assets" / f"set-{extra}" / "images")
    for directory in dirs:
        directory.mkdir(parents=True, exist_ok=True)
    total = 0
    written: list[Path] = []
    for index in range(files):
        kind = rng.random()
        if kind < 0.75:
            data, suffix = _text(rng, rng.randrange(100, 4096)), ".py"
        elif kind < 0.98:
            size = rng.randrange(4096, 48 * 1024)
            if rng.random() < 0.5:
                data, suffix = _text(rng, size), ".txt"
            else:
                data, suffix = rng.randbytes(size), ".bin"
        else:
            data, suffix = rng.randbytes(rng.randrange(100_000, 800_000)), ".pt"
        path = rng.choice(dirs) / f"file_{index:04d}{suffix}"
        path.write_bytes(data)
        written.append(path)
        total += len(data)
    return total, written


def change_one_file(path: Path, generation: int) -> None:
    """Rewrite one file with new content of about the same size and a newer mtime."""
    rng = random.Random(1000 + generation)
    size = path.stat().st_size
    path.write_bytes(_text(rng, size))
    stamp = time.time() + generation
    os.utime(path, (stamp, stamp))


@dataclass
class Host:
    """The sshd under test and how to reach it."""

    endpoint: SSHEndpoint
    identity: Identity
    known_hosts: KnownHosts
    alias: HostAlias = field(default_factory=lambda: HostAlias("bench", "sync"))

    def remote(self) -> Remote:
        """A new, not yet connected Remote."""
        return Remote(
            self.endpoint,
            self.alias,
            identity=self.identity,
            known_hosts=self.known_hosts,
            connect_timeout=10,
        )


def plain_rsync(host: Host, tree: Path, dest: Path) -> None:
    """``rsync -az --partial`` through the system ssh with vp-tui's options."""
    ssh = " ".join(["ssh", *host.remote().ssh_options()])
    subprocess.run(
        ["rsync", "-az", "--partial", "-e", ssh, f"{tree}/", f"{host.endpoint.host}:{dest}/"],
        check=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def pre_rsync_commands(remote: Remote, dest: Path) -> None:
    """What ``Syncer.push`` runs over the paramiko connection before rsync starts."""
    remote.run("command -v rsync >/dev/null 2>&1")
    remote.run(f"mkdir -p {dest}", check=True)


def timed(action: Callable[[], object]) -> float:
    """Seconds one call takes."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


@dataclass
class Results:
    """Seconds per way and step, and set-up times."""

    times: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    setup: dict[str, list[float]] = field(default_factory=dict)
    overhead: dict[str, list[float]] = field(default_factory=dict)

    def add(self, way: str, step: str, seconds: float) -> None:
        """Record one sync."""
        self.times.setdefault((way, step), []).append(seconds)


def one_way(
    way: str, host: Host, remote: Remote, tree: Path, dest: Path, target: Path, generation: int
) -> dict[str, float]:
    """First sync, no-change re-sync and one-file re-sync of ``tree`` to ``dest``, one way."""

    def push_connected() -> None:
        Syncer(remote, tree, remote_dir=str(dest), excludes=DEFAULT_EXCLUDES).push()

    def push_cold() -> None:
        with host.remote().connect(timeout=30) as fresh:
            Syncer(fresh, tree, remote_dir=str(dest), excludes=DEFAULT_EXCLUDES).push()

    actions: dict[str, Callable[[], None]] = {
        "rsync": lambda: plain_rsync(host, tree, dest),
        "vp connected": push_connected,
        "vp cold": push_cold,
    }
    action = actions[way]
    seconds = {STEPS[0]: timed(action), STEPS[1]: timed(action)}
    change_one_file(target, generation)
    seconds[STEPS[2]] = timed(action)
    return seconds


def same_tree(a: Path, b: Path) -> bool:
    """Whether two trees hold the same files with the same sizes."""

    def listing(root: Path) -> dict[str, int]:
        return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}

    return listing(a) == listing(b)


def measure(host: Host, tree: Path, target: Path, work: Path, runs: int) -> Results:
    """Run every way ``runs`` times in rotating order (fewer past the time budget)."""
    deadline = time.monotonic() + TIME_BUDGET
    results = Results()
    remote = host.remote().connect(timeout=30)
    generation = 0
    try:
        subprocess.run(  # accepts the host key once, warms the page cache
            ["ssh", *remote.ssh_options(), host.endpoint.host, "true"], check=True, timeout=30
        )
        plain_rsync(host, tree, work / "warm-up")
        shutil.rmtree(work / "warm-up")
        for index in range(runs):
            if index > 1 and time.monotonic() > deadline:
                print(f"(time budget reached after {index} runs)")
                break
            order = WAYS[index % 3 :] + WAYS[: index % 3]
            for way in order:
                generation += 1
                dest = work / f"{way.replace(' ', '-')}-{index}"
                for step, seconds in one_way(
                    way, host, remote, tree, dest, target, generation
                ).items():
                    results.add(way, step, seconds)
                if not same_tree(tree, dest):
                    raise RuntimeError(f"{way}: the remote copy differs from the tree")
                shutil.rmtree(dest)
            results.setup.setdefault("ssh host true", []).append(
                timed(
                    lambda: subprocess.run(
                        ["ssh", *remote.ssh_options(), host.endpoint.host, "true"],
                        check=True,
                        timeout=30,
                    )
                )
            )
            results.setup.setdefault("Remote.connect", []).append(
                timed(lambda: host.remote().connect(timeout=30).close())
            )
            time.sleep(0.2)  # an idle connection, as after the previous rsync
            results.overhead.setdefault(
                "Syncer's two commands before rsync (command -v, mkdir -p)", []
            ).append(timed(lambda: pre_rsync_commands(remote, work / "probe")))
            results.overhead.setdefault("ignore rules (walk for .gitignore/.vpignore)", []).append(
                timed(lambda: load_rules(tree, DEFAULT_EXCLUDES).rsync_filter())
            )
    finally:
        remote.close()
    return results


def report(results: Results, files: int, size: int) -> None:
    """Print the table."""
    med = statistics.median
    runs = len(results.times.get(("rsync", STEPS[0]), []))
    setup = med(results.setup["ssh host true"])
    print(
        f"\n{files:,} files, {size / 1e6:.1f} MB, OpenSSH sshd on 127.0.0.1, median of {runs} runs"
    )
    header = f"  {'':<20}" + "".join(f"{way:>15}" for way in WAYS) + f"{'allowed':>12}  verdict"
    print(header)
    for step in STEPS:
        row = {way: med(results.times[(way, step)]) for way in WAYS}
        allowed = row["rsync"] * 1.1 + setup
        verdict = ", ".join(
            f"{way.removeprefix('vp ')} {'met' if row[way] <= allowed else 'NOT met'}"
            for way in WAYS[1:]
        )
        cells = "".join(f"{row[way] * 1000:12.0f} ms" for way in WAYS)
        print(f"  {step:<20}{cells}{allowed * 1000:9.0f} ms  {verdict}")
    print("  allowed = rsync x 1.1 + one connection set-up (ssh host true)")
    for label, values in {**results.setup, **results.overhead}.items():
        print(f"  {label:<58} {med(values) * 1000:7.1f} ms")


def main() -> None:
    """Start sshd, build the tree, measure, print, clean up."""
    parser = argparse.ArgumentParser(description="File sync benchmark")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files", type=int, default=2000)
    args = parser.parse_args()
    if shutil.which("rsync") is None:
        print("rsync is not installed here: nothing to measure")
        return
    with tempfile.TemporaryDirectory(prefix="vp-bench-sync-") as tmp:
        base = Path(tmp)
        os.environ["VP_DATA_DIR"] = str(base / "data")  # vp-tui's known_hosts lives here
        tree = base / "project"
        size, written = make_tree(tree, args.files)
        target = next(p for p in written if p.suffix == ".txt" and p.stat().st_size > 20_000)
        work = base / "remote"
        work.mkdir()
        sshd: Sshd | None = None
        try:
            try:
                sshd = start_sshd(base / "sshd")
            except Unavailable as exc:
                print(f"OpenSSH sshd: skipped ({exc})")
                return
            host = Host(
                SSHEndpoint(host=sshd.host, port=sshd.port, user=sshd.user),
                Identity(sshd.client_key),
                KnownHosts(base / "data" / "ssh" / "known_hosts"),
            )
            report(measure(host, tree, target, work, args.runs), args.files, size)
        finally:
            if sshd is not None:
                sshd.stop()


if __name__ == "__main__":
    main()
