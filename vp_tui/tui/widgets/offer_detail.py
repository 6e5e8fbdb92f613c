"""Everything known about one offer, as label/value lines: for the details dialog and panel.

Provider text (GPU names, locations, ids) is data, never markup. A fact the provider
did not send reads "not reported" and one that does not apply reads "—", so an
offer never shows a bare "None".
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from vp_tui.core.models import Offer, Stock
from vp_tui.core.money import format_price

NOT_REPORTED = "not reported"
"""What a fact the provider did not send reads."""
NOT_APPLICABLE = "—"
"""What a fact that does not apply to the offer reads."""

PLATFORM_NAMES = {"vast": "Vast.ai", "runpod": "RunPod"}
STOCK_WORDS = {
    Stock.HIGH: "high",
    Stock.MEDIUM: "medium",
    Stock.LOW: "low",
    Stock.NONE: "out of stock",
}
CLOUD_WORDS = {
    "SECURE": "Secure Cloud (data centres)",
    "COMMUNITY": "Community Cloud (vetted hosts)",
}


def _amount(value: float | None, unit: str = "") -> str:
    """``value`` with its unit, to one decimal below 100 when it has one."""
    if value is None:
        return NOT_REPORTED
    digits = 0 if value >= 100 or value == int(value) else 1
    return f"{value:,.{digits}f} {unit}".rstrip()


def _yes_no(value: bool | None) -> str:
    if value is None:
        return NOT_REPORTED
    return "yes" if value else "no"


def detail_rows(offer: Offer) -> list[tuple[str, str]]:
    """The facts of ``offer`` as (label, value) lines, in reading order."""
    count = offer.gpu_count
    per_gpu = offer.price_per_hour / count
    value = offer.dollars_per_tflop_hour
    gpus = str(count)
    if offer.max_gpu_count is not None:
        gpus += f" (up to {offer.max_gpu_count} per instance)"
    vram = f"{offer.vram_gb:,.0f} GB per GPU"
    if count > 1:
        vram += f" ({offer.vram_gb * count:,.0f} GB in all)"
    if offer.interruptible:
        kind = "spot (interruptible: may be stopped when outbid)"
        bid = format_price(offer.min_bid) + "/h" if offer.min_bid is not None else NOT_REPORTED
    else:
        kind = "on-demand"
        bid = NOT_APPLICABLE
    rel = offer.reliability
    reliability = NOT_REPORTED if rel is None else f"{rel * 100:.1f}%"
    cuda = f"{offer.cuda_version:g}" if offer.cuda_version is not None else NOT_REPORTED
    if offer.platform == "runpod":
        cloud = CLOUD_WORDS.get((offer.cloud or "").upper(), offer.cloud or NOT_REPORTED)
        stock = STOCK_WORDS[offer.stock] if offer.stock is not None else NOT_REPORTED
    else:
        cloud = NOT_APPLICABLE
        stock = STOCK_WORDS[offer.stock] if offer.stock is not None else "listed as rentable"
    return [
        ("Platform", PLATFORM_NAMES.get(offer.platform, offer.platform)),
        ("Offer id", offer.offer_id),
        ("GPU", offer.gpu or f"{offer.gpu_raw} (not in the catalog)"),
        ("Provider's name", offer.gpu_raw),
        ("GPUs", gpus),
        ("VRAM", vram),
        ("$/h", format_price(offer.price_per_hour) + "/h"),
        ("$/GPU-h", format_price(per_gpu) + "/h"),
        ("$/TFLOP-h", f"${value:.3g}" if value is not None else NOT_APPLICABLE),
        ("Kind", kind),
        ("Minimum bid", bid),
        ("CPU cores", _amount(offer.cpu_cores)),
        ("RAM", _amount(offer.ram_gb, "GB")),
        ("Disk", _amount(offer.disk_gb, "GB")),
        ("Network down", _amount(offer.inet_down_mbps, "Mbps")),
        ("Network up", _amount(offer.inet_up_mbps, "Mbps")),
        ("Verified", _yes_no(offer.verified)),
        ("Reliability", reliability),
        ("CUDA", cuda),
        ("Driver", offer.driver_version or NOT_REPORTED),
        ("Cloud", cloud),
        ("Location", offer.location or NOT_REPORTED),
        ("Stock", stock),
    ]


def detail_table(offer: Offer) -> Table:
    """The facts of ``offer`` as a two-column grid (labels muted), every cell plain text."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in detail_rows(offer):
        grid.add_row(Text(label), Text(value))
    return grid


class OfferDetail(Static):
    """The facts of one offer; :meth:`show` changes the offer (None: nothing highlighted)."""

    DEFAULT_CSS = """
    OfferDetail {
        height: auto;
    }
    """

    def __init__(
        self,
        offer: Offer | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__("", name=name, id=id, classes=classes, markup=False)
        self.offer: Offer | None = None
        self.show(offer)

    def show(self, offer: Offer | None) -> None:
        """Show the facts of ``offer`` (or say that no offer is highlighted)."""
        if offer is not None and offer == self.offer:
            return
        self.offer = offer
        if offer is None:
            self.update(Text("No offer highlighted.", style="italic"))
        else:
            self.update(detail_table(offer))


class OfferDetailPanel(VerticalScroll, can_focus=False):
    """The highlighted offer's facts beside the offers table (wide screens), scrolling when
    the pane is short; the dashboard moves it with the table's cursor."""

    DEFAULT_CSS = """
    OfferDetailPanel {
        dock: right;
        width: 46;
        height: 1fr;
        padding: 0 1;
        border-left: vkey $panel-lighten-2;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(
        self,
        offer: Offer | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._first = offer

    def compose(self) -> ComposeResult:
        yield OfferDetail(self._first)

    @property
    def offer(self) -> Offer | None:
        """The offer shown."""
        return self.query_one(OfferDetail).offer

    def show(self, offer: Offer | None) -> None:
        """Show the facts of ``offer``."""
        self.query_one(OfferDetail).show(offer)
