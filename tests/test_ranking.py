"""The one rule of offer order and "cheapest" (core.ranking), shared by `vp` and the table."""

from __future__ import annotations

import pytest
from offers_fixtures import make_offer, synthetic_offers

from vp_tui.core import offer_filter, ranking
from vp_tui.core.models import Offer, Stock
from vp_tui.core.offer_filter import OfferIndex
from vp_tui.core.ranking import (
    DEFAULT_SORT,
    MODEL_SORTS,
    OFFER_SORTS,
    SORTS,
    ModelSort,
    OfferSort,
    cheapest_keys,
    cheapest_per_gpu,
    cheapness,
    compare_by_gpu,
    compare_side_by_side,
    natural_descending,
    rank,
    rank_comparisons,
    rank_models,
    stock_level,
    unavailable_reason,
)
from vp_tui.services import market

TIED = [
    make_offer("vast", "20", "RTX 4090", 0.4, reliability=0.99),
    make_offer("vast", "3", "RTX 4090", 0.4, reliability=0.99),
    make_offer("runpod", "a", "RTX 4090", 0.4, reliability=0.99),
    make_offer("vast", "8", "RTX 4090", 0.8, count=2, reliability=0.99),
    make_offer("runpod", "b", "RTX 3090", 0.4, vram=24, reliability=0.99),
]


def test_the_faces_share_one_home() -> None:
    assert offer_filter.SORTS is ranking.SORTS
    assert market.SORT_KEYS == ranking.SORTS
    assert market.rank is ranking.rank
    assert market.cheapest_keys is ranking.cheapest_keys
    assert market.compare_by_gpu is ranking.compare_by_gpu
    assert market.GpuComparison is ranking.GpuComparison


@pytest.mark.parametrize("sort", SORTS)
def test_ties_are_broken_by_key_whatever_order_the_platforms_answered_in(
    sort: OfferSort,
) -> None:
    forward = [o.key for o in rank(TIED, sort)]
    assert [o.key for o in rank(list(reversed(TIED)), sort)] == forward
    index = OfferIndex(list(reversed(TIED)))
    assert [index.offers[i].key for i in index.order(sort)] == forward


def test_price_order_is_total_price_then_fewer_gpus_then_key() -> None:
    assert [o.key for o in rank(TIED, "price")] == [
        "runpod:a",
        "runpod:b",
        "vast:20",
        "vast:3",
        "vast:8",
    ]


def test_cheapest_is_per_gpu_hour() -> None:
    single = make_offer("vast", "1", "H100 SXM", 2.5)
    eight = make_offer("vast", "8", "H100 SXM", 16.0, count=8)  # $2.00 per GPU-hour
    assert cheapest_keys([single, eight]) == {"vast:8"}
    assert cheapest_per_gpu([single, eight])["H100 SXM"] is eight
    (row,) = compare_by_gpu([single, eight])
    assert row.best["vast"] is eight and row.per_gpu_price("vast") == pytest.approx(2.0)


def test_equal_per_gpu_prices_prefer_the_lower_total_then_the_key() -> None:
    order = [
        make_offer("vast", "2x", "RTX 4090", 0.8, count=2),
        make_offer("vast", "1x", "RTX 4090", 0.4),
        make_offer("runpod", "r", "RTX 4090", 0.4),
    ]
    for offers in (order, list(reversed(order))):
        assert cheapest_keys(offers) == {"runpod:r"}
        assert OfferIndex(offers).cheapest == {"runpod:r"}
        assert compare_by_gpu(offers)[0].best["vast"].offer_id == "1x"


def test_a_grouped_row_rents_the_platform_it_calls_cheaper() -> None:
    offers: list[Offer] = [
        make_offer("vast", "v", "RTX 4090", 0.5),
        make_offer("runpod", "r", "RTX 4090", 0.5),
    ]
    for given in (offers, list(reversed(offers))):
        (row,) = compare_by_gpu(given)
        assert row.cheapest_platform == row.choice.platform == "runpod"
        assert row.difference == 0


