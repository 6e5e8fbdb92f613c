"""The Vast adapter against a demo cloud that behaves as Vast really does.

Each test goes through the real ``vastai`` SDK over loopback HTTP and would fail
on an adapter that trusted the friendlier emulator of before: failed creates
that leave stopped instances billing, uptime counted from creation, states that
were unknown, keys read live, VRAM in MiB, RAM of the whole machine, bid prices,
second destroys, UDP ports, the Jupyter proxy port and the daily search quota.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from vp_tui.bootstrap import Context, build_context
from vp_tui.config import VastSettings
from vp_tui.core.costs import burn_rate, hourly_rate
from vp_tui.core.models import Instance, InstanceState, LaunchSpec, Offer, utcnow
from vp_tui.platforms.base import OfferQuery, PlatformError, QuotaExceeded, RateLimited
from vp_tui.platforms.vast import VastPlatform
from vp_tui.remote.probe import ssh_banner
from vp_tui.services.fleet import Fleet
from vp_tui.services.market import Market
from vp_tui.sim.faults import HttpResponse
from vp_tui.sim.server import VAST_DEMO_KEY, DemoCloud

WAIT_SECONDS = 30.0

pytest_plugins = ["shared_demo"]


def settings_for(cloud: DemoCloud, **changes: object) -> VastSettings:
    values: dict[str, object] = {
        "api_key": SecretStr(VAST_DEMO_KEY),
        "api_url": cloud.vast_url,
        "timeout_seconds": 5.0,
        "max_price_per_hour": 5.0,
    }
    values.update(changes)
    return VastSettings.model_validate(values)


@pytest.fixture
def vast(cloud: DemoCloud) -> VastPlatform:
    return VastPlatform(settings_for(cloud))


def wait_for(
    vast: VastPlatform, instance_id: str, done: Callable[[Instance | None], bool]
) -> Instance:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        instance = vast.get_instance(instance_id)
        if done(instance):
            assert instance is not None
            return instance
        if time.monotonic() > deadline:
            pytest.fail(f"instance {instance_id} never got there; last seen {instance}")
        time.sleep(0.05)


def offer(vast: VastPlatform, *, bid: bool = False, **query: Any) -> Offer:
    found = vast.list_offers(OfferQuery.model_validate({"interruptible": bid, **query}))
    assert found, f"no offers for {query}"
    return found[0]


def running(vast: VastPlatform, instance_id: str) -> Instance:
    return wait_for(vast, instance_id, lambda i: i is not None and i.state == "running")


def listed(vast: VastPlatform) -> list[str]:
    return [i.instance_id for i in vast.list_instances()]


def route_count(cloud: DemoCloud, method: str, route: str) -> int:
    return cloud.requests.get(("vast", method, route), 0)


# ------------------------------------------------------------------------------ money


def test_a_bid_below_the_minimum_creates_nothing(vast: VastPlatform) -> None:
    bid_offer = offer(vast, bid=True)
    assert bid_offer.min_bid is not None
    low = LaunchSpec(image="pytorch/pytorch", bid_price=bid_offer.min_bid / 2)
    with pytest.raises(PlatformError) as caught:
        vast.create_instance(bid_offer, low)
    assert "minimum bid" in str(caught.value)
    assert listed(vast) == []  # cancel_unavail: no stopped instance left billing


def test_a_failed_scheduling_creates_nothing(cloud: DemoCloud, vast: VastPlatform) -> None:
    cloud.set_faults("vast:schedfail")
    with pytest.raises(PlatformError) as caught:
        vast.create_instance(offer(vast), LaunchSpec(image="pytorch/pytorch"))
    assert "no longer available" in str(caught.value)
    cloud.set_faults(None)
    assert listed(vast) == []


def test_an_instance_left_by_a_failed_create_is_destroyed_and_said_so(
    cloud: DemoCloud, vast: VastPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Vast that ignores ``cancel_unavail`` (as it did for years) still leaves nothing."""
    original = cloud.vast_api.handle

    def without_cancel_unavail(req: Any) -> HttpResponse:
        if req.method == "PUT" and req.path.startswith("/api/v0/asks/"):
            body = req.json()
            body.pop("cancel_unavail", None)
            req.body = __import__("json").dumps(body).encode()
        return original(req)

    monkeypatch.setattr(cloud.vast_api, "handle", without_cancel_unavail)
    cloud.set_faults("vast:schedfail")
    fleet = Fleet({"vast": vast}, sleep=lambda _s: None)
    with pytest.raises(PlatformError) as caught:
        fleet.create(offer(vast), LaunchSpec(image="pytorch/pytorch"), wait=False)
    said = str(caught.value)
    assert "Vast made instance" in said and "destroyed (verified gone)" in said
    cloud.set_faults(None)
    assert listed(vast) == []
    assert cloud.cloud.account("vast").spend_per_hour == 0


