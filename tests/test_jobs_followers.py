"""Two followers of one job (say `vp run` and a dashboard re-attaching it): one writes the
local log, the other passes on what it appends and takes over when the writer leaves."""

from __future__ import annotations

import threading
from pathlib import Path

from vp_tui.bootstrap import Context, build_context
from vp_tui.core.models import Job, JobState
from vp_tui.services.jobs import RunOptions
from vp_tui.sim.server import DemoCloud

pytest_plugins = ["demo_fixtures"]

from demo_helpers import rent  # noqa: E402

LINES = 300
COMMAND = f"for i in $(seq 1 {LINES}); do echo line $i; sleep 0.005; done"
EXPECTED = "".join(f"line {i}\n" for i in range(1, LINES + 1)).encode()


def test_two_followers_store_each_line_once(
    context: Context, demo_cloud: DemoCloud, tmp_path: Path
) -> None:
    instance = rent(context)
    job = context.job_service.start(instance, COMMAND, RunOptions(project=tmp_path, sync_up=False))
    other = build_context(demo_cloud=demo_cloud)  # a second vp on the same data dir
    outputs: list[list[bytes]] = [[], []]
    results: list[Job | BaseException | None] = [None, None]
    barrier = threading.Barrier(2)

    def follow(index: int, ctx: Context) -> None:
        try:
            barrier.wait()
            results[index] = ctx.job_service.follow(job, on_output=outputs[index].append)
        except BaseException as exc:  # reported by the asserts below
            results[index] = exc

    threads = [
        threading.Thread(target=follow, args=(i, ctx)) for i, ctx in enumerate((context, other))
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        other.close()
    for result in results:
        assert isinstance(result, Job) and result.state is JobState.SUCCEEDED, result
    for output in outputs:
        assert b"".join(output) == EXPECTED
    log = Path(job.log_path or "")
    assert log.read_bytes() == EXPECTED
    stored = context.job_service.get(job.job_id)
    status = context.job_service.remote(instance).job_status(job.job_id)
    assert stored.log_offset == len(EXPECTED) == status.output_size


def test_second_follower_takes_over_when_the_writer_leaves(
    context: Context, demo_cloud: DemoCloud, tmp_path: Path
) -> None:
    instance = rent(context)
    job = context.job_service.start(instance, COMMAND, RunOptions(project=tmp_path, sync_up=False))
    first_out: list[bytes] = []
    stop_first = threading.Event()
    first_result: list[Job] = []

    def first_chunk(chunk: bytes) -> None:
        first_out.append(chunk)
        if sum(map(len, first_out)) > 500:
            stop_first.set()

    first = threading.Thread(
        target=lambda: first_result.append(
            context.job_service.follow(job, on_output=first_chunk, stop=stop_first)
        )
    )
    first.start()
    while not first_out and first.is_alive():
        stop_first.wait(0.01)
    other = build_context(demo_cloud=demo_cloud)
    try:
        second_out: list[bytes] = []
        done = other.job_service.follow(job, on_output=second_out.append, replay=True)
    finally:
        first.join(30)
        other.close()
    assert not first_result[0].state.is_final
    assert done.state is JobState.SUCCEEDED and done.exit_code == 0
    assert b"".join(second_out) == EXPECTED
    assert Path(job.log_path or "").read_bytes() == EXPECTED
    assert context.job_service.get(job.job_id).log_offset == len(EXPECTED)