def test_grouped_rows_follow_the_same_sorts() -> None:
    offers = [
        make_offer("vast", "1", "RTX 4090", 0.4, vram=24, reliability=0.9),
        make_offer("vast", "2", "RTX 3090", 0.2, vram=24),
        make_offer("runpod", "3", "A100 SXM 80GB", 1.2, vram=80, reliability=0.95),
        make_offer("vast", "4", "RTX 4080", 0.3, vram=16, reliability=0.0),
    ]
    rows = compare_by_gpu(offers)
    assert [r.gpu for r in rows] == ["RTX 3090", "RTX 4080", "RTX 4090", "A100 SXM 80GB"]

    def gpus(sort: OfferSort) -> list[str]:
        return [r.gpu for r in rank_comparisons(rows, sort)]

    assert gpus("price") == [r.gpu for r in rows]
    assert gpus("vram")[0] == "A100 SXM 80GB"
    # unknown reliability comes after a known 0%, as in the flat list
    assert gpus("reliability") == ["A100 SXM 80GB", "RTX 4090", "RTX 4080", "RTX 3090"]
    flat = [o.gpu for o in rank(offers, "reliability")]
    assert flat == ["A100 SXM 80GB", "RTX 4090", "RTX 4080", "RTX 3090"]
    value = [o.gpu for o in rank(offers, "value")]
    assert gpus("value") == value


# ---------------------------------------------------------------- every column, both ways

MIXED = [
    make_offer("vast", "a", "RTX 4090", 0.40, vram=23.99, count=2, reliability=0.98, location="US"),
    make_offer("vast", "b", "RTX 4090", 0.30, vram=24, reliability=0.91, location="sweden"),
    make_offer("vast", "c", "RTX 4090", 0.10, interruptible=True, location="Norway"),
    make_offer("runpod", "d", "A40", 0.44, vram=48, stock=Stock.HIGH, cloud="SECURE"),
    make_offer("runpod", "e", "A40", 0.39, vram=48, stock=Stock.NONE, cloud="COMMUNITY"),
    make_offer("runpod", "f", "A40", 0.42, vram=48, stock=None, cloud="SECURE"),
    make_offer("vast", "g", None, 0.05, vram=8, raw="Mystery", reliability=0.5),
]


@pytest.mark.parametrize("sort", OFFER_SORTS)
@pytest.mark.parametrize("descending", [None, False, True])
def test_every_sort_agrees_between_rank_and_index(sort: OfferSort, descending: bool | None) -> None:
    offers = [*MIXED, *synthetic_offers(300, seed=4)]
    ranked = [o.key for o in rank(offers, sort, descending)]
    assert [o.key for o in rank(list(reversed(offers)), sort, descending)] == ranked
    index = OfferIndex(reversed(offers))
    order = index.order(sort, descending)
    assert [index.offers[i].key for i in order] == ranked
    assert index.order(sort, descending) is order  # cached per sort and direction


@pytest.mark.parametrize(
    ("sort", "unknown"),
    [
        ("reliability", {"runpod:d", "runpod:e", "runpod:f", "vast:c"}),
        ("value", {"vast:g"}),
        ("gpu", {"vast:g"}),
        ("location", {"runpod:d", "runpod:e", "runpod:f", "vast:g"}),
        ("stock", {"runpod:f", "vast:a", "vast:b", "vast:c", "vast:g"}),
    ],
)
def test_unknown_values_stay_last_both_ways(sort: OfferSort, unknown: set[str]) -> None:
    for descending in (False, True):
        keys = [o.key for o in rank(MIXED, sort, descending)]
        assert set(keys[-len(unknown) :]) == unknown, (sort, descending, keys)
    known_up = [o.key for o in rank(MIXED, sort, False) if o.key not in unknown]
    known_down = [o.key for o in rank(MIXED, sort, True) if o.key not in unknown]
    if len(set(known_up)) > 1:
        assert known_up != known_down


def test_default_order_is_per_gpu_hour_and_agrees_with_the_star() -> None:
    offers = synthetic_offers(500, seed=8)
    assert DEFAULT_SORT == "per_gpu"
    ordered = rank(offers, DEFAULT_SORT)
    assert ordered == sorted(offers, key=cheapness)
    first_of_kind: dict[tuple[str | None, bool], str] = {}
    for offer in ordered:
        first_of_kind.setdefault((offer.gpu, offer.interruptible), offer.key)
    assert set(first_of_kind.values()) == cheapest_keys(offers, by_kind=True)
    assert OfferIndex(offers).cheapest_of_kind == cheapest_keys(offers, by_kind=True)


