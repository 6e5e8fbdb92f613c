"""What a demo instance's disk holds, read from outside: its home directory and whether a
detached vp-tui job is running on it.

A demo instance's ``/workspace`` is a local sandbox directory and its home is the
directory beside it named ``<sandbox>.home``. vp-tui starts each job detached on the
instance under ``~/.vp/jobs/<id>/`` (see :mod:`vp_tui.remote.ssh`): the job's wrapper
writes ``pid`` (``"PID STARTTIME"``, the start time from ``/proc/PID/stat`` or empty)
when it starts and ``exit_code`` when it ends. A job *runs* while its directory has no
``exit_code`` and the process named in ``pid`` is alive (same start time, not a zombie).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

JOBS_DIR = ".vp/jobs"
"""Where vp-tui keeps jobs on an instance, relative to the login user's home."""
MAX_JOBS_SCANNED = 500
"""At most this many job directories are looked at per check (the newest first)."""


def home_of(sandbox: Path) -> Path:
    """The home directory of the instance whose ``/workspace`` is ``sandbox``."""
    return sandbox.parent / f"{sandbox.name}.home"


def _alive(pid: int, start_time: str) -> bool:
    """Whether process ``pid`` lives (not a zombie) and, when ``start_time`` is given,
    is the same process that wrote it (its pid was not reused)."""
    if pid <= 0:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return False
    except OSError:
        if os.path.exists("/proc/self/stat"):
            return False
        try:  # no /proc (macOS): existence is all there is to go on
            os.kill(pid, 0)
        except PermissionError:
            return True
        except OSError:
            return False
        return True
    fields = stat.rpartition(")")[2].split()
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return False
    return not start_time or fields[19] == start_time


def job_runs(job: Path) -> bool:
    """Whether the vp-tui job whose directory is ``job`` is running now; never raises."""
    try:
        if (job / "exit_code").exists():
            return False
        words = (job / "pid").read_text(encoding="ascii", errors="replace").split()
        if not words or not words[0].isdigit():
            return False
        return _alive(int(words[0]), words[1] if len(words) > 1 else "")
    except (OSError, ValueError):
        return False


def job_running(home: Path) -> bool:
    """Whether any vp-tui job runs on the instance whose home is ``home``; never raises.

    Cheap enough for every listing: one directory scan, then per job one ``stat`` and,
    for jobs without an exit code, one small read of ``pid`` and of ``/proc/PID/stat``.
    """
    try:
        with os.scandir(home / JOBS_DIR) as entries:
            jobs: list[tuple[float, str]] = []
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        jobs.append((entry.stat(follow_symlinks=False).st_mtime, entry.path))
    except OSError:
        return False
    jobs.sort(reverse=True)
    return any(job_runs(Path(path)) for _mtime, path in jobs[:MAX_JOBS_SCANNED])
