"""Offer actions: the filter line, sorting, grouping, choosing an offer to rent."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events, on
from textual.widgets import Input

from vp_tui.tui.base import DashboardBase

if TYPE_CHECKING:
    from vp_tui.tui.widgets.offers_table import OffersTable
    from vp_tui.tui.widgets.platforms_pane import PlatformsPane


class OfferActions(DashboardBase):
    """`/` filters, `s` sorts, `g` groups, `enter` rents; the platforms pane picks markets."""

    def action_filter_offers(self) -> None:
        """Focus the offer filter."""
        self.action_focus_pane("offers")
        self.query_one("#offer-filter", Input).focus()

    def on_key(self, event: events.Key) -> None:
        if (
            event.key == "slash"
            and self.focused_pane() == "offers"
            and not isinstance(self.focused, Input)
        ):
            event.stop()
            self.action_filter_offers()

    @on(Input.Changed, "#offer-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        table = self.offers_table
        if table is not None:
            table.filter_text = event.value

    @on(Input.Submitted, "#offer-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        table = self.offers_table
        if table is not None:
            table.focus()

    def on_offers_table_view_changed(self, event: OffersTable.ViewChanged) -> None:
        pane = self.query_one("#offers-pane")
        pane.border_subtitle = f"{event.visible:,} of {event.total:,}"

    def on_offers_table_offer_chosen(self, event: OffersTable.OfferChosen) -> None:
        if not self.stopping:
            self.open_create(event.offer)

    def on_platforms_pane_included_changed(self, event: PlatformsPane.IncludedChanged) -> None:
        self.request_fetch("offers")