def test_uptime_restarts_with_the_instance_and_a_stopped_one_bills_storage(
    cloud: DemoCloud, vast: VastPlatform
) -> None:
    created = vast.create_instance(offer(vast), LaunchSpec(image="pytorch/pytorch"))
    running(vast, created.instance_id)
    time.sleep(1.2)
    vast.stop_instance(created.instance_id)
    stopped = wait_for(vast, created.instance_id, lambda i: i is not None and i.state == "stopped")
    assert stopped.uptime_at(utcnow()) is None  # stopped time does not tick
    assert hourly_rate(stopped) == pytest.approx(stopped.storage_price_per_hour)
    assert 0 < hourly_rate(stopped) < stopped.price_per_hour
    vast.start_instance(created.instance_id)
    again = running(vast, created.instance_id)
    assert again.started_at is not None
    since_creation = (utcnow() - again.started_at).total_seconds()
    uptime = again.uptime_at(utcnow())
    assert uptime is not None and uptime < since_creation - 1.0  # from the start, not creation


@pytest.mark.parametrize(
    ("fault", "state", "words"),
    [
        ("vast:frozen", InstanceState.FROZEN, "still billed"),
        ("vast:offline", InstanceState.ERROR, "offline"),
        ("vast:unknown", InstanceState.UNKNOWN, "does not know"),
        ("vast:ocifail", InstanceState.ERROR, "OCI runtime create failed"),
    ],
)
def test_states_vast_really_reports(
    cloud: DemoCloud, vast: VastPlatform, fault: str, state: InstanceState, words: str
) -> None:
    cloud.set_faults(fault)
    created = vast.create_instance(offer(vast), LaunchSpec(image="pytorch/pytorch"))
    cloud.set_faults(None)
    seen = wait_for(vast, created.instance_id, lambda i: i is not None and i.state == state)
    assert seen.status_message is not None and words in seen.status_message
    assert burn_rate([seen]) == pytest.approx(seen.price_per_hour)  # it still bills


def test_a_container_that_cannot_start_fails_the_launch_at_once(
    cloud: DemoCloud, vast: VastPlatform
) -> None:
    cloud.set_faults("vast:ocifail")
    fleet = Fleet({"vast": vast}, probe=lambda _i: False)
    started = time.monotonic()
    with pytest.raises(PlatformError) as caught:
        fleet.create(
            offer(vast), LaunchSpec(image="pytorch/pytorch"), timeout=600, poll_seconds=0.1
        )
    assert time.monotonic() - started < 20
    assert "failed to start" in str(caught.value) and "OCI runtime" in str(caught.value)


def test_a_reboot_is_starting(cloud: DemoCloud, vast: VastPlatform) -> None:
    created = vast.create_instance(offer(vast), LaunchSpec(image="pytorch/pytorch"))
    running(vast, created.instance_id)
    vast._client().reboot_instance(id=int(created.instance_id))
    seen = wait_for(vast, created.instance_id, lambda i: i is not None and i.state == "starting")
    assert seen.status_message is not None and "rebooting" in seen.status_message


