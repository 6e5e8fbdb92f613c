"""The Vast.ai adapter through the real ``vastai`` SDK against the demo cloud's Vast emulator."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from vp_tui.config import VastSettings
from vp_tui.core.models import Instance, InstanceState, LaunchSpec, Offer
from vp_tui.platforms.base import (
    AuthError,
    CapacityError,
    OfferQuery,
    Platform,
    PlatformError,
    PriceCapExceeded,
    RateLimited,
    Unavailable,
)
from vp_tui.platforms.vast import VastPlatform
from vp_tui.sim.server import VAST_DEMO_KEY, DemoCloud

ED25519_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
ED25519_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKx8nS8x3b0y7a1VbqQ1xq2w3e4r5t6y7u8i9o0p1a2s"
WAIT_SECONDS = 30.0

pytest_plugins = ["shared_demo"]


def settings_for(cloud: DemoCloud, **changes: object) -> VastSettings:
    values: dict[str, object] = {
        "api_key": SecretStr(VAST_DEMO_KEY),
        "api_url": cloud.vast_url,
        "timeout_seconds": 5.0,
        "max_price_per_hour": 0.5,
    }
    values.update(changes)
    return VastSettings.model_validate(values)


@pytest.fixture
def vast(cloud: DemoCloud) -> VastPlatform:
    return VastPlatform(settings_for(cloud))


def wait_for(
    vast: VastPlatform, instance_id: str, done: Callable[[Instance | None], bool]
) -> Instance | None:
    """Poll until ``done`` holds for the instance (or the wait runs out, then fail)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        instance = vast.get_instance(instance_id)
        if done(instance):
            return instance
        if time.monotonic() > deadline:
            pytest.fail(f"instance {instance_id} never got there; last seen {instance}")
        time.sleep(0.05)


def cheapest(vast: VastPlatform, **query: object) -> Offer:
    offers = vast.list_offers(OfferQuery.model_validate({"interruptible": False, **query}))
    assert offers, f"no offers for {query}"
    return offers[0]


def assert_clean(error: BaseException) -> None:
    """The key is nowhere in what a user or a log could see."""
    for text in (str(error), repr(error), getattr(error, "message", "")):
        assert VAST_DEMO_KEY not in text
        assert VAST_DEMO_KEY[-12:] not in text


# ------------------------------------------------------------------------------ basics


def test_is_a_platform(vast: VastPlatform) -> None:
    assert isinstance(vast, Platform)
    assert vast.name == "vast"


def test_importing_the_adapter_does_not_import_the_sdk() -> None:
    code = (
        "import sys\n"
        "from pydantic import SecretStr\n"
        "from vp_tui.config import VastSettings\n"
        "import vp_tui.platforms.vast as v\n"
        "v.VastPlatform(VastSettings(api_key=SecretStr('k')))\n"
        "assert 'vastai' not in sys.modules, 'vastai imported early'\n"
    )
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=root
    )
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------------------ offers


def test_offers_are_sorted_and_include_both_kinds(vast: VastPlatform) -> None:
    offers = vast.list_offers(OfferQuery())
    assert offers
    assert all(offer.platform == "vast" for offer in offers)
    prices = [offer.price_per_hour for offer in offers]
    assert prices == sorted(prices)
    assert any(offer.interruptible for offer in offers)
    assert any(not offer.interruptible for offer in offers)
    assert len({offer.key for offer in offers}) == len(offers)
    assert vast.skipped_rows == 0


