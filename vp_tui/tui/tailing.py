"""Tailing the shown job's local log file off the UI thread.

The job service appends every chunk of a job's output to a local file as it
arrives; the log pane shows that file. A thread worker (one at a time: showing
another job replaces it) reads what the file gained, decodes it as UTF-8
across chunk boundaries and posts it as ``LogChunk`` messages, so the UI
thread only appends text. A big log starts near its end: the pane keeps the
last lines only.
"""

from __future__ import annotations

import codecs
import logging
from pathlib import Path

from textual import work
from textual.worker import get_current_worker

from vp_tui.tui.base import DashboardBase
from vp_tui.tui.messages import LogChunk

log = logging.getLogger(__name__)

TAIL_START_BYTES = 4 * 1024 * 1024
"""How much of an existing log is read when a job is shown (the pane keeps the end)."""
CHUNK_BYTES = 1024 * 1024
"""The most one message carries."""
POLL_SECONDS = 0.05
"""How often the file is looked at while it does not grow."""


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

    def on_log_chunk(self, message: LogChunk) -> None:
        shown = self.state.shown_job
        job_log = self.job_log
        if (
            shown is None
            or shown.job_id != message.job_id
            or message.generation != self.state.log_generation
            or job_log is None
        ):
            return  # a chunk of a job no longer shown
        job_log.write_chunk(message.text)