def test_an_outbid_instance_is_shown_as_outbid(cloud: DemoCloud, vast: VastPlatform) -> None:
    bid_offer = offer(vast, bid=True)
    cloud.set_faults("vast:outbid")
    created = vast.create_instance(bid_offer, LaunchSpec(image="pytorch/pytorch"))
    cloud.set_faults(None)
    seen = wait_for(vast, created.instance_id, lambda i: i is not None and i.outbid)
    assert seen.state is InstanceState.STOPPED and seen.interruptible
    assert seen.status_message is not None and seen.status_message.startswith("out-bid")
    assert hourly_rate(seen) == pytest.approx(seen.storage_price_per_hour)


# ------------------------------------------------------------------------------ keys


@pytest.fixture
def context(cloud: DemoCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))
    ctx = build_context(demo_cloud=cloud)
    yield ctx
    ctx.close()


def test_an_instance_made_elsewhere_gets_vp_tuis_key_when_used(
    cloud: DemoCloud, context: Context
) -> None:
    vast = context.fleet.platform("vast")
    assert isinstance(vast, VastPlatform)
    made = vast.create_instance(offer(vast), LaunchSpec(image="pytorch/pytorch"))  # no key yet
    assert context.fleet.public_key is not None
    vast.ensure_ssh_key(context.fleet.public_key())  # too late for that instance
    up = wait_for(vast, made.instance_id, lambda i: i is not None and i.ssh is not None)
    assert cloud.cloud.authorized_keys("vast", cloud.cloud.get("vast", made.instance_id)) == []
    cloud.reset_request_counts()
    result = context.job_service.remote(up).run("echo reached")
    assert result.out == "reached\n"
    assert route_count(cloud, "POST", "/api/v0/instances/{id}/ssh") == 1


# ------------------------------------------------------------------------------ numbers


def test_vram_is_the_marketed_size_and_an_80_gb_floor_keeps_h100s(vast: VastPlatform) -> None:
    h100 = vast.list_offers(OfferQuery(gpus=("H100 SXM",), interruptible=False))
    assert h100 and {o.vram_gb for o in h100} == {80.0}  # Vast says 81,559 MiB
    big = vast.list_offers(OfferQuery(gpus=("H100 SXM",), interruptible=False, min_vram_gb=80))
    assert len(big) == len(h100)


def test_ram_is_the_offers_share_of_the_machine(cloud: DemoCloud, vast: VastPlatform) -> None:
    rows = {o["id"]: o for o in cloud.cloud.vast_offers()}
    for found in vast.list_offers(OfferQuery(interruptible=False, limit=200)):
        row = rows[int(found.offer_id)]
        share = row["cpu_cores_effective"] / row["cpu_cores"]
        assert found.ram_gb == pytest.approx(row["cpu_ram"] / 1024 * share, abs=0.06)


def test_bid_offers_cost_the_minimum_bid_plus_storage(cloud: DemoCloud, vast: VastPlatform) -> None:
    rows = {o["id"]: o for o in cloud.cloud.vast_offers()}
    disk = vast.settings.disk_gb
    for found in vast.list_offers(OfferQuery(interruptible=True, limit=100)):
        row = rows[int(found.offer_id.removesuffix("-bid"))]
        assert found.price_per_hour == pytest.approx(
            row["min_bid"] + row["storage_cost"] * disk / 730
        )


def test_a_second_destroy_is_gone_not_an_error(vast: VastPlatform) -> None:
    created = vast.create_instance(offer(vast), LaunchSpec(image="pytorch/pytorch"))
    fleet = Fleet({"vast": vast}, sleep=lambda _s: None)
    fleet.destroy(created.instance_id, "vast", poll_seconds=0.05)
    vast.destroy_instance(created.instance_id)  # answered 200 no_such_instance
    fleet.destroy(created.instance_id, "vast", poll_seconds=0.05)


def test_udp_ports_keep_their_protocol(cloud: DemoCloud, vast: VastPlatform) -> None:
    spec = LaunchSpec(image="pytorch/pytorch", ports=["22/tcp", "8888/tcp", "9999/udp"])
    created = vast.create_instance(offer(vast), spec)
    stored = cloud.cloud.get("vast", created.instance_id)
    assert stored is not None
    assert {"-p 8888:8888", "-p 9999:9999/udp"} <= set(stored.env)


