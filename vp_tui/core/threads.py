"""Asking several platforms at once without holding up the process's exit.

``concurrent.futures.ThreadPoolExecutor`` joins its threads when the
interpreter exits, so one HTTP call stuck on a slow provider would keep a
quitting dashboard alive until its timeout. ``parallel_map`` runs each call
on a daemon thread instead: the caller still waits for every answer, but a
process that is done does not.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["parallel_map"]

T = TypeVar("T")
R = TypeVar("R")


def parallel_map(fn: Callable[[T], R], items: Sequence[T], *, name: str = "worker") -> list[R]:
    """``[fn(item) for item in items]``, each call on its own daemon thread.

    Results keep the order of ``items``; the first exception raised by a call is
    raised here once every call has ended. One item runs on the calling thread.
    """
    if len(items) <= 1:
        return [fn(item) for item in items]
    results: list[R | None] = [None] * len(items)
    errors: list[BaseException | None] = [None] * len(items)

    def run(index: int, item: T) -> None:
        try:
            results[index] = fn(item)
        except BaseException as exc:
            errors[index] = exc

    threads = [
        threading.Thread(target=run, args=(i, item), name=f"{name}-{i}", daemon=True)
        for i, item in enumerate(items)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for error in errors:
        if error is not None:
            raise error
    return [r for r in results]  # type: ignore[misc]