def test_offer_filters_are_honoured(vast: VastPlatform) -> None:
    rtx = vast.list_offers(OfferQuery(gpus=("RTX 4090",), interruptible=False))
    assert rtx and {offer.gpu for offer in rtx} == {"RTX 4090"}
    assert not any(offer.interruptible for offer in rtx)

    cheap = vast.list_offers(OfferQuery(max_price_per_hour=0.3))
    assert cheap and all(offer.price_per_hour <= 0.3 for offer in cheap)

    big = vast.list_offers(OfferQuery(min_vram_gb=40, interruptible=False))
    assert big and all(offer.vram_gb >= 40 for offer in big)

    multi = vast.list_offers(OfferQuery(min_gpu_count=2, max_gpu_count=4))
    assert multi and all(2 <= offer.gpu_count <= 4 for offer in multi)

    bids = vast.list_offers(OfferQuery(interruptible=True))
    assert bids and all(offer.interruptible and offer.min_bid is not None for offer in bids)
    assert all(offer.offer_id.endswith("-bid") for offer in bids)

    reliable = vast.list_offers(OfferQuery(min_reliability=0.99))
    assert reliable and all((offer.reliability or 0) >= 0.99 for offer in reliable)

    sweden = vast.list_offers(OfferQuery(region="SE"))
    assert sweden and all("SE" in (offer.location or "") for offer in sweden)

    limited = vast.list_offers(OfferQuery(limit=5))
    assert len(limited) == 5


def test_memory_variants_and_several_gpus(vast: VastPlatform) -> None:
    a100 = vast.list_offers(OfferQuery(gpus=("A100 SXM 80GB",)))
    assert a100 and {offer.gpu for offer in a100} == {"A100 SXM 80GB"}
    assert all(offer.gpu_raw == "A100 SXM4" for offer in a100)
    both = vast.list_offers(OfferQuery(gpus=("RTX 4090", "H100 SXM"), interruptible=False))
    assert {offer.gpu for offer in both} == {"RTX 4090", "H100 SXM"}


# ------------------------------------------------------------------------------ lifecycle


def test_create_run_stop_start_destroy(vast: VastPlatform) -> None:
    offer = cheapest(vast, gpus=("RTX 4090",))
    spec = LaunchSpec(
        image="pytorch/pytorch",
        label="train-1",
        env={"QUOTED": 'say "hi" $HOME; rm -rf /', "EMPTY": ""},
        disk_gb=16,
    )
    created = vast.create_instance(offer, spec)
    assert created.platform == "vast"
    assert created.label == "train-1"
    assert created.gpu == "RTX 4090"
    assert created.state in {InstanceState.PROVISIONING, InstanceState.STARTING}

    listed = {instance.instance_id: instance for instance in vast.list_instances()}
    assert created.instance_id in listed

    running = wait_for(vast, created.instance_id, lambda i: i is not None and i.state == "running")
    assert running is not None
    assert running.price_per_hour > 0
    assert running.image == "pytorch/pytorch"
    assert running.started_at is not None

    vast.stop_instance(created.instance_id)
    stopped = wait_for(vast, created.instance_id, lambda i: i is not None and i.state == "stopped")
    assert stopped is not None and not stopped.state.is_billing_compute

    vast.start_instance(created.instance_id)
    wait_for(vast, created.instance_id, lambda i: i is not None and i.state == "running")

    vast.destroy_instance(created.instance_id)
    wait_for(vast, created.instance_id, lambda i: i is None)
    assert created.instance_id not in {i.instance_id for i in vast.list_instances()}


def test_env_and_ports_reach_the_instance_exactly(cloud: DemoCloud, vast: VastPlatform) -> None:
    env = {"QUOTED": 'say "hi" $HOME; -e X=1', "NEWLINE": "a\nb", "UNICODE": "grüße ✓"}
    spec = LaunchSpec(image="pytorch/pytorch", env=env, ports=["22/tcp", "8888/tcp"])
    created = vast.create_instance(cheapest(vast), spec)
    stored = cloud.cloud.get("vast", created.instance_id)
    assert stored is not None
    assert stored.env == {**env, "-p 8888:8888": "1"}
    assert stored.extra["runtype"] == "ssh_direc ssh_proxy"