def test_the_jupyter_proxy_port_is_one_up(cloud: DemoCloud, vast: VastPlatform) -> None:
    ask = int(offer(vast).offer_id)
    made = cloud.cloud.create_vast(
        ask, image="pytorch/pytorch", runtype="jupyter_direc ssh_direc ssh_proxy"
    )
    up = wait_for(vast, made.id, lambda i: i is not None and i.ssh_proxy is not None)
    assert up.ssh_proxy is not None and up.ssh is not None
    assert up.ssh_proxy != up.ssh  # the proxy is its own endpoint
    assert ssh_banner(up.ssh_proxy)


# ------------------------------------------------------------------------------ rate limits


def test_a_retry_after_is_waited_out_once_inside_the_sdk_not_twice(
    cloud: DemoCloud, vast: VastPlatform
) -> None:
    cloud.set_faults("vast:ratelimit-retry")
    cloud.reset_request_counts()
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        vast.list_instances()
    waited = time.monotonic() - started
    assert route_count(cloud, "GET", "/api/v1/instances") == 2  # the SDK's one retry
    assert 0.9 < waited < 5  # its one wait of Retry-After: 1; the adapter adds none
    assert caught.value.retry_after == 1  # the caller's scheduler backs off from here


def test_the_daily_search_quota_keeps_the_last_offers(cloud: DemoCloud, vast: VastPlatform) -> None:
    cloud.vast_api.reset_search_counts()
    market = Market({"vast": vast}, cache_seconds=0)
    first = market.refresh(OfferQuery(), force=True)
    assert first.offers and not first.failed
    cloud.vast_api.search_quota = cloud.vast_api.searches_today()
    try:
        with pytest.raises(QuotaExceeded):
            vast.list_offers(OfferQuery())
        second = market.refresh(OfferQuery(), force=True)
        status = second.statuses["vast"]
        assert not status.ok and status.stale_since is not None
        assert status.error is not None and "daily search quota" in status.error
        assert "after 00:00 UTC" in status.error
        assert len(second.offers) == len(first.offers)  # the last offers are kept
        cloud.reset_request_counts()
        third = market.refresh(OfferQuery(), force=True)  # not searched again before reset
        assert route_count(cloud, "POST", "/api/v0/bundles/") == 0
        assert len(third.offers) == len(first.offers)
    finally:
        cloud.vast_api.search_quota = 5000
        cloud.vast_api.reset_search_counts()


def test_searches_ask_for_a_sane_number_of_offers(cloud: DemoCloud) -> None:
    vast = VastPlatform(settings_for(cloud, search_limit=50))
    found = vast.list_offers(OfferQuery(interruptible=False, limit=100_000))
    assert 0 < len(found) <= 50


def test_the_burn_rate_is_what_vast_bills_in_every_state(
    cloud: DemoCloud, vast: VastPlatform
) -> None:
    made: list[str] = []
    for fault in ("", "vast:frozen", "vast:offline", "vast:unknown", "vast:ocifail"):
        cloud.set_faults(fault or None)
        made.append(
            vast.create_instance(offer(vast), LaunchSpec(image="pytorch/pytorch")).instance_id
        )
    cloud.set_faults("vast:outbid")
    made.append(
        vast.create_instance(offer(vast, bid=True), LaunchSpec(image="pytorch/pytorch")).instance_id
    )
    cloud.set_faults(None)
    stopped = vast.create_instance(offer(vast), LaunchSpec(image="pytorch/pytorch"))
    running(vast, stopped.instance_id)
    vast.stop_instance(stopped.instance_id)
    wait_for(vast, made[-1], lambda i: i is not None and i.outbid)
    wait_for(vast, stopped.instance_id, lambda i: i is not None and i.state == "stopped")
    for instance_id in made[1:5]:
        wait_for(
            vast, instance_id, lambda i: i is not None and i.state in ("frozen", "error", "unknown")
        )
    billed = cloud.cloud.account("vast").spend_per_hour
    assert burn_rate(vast.list_instances()) == pytest.approx(billed)
