"""Market: concurrency, merging, ranking, comparisons, partial failure, backoff, cache."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from vp_tui.core.models import Account, Instance, LaunchSpec, Offer, PlatformName
from vp_tui.platforms.base import OfferQuery, RateLimited, Unavailable
from vp_tui.services.market import Market, cheapest_keys, compare_by_gpu, rank


def offer(
    platform: PlatformName, oid: str, gpu: str, price: float, count: int = 1, **kw: object
) -> Offer:
    return Offer(
        platform=platform,
        offer_id=oid,
        gpu=gpu,
        gpu_raw=gpu,
        gpu_count=count,
        vram_gb=24,
        price_per_hour=price,
        **kw,  # type: ignore[arg-type]
    )


class StubPlatform:
    """A platform whose answers a test scripts (the services' view of an adapter)."""

    def __init__(
        self, name: PlatformName, offers: list[Offer], barrier: threading.Barrier | None = None
    ):
        self.name = name
        self.offers = offers
        self.barrier = barrier
        self.calls = 0
        self.fail: Exception | None = None

    def list_offers(self, query: OfferQuery) -> list[Offer]:
        self.calls += 1
        if self.barrier is not None:
            self.barrier.wait(timeout=5)
        if self.fail is not None:
            raise self.fail
        return list(self.offers)

    def list_instances(self) -> list[Instance]:
        return []

    def get_instance(self, instance_id: str) -> Instance | None:
        return None

    def create_instance(self, offer: Offer, spec: LaunchSpec) -> Instance:
        raise NotImplementedError

    def destroy_instance(self, instance_id: str) -> None: ...
    def stop_instance(self, instance_id: str) -> None: ...
    def start_instance(self, instance_id: str) -> None: ...

    def account(self) -> Account:
        return Account(platform=self.name)

    def ensure_ssh_key(self, public_key: str) -> None: ...


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_platforms_are_asked_at_the_same_time() -> None:
    barrier = threading.Barrier(2)  # only passes when both calls are in flight together
    vast = StubPlatform("vast", [offer("vast", "1", "RTX 4090", 0.4)], barrier)
    runpod = StubPlatform("runpod", [offer("runpod", "a", "RTX 4090", 0.34)], barrier)
    result = Market({"vast": vast, "runpod": runpod}).refresh(OfferQuery())
    assert [o.platform for o in result.offers] == ["runpod", "vast"]
    assert all(s.ok for s in result.statuses.values())


def test_one_platform_failing_keeps_the_others_offers() -> None:
    vast = StubPlatform("vast", [offer("vast", "1", "RTX 4090", 0.4)])
    runpod = StubPlatform("runpod", [offer("runpod", "a", "RTX 4090", 0.34)])
    runpod.fail = Unavailable("HTTP 500 from RunPod", platform="runpod")
    result = Market({"vast": vast, "runpod": runpod}).refresh(OfferQuery())
    assert [o.offer_id for o in result.offers] == ["1"]
    assert result.statuses["vast"].ok
    assert not result.statuses["runpod"].ok
    assert "HTTP 500" in (result.statuses["runpod"].error or "")


def test_failure_after_success_serves_stale_offers() -> None:
    clock = Clock()
    vast = StubPlatform("vast", [offer("vast", "1", "RTX 4090", 0.4)])
    market = Market({"vast": vast}, cache_seconds=0, clock=clock)
    first = market.refresh(OfferQuery())
    clock.now += timedelta(seconds=30)
    vast.fail = Unavailable("connection refused", platform="vast")
    second = market.refresh(OfferQuery())
    assert [o.offer_id for o in second.offers] == ["1"]
    status = second.statuses["vast"]
    assert not status.ok and status.stale_since == first.fetched_at


def test_rate_limit_backs_off_instead_of_hammering() -> None:
    clock = Clock()
    vast = StubPlatform("vast", [offer("vast", "1", "RTX 4090", 0.4)])
    market = Market({"vast": vast}, cache_seconds=0, clock=clock)
    vast.fail = RateLimited("API requests too frequent", platform="vast")
    for _ in range(5):
        result = market.refresh(OfferQuery())
        assert "retrying in" in (result.statuses["vast"].error or "")
    assert vast.calls == 1  # the storm did not reach the API again
    clock.now += timedelta(seconds=3)
    vast.fail = None
    assert market.refresh(OfferQuery()).statuses["vast"].ok
    assert vast.calls == 2


def test_short_cache_and_force() -> None:
    clock = Clock()
    vast = StubPlatform("vast", [offer("vast", "1", "RTX 4090", 0.4)])
    market = Market({"vast": vast}, cache_seconds=15, clock=clock)
    market.refresh(OfferQuery())
    market.refresh(OfferQuery())
    assert vast.calls == 1
    market.refresh(OfferQuery(), force=True)
    assert vast.calls == 2
    market.refresh(OfferQuery(max_price_per_hour=1.0))  # another query is another answer
    assert vast.calls == 3


@pytest.mark.parametrize(
    ("sort", "expected"),
    [("price", ["c", "a", "b"]), ("vram", ["b", "c", "a"]), ("reliability", ["a", "c", "b"])],
)
def test_rank(sort: str, expected: list[str]) -> None:
    offers = [
        offer("vast", "a", "RTX 4090", 0.5, reliability=0.99),
        offer("vast", "b", "RTX 4090", 0.9, count=2, reliability=0.9),
        offer("vast", "c", "RTX 3090", 0.2, reliability=0.95),
    ]
    assert [o.offer_id for o in rank(offers, sort)] == expected  # type: ignore[arg-type]


def test_value_ranks_by_dollars_per_tflop_unknown_last() -> None:
    offers = [
        offer("vast", "h100", "H100 SXM", 3.0),
        offer("vast", "4090", "RTX 4090", 0.4),
        Offer(
            platform="vast",
            offer_id="x",
            gpu=None,
            gpu_raw="Mystery",
            gpu_count=1,
            vram_gb=8,
            price_per_hour=0.01,
        ),
    ]
    ranked = [o.offer_id for o in rank(offers, "value")]
    assert ranked[-1] == "x"
    assert ranked[0] == "4090"


def test_compare_by_gpu_and_cheapest_marks() -> None:
    offers = [
        offer("vast", "v1", "RTX 4090", 0.40),
        offer("vast", "v2", "RTX 4090", 0.70, count=2),  # 0.35 per GPU: the cheapest on Vast
        offer("runpod", "r1", "RTX 4090", 0.34),
        offer("runpod", "r2", "H100 SXM", 2.69),
    ]
    rows = {row.gpu: row for row in compare_by_gpu(offers)}
    row = rows["RTX 4090"]
    assert row.best["vast"].offer_id == "v2"
    assert row.per_gpu_price("vast") == pytest.approx(0.35)
    assert row.difference == pytest.approx(-0.01)
    assert row.cheapest_platform == "runpod"
    assert rows["H100 SXM"].difference is None
    assert cheapest_keys(offers) == {"runpod:r1", "runpod:r2"}