def test_interruptible_launch_bids_the_minimum(cloud: DemoCloud, vast: VastPlatform) -> None:
    offer = vast.list_offers(OfferQuery(interruptible=True, max_price_per_hour=0.4))[0]
    created = vast.create_instance(offer, LaunchSpec(image="pytorch/pytorch", label="spot"))
    assert created.interruptible is True
    stored = cloud.cloud.get("vast", created.instance_id)
    assert stored is not None and stored.bid_price == pytest.approx(offer.min_bid)
    vast.destroy_instance(created.instance_id)


def test_many_instances_are_listed_across_pages(vast: VastPlatform) -> None:
    offers = vast.list_offers(OfferQuery(interruptible=False, max_price_per_hour=0.2))[:27]
    assert len(offers) == 27
    made = {
        vast.create_instance(o, LaunchSpec(image="busybox", label=f"n{i}")).instance_id
        for i, o in enumerate(offers)
    }
    seen = {instance.instance_id for instance in vast.list_instances()}
    assert made <= seen


def test_unknown_instances(vast: VastPlatform) -> None:
    assert vast.get_instance("123") is None
    assert vast.get_instance("not-a-number") is None
    # Vast answers 200 {"success": false, "error": "no_such_instance"}: gone, which the
    # caller still verifies by listing.
    vast.destroy_instance("123")


# ------------------------------------------------------------------------------ price cap


def test_price_cap_refuses_and_creates_nothing(vast: VastPlatform) -> None:
    offer = vast.list_offers(OfferQuery(gpus=("H100 SXM",), interruptible=False))[0]
    assert offer.price_per_hour > 0.5
    before = vast.list_instances()
    with pytest.raises(PriceCapExceeded) as caught:
        vast.create_instance(offer, LaunchSpec(image="pytorch/pytorch"))
    assert "above your cap of $0.50/h" in str(caught.value)
    assert "--max-price" in str(caught.value)
    assert vast.list_instances() == [] == before

    raised = LaunchSpec(image="pytorch/pytorch", max_price_per_hour=offer.price_per_hour + 1)
    created = vast.create_instance(offer, raised)
    assert created.gpu == "H100 SXM"
    vast.destroy_instance(created.instance_id)


# ------------------------------------------------------------------------------ account and keys


def test_account_shows_credit_and_burn(vast: VastPlatform) -> None:
    account = vast.account()
    assert account.platform == "vast"
    assert account.balance is not None and account.balance > 0
    assert account.spend_per_hour == 0
    offer = cheapest(vast)
    vast.create_instance(offer, LaunchSpec(image="pytorch/pytorch"))
    assert vast.account().spend_per_hour == pytest.approx(offer.price_per_hour, rel=0.2)


def _account_keys(vast: VastPlatform) -> list[str]:
    return [entry["public_key"] for entry in vast._client().show_ssh_keys()]


def test_ensure_ssh_key_adds_once_and_never_replaces(vast: VastPlatform) -> None:
    vast.ensure_ssh_key(ED25519_A + " me@laptop")
    vast.ensure_ssh_key(ED25519_A + " another-comment")
    vast.ensure_ssh_key(ED25519_A)
    assert _account_keys(vast) == [ED25519_A + " me@laptop"]
    vast.ensure_ssh_key(ED25519_B + " vp-tui")
    assert _account_keys(vast) == [ED25519_A + " me@laptop", ED25519_B + " vp-tui"]


def test_ensure_ssh_key_refuses_junk(vast: VastPlatform) -> None:
    with pytest.raises(PlatformError):
        vast.ensure_ssh_key("not a key")
    assert _account_keys(vast) == []


# ------------------------------------------------------------------------------ errors


def test_wrong_key_is_an_auth_error(cloud: DemoCloud) -> None:
    vast = VastPlatform(settings_for(cloud, api_key=SecretStr("wrong-key-1234567890")))
    with pytest.raises(AuthError) as caught:
        vast.list_instances()
    message = str(caught.value)
    assert message == (
        "Vast.ai: API key rejected (Invalid user key): "
        "check it with `vp config-set --vast-api-key -`"
    )
    assert "wrong-key-1234567890" not in message


