"""How offers are ordered and compared: the one home of the sort orders and of "cheapest".

Both faces use these functions (``vp offers``, the offers table, the market service),
so a sort or a ★ means the same thing everywhere. Every column of the offers table
sorts, each in its natural direction first (``descending=None``) or either way:

- **per_gpu**: cheapest $ per GPU-hour first, then the lower total $/h (the table's
  default, so the first offer of each model is its ★);
- **price**: cheapest total $/h first, then fewer GPUs;
- **value**: lowest $ per BF16 TFLOP-hour first;
- **vram**: most VRAM per GPU (as shown, in whole GB) first, then more GPUs;
- **reliability**: most reliable first;
- **gpus**, **platform**, **gpu**, **location**, **kind** (on-demand before spot):
  smallest / A to Z first;
- **stock**: most stock first;

each then cheapest, and ties broken by offer key so the order never depends on the
order the platforms answered in. An unknown value (no reliability, no $/TFLOP, no
location, no stock, an unknown GPU model) sorts last in both directions.

**Cheapest** always means cheapest per GPU-hour (an 8-GPU machine at $2.80/h is
cheaper than a 1-GPU one at $0.40/h); among equal per-GPU prices the lower total
$/h wins, then the offer key.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from vp_tui.core.gpus import gpu_spec
from vp_tui.core.models import PLATFORMS, Offer, PlatformName, Stock

__all__ = [
    "DEFAULT_SORT",
    "MODEL_SORTS",
    "OFFER_SORTS",
    "SORTS",
    "Cheapness",
    "GpuComparison",
    "MarketSort",
    "ModelPrices",
    "ModelSort",
    "OfferSort",
    "SortKey",
    "cheapest_keys",
    "cheapest_per_gpu",
    "cheapness",
    "compare_by_gpu",
    "compare_side_by_side",
    "natural_descending",
    "per_gpu_hour",
    "rank",
    "rank_comparisons",
    "rank_models",
    "sort_keys",
    "stock_level",
    "unavailable_reason",
]

MarketSort = Literal["price", "value", "vram", "reliability"]
"""The orders a market query asks for (``OfferQuery.sort``)."""

OfferSort = Literal[
    "per_gpu",
    "price",
    "value",
    "vram",
    "reliability",
    "gpus",
    "platform",
    "gpu",
    "location",
    "stock",
    "kind",
]
"""Every order of offers: one per column of the offers table."""

SORTS: tuple[MarketSort, ...] = ("price", "value", "vram", "reliability")
"""The orders a market query knows (``OfferQuery.sort``, ``vp offers --sort`` since the
start); :data:`OFFER_SORTS` has every order."""

OFFER_SORTS: tuple[OfferSort, ...] = get_args(OfferSort)
"""Every order of offers (``vp offers --sort`` choices)."""

DEFAULT_SORT: OfferSort = "per_gpu"
"""The order the offers table starts in: cheapest per GPU-hour, the order of the ★."""

_NATURALLY_DESCENDING: frozenset[str] = frozenset({"vram", "reliability", "stock"})

SortKey = tuple[float | str, ...]
"""What offers are sorted by: measures, then tie-breakers, then the offer key; smaller first."""

Cheapness = tuple[float, float, str]
"""(per-GPU $/h, total $/h, offer key): the smaller, the cheaper."""

_STOCK_LEVELS = {Stock.HIGH: 3.0, Stock.MEDIUM: 2.0, Stock.LOW: 1.0, Stock.NONE: 0.0}
_UNKNOWN = math.inf


def natural_descending(sort: str) -> bool:
    """Whether ``sort`` puts the largest values first unless reversed (most VRAM, most
    reliable, most stock); every other order starts smallest / A to Z / cheapest."""
    return sort in _NATURALLY_DESCENDING


def per_gpu_hour(offer: Offer) -> float:
    """Dollars per hour for one GPU of ``offer``."""
    return offer.price_per_hour / offer.gpu_count


def cheapness(offer: Offer) -> Cheapness:
    """How cheap ``offer`` is, as a value to compare: the smallest is the cheapest."""
    return (offer.price_per_hour / offer.gpu_count, offer.price_per_hour, offer.key)


def stock_level(stock: Stock | None) -> float | None:
    """How much stock a level means, to compare (High 3 ... None left 0); None when unknown."""
    return None if stock is None else _STOCK_LEVELS.get(stock)


def unavailable_reason(offer: Offer) -> str | None:
    """Why ``offer`` cannot be rented now, or None when it can.

    RunPod says per GPU type whether any is free: a type with none left, or one it gives
    no stock for, cannot be rented. Vast lists rentable machines only, with no stock figure.
    """
    if offer.platform != "runpod":
        return None
    if offer.stock is Stock.NONE:
        return "out of stock on RunPod"
    if offer.stock is None:
        return "stock unknown on RunPod"
    return None


def _text_ranks(values: Iterable[str | None]) -> dict[str, float]:
    """Each distinct text -> its place in case-insensitive A to Z order."""
    distinct = sorted({v for v in values if v is not None}, key=lambda v: (v.casefold(), v))
    return {value: float(i) for i, value in enumerate(distinct)}


def sort_keys(
    offers: Sequence[Offer], sort: OfferSort, descending: bool | None = None
) -> list[SortKey]:
    """The key of each offer under ``sort``, in the offers' order (sort ascending by it).

    ``descending`` None is the sort's natural direction (:func:`natural_descending`).
    Only the measure flips with the direction: unknown values stay last and ties are
    still broken by the cheaper offer, then the offer key.
    """
    down = natural_descending(sort) if descending is None else descending
    s = -1.0 if down else 1.0
    inf = _UNKNOWN
    if sort == "per_gpu":
        return [(s * o.price_per_hour / o.gpu_count, o.price_per_hour, o.key) for o in offers]
    if sort == "price":
        return [(s * o.price_per_hour, float(o.gpu_count), o.key) for o in offers]
    if sort == "value":
        tflops: dict[tuple[str | None, int], float | None] = {}
        keys: list[SortKey] = []
        for o in offers:
            model = (o.gpu, o.gpu_count)
            if model not in tflops:
                tflops[model] = o.tflops_bf16
            total = tflops[model]
            price = o.price_per_hour
            keys.append((s * price / total if total else inf, price, o.key))
        return keys
    if sort == "vram":
        return [(s * round(o.vram_gb), s * o.gpu_count, o.price_per_hour, o.key) for o in offers]
    if sort == "reliability":
        return [
            (inf if o.reliability is None else s * o.reliability, o.price_per_hour, o.key)
            for o in offers
        ]
    measure = _measure(offers, sort)
    keys = []
    for o in offers:
        value = measure(o)
        price = o.price_per_hour
        keys.append((inf if value is None else s * value, price / o.gpu_count, price, o.key))
    return keys


def _measure(offers: Sequence[Offer], sort: OfferSort) -> Callable[[Offer], float | None]:
    """How the column of ``sort`` is read as a number (None: unknown)."""
    if sort == "gpus":
        return lambda o: float(o.gpu_count)
    if sort == "kind":
        return lambda o: 1.0 if o.interruptible else 0.0
    if sort == "stock":
        return lambda o: stock_level(o.stock)
    if sort == "platform":
        platforms = _text_ranks(o.platform for o in offers)
        return lambda o: platforms[o.platform]
    if sort == "gpu":
        names = _text_ranks(o.gpu for o in offers)
        return lambda o: None if o.gpu is None else names[o.gpu]
    places = _text_ranks(o.location for o in offers)
    return lambda o: None if o.location is None else places[o.location]


def rank(
    offers: Iterable[Offer], sort: OfferSort = "price", descending: bool | None = None
) -> list[Offer]:
    """Offers in ``sort`` order (its natural direction unless ``descending`` says)."""
    items = list(offers)
    keys = sort_keys(items, sort, descending)
    return [items[i] for i in sorted(range(len(items)), key=keys.__getitem__)]


def cheapest_per_gpu(offers: Iterable[Offer], *, by_kind: bool = False) -> dict[str, Offer]:
    """GPU model -> its cheapest offer per GPU-hour (offers of unknown models left out).

    With ``by_kind`` the key is ``"<model>|spot"`` for interruptible offers, so on-demand
    and spot offers each have their own cheapest.
    """
    best: dict[str, tuple[Cheapness, Offer]] = {}
    for offer in offers:
        if offer.gpu is None:
            continue
        model = offer.gpu + "|spot" if by_kind and offer.interruptible else offer.gpu
        rating = cheapness(offer)
        current = best.get(model)
        if current is None or rating < current[0]:
            best[model] = (rating, offer)
    return {gpu: offer for gpu, (_, offer) in best.items()}


def cheapest_keys(offers: Iterable[Offer], *, by_kind: bool = False) -> set[str]:
    """Keys of the offers that are the cheapest per GPU-hour of their GPU model (the ★);
    with ``by_kind``, of their model and kind (on-demand or spot)."""
    return {offer.key for offer in cheapest_per_gpu(offers, by_kind=by_kind).values()}


@dataclass(frozen=True)
class GpuComparison:
    """The cheapest offer of one GPU model on each platform."""

    gpu: str
    best: dict[PlatformName, Offer]
    """Platform -> its cheapest offer per GPU-hour for this model."""

    def per_gpu_price(self, platform: PlatformName) -> float | None:
        """$/h for one GPU of the model on ``platform``."""
        offer = self.best.get(platform)
        return None if offer is None else per_gpu_hour(offer)

    @property
    def choice(self) -> Offer:
        """The offer this model stands for: its cheapest per GPU-hour on any platform."""
        return min(self.best.values(), key=cheapness)

    @property
    def cheapest_platform(self) -> PlatformName | None:
        """Where the model is cheapest per GPU-hour."""
        return self.choice.platform if self.best else None

    @property
    def difference(self) -> float | None:
        """RunPod minus Vast, $/GPU-hour, when both have the model."""
        vast, runpod = self.per_gpu_price("vast"), self.per_gpu_price("runpod")
        return None if vast is None or runpod is None else runpod - vast


def compare_by_gpu(
    offers: Iterable[Offer], *, interruptible: bool | None = False
) -> list[GpuComparison]:
    """Cheapest offer per canonical GPU on each platform, cheapest model first.

    Like is compared with like: on-demand offers only by default, spot/bid
    offers only with ``interruptible=True``, both with None.
    """
    best: dict[str, dict[PlatformName, tuple[Cheapness, Offer]]] = {}
    for offer in offers:
        if offer.gpu is None:
            continue
        if interruptible is not None and offer.interruptible != interruptible:
            continue
        per_platform = best.setdefault(offer.gpu, {})
        rating = cheapness(offer)
        current = per_platform.get(offer.platform)
        if current is None or rating < current[0]:
            per_platform[offer.platform] = (rating, offer)
    rows = [
        GpuComparison(gpu, {platform: offer for platform, (_, offer) in per.items()})
        for gpu, per in best.items()
    ]
    return rank_comparisons(rows, "price")


def rank_comparisons(rows: Iterable[GpuComparison], sort: OfferSort) -> list[GpuComparison]:
    """GPU models in ``sort`` order, judged by each model's best offers; ties by GPU name.

    price: cheapest per GPU-hour; value: lowest $/TFLOP-h; vram: most VRAM per GPU;
    reliability: most reliable (unknown last); each then cheapest per GPU-hour. Any
    other order is cheapest per GPU-hour.
    """

    def key(row: GpuComparison) -> tuple[float, float, str]:
        offers = row.best.values()
        cheapest = min(per_gpu_hour(o) for o in offers)
        if sort == "value":
            known = [v for o in offers if (v := o.dollars_per_tflop_hour) is not None]
            return (min(known) if known else math.inf, cheapest, row.gpu)
        if sort == "vram":
            return (-max(o.vram_gb for o in offers), cheapest, row.gpu)
        if sort == "reliability":
            found = [o.reliability if o.reliability is not None else -1.0 for o in offers]
            return (-max(found), cheapest, row.gpu)
        return (cheapest, 0.0, row.gpu)

    return sorted(rows, key=key)


ModelSort = Literal["gpu", "vram", "vast", "vast_spot", "runpod", "runpod_spot", "diff", "cheaper"]
"""Orders of the by-GPU view: by name, VRAM, one platform's on-demand or spot $/GPU-h,
the difference (RunPod minus Vast), or the cheaper platform's $/GPU-h."""

