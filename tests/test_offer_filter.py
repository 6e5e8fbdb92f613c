"""The offer filter language and the offer index: parsing, matching, fast selection, sorting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from offers_fixtures import make_offer, synthetic_offers

from vp_tui.core.offer_filter import (
    DEFAULT_SORT,
    OFFER_SORTS,
    SORTS,
    Bound,
    OfferIndex,
    OfferSort,
    filter_offers,
    offer_facts,
    parse_filter,
    unknown_tokens,
)
from vp_tui.services.market import cheapest_keys, compare_by_gpu, rank

OFFERS = synthetic_offers(600, seed=3)
INDEX = OfferIndex(OFFERS)


def test_words_and_price_bound() -> None:
    flt = parse_filter("4090 <0.5")
    assert flt.terms == ("4090",)
    assert flt.bounds == (Bound("price", "<", 0.5),)
    assert not flt.is_empty
    assert parse_filter("  ").is_empty


@pytest.mark.parametrize(
    "text", ["<0.5", "$<0.5", "price<0.5", "price < 0.5", "<$0.5", "< 0.5", "<0.5/h", "PRICE<0.5"]
)
def test_price_spellings(text: str) -> None:
    assert parse_filter(text).bounds == (Bound("price", "<", 0.5),)
    assert parse_filter(text).terms == ()


@pytest.mark.parametrize(
    ("text", "bound"),
    [
        ("<=0.5", Bound("price", "<=", 0.5)),
        (">1", Bound("price", ">", 1.0)),
        (">=2", Bound("price", ">=", 2.0)),
        ("vram>=24", Bound("vram", ">=", 24.0)),
        ("vram>40", Bound("vram", ">", 40.0)),
        ("vram >= 24", Bound("vram", ">=", 24.0)),
        (">=24gb", Bound("vram", ">=", 24.0)),
        ("gpus=2", Bound("gpus", "=", 2.0)),
        ("gpus>=4", Bound("gpus", ">=", 4.0)),
        ("x2", Bound("gpus", "=", 2.0)),
        ("8x", Bound("gpus", "=", 8.0)),
        ("rel>0.99", Bound("rel", ">", 0.99)),
        ("rel>=99", Bound("rel", ">=", 0.99)),
        ("reliability>.95", Bound("rel", ">", 0.95)),
    ],
)
def test_bounds(text: str, bound: Bound) -> None:
    assert parse_filter(text).bounds == (bound,)


def test_platform_and_kind_words() -> None:
    assert parse_filter("vast").platforms == {"vast"}
    assert parse_filter("RunPod vast.ai").platforms == {"vast", "runpod"}
    assert parse_filter("spot").interruptible is True
    assert parse_filter("interruptible").interruptible is True
    assert parse_filter("ondemand").interruptible is False
    assert parse_filter("on-demand").interruptible is False
    assert parse_filter("spot ondemand").interruptible is None


@pytest.mark.parametrize("text", ["<abc", "vram", "price<1gb", "rel>=x", "<nan", "gpus=", "=="])
def test_unknown_tokens_become_words(text: str) -> None:
    flt = parse_filter(text)
    assert flt.bounds == ()
    assert flt.terms == (text.lower(),)


def test_words_match_names_platform_location_cloud() -> None:
    runpod = make_offer(
        "runpod", "a", "RTX 4090", 0.4, raw="NVIDIA GeForce RTX 4090", location="CA", cloud="SECURE"
    )
    unknown = make_offer("vast", "b", None, 0.3, raw="Weird_GPU_X", location="Sweden")
    assert parse_filter("4090").matches(runpod)
    assert parse_filter("rtx4090").matches(runpod)
    assert parse_filter("geforce").matches(runpod)
    assert parse_filter("secure runpod").matches(runpod)
    assert not parse_filter("secure vast").matches(runpod)
    assert parse_filter("weird").matches(unknown)
    assert parse_filter("SWEDEN").matches(unknown)
    assert not parse_filter("4090").matches(unknown)
    assert parse_filter("-4090").matches(unknown)
    assert not parse_filter("!4090").matches(runpod)


def test_numeric_bounds_match() -> None:
    card = make_offer("vast", "a", "RTX 4090", 0.4, count=2, vram=23.99, reliability=0.995)
    assert parse_filter("<0.5 vram>=24 x2 rel>0.99").matches(card)
    assert not parse_filter("<0.4").matches(card)
    assert parse_filter("<=0.4").matches(card)
    assert not parse_filter("vram>24").matches(card)
    assert not parse_filter("gpus=1").matches(card)
    no_reliability = make_offer("runpod", "b", "RTX 4090", 0.4)
    assert not parse_filter("rel>0.5").matches(no_reliability)
    assert not parse_filter("rel<0.5").matches(no_reliability)
    spot = make_offer("vast", "c", "RTX 4090", 0.2, interruptible=True)
    assert parse_filter("spot").matches(spot)
    assert not parse_filter("ondemand").matches(spot)


def test_offer_facts_are_lower_case_and_rounded() -> None:
    facts = offer_facts(make_offer("vast", "a", "RTX 4090", 0.4, vram=23.99, location="US"))
    assert facts.vram == 24.0
    assert facts.text == facts.text.lower()
    assert "us" in facts.text


def test_filter_offers_keeps_order() -> None:
    kept = filter_offers(OFFERS, "4090 <0.5")
    assert kept and all(o.gpu == "RTX 4090" and o.price_per_hour < 0.5 for o in kept)
    assert kept == [o for o in OFFERS if o in kept]


@pytest.mark.parametrize("sort", SORTS)
def test_index_order_is_the_market_ranking(sort: OfferSort) -> None:
    ordered = [INDEX.offers[i] for i in INDEX.order(sort)]
    assert ordered == rank(OFFERS, sort)
    assert ordered == rank(reversed(OFFERS), sort)  # ties broken by key, not by arrival


@pytest.mark.parametrize(
    "text",
    ["", "4090 <0.5", "vast spot", "a100 x2", "vram>=48 rel>0.95", "-3090 us", "runpod secure >1"],
)
@pytest.mark.parametrize("sort", SORTS)
def test_select_equals_matches(text: str, sort: OfferSort) -> None:
    flt = parse_filter(text)
    expected = [i for i in INDEX.order(sort) if flt.matches(INDEX.offers[i])]
    selected = INDEX.select(flt, sort)
    assert selected == expected
    assert selected is not INDEX.order(sort)


def test_cheapest_and_best_per_model_agree_with_the_market() -> None:
    tie = [
        make_offer("vast", "t1", "RTX 4090", 0.2, count=2),
        make_offer("vast", "t2", "RTX 4090", 0.1),
        make_offer("runpod", "t3", "RTX 4090", 0.1),
        make_offer("vast", "t4", None, 0.01, raw="Mystery"),
        make_offer("runpod", "t5", "RTX 4090", 0.05, interruptible=True),
    ]
    offers = [*OFFERS, *tie]
    index = OfferIndex(offers)
    assert index.cheapest == cheapest_keys(offers)
    for text in ["", "vast", "4090", "<1", "x8 runpod", "nothing-matches"]:
        for sort in SORTS:
            rows = index.select(parse_filter(text), sort)
            for spot in (None, False, True):
                chosen = [index.offers[i] for i in index.best_per_model(rows, spot)]
                assert compare_by_gpu(chosen, interruptible=spot) == compare_by_gpu(
                    (index.offers[i] for i in rows), interruptible=spot
                )


@given(st.text())
def test_parse_never_raises(text: str) -> None:
    flt = parse_filter(text)
    flt.matches(OFFERS[0])
    INDEX.select(flt, "price")


TOKENS = st.sampled_from(
    ["4090", "a100", "rtx", "us", "vast", "runpod", "spot", "ondemand", "<0.5", ">1", "<=2",
     "vram>=24", "vram>40", "x2", "gpus=1", "rel>0.95", "-3090", "secure", "sweden", "$<0.8"]
)  # fmt: skip


@settings(max_examples=60)
@given(st.lists(TOKENS, max_size=4), st.sampled_from(SORTS))
def test_select_agrees_with_matches(tokens: list[str], sort: OfferSort) -> None:
    flt = parse_filter(" ".join(tokens))
    assert INDEX.select(flt, sort) == [i for i in INDEX.order(sort) if flt.matches(INDEX.offers[i])]


@pytest.mark.parametrize("token", ["rel>2", "rel>=5", "reliability<9.5", "rel>150"])
def test_reliability_bounds_that_cannot_be_meant_are_flagged(token: str) -> None:
    assert unknown_tokens(f"4090 {token}") == [token]


@pytest.mark.parametrize("token", ["<abc", "<0,3"])
def test_bounds_that_are_not_numbers_are_flagged(token: str) -> None:
    assert unknown_tokens(f"4090 {token} vast") == [token]


@pytest.mark.parametrize("text", ["rel>0.99", "rel>=99", "rel>1", "rel>=10", "rel<=100", "rel>.5"])
def test_plausible_reliability_bounds_are_understood(text: str) -> None:
    assert unknown_tokens(text) == []
    (bound,) = parse_filter(text).bounds
    assert 0 <= bound.value <= 1


def test_the_index_orders_every_sort_both_ways_and_keeps_them() -> None:
    index = OfferIndex(OFFERS, sorts=())
    assert index.order(DEFAULT_SORT) is index.order(DEFAULT_SORT, False)  # computed up front
    for sort in OFFER_SORTS:
        for descending in (False, True):
            expected = rank(OFFERS, sort, descending)
            assert [index.offers[i] for i in index.order(sort, descending)] == expected
            flt = parse_filter("vast <2")
            selected = index.select(flt, sort, descending)
            assert [index.offers[i] for i in selected] == [o for o in expected if flt.matches(o)]