def test_missing_key_is_an_auth_error(cloud: DemoCloud) -> None:
    vast = VastPlatform(settings_for(cloud, api_key=None))
    with pytest.raises(AuthError) as caught:
        vast.list_offers(OfferQuery())
    assert "vp config-set --vast-api-key -" in str(caught.value)


@pytest.mark.parametrize(
    ("fault", "kind", "words"),
    [
        ("vast:auth", AuthError, "API key rejected (Invalid user key)"),
        ("vast:ratelimit", RateLimited, "too many requests (API requests too frequent)"),
        ("vast:error=500", Unavailable, "the API answered HTTP 500 (500 Internal Server Error)"),
        ("vast:error=502", Unavailable, "the API answered HTTP 502 (502 Bad Gateway)"),
        ("vast:error=400", PlatformError, "refused (HTTP 400): 400 Bad Request"),
        ("vast:malformed", Unavailable, "malformed answer from the API"),
    ],
)
def test_faults_become_errors_a_person_can_read(
    cloud: DemoCloud, vast: VastPlatform, fault: str, kind: type[PlatformError], words: str
) -> None:
    cloud.set_faults(fault)
    for call in (lambda: vast.list_offers(OfferQuery()), vast.list_instances, vast.account):
        with pytest.raises(kind) as caught:
            call()
        assert words in str(caught.value)
        assert caught.value.platform == "vast"
        assert_clean(caught.value)


def test_rate_limit_is_retryable_and_server_errors_too(
    cloud: DemoCloud, vast: VastPlatform
) -> None:
    cloud.set_faults("vast:ratelimit")
    with pytest.raises(RateLimited) as limited:
        vast.list_instances()
    assert limited.value.retryable and limited.value.status == 429
    cloud.set_faults("vast:error=503")
    with pytest.raises(Unavailable) as down:
        vast.list_instances()
    assert down.value.retryable and down.value.status == 503
    cloud.set_faults(None)
    assert vast.list_instances() == []


def test_timeout_is_unavailable(cloud: DemoCloud) -> None:
    vast = VastPlatform(settings_for(cloud, timeout_seconds=0.2))
    cloud.set_faults("vast:latency=1500")
    with pytest.raises(Unavailable) as caught:
        vast.list_instances()
    assert "no answer from" in str(caught.value) and "in time" in str(caught.value)
    assert cloud.vast_url in str(caught.value)
    assert_clean(caught.value)


def test_unreachable_host_is_unavailable(cloud: DemoCloud) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    vast = VastPlatform(settings_for(cloud, api_url=url))
    with pytest.raises(Unavailable) as caught:
        vast.account()
    message = str(caught.value)
    assert message.startswith(f"Vast.ai: cannot reach Vast.ai at {url}")
    assert "refused" in message.lower()
    assert_clean(caught.value)


def test_offer_gone_is_a_capacity_error(vast: VastPlatform) -> None:
    offer = cheapest(vast)
    first = vast.create_instance(offer, LaunchSpec(image="pytorch/pytorch"))
    with pytest.raises(CapacityError) as caught:
        vast.create_instance(offer, LaunchSpec(image="pytorch/pytorch"))
    assert "no longer available" in str(caught.value)
    assert "refresh the offers" in str(caught.value)
    assert [i.instance_id for i in vast.list_instances()] == [first.instance_id]


def test_bad_launch_input_is_refused_before_any_request(vast: VastPlatform) -> None:
    offer = cheapest(vast)
    with pytest.raises(PlatformError, match="environment variable name"):
        vast.create_instance(offer, LaunchSpec(image="x", env={"-p 22:22": "1"}))
    with pytest.raises(PlatformError, match="port"):
        vast.create_instance(offer, LaunchSpec(image="x", ports=["22/tcp", "80; rm"]))
    assert vast.list_instances() == []
