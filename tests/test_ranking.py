"""The one rule of offer order and "cheapest" (core.ranking), shared by `vp` and the table."""

from __future__ import annotations

import pytest
from offers_fixtures import make_offer

from vp_tui.core import offer_filter, ranking
from vp_tui.core.models import Offer
from vp_tui.core.offer_filter import OfferIndex
from vp_tui.core.ranking import (
    SORTS,
    OfferSort,
    cheapest_keys,
    cheapest_per_gpu,
    compare_by_gpu,
    rank,
    rank_comparisons,
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
