"""Price history: what a refresh records, the size bound, thinning, sparkline series;
the strict filter check and the alerts that speak once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from offers_fixtures import make_offer
from test_market import Clock, StubPlatform

from vp_tui.core.alerts import BadFilter, BalanceAlerts, PriceAlerts, parse_strict
from vp_tui.core.models import Account
from vp_tui.core.offer_filter import OfferIndex, unknown_tokens
from vp_tui.core.price_history import price_points, sparkline
from vp_tui.platforms.base import OfferQuery, Unavailable
from vp_tui.services.market import Market
from vp_tui.services.price_history import KEEP, PriceHistory
from vp_tui.services.store import Store

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
EVERYTHING = OfferQuery(limit=100_000)


@pytest.fixture
def history(tmp_path: Path) -> PriceHistory:
    return PriceHistory(Store(tmp_path / "vp-tui.sqlite3"))


def rows(history: PriceHistory) -> list[tuple[str, str, int, float, float, int]]:
    with history.store.connect() as db:
        return [
            tuple(row)
            for row in db.execute(
                "SELECT gpu, platform, interruptible, at, price_per_gpu_hour, offers "
                "FROM price_history ORDER BY gpu, platform, interruptible, at"
            )
        ]


def test_points_are_the_cheapest_per_gpu_hour_per_model_platform_and_kind() -> None:
    offers = [
        make_offer("vast", "1", "RTX 4090", 0.40),
        make_offer("vast", "2", "RTX 4090", 1.20, count=4),  # 0.30 per GPU: the cheapest
        make_offer("vast", "3", "RTX 4090", 0.20, interruptible=True),
        make_offer("runpod", "a", "RTX 4090", 0.34),
        make_offer("vast", "4", None, 0.50, raw="Weird GPU 9000"),
    ]
    points = {(p.gpu, p.platform, p.interruptible): p for p in price_points(offers, NOW)}
    assert set(points) == {
        ("RTX 4090", "vast", False),
        ("RTX 4090", "vast", True),
        ("RTX 4090", "runpod", False),
        ("Weird GPU 9000", "vast", False),  # no canonical name: the provider's spelling
    }
    on_demand = points[("RTX 4090", "vast", False)]
    assert on_demand.price_per_gpu_hour == pytest.approx(0.30)
    assert on_demand.offers == 2
    assert on_demand.at == NOW


def test_market_refresh_records_fresh_answers_only(tmp_path: Path) -> None:
    clock = Clock()
    vast = StubPlatform("vast", [make_offer("vast", "1", "RTX 4090", 0.4)])
    runpod = StubPlatform("runpod", [make_offer("runpod", "a", "RTX 4090", 0.34)])
    store = Store(tmp_path / "vp-tui.sqlite3")
    market = Market({"vast": vast, "runpod": runpod}, cache_seconds=15, clock=clock, store=store)
    assert market.history is not None
    market.refresh(EVERYTHING)
    assert len(market.history.series("RTX 4090", "vast", False)) == 1
    assert len(market.history.series("RTX 4090", "runpod", False)) == 1

    market.refresh(EVERYTHING)  # from the cache: nothing new was seen
    assert len(market.history.series("RTX 4090", "vast", False)) == 1

    clock.now += timedelta(minutes=10)
    runpod.fail = Unavailable("HTTP 500 from RunPod", platform="runpod")
    result = market.refresh(EVERYTHING)
    assert [o.platform for o in result.offers] == ["runpod", "vast"]  # stale RunPod rows shown
    assert len(market.history.series("RTX 4090", "vast", False)) == 2
    assert len(market.history.series("RTX 4090", "runpod", False)) == 1  # ... but not recorded

    clock.now += timedelta(minutes=10)
    market.refresh(OfferQuery(limit=100_000, max_price_per_hour=1.0))  # a narrowed search
    market.refresh(OfferQuery(limit=10))  # a truncated one
    assert len(market.history.series("RTX 4090", "vast", False)) == 2


def test_a_market_without_a_store_records_nothing() -> None:
    vast = StubPlatform("vast", [make_offer("vast", "1", "RTX 4090", 0.4)])
    market = Market({"vast": vast})
    assert market.history is None
    assert market.refresh(EVERYTHING).offers


def test_prune_keeps_fourteen_days_thinned_and_the_cheapest_of_each_slot(
    history: PriceHistory,
) -> None:
    # A refresh every 2 minutes for 20 days: far more than the bound allows.
    start = NOW - timedelta(days=20)
    points = []
    for minutes in range(0, 20 * 24 * 60 + 1, 2):
        price = 0.30 + (minutes % 7) / 100  # dips to 0.30 every 14 minutes
        at = start + timedelta(minutes=minutes)
        points.extend(price_points([make_offer("vast", "1", "RTX 4090", price)], at))
    history.add(points)
    assert len(rows(history)) > 14_000
    history.prune(NOW)
    kept = history.series("RTX 4090", "vast", False)
    assert kept[0].at >= NOW - KEEP
    recent = [p for p in kept if p.at >= NOW - timedelta(days=1)]
    older = [p for p in kept if p.at < NOW - timedelta(days=1)]
    assert len(older) <= 13 * 24 + 1
    assert len(recent) <= 24 * 12 + 1
    assert len({int(p.at.timestamp() // 3600) for p in older}) == len(older)  # one per hour
    assert len({int(p.at.timestamp() // 300) for p in recent}) == len(recent)  # one per 5 min
    assert all(p.price_per_gpu_hour == pytest.approx(0.30) for p in older)  # the cheapest kept
    size = len(kept)
    assert history.prune(NOW) == 0  # pruning again changes nothing
    assert len(history.series("RTX 4090", "vast", False)) == size


def test_recording_thins_on_its_own(history: PriceHistory) -> None:
    old = NOW - timedelta(days=30)
    history.add(price_points([make_offer("vast", "1", "RTX 4090", 0.4)], old))
    history.record([make_offer("vast", "1", "RTX 4090", 0.5)], NOW)
    assert [p.at for p in history.series("RTX 4090", "vast", False)] == [NOW]


def test_cheapest_by_gpu_buckets_the_last_week_across_platforms(history: PriceHistory) -> None:
    day = timedelta(days=1)
    for at, platform, price in [
        (NOW - 6.5 * day, "vast", 0.50),
        (NOW - 6.4 * day, "runpod", 0.45),  # same slot, another platform: the cheaper counts
        (NOW - 3 * day, "vast", 0.40),
        (NOW, "runpod", 0.30),
        (NOW - 9 * day, "vast", 0.10),  # older than the week: left out
    ]:
        history.add(price_points([make_offer(platform, "x", "RTX 4090", price)], at))
    history.add(price_points([make_offer("vast", "s", "RTX 4090", 0.1, interruptible=True)], NOW))

    series = history.cheapest_by_gpu(NOW, days=7, buckets=7)
    assert series[("RTX 4090", False)] == [0.45, None, None, None, 0.40, None, 0.30]
    assert series[("RTX 4090", True)] == [None] * 6 + [0.1]
    only_vast = history.cheapest_by_gpu(NOW, days=7, buckets=7, platforms=["vast"])
    assert only_vast[("RTX 4090", False)] == [0.50, None, None, None, 0.40, None, None]
    assert history.trends(NOW)[("RTX 4090", False)].endswith("▁")
    assert history.cheapest_by_gpu(NOW + 30 * day) == {}


def test_sparkline() -> None:
    assert sparkline([]) == ""
    assert sparkline([None, None]) == ""
    assert sparkline([1.0, None, 2.0, 3.0]) == "▁ ▅█"
    assert sparkline([None, 0.5]) == " ▄"  # a price that never moved: mid height


@pytest.mark.parametrize("text", ["h100 <2", "rtx 4090 <0.3 runpod", "vram >= 24 spot", "x2 -a100"])
def test_strict_filters_accept_the_language(text: str) -> None:
    assert unknown_tokens(text) == []
    assert parse_strict(text).text == text


@pytest.mark.parametrize(
    ("text", "bad"),
    [("h100 <abc", "<abc"), ("vram", "vram"), ("a100 foo<2", "foo<2"), ("h100 <", "<")],
)
def test_strict_filters_name_what_they_do_not_understand(text: str, bad: str) -> None:
    assert bad in unknown_tokens(text)
    with pytest.raises(BadFilter, match="not understood"):
        parse_strict(text)
    with pytest.raises(BadFilter, match="empty"):
        parse_strict("  ")


def test_a_price_alert_speaks_when_it_starts_matching() -> None:
    alerts = PriceAlerts(["rtx 4090 <0.3", "h100 <abc"])
    assert len(alerts.alerts) == 1 and "<abc" in alerts.errors[0]
    dear = OfferIndex([make_offer("vast", "1", "RTX 4090", 0.4)])
    cheap = OfferIndex([make_offer("vast", "1", "RTX 4090", 0.25)])
    assert alerts.check(dear) == []
    (hit,) = alerts.check(cheap)
    assert str(hit) == "rtx 4090 <0.3: RTX 4090 on vast at $0.25/h"
    assert alerts.check(cheap) == []  # still matching: said already
    assert alerts.check(dear) == []
    assert len(alerts.check(cheap)) == 1  # matching again after it stopped


def test_a_low_balance_speaks_once_per_drop() -> None:
    alerts = BalanceAlerts(30.0)

    def account(balance: float | None) -> Account:
        return Account(platform="vast", balance=balance)

    assert [a.balance for a in alerts.check([account(25.0)])] == [25.0]
    assert alerts.check([account(24.0)]) == []
    assert alerts.check([account(None)]) == []  # unknown: no change
    assert alerts.check([account(24.0)]) == []
    assert alerts.check([account(40.0)]) == []
    assert len(alerts.check([account(20.0)])) == 1
    assert alerts.describe(account(20.0), "Vast.ai") == "Vast.ai balance $20.00 is below $30.00"
    assert BalanceAlerts(None).check([account(1.0)]) == []
