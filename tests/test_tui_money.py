"""The money on the dashboard: the status bar's today, month and runway, and the flags on
instances a user may have forgotten (not started by vp-tui, stopped but billing storage)."""

from __future__ import annotations

from pathlib import Path

from demo_helpers import rent
from tui_helpers import running_app, wait_for

from vp_tui.platforms.base import OfferQuery
from vp_tui.tui.widgets.instances_table import InstancesTable


def text(app: object, selector: str) -> str:
    return str(app.query_one(selector).render())  # type: ignore[attr-defined]


async def test_the_status_bar_shows_today_the_month_and_how_long_the_balance_lasts(
    tmp_path: Path,
) -> None:
    async with running_app(tmp_path, accounts_seconds=1) as (app, pilot, _cloud):
        rent(app.engine, "vast", "RTX 3090")
        table = app.query_one("#instances", InstancesTable)
        await wait_for(pilot, lambda: table.row_count == 1, what="the instance listed")
        await wait_for(pilot, lambda: "balance lasts" in text(app, "#runway"), what="runway")
        assert text(app, "#spend-today").startswith("today $")
        assert text(app, "#spend-month").startswith("month $")
        lasts = text(app, "#runway")
        assert lasts.startswith("balance lasts ") and ("d " in lasts or "h " in lasts)


async def test_forgotten_instances_are_flagged_with_their_spend(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, cloud):
        ours = rent(app.engine, "vast", "RTX 3090")
        offer = app.engine.market.refresh(
            OfferQuery(gpus=("RTX 4090",), interruptible=False), platforms=["vast"]
        ).offers[0]
        theirs = cloud.cloud.create_vast(int(offer.offer_id), image="pytorch/pytorch")
        table = app.query_one("#instances", InstancesTable)
        await wait_for(pilot, lambda: table.row_count == 2, what="both listed")

        def flags(instance_id: str) -> str:
            return str(table.get_cell(f"vast:{instance_id}", "flags"))

        await wait_for(pilot, lambda: flags(theirs.id) == "not vp-tui", what="the orphan flag")
        assert flags(ours.instance_id) == ""
        app.engine.fleet.stop(ours.instance_id, "vast")
        await wait_for(
            pilot, lambda: flags(ours.instance_id) == "storage only", what="the storage flag"
        )
        spent = str(table.get_cell(f"vast:{ours.instance_id}", "spent"))
        assert spent.startswith("$")  # what it billed while it ran, kept by the ledger


async def test_a_budget_near_its_limit_turns_the_status_bar_amber(tmp_path: Path) -> None:
    from tui_helpers import notifications

    async with running_app(tmp_path) as (app, pilot, _cloud):
        rent(app.engine, "vast", "RTX 3090")
        table = app.query_one("#instances", InstancesTable)
        await wait_for(pilot, lambda: table.row_count == 1, what="the instance listed")
        app.engine.settings.budget.daily_usd = 0.000001  # already spent: over budget
        app.run_guards()
        bar = app.query_one("#status-bar")
        await wait_for(pilot, lambda: bar.has_class("budget-warn"), what="the amber status bar")
        await wait_for(
            pilot,
            lambda: any("daily budget" in n for n in notifications(app)),
            what="the budget notification",
        )
        assert table.row_count == 1  # the default action only warns
