"""The instances pane: money columns at every size, whole values, the job marker, a stable
order, the k9s keys; and the narrow layout that never switches the pane by itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from demo_helpers import rent
from rich.cells import cell_len
from textual.app import ComposeResult
from textual.widgets import Tabs
from tui_helpers import running_app, wait_for

from vp_tui.core.models import Instance, InstanceState
from vp_tui.tui.app import VpApp
from vp_tui.tui.base import DashboardBase
from vp_tui.tui.messages import EngineReady
from vp_tui.tui.widgets.instances_table import COLUMNS, InstancesTable, RowOverride

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
MONEY = {"state", "price", "spent"}


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))


class _Host(DashboardBase):
    """The instances table alone, fed the instances a test gives."""

    def __init__(self) -> None:
        super().__init__()
        self.context = None

    def compose(self) -> ComposeResult:
        yield InstancesTable(id="instances")


def _instance(
    platform: str, instance_id: str, *, minutes_ago: float | None = None, **changes: object
) -> Instance:
    started = None if minutes_ago is None else NOW - timedelta(minutes=minutes_ago)
    fields: dict[str, object] = {
        "platform": platform,
        "instance_id": instance_id,
        "label": "training-run",
        "gpu": "RTX 4090",
        "state": InstanceState.RUNNING,
        "price_per_hour": 0.35,
        "started_at": started,
        "observed_at": NOW,
    }
    fields.update(changes)
    return Instance.model_validate(fields)


def _row_text(table: InstancesTable, key: str) -> str:
    """The row of ``key`` as drawn on screen."""
    line = table.get_row_index(key) + 1  # under the header
    return table.render_line(line).text


def _no_cell_cut(table: InstancesTable) -> None:
    """Every shown value fits its column: nothing drawn as ``termina`` or ``10m 3``."""
    for column_key, column in table.columns.items():
        for row_key in table.rows:
            value = table.get_cell(row_key, column_key)
            assert cell_len(str(value)) <= column.content_width, (column_key.value, value)


def _fits(table: InstancesTable) -> bool:
    drawn = sum(column.get_render_width(table) for column in table.columns.values())
    return drawn <= table.size.width


# ------------------------------------------------------------------ columns


async def test_money_columns_stay_at_80x24_and_everything_shows_at_200x60(
    tmp_path: Path,
) -> None:
    async with running_app(tmp_path, size=(80, 24)) as (app, pilot, _):
        rent(app.engine, "vast", "RTX 3090")
        rent(app.engine, "runpod", "RTX A4000")
        table = app.query_one("#instances", InstancesTable)
        await wait_for(pilot, lambda: table.row_count == 2, what="both listed")
        await pilot.press("3")
        await wait_for(pilot, lambda: table.size.width > 0, what="the pane shown")
        await pilot.pause(0.2)
        shown = set(table.shown_columns)
        assert MONEY | {"name"} <= shown
        assert not table.shows_labels  # the label goes first
        assert "util" not in shown  # then GPU util
        assert _fits(table)
        _no_cell_cut(table)
        header = table.render_line(0).text
        assert "State" in header and "$/h" in header and "Spent" in header
        for key in table.row_keys:
            assert "$" in _row_text(table, key)

        await pilot.resize_terminal(200, 60)
        await wait_for(pilot, lambda: table.shows_labels, what="labels back")
        assert table.shown_columns == tuple(key for key, _ in COLUMNS)
        assert _fits(table)
        _no_cell_cut(table)
        for key, instance in table.instances.items():
            assert f"{instance.instance_id} test" in _row_text(table, key)


async def test_state_labels_and_uptime_show_whole_as_they_grow() -> None:
    app = _Host()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(InstancesTable)
        instance = _instance("vast", "7", minutes_ago=None, uptime_seconds=5.0)
        table.sync([instance], NOW)
        await pilot.pause()
        state = table.columns[next(k for k in table.columns if k.value == "state")]
        before = state.content_width
        table.set_override(instance.key, RowOverride(InstanceState.TERMINATING), NOW)
        await pilot.pause()
        assert "terminating" in _row_text(table, instance.key)
        assert state.content_width > before
        provisioning = instance.model_copy(update={"state": InstanceState.PROVISIONING})
        table.set_override(instance.key, None, NOW)
        table.sync([provisioning], NOW)
        await pilot.pause()
        assert "provisioning" in _row_text(table, instance.key)
        table.sync([instance], NOW, stale={"vast": (NOW - timedelta(minutes=2), "503")})
        await pilot.pause()
        assert "running? stale 2m" in _row_text(table, instance.key)
        table.refresh_times(NOW + timedelta(minutes=10, seconds=31))
        await pilot.pause()
        assert "10m 36s" in _row_text(table, instance.key)
        _no_cell_cut(table)


async def test_a_long_value_drops_columns_but_never_the_money() -> None:
    app = _Host()
    async with app.run_test(size=(80, 20)) as pilot:
        table = app.query_one(InstancesTable)
        short = _instance("vast", "1", minutes_ago=5)
        table.sync([short], NOW)
        await pilot.pause()
        before = table.shown_columns
        longer = short.model_copy(update={"gpu": "RTX PRO 6000 Blackwell Server Edition"})
        table.sync([longer], NOW)
        await pilot.pause()
        assert set(table.shown_columns) >= MONEY
        assert len(table.shown_columns) < len(before)
        assert _fits(table)
        _no_cell_cut(table)


# ------------------------------------------------------------------ marker and order


async def test_rows_running_a_job_are_marked() -> None:
    app = _Host()
    async with app.run_test(size=(140, 20)) as pilot:
        table = app.query_one(InstancesTable)
        busy, idle = _instance("vast", "1", minutes_ago=9), _instance("vast", "2", minutes_ago=5)
        table.sync([busy, idle], NOW)
        table.set_job_instances({busy.key})
        await pilot.pause()
        assert str(table.get_cell(busy.key, "name")).startswith(InstancesTable.JOB)
        assert not str(table.get_cell(idle.key, "name")).startswith(InstancesTable.JOB)
        assert _row_text(table, busy.key).lstrip().startswith("vast")
        assert "▶ 1" in _row_text(table, busy.key)
        table.sync([busy, idle], NOW)  # a new listing keeps the marker
        assert str(table.get_cell(busy.key, "name")).startswith(InstancesTable.JOB)
        table.set_job_instances(set())
        assert not str(table.get_cell(busy.key, "name")).startswith(InstancesTable.JOB)


async def test_the_order_is_platform_then_creation_whatever_the_listing_order() -> None:
    app = _Host()
    async with app.run_test(size=(140, 20)) as pilot:
        table = app.query_one(InstancesTable)
        rows = [
            _instance("vast", "900", minutes_ago=5),
            _instance("runpod", "zz", minutes_ago=50),
            _instance("vast", "100", minutes_ago=30),
            _instance("runpod", "aa", minutes_ago=1),
            _instance("vast", "555"),  # creation unknown: after the known ones, by id
        ]
        table.sync(rows, NOW)
        await pilot.pause()
        expected = ["runpod:zz", "runpod:aa", "vast:100", "vast:900", "vast:555"]
        assert table.row_keys == expected
        table.move_cursor(row=table.get_row_index("vast:900"))
        table.sync(list(reversed(rows)), NOW)
        await pilot.pause()
        assert table.row_keys == expected
        assert table.current is not None and table.current.key == "vast:900"
        # A runpod pod stops (it no longer reports a start): its row stays where it was.
        stopped = rows[1].model_copy(update={"state": InstanceState.STOPPED, "started_at": None})
        table.sync([rows[0], stopped, *rows[2:]], NOW)
        assert table.row_keys == expected
        new = _instance("runpod", "mm", minutes_ago=20)
        table.sync([*rows, new], NOW)
        await pilot.pause()
        assert table.row_keys == ["runpod:zz", "runpod:mm", "runpod:aa", *expected[2:]]
        assert table.current is not None and table.current.key == "vast:900"


# ------------------------------------------------------------------ keys


async def test_j_k_g_G_move_the_cursor(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        for platform, gpu in (("vast", "RTX 3090"), ("vast", "RTX 4090"), ("runpod", "RTX A4000")):
            rent(app.engine, platform, gpu)
        table = app.query_one("#instances", InstancesTable)
        await wait_for(pilot, lambda: table.row_count == 3, what="three listed")
        assert [key.split(":")[0] for key in table.row_keys] == ["runpod", "vast", "vast"]
        await pilot.press("3")
        assert app.focused is table and table.cursor_row == 0
        await pilot.press("j")
        assert table.cursor_row == 1
        await pilot.press("j", "j")
        assert table.cursor_row == 2
        await pilot.press("k")
        assert table.cursor_row == 1
        await pilot.press("g")
        assert table.cursor_row == 0
        await pilot.press("G")
        assert table.cursor_row == 2
        current = table.current
        app.request_fetch("instances")
        await pilot.pause(1.5)
        assert table.current == current or (
            table.current is not None and current is not None and table.current.key == current.key
        )


def test_the_copy_and_move_keys_are_bound_with_ids() -> None:
    bindings = {b.id: b for b in InstancesTable.BINDINGS if not isinstance(b, tuple)}
    assert bindings["instances.copy_ssh"].key == "y"
    assert bindings["instances.copy_ssh"].action == "app.copy_ssh"
    assert bindings["instances.copy_id"].key == "Y"
    assert bindings["instances.copy_id"].action == "app.copy_instance_id"
    moves = {"instances.j": "j", "instances.k": "k", "instances.top": "g", "instances.bottom": "G"}
    for binding_id, key in moves.items():
        assert bindings[binding_id].key == key and not bindings[binding_id].show


# ------------------------------------------------------------------ the narrow layout


def _shown_panes(app: VpApp) -> list[str]:
    return [pane.id or "" for pane in app.query(".pane") if pane.has_class("-active")]


async def test_narrow_starts_on_offers_and_stays(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=(80, 24)) as (app, pilot, _):
        await wait_for(pilot, lambda: app.offers_loaded.is_set() and app.fleet_loaded.is_set())
        await pilot.pause(0.3)
        assert _shown_panes(app) == ["offers-pane"]
        assert app.focused is not None and app.focused.id == "offers"
        assert app.query_one("#pane-tabs", Tabs).active == "tab-offers"


async def test_narrow_keeps_the_tab_chosen_while_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vp_tui.bootstrap import build_context
    from vp_tui.sim.server import DemoCloud

    with DemoCloud(tmp_path / "data" / "demo", boot_seconds=0.3) as cloud:
        context = build_context(demo_cloud=cloud)
        app = VpApp(None, project=tmp_path, refresh_seconds=2, fleet_seconds=1)
        # The engine "loads" until the test hands it over.
        monkeypatch.setattr(app, "load_engine", lambda: None)
        try:
            async with app.run_test(size=(80, 24)) as pilot:
                await pilot.pause(0.2)
                await pilot.press("3")
                assert _shown_panes(app) == ["instances-pane"]
                app.post_message(EngineReady(context))
                await wait_for(
                    pilot, lambda: app.offers_loaded.is_set() and app.fleet_loaded.is_set()
                )
                await pilot.pause(0.3)
                assert _shown_panes(app) == ["instances-pane"]
                assert app.focused is app.query_one("#instances", InstancesTable)
                assert app.query_one("#pane-tabs", Tabs).active == "tab-instances"
                await pilot.press("4")
                await pilot.pause(0.3)
                assert _shown_panes(app) == ["log-pane"]
                assert app.focused is not None and app.focused.id == "job-log"
                await pilot.click("#tab-offers")  # a click on a tab is a choice too
                await wait_for(pilot, lambda: _shown_panes(app) == ["offers-pane"])
                await wait_for(pilot, lambda: app.focused is app.query_one("#offers"))
        finally:
            context.close()