MODEL_SORTS: tuple[ModelSort, ...] = (
    "gpu",
    "vram",
    "vast",
    "vast_spot",
    "runpod",
    "runpod_spot",
    "diff",
    "cheaper",
)
"""Every order of the by-GPU view."""


@dataclass(frozen=True)
class ModelPrices:
    """One GPU model's cheapest offers per platform, on-demand and spot side by side."""

    gpu: str
    on_demand: dict[PlatformName, Offer]
    """Platform -> its cheapest on-demand offer per GPU-hour of this model."""
    spot: dict[PlatformName, Offer]
    """Platform -> its cheapest spot (interruptible) offer per GPU-hour of this model."""
    spot_compared: bool = False
    """Whether the difference and the cheaper platform compare the spot prices."""

    def offer(self, platform: PlatformName, spot: bool) -> Offer | None:
        """The cheapest offer of ``platform`` and kind, if it has one."""
        return (self.spot if spot else self.on_demand).get(platform)

    def per_gpu_price(self, platform: PlatformName, spot: bool) -> float | None:
        """$/h for one GPU of the model on ``platform``, spot or on-demand."""
        offer = self.offer(platform, spot)
        return None if offer is None else per_gpu_hour(offer)

    @property
    def compared(self) -> GpuComparison | None:
        """The kind compared (spot or on-demand), None when the model has none of it."""
        best = self.spot if self.spot_compared else self.on_demand
        return GpuComparison(self.gpu, dict(best)) if best else None

    @property
    def offers(self) -> list[Offer]:
        """Every offer shown: per platform, on-demand before spot."""
        found = [self.offer(p, spot) for p in PLATFORMS for spot in (False, True)]
        return [o for o in found if o is not None]

    @property
    def choice(self) -> Offer:
        """The offer this model stands for: the cheapest of the compared kind, else of any."""
        compared = self.compared
        return compared.choice if compared is not None else min(self.offers, key=cheapness)

    @property
    def vram_gb(self) -> float:
        """VRAM per GPU: the catalog's, else the most any of the offers reports."""
        spec = gpu_spec(self.gpu)
        return spec.vram_gb if spec is not None else max(o.vram_gb for o in self.offers)

    @property
    def cheapest_price(self) -> float | None:
        """The cheaper platform's $/GPU-h of the compared kind."""
        compared = self.compared
        return None if compared is None else per_gpu_hour(compared.choice)


