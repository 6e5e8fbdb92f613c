"""Text from users, jobs and providers is data: markup and control characters are shown as
they are, never interpreted, and never crash a table, a dialog or a message."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textual.app import ComposeResult

from vp_tui.cli import output
from vp_tui.core.models import Instance, InstanceState, Job, JobState, Offer, PlatformStatus
from vp_tui.core.text import visible
from vp_tui.tui.base import DashboardBase
from vp_tui.tui.screens.confirm import ConfirmScreen
from vp_tui.tui.screens.create import CreateDefaults, CreateScreen
from vp_tui.tui.screens.jobs import JobsScreen
from vp_tui.tui.screens.run import RunScreen
from vp_tui.tui.widgets.instances_table import InstancesTable
from vp_tui.tui.widgets.log_view import JobLog
from vp_tui.tui.widgets.platforms_pane import PlatformsPane

MARKUPISH = st.sampled_from(
    ["[/x]", "[/]", "[red]", "[red]hi[/red]", "[b]", "[link=http://x]y[/link]", "[@click=quit]",
     "[y/N]", "\\[", "[[", "]", "$text-error", "\x1b[31m", "\x00", "\r", "\t", "\n", "\x7f"]
)  # fmt: skip
HOSTILE = st.lists(st.one_of(MARKUPISH, st.text(max_size=12)), min_size=1, max_size=6).map("".join)
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


# ---------------------------------------------------------------------------- vp


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=HOSTILE)
def test_cli_tables_and_errors_print_text_as_given(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    output.table(["Label", "$/h"], [[text, "0.1"]])
    output.error(text)
    output.warn(text)
    out, err = capsys.readouterr()
    assert not any(c in out + err for c in "\x1b\x00\r\x7f")  # nothing reaches the terminal raw
    in_table, in_message = visible(text).split(), visible(text, newlines=True).split()
    if in_table:
        assert in_table[0] in out
    if in_message:
        assert in_message[0] in err


# --------------------------------------------------------------------- dashboard


class _Host(DashboardBase):
    """The dashboard's widgets and dialogs, fed whatever text the test gives."""

    def __init__(self) -> None:
        super().__init__()
        self.context = None

    def compose(self) -> ComposeResult:
        yield PlatformsPane(["vast", "runpod"], id="platforms")
        yield InstancesTable(id="instances")
        yield JobLog(id="job-log", log_path=None)


def _instance(text: str) -> Instance:
    return Instance(
        platform="vast",
        instance_id="42",
        label=text,
        gpu_raw=text,
        state=InstanceState.RUNNING,
        status_message=text,
        price_per_hour=0.5,
        uptime_seconds=60,
        observed_at=NOW,
    )


def _job(text: str) -> Job:
    return Job(
        job_id="abc123",
        platform="vast",
        instance_id="42",
        command=text,
        state=JobState.FAILED,
        exit_code=1,
        error=text,
        created_at=NOW,
    )


def _offer(text: str) -> Offer:
    return Offer(
        platform="runpod",
        offer_id="x",
        gpu=None,
        gpu_raw=text,
        gpu_count=1,
        vram_gb=24,
        price_per_hour=0.3,
        location=text,
    )


async def _feed(texts: list[str]) -> None:
    app = _Host()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(InstancesTable)
        pane = app.query_one(PlatformsPane)
        job_log = app.query_one(JobLog)
        for text in texts:
            table.sync([_instance(text)], NOW)
            pane.update_platform(
                "runpod",
                status=PlatformStatus(platform="runpod", ok=False, error=text),
                account_error=text,
                listing_error=text,
                known=True,
                running=None,
            )
            job_log.show_job("abc123", text, log_path=None, state="running")
            job_log.write_chunk(text + "\n")
            app.notify(text, title=text)
            for screen in (
                ConfirmScreen(text, text),
                RunScreen(text, "/workspace", text),
                JobsScreen(text, [_job(text)]),
                CreateScreen(_offer(text), CreateDefaults(text, 20, 1.0)),
            ):
                await app.push_screen(screen)
                await pilot.pause()
                app.pop_screen()
            await pilot.pause()
            shown = str(table.get_cell("vast:42", "name"))
            labelled = text and table.shows_labels  # a narrow table shows the id alone
            assert shown == (f"42 {visible(text)}" if labelled else "42")
        assert app.is_running  # nothing raised inside the app


@settings(max_examples=4, deadline=None)
@given(texts=st.lists(HOSTILE, min_size=3, max_size=6))
def test_dashboard_widgets_show_any_text_without_crashing(texts: list[str]) -> None:
    asyncio.run(_feed(texts))


# ------------------------------------------------------------ through the CLI


def test_vp_lists_a_label_and_a_command_that_look_like_markup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from vp_tui.cli import main as vp
    from vp_tui.services.store import Store

    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VP_SIM_BOOT_SECONDS", "0.3")
    monkeypatch.delenv("VP_SIM_FAULTS", raising=False)
    label = "[/x] [bold]"
    assert vp(["--demo", "create-instance", "-y", "--gpu-type", "RTX_3090", "--label", label]) == 0
    Store().save_job(_job("echo [red]hi[/red] [/x]"))
    capsys.readouterr()
    assert vp(["--demo", "list-instances"]) == 0
    assert vp(["--demo", "jobs"]) == 0
    out, _ = capsys.readouterr()
    assert label in out
    assert "echo [red]hi[/red] [/x]" in out
