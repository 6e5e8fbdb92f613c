"""Tailing the shown job's local log file off the UI thread.

The job service appends every chunk of a job's output to a local file as it
arrives; the log pane shows that file. A thread worker (one at a time: showing
another job replaces it) reads what the file gained, decodes it as UTF-8
across chunk boundaries and posts it as ``LogChunk`` messages, so the UI
thread only appends text. A big log starts near its end: the pane keeps the
last lines only, and is told where in the file they start (``LogTailStarted``)
so that it can still count and search the lines before them.
"""

from __future__ import annotations

import codecs
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.message import Message
from textual.worker import get_current_worker

from vp_tui.tui.base import DashboardBase
from vp_tui.tui.messages import LogChunk

if TYPE_CHECKING:
    from vp_tui.tui.widgets.log_view import JobLog

log = logging.getLogger(__name__)

TAIL_START_BYTES = 4 * 1024 * 1024
"""How much of an existing log is read when a job is shown (the pane keeps the end)."""
CHUNK_BYTES = 1024 * 1024
"""The most one message carries."""
POLL_SECONDS = 0.05
"""How often the file is looked at while it does not grow."""


@dataclass
class LogTailStarted(Message):
    """Showing a job's log began at byte ``offset`` of its file (posted before its text)."""

    job_id: str
    generation: int
    offset: int


def tail_start(path: Path, keep: int = TAIL_START_BYTES) -> int:
    """The offset to start showing ``path`` from: its last ``keep`` bytes, at a line start."""
    try:
        size = path.stat().st_size
    except OSError:
        return 0
    if size <= keep:
        return 0
    with path.open("rb") as handle:
        handle.seek(size - keep)
        handle.readline()
        return handle.tell()


class LogTailMixin(DashboardBase):
    """Shows a job's local log in the log pane and keeps appending what it gains."""

    @work(thread=True, exclusive=True, group="log-tail", exit_on_error=False)
    def tail_log(self, job_id: str, generation: int, path: Path) -> None:
        """Post what ``path`` gains as ``LogChunk`` messages until replaced or quitting."""
        worker = get_current_worker()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        offset = tail_start(path)
        self.post_message(LogTailStarted(job_id, generation, offset))
        stop = self.stop_event
        while not worker.is_cancelled and not stop.is_set():
            try:
                with path.open("rb") as handle:
                    handle.seek(offset)
                    data = handle.read(CHUNK_BYTES)
            except FileNotFoundError:
                data = b""
            except OSError as exc:
                log.warning("reading log %s failed: %s", path, exc)
                data = b""
            if data:
                offset += len(data)
                # A chunk may end inside a UTF-8 sequence: the decoder keeps it for later.
                text = decoder.decode(data)
                if text:
                    self.post_message(LogChunk(job_id, generation, text))
                if len(data) == CHUNK_BYTES:
                    continue
            stop.wait(POLL_SECONDS)

    def _shown_log(self, job_id: str, generation: int) -> JobLog | None:
        """The log pane, if it still shows this showing of this job."""
        shown = self.state.shown_job
        if shown is None or shown.job_id != job_id or generation != self.state.log_generation:
            return None
        return self.job_log

    def on_log_tail_started(self, message: LogTailStarted) -> None:
        """Tell the pane where in the file its lines start."""
        job_log = self._shown_log(message.job_id, message.generation)
        if job_log is not None:
            job_log.set_log_origin(message.offset)

    def on_log_chunk(self, message: LogChunk) -> None:
        """Append what the shown job's log gained."""
        job_log = self._shown_log(message.job_id, message.generation)
        if job_log is not None:  # else a chunk of a job no longer shown
            job_log.write_chunk(message.text)