def compare_side_by_side(
    on_demand: Iterable[Offer], spot: Iterable[Offer], *, spot_compared: bool = False
) -> list[ModelPrices]:
    """One row per GPU model with its cheapest on-demand and spot offer on each platform.

    ``on_demand`` and ``spot`` may hold any offers; only those of their kind and of a
    known model count. Rows come in :func:`rank_models` ``cheaper`` order.
    """
    plain = {row.gpu: row.best for row in compare_by_gpu(on_demand, interruptible=False)}
    bids = {row.gpu: row.best for row in compare_by_gpu(spot, interruptible=True)}
    rows = [
        ModelPrices(gpu, plain.get(gpu, {}), bids.get(gpu, {}), spot_compared)
        for gpu in {*plain, *bids}
    ]
    return rank_models(rows, "cheaper")


def rank_models(
    rows: Iterable[ModelPrices], sort: ModelSort, descending: bool | None = None
) -> list[ModelPrices]:
    """GPU-model rows in ``sort`` order (its natural direction unless ``descending`` says).

    Unknown values (a price the model does not have, no difference) stay last either
    way; ties go to the cheaper model, then the GPU name.
    """
    down = natural_descending(sort) if descending is None else descending
    s = -1.0 if down else 1.0
    items = list(rows)
    names = _text_ranks(row.gpu for row in items) if sort == "gpu" else {}

    def measure(row: ModelPrices) -> float | None:
        if sort == "gpu":
            return names[row.gpu]
        if sort == "vram":
            return row.vram_gb
        if sort == "diff":
            compared = row.compared
            return None if compared is None else compared.difference
        if sort == "cheaper":
            return row.cheapest_price
        platform: PlatformName = "vast" if sort.startswith("vast") else "runpod"
        return row.per_gpu_price(platform, sort.endswith("_spot"))

    def key(row: ModelPrices) -> tuple[float, float, str]:
        value = measure(row)
        cheapest = row.cheapest_price
        return (
            _UNKNOWN if value is None else s * value,
            _UNKNOWN if cheapest is None else cheapest,
            row.gpu,
        )

    return sorted(items, key=key)
