"""Offer actions: the filter line, the offer details, choosing an offer to rent.

The filter (``/`` in any pane but the log) takes the keys typed right after ``/``: the
focus moves at once, from a priority binding, before any later key is dispatched.
``escape`` leaves the filter with its text kept, a second ``escape`` (in the table)
clears it; ``up`` and ``down`` in the filter recall earlier filters, kept in the store.
Tokens the filter language does not understand are named under the filter.

The offer details (``i``) open in a dialog; on wide screens they are a panel beside
the table instead, following the cursor, toggled by ``i``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import events, on
from textual.actions import SkipAction
from textual.binding import Binding, BindingType
from textual.widgets import Input

from vp_tui.tui.base import DashboardBase
from vp_tui.tui.widgets.filter_input import FilterInput, FilterNote

if TYPE_CHECKING:
    from vp_tui.core.models import Offer
    from vp_tui.tui.widgets.offer_detail import OfferDetailPanel
    from vp_tui.tui.widgets.offers_table import OffersTable
    from vp_tui.tui.widgets.platforms_pane import PlatformsPane

DETAIL_PANEL_WIDTH = 160
"""From this terminal width on, the offer details are a panel beside the offers table."""


class OfferActions(DashboardBase):
    """`/` filters, `i` shows an offer's details, `enter` rents; the platforms pane picks
    markets."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # A priority binding runs as the key arrives, so the keys typed after `/` find the
        # filter focused; in inputs, dialogs and the log pane `/` goes on as usual.
        Binding(
            "slash",
            "filter_key",
            "Filter offers",
            show=False,
            priority=True,
            id="offers.filter_key",
        ),
    ]

    # ------------------------------------------------------------------ filter

    @property
    def offer_filter(self) -> FilterInput | None:
        """The offer filter line, when the dashboard's screen is the one shown."""
        return self.pane("#offer-filter", FilterInput)

    def action_filter_key(self) -> None:
        """`/`: focus the offer filter, from any pane but the log (whose `/` searches the
        log); in inputs and dialogs the key goes on as typed."""
        if self.modal_open() or isinstance(self.focused, Input):
            raise SkipAction()
        if self.focused_pane() == "log":
            raise SkipAction()
        self.action_filter_offers()

    def action_filter_offers(self) -> None:
        """Focus the offer filter, at once."""
        found = self.offer_filter
        if found is None:
            return
        self._load_filter_history(found)
        found.screen.set_focus(found)

    def _load_filter_history(self, filter_input: FilterInput) -> None:
        """Read the earlier filters from the store, once the engine is there."""
        if filter_input.history_loaded or self.context is None:
            return
        from vp_tui.services.input_history import InputHistory

        store = self.engine.job_service.store
        filter_input.load_history(InputHistory(store, "filter").recent())

    def _remember_filter(self, filter_input: FilterInput, text: str) -> None:
        """Keep ``text`` as the newest filter, in the input and in the store."""
        if not text.strip():
            return
        filter_input.remember(text)
        if self.context is not None:
            from vp_tui.services.input_history import InputHistory

            InputHistory(self.engine.job_service.store, "filter").add(text)

    @on(events.DescendantFocus, "#offer-filter")
    def _filter_focused(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, FilterInput):
            self._load_filter_history(event.widget)

    @on(events.Key)
    def _escape_clears_filter(self, event: events.Key) -> None:
        if event.key != "escape":
            return
        table, found = self.offers_table, self.offer_filter
        if table is None or found is None or self.focused is not table or not found.value:
            return
        # The second escape of "escape, escape" from the filter: clear it.
        event.stop()
        event.prevent_default()
        found.value = ""

    @on(Input.Changed, "#offer-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        from vp_tui.core.offer_filter import unknown_tokens

        table = self.offers_table
        if table is not None:
            table.filter_text = event.value
        notes = self.query("#offer-filter-note")
        if notes:
            notes.first(FilterNote).show_unknown(unknown_tokens(event.value))

    @on(Input.Submitted, "#offer-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        if isinstance(event.input, FilterInput):
            self._remember_filter(event.input, event.value)
        table = self.offers_table
        if table is not None:
            table.screen.set_focus(table)

    @on(FilterInput.Left, "#offer-filter")
    def _filter_left(self, event: FilterInput.Left) -> None:
        self._remember_filter(event.filter_input, event.value)

    # ----------------------------------------------------------------- details

    @property
    def offer_detail_panel(self) -> OfferDetailPanel | None:
        """The details panel beside the offers table, while it is shown."""
        from vp_tui.tui.widgets.offer_detail import OfferDetailPanel

        return self.pane("#offer-detail-panel", OfferDetailPanel)

    def action_offer_details(self) -> None:
        """The highlighted offer's details: a dialog, or on wide screens a panel (toggled)."""
        table = self.offers_table
        if table is None:
            self.engine_up()
            return
        if self.size.width >= DETAIL_PANEL_WIDTH:
            self._toggle_detail_panel(table.cursor_offer)
            return
        offer = table.cursor_offer
        if offer is None:
            self.notify("No offer is highlighted.", title="Offer details", timeout=3)
            return
        self.open_offer_details(offer)

    def open_offer_details(self, offer: Offer) -> None:
        """The details dialog for ``offer``; its Rent button opens the create dialog."""
        from vp_tui.tui.screens.offer_detail import OfferDetailScreen

        def rent(chosen: bool | None) -> None:
            if chosen and not self.stopping:
                self.open_create(offer)

        self.push_screen(OfferDetailScreen(offer), rent)

    def _toggle_detail_panel(self, offer: Offer | None) -> None:
        from vp_tui.tui.widgets.offer_detail import OfferDetailPanel

        panel = self.offer_detail_panel
        if panel is not None:
            panel.remove()
            return
        panes = self.query("#offers-pane")
        if panes:
            panes.first().mount(OfferDetailPanel(offer, id="offer-detail-panel"))

    def on_offers_table_offer_highlighted(self, event: OffersTable.OfferHighlighted) -> None:
        panel = self.offer_detail_panel
        if panel is not None:
            panel.show(event.offer)

    @on(events.Resize)
    def _detail_panel_fits(self, event: events.Resize) -> None:
        panel = self.offer_detail_panel
        if panel is not None and event.size.width < DETAIL_PANEL_WIDTH:
            panel.remove()  # no room beside the table: `i` opens the dialog instead

    # ------------------------------------------------------------------ table

    def on_offers_table_view_changed(self, event: OffersTable.ViewChanged) -> None:
        pane = self.query_one("#offers-pane")
        kind = {"on-demand": "on-demand", "spot": "spot only", "all": "spot and on-demand"}
        pane.border_subtitle = f"{event.visible:,} of {event.total:,} · {kind[event.kind]} (t)"

    def on_offers_table_offer_chosen(self, event: OffersTable.OfferChosen) -> None:
        if not self.stopping:
            self.open_create(event.offer)

    def on_platforms_pane_included_changed(self, event: PlatformsPane.IncludedChanged) -> None:
        self.request_fetch("offers")
