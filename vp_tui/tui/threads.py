"""The thread pool behind the dashboard's thread workers: daemon threads, bounded shutdown.

Textual runs thread workers on the event loop's default executor, and
``asyncio.run`` joins that executor's threads before it returns. A worker
blocked in an HTTP call to a slow provider would then hold the quitting
dashboard for as long as the call takes. Every wait of ours ends when the
app's stop event is set, so this pool gives threads a short grace period at
shutdown and then lets the process go; its threads are daemons, so the
interpreter does not wait for them either.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

SHUTDOWN_GRACE_SECONDS = 0.1
"""How long shutdown waits for running workers to notice the stop event."""


class DaemonThreadPool(ThreadPoolExecutor):
    """A ``ThreadPoolExecutor`` whose every task runs on its own daemon thread."""

    def __init__(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        super().__init__(max_workers=1, thread_name_prefix="vp-worker")
        self.grace = grace
        self._running: set[threading.Thread] = set()
        self._guard = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run ``fn(*args, **kwargs)`` on a new daemon thread."""
        future: Future[Any] = Future()
        with self._guard:
            if self._closed:
                raise RuntimeError("cannot schedule new work after shutdown")

            def run() -> None:
                if not future.set_running_or_notify_cancel():
                    return
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:
                    future.set_exception(exc)
                finally:
                    with self._guard:
                        self._running.discard(thread)

            thread = threading.Thread(target=run, name="vp-worker", daemon=True)
            self._running.add(thread)
        thread.start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking work; with ``wait``, give running tasks ``grace`` seconds to end."""
        with self._guard:
            self._closed = True
            running = list(self._running)
        if not wait:
            return
        deadline = time.monotonic() + self.grace
        for thread in running:
            thread.join(max(0.0, deadline - time.monotonic()))
