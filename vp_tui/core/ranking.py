"""How offers are ordered and compared: the one home of the sort orders and of "cheapest".

Both faces use these functions (``vp offers``, the offers table, the market service),
so a sort or a ★ means the same thing everywhere:

- **price**: cheapest total $/h first, then fewer GPUs;
- **value**: lowest $ per BF16 TFLOP-hour first, offers of unknown GPUs last;
- **vram**: most VRAM in total (per GPU x GPUs) first;
- **reliability**: most reliable first, offers without a reliability last;

each then cheapest, and ties broken by offer key so the order never depends on the
order the platforms answered in.

**Cheapest** always means cheapest per GPU-hour (an 8-GPU machine at $2.80/h is
cheaper than a 1-GPU one at $0.40/h); among equal per-GPU prices the lower total
$/h wins, then the offer key.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from vp_tui.core.models import Offer, PlatformName

__all__ = [
    "SORTS",
    "Cheapness",
    "GpuComparison",
    "OfferSort",
    "SortKey",
    "cheapest_keys",
    "cheapest_per_gpu",
    "cheapness",
    "compare_by_gpu",
    "per_gpu_hour",
    "rank",
    "rank_comparisons",
    "sort_keys",
]

OfferSort = Literal["price", "value", "vram", "reliability"]
"""How offers are ordered: cheapest, best $/TFLOP, most VRAM, most reliable."""

SORTS: tuple[OfferSort, ...] = ("price", "value", "vram", "reliability")
"""Every sort order, in the order the offers table cycles through them."""

SortKey = tuple[float, float, str]
"""What offers are sorted by: (the measure, then $/h, then the offer key); smaller first."""

Cheapness = tuple[float, float, str]
"""(per-GPU $/h, total $/h, offer key): the smaller, the cheaper."""


def per_gpu_hour(offer: Offer) -> float:
    """Dollars per hour for one GPU of ``offer``."""
    return offer.price_per_hour / offer.gpu_count


def cheapness(offer: Offer) -> Cheapness:
    """How cheap ``offer`` is, as a value to compare: the smallest is the cheapest."""
    return (offer.price_per_hour / offer.gpu_count, offer.price_per_hour, offer.key)


def sort_keys(offers: Sequence[Offer], sort: OfferSort) -> list[SortKey]:
    """The key of each offer under ``sort``, in the offers' order (sort ascending by it)."""
    if sort == "price":
        return [(o.price_per_hour, float(o.gpu_count), o.key) for o in offers]
    if sort == "value":
        tflops: dict[tuple[str | None, int], float | None] = {}
        keys: list[SortKey] = []
        for o in offers:
            model = (o.gpu, o.gpu_count)
            if model not in tflops:
                tflops[model] = o.tflops_bf16
            total = tflops[model]
            price = o.price_per_hour
            keys.append((price / total if total else math.inf, price, o.key))
        return keys
    if sort == "vram":
        return [(-(o.vram_gb * o.gpu_count), o.price_per_hour, o.key) for o in offers]
    return [
        (-(o.reliability if o.reliability is not None else -1.0), o.price_per_hour, o.key)
        for o in offers
    ]


def rank(offers: Iterable[Offer], sort: OfferSort = "price") -> list[Offer]:
    """Offers in ``sort`` order: the order a person choosing one wants."""
    items = list(offers)
    keys = sort_keys(items, sort)
    return [items[i] for i in sorted(range(len(items)), key=keys.__getitem__)]


def cheapest_per_gpu(offers: Iterable[Offer]) -> dict[str, Offer]:
    """GPU model -> its cheapest offer per GPU-hour (offers of unknown models left out)."""
    best: dict[str, tuple[Cheapness, Offer]] = {}
    for offer in offers:
        if offer.gpu is None:
            continue
        rating = cheapness(offer)
        current = best.get(offer.gpu)
        if current is None or rating < current[0]:
            best[offer.gpu] = (rating, offer)
    return {gpu: offer for gpu, (_, offer) in best.items()}


def cheapest_keys(offers: Iterable[Offer]) -> set[str]:
    """Keys of the offers that are the cheapest per GPU-hour of their GPU model (the ★)."""
    return {offer.key for offer in cheapest_per_gpu(offers).values()}


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
    reliability: most reliable (unknown last); each then cheapest per GPU-hour.
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