def test_vram_sorts_by_the_per_gpu_vram_shown_then_gpu_count() -> None:
    offers = [
        make_offer("vast", "one24", "RTX 4090", 0.3, vram=24),
        make_offer("vast", "two24", "RTX 4090", 0.6, vram=23.99, count=2),
        make_offer("vast", "one48", "A40", 0.4, vram=48),
        make_offer("vast", "eight16", "RTX 4080", 2.0, vram=16, count=8),
    ]
    assert [o.offer_id for o in rank(offers, "vram")] == ["one48", "two24", "one24", "eight16"]
    assert [o.offer_id for o in rank(offers, "vram", False)] == [
        "eight16",
        "one24",
        "two24",
        "one48",
    ]
    assert natural_descending("vram") and not natural_descending("per_gpu")


def test_reversed_ties_are_still_broken_by_the_cheaper_offer_then_the_key() -> None:
    same_place = [
        make_offer("vast", "z", "RTX 4090", 0.5, location="US"),
        make_offer("vast", "y", "RTX 4090", 0.4, location="US"),
        make_offer("vast", "x", "RTX 4090", 0.4, location="US"),
        make_offer("vast", "w", "RTX 4090", 0.4, location="Canada"),
    ]
    assert [o.offer_id for o in rank(same_place, "location")] == ["w", "x", "y", "z"]
    assert [o.offer_id for o in rank(same_place, "location", True)] == ["x", "y", "z", "w"]


def test_runpod_offers_without_stock_cannot_be_rented() -> None:
    by_id = {o.offer_id: o for o in MIXED}
    assert unavailable_reason(by_id["d"]) is None
    assert unavailable_reason(by_id["e"]) == "out of stock on RunPod"
    assert unavailable_reason(by_id["f"]) == "stock unknown on RunPod"
    assert unavailable_reason(by_id["a"]) is None  # Vast has no stock figure by design
    assert stock_level(Stock.NONE) == 0 and stock_level(None) is None


def test_side_by_side_rows_and_their_sorts() -> None:
    offers = [
        make_offer("vast", "v", "RTX 4090", 0.40),
        make_offer("vast", "vs", "RTX 4090", 0.20, interruptible=True),
        make_offer("runpod", "r", "RTX 4090", 0.30, stock=Stock.HIGH),
        make_offer("vast", "h", "H100 SXM", 2.00, vram=80),
        make_offer("vast", "as", "A40", 0.25, vram=48, interruptible=True),
    ]
    rows = compare_side_by_side(offers, offers)
    assert [r.gpu for r in rows] == ["RTX 4090", "H100 SXM", "A40"]  # no on-demand A40: last
    row = rows[0]
    assert row.per_gpu_price("vast", False) == pytest.approx(0.4)
    assert row.per_gpu_price("vast", True) == pytest.approx(0.2)
    assert row.per_gpu_price("runpod", True) is None
    assert row.choice.key == "runpod:r"
    assert row.compared is not None and row.compared.difference == pytest.approx(-0.1)
    assert [o.key for o in row.offers] == ["vast:v", "vast:vs", "runpod:r"]
    spot_rows = compare_side_by_side(offers, offers, spot_compared=True)
    assert [r.gpu for r in spot_rows] == ["RTX 4090", "A40", "H100 SXM"]
    assert spot_rows[0].choice.key == "vast:vs"

    def order(sort: ModelSort, descending: bool | None = None) -> list[str]:
        return [r.gpu for r in rank_models(rows, sort, descending)]

    assert order("gpu") == ["A40", "H100 SXM", "RTX 4090"]
    assert order("gpu", True) == ["RTX 4090", "H100 SXM", "A40"]
    assert order("vram") == ["H100 SXM", "A40", "RTX 4090"]
    # models without the price stay last both ways
    assert order("runpod") == ["RTX 4090", "H100 SXM", "A40"]
    assert order("runpod", True) == ["RTX 4090", "H100 SXM", "A40"]
    assert order("vast") == ["RTX 4090", "H100 SXM", "A40"]
    assert order("vast", True) == ["H100 SXM", "RTX 4090", "A40"]
    assert order("vast_spot", True) == ["A40", "RTX 4090", "H100 SXM"]
    assert order("diff")[0] == "RTX 4090" and order("diff", True)[0] == "RTX 4090"
    assert order("cheaper", True) == ["H100 SXM", "RTX 4090", "A40"]
    assert set(MODEL_SORTS) >= {"gpu", "vram", "vast", "vast_spot", "runpod", "diff"}
