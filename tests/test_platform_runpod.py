"""The RunPod adapter over REST API v2, against the demo cloud's emulator on loopback HTTP.

Nothing is mocked: the adapter's own HTTP client talks to the emulator, whose
answers follow RunPod's published v2 shapes (problem bodies, cursor pages,
``Retry-After``), and the request counter shows what went over the wire.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from vp_tui.config import RunPodSettings
from vp_tui.core.models import Instance, InstanceState, LaunchSpec, Offer, Stock
from vp_tui.platforms.base import (
    AuthError,
    CapacityError,
    NotFound,
    OfferQuery,
    Platform,
    PlatformError,
    PriceCapExceeded,
    RateLimited,
    Unavailable,
)
from vp_tui.platforms.runpod import SSHD_SETUP, RunPodPlatform
from vp_tui.platforms.runpod_rest import ApiRetired
from vp_tui.sim.server import RUNPOD_DEMO_KEY, DemoCloud

ED25519_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
ED25519_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKx8nS8x3b0y7a1VbqQ1xq2w3e4r5t6y7u8i9o0p1a2s"
WAIT_SECONDS = 30.0
IMAGE = "runpod/pytorch:2.8.0"

pytest_plugins = ["shared_demo"]


def settings_for(cloud: DemoCloud, **changes: object) -> RunPodSettings:
    values: dict[str, object] = {
        "api_key": SecretStr(RUNPOD_DEMO_KEY),
        "api_url": cloud.runpod_url,
        "cloud_type": "ALL",
        "max_price_per_hour": 0.5,
    }
    values.update(changes)
    return RunPodSettings.model_validate(values)


@pytest.fixture
def runpod(cloud: DemoCloud) -> RunPodPlatform:
    platform = RunPodPlatform(settings_for(cloud))
    platform.http._sleep = lambda _seconds: None
    return platform


def wait_for(
    runpod: RunPodPlatform, pod_id: str, done: Callable[[Instance | None], bool]
) -> Instance | None:
    """Poll until ``done`` holds for the pod (or the wait runs out, then fail)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        instance = runpod.get_instance(pod_id)
        if done(instance):
            return instance
        if time.monotonic() > deadline:
            pytest.fail(f"pod {pod_id} never got there; last seen {instance}")
        time.sleep(0.05)


def offer_for(runpod: RunPodPlatform, gpu: str, *, cloud: str = "") -> Offer:
    offers = runpod.list_offers(OfferQuery(gpus=(gpu,)))
    offers = [o for o in offers if not cloud or o.cloud == cloud]
    assert offers, f"no {gpu} offers"
    return offers[0]


def assert_clean(error: BaseException) -> None:
    """The key is nowhere in what a user or a log could see."""
    for text in (str(error), repr(error), getattr(error, "message", "")):
        assert RUNPOD_DEMO_KEY not in text
        assert RUNPOD_DEMO_KEY[-12:] not in text


def account_keys(cloud: DemoCloud) -> list[str]:
    return [entry["key"] for entry in cloud.cloud.ssh_keys("runpod")]


def graphql_requests(cloud: DemoCloud) -> int:
    return sum(n for (api, _m, route), n in cloud.requests.items() if "/v2/" not in route)


def requests_to(cloud: DemoCloud, method: str, route: str) -> int:
    return cloud.requests.get(("runpod", method, route), 0)


# ------------------------------------------------------------------------------ basics


def test_is_a_platform(runpod: RunPodPlatform) -> None:
    assert isinstance(runpod, Platform)
    assert runpod.name == "runpod"


def test_the_runpod_package_is_never_imported() -> None:
    code = (
        "import sys\n"
        "from pydantic import SecretStr\n"
        "from vp_tui.config import RunPodSettings\n"
        "from vp_tui.platforms.base import PlatformError\n"
        "from vp_tui.platforms.runpod import RunPodPlatform\n"
        "p = RunPodPlatform(RunPodSettings(api_key=SecretStr('k'), api_url='http://127.0.0.1:9'))\n"
        "for call in (p.account, p.list_instances):\n"
        "    try:\n"
        "        call()\n"
        "    except PlatformError:\n"
        "        pass\n"
        "assert 'runpod' not in sys.modules, 'the runpod package was imported'\n"
    )
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=root
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""


# ------------------------------------------------------------------------------ offers


def test_offers_are_on_demand_in_both_clouds(cloud: DemoCloud, runpod: RunPodPlatform) -> None:
    cloud.reset_request_counts()
    offers = runpod.list_offers(OfferQuery())
    assert requests_to(cloud, "GET", "/v2/catalog/gpus") == 2  # one per cloud
    assert graphql_requests(cloud) == 0
    assert offers
    assert all(offer.platform == "runpod" and offer.gpu_count == 1 for offer in offers)
    assert {offer.cloud for offer in offers} == {"SECURE", "COMMUNITY"}
    assert not any(offer.interruptible or offer.min_bid for offer in offers)
    prices = [offer.price_per_hour for offer in offers]
    assert prices == sorted(prices)
    assert len({offer.key for offer in offers}) == len(offers)
    rtx = [o for o in offers if o.offer_id == "NVIDIA GeForce RTX 4090|SECURE|ondemand"]
    assert len(rtx) == 1
    assert rtx[0].gpu == "RTX 4090" and rtx[0].vram_gb == 24 and rtx[0].max_gpu_count == 8
    assert rtx[0].stock in {Stock.HIGH, Stock.MEDIUM}  # the catalog says HIGH/MEDIUM
    assert rtx[0].location  # the data centres that have it
    assert runpod.skipped_offer_rows == 0


def test_offer_filters_are_honoured(runpod: RunPodPlatform) -> None:
    h100 = runpod.list_offers(OfferQuery(gpus=("H100 SXM",)))
    assert h100 and {offer.gpu for offer in h100} == {"H100 SXM"}

    cheap = runpod.list_offers(OfferQuery(max_price_per_hour=0.3))
    assert cheap and all(offer.price_per_hour <= 0.3 for offer in cheap)

    big = runpod.list_offers(OfferQuery(min_vram_gb=80))
    assert big and all(offer.vram_gb >= 80 for offer in big)

    assert runpod.list_offers(OfferQuery(interruptible=True)) == []
    assert runpod.list_offers(OfferQuery(interruptible=False))

    four = runpod.list_offers(OfferQuery(gpus=("RTX 4090",), min_gpu_count=4))
    assert four and all(offer.gpu_count == 4 for offer in four)
    single = offer_for(runpod, "RTX 4090", cloud="SECURE")
    quad = next(o for o in four if o.offer_id == single.offer_id)
    assert quad.price_per_hour == pytest.approx(single.price_per_hour * 4)

    us = runpod.list_offers(OfferQuery(region="US"))
    assert us and all("US" in (offer.location or "") for offer in us)
    assert len(runpod.list_offers(OfferQuery(limit=3))) == 3


def test_configured_cloud_type_narrows_offers(cloud: DemoCloud) -> None:
    community = RunPodPlatform(settings_for(cloud, cloud_type="COMMUNITY"))
    cloud.reset_request_counts()
    offers = community.list_offers(OfferQuery())
    assert offers and {offer.cloud for offer in offers} == {"COMMUNITY"}
    assert requests_to(cloud, "GET", "/v2/catalog/gpus") == 1


# ------------------------------------------------------------------------------ lifecycle


def test_create_stop_start_destroy_over_v2_only(cloud: DemoCloud) -> None:
    runpod = RunPodPlatform(settings_for(cloud, volume_gb=20))
    offer = offer_for(runpod, "RTX 4000 Ada", cloud="COMMUNITY")
    cloud.reset_request_counts()
    created = runpod.create_instance(offer, LaunchSpec(image=IMAGE, label="train-1", disk_gb=15))
    assert requests_to(cloud, "POST", "/v2/pods") == 1
    assert requests_to(cloud, "GET", "/v2/pods/{id}") == 0  # the 201 answer is the pod
    assert created.platform == "runpod" and created.label == "train-1"
    assert created.gpu == "RTX 4000 Ada"
    assert created.state in {InstanceState.PROVISIONING, InstanceState.STARTING}
    assert created.instance_id in {i.instance_id for i in runpod.list_instances()}

    running = wait_for(runpod, created.instance_id, lambda i: i is not None and i.ssh is not None)
    assert running is not None and running.state is InstanceState.RUNNING
    assert running.ssh is not None and running.ssh.kind == "direct"
    assert running.ssh_proxy is not None and running.ssh_proxy.host == "ssh.runpod.io"
    assert running.price_per_hour == pytest.approx(offer.price_per_hour)
    assert running.uptime_seconds is not None and running.gpu_util is not None
    assert running.location

    runpod.stop_instance(created.instance_id)
    stopped = wait_for(
        runpod, created.instance_id, lambda i: i is not None and i.state == "stopped"
    )
    assert stopped is not None
    assert stopped.price_per_hour == 0  # RunPod's cost reads 0 while stopped...
    assert stopped.storage_price_per_hour == pytest.approx(20 * 0.20 / 730)  # ...the volume bills

    runpod.start_instance(created.instance_id)
    wait_for(runpod, created.instance_id, lambda i: i is not None and i.state == "running")

    runpod.destroy_instance(created.instance_id)
    wait_for(runpod, created.instance_id, lambda i: i is None)
    assert created.instance_id not in {i.instance_id for i in runpod.list_instances()}
    assert graphql_requests(cloud) == 0


def test_a_second_stop_is_refused_in_runpods_words(runpod: RunPodPlatform) -> None:
    offer = offer_for(runpod, "RTX 4000 Ada")
    created = runpod.create_instance(offer, LaunchSpec(image=IMAGE))
    wait_for(runpod, created.instance_id, lambda i: i is not None and i.state == "running")
    runpod.stop_instance(created.instance_id)
    with pytest.raises(PlatformError) as caught:
        runpod.stop_instance(created.instance_id)
    assert caught.value.status == 409
    assert "not possible in the pod's current state" in str(caught.value)


def test_env_values_reach_the_pod_exactly(cloud: DemoCloud, runpod: RunPodPlatform) -> None:
    offer = offer_for(runpod, "RTX 4000 Ada")
    env = {"QUOTED": 'say "hi" \\ back\\slash', "NEWLINE": "a\nb\tc", "UNICODE": "grüße ✓"}
    created = runpod.create_instance(offer, LaunchSpec(image="runpod/base:0.1", env=env))
    stored = cloud.cloud.get("runpod", created.instance_id)
    assert stored is not None and {k: stored.env[k] for k in env} == env


def test_images_without_runpods_start_script_get_sshd_set_up(runpod: RunPodPlatform) -> None:
    offer = offer_for(runpod, "RTX 4000 Ada")
    plain = runpod.create_instance(offer, LaunchSpec(image="ubuntu:24.04"))
    own = runpod.create_instance(offer, LaunchSpec(image=IMAGE))
    plain_row = runpod.http.rest_object("GET", runpod.http.path("pods", plain.instance_id), "get")
    own_row = runpod.http.rest_object("GET", runpod.http.path("pods", own.instance_id), "get")
    assert "authorized_keys" in plain_row["args"] and "sshd" in plain_row["args"]
    assert "$PUBLIC_KEY" in SSHD_SETUP
    assert not own_row.get("args")  # RunPod's own start script stays in charge


def test_several_gpus_on_one_pod(runpod: RunPodPlatform) -> None:
    offer = offer_for(runpod, "RTX 4000 Ada", cloud="COMMUNITY")
    spec = LaunchSpec(image="runpod/base:0.1", gpu_count=2, max_price_per_hour=5)
    created = runpod.create_instance(offer, spec)
    assert created.gpu_count == 2
    running = wait_for(
        runpod, created.instance_id, lambda i: i is not None and i.state == "running"
    )
    assert running is not None
    assert running.price_per_hour == pytest.approx(offer.price_per_hour * 2)


def test_unknown_pods(runpod: RunPodPlatform) -> None:
    assert runpod.get_instance("nosuchpod000") is None
    assert runpod.get_instance('x"} bad') is None
    with pytest.raises(NotFound):
        runpod.destroy_instance("nosuchpod000")


def test_listing_follows_every_page(cloud: DemoCloud, runpod: RunPodPlatform) -> None:
    for n in range(5):
        cloud.cloud.create_runpod(
            gpu_type_id="NVIDIA RTX A4000", name=f"pod-{n}", image=IMAGE, cloud_type="COMMUNITY"
        )
    runpod.http.page_size = 2
    cloud.reset_request_counts()
    listed = runpod.list_instances()
    assert sorted(i.label or "" for i in listed) == [f"pod-{n}" for n in range(5)]
    assert requests_to(cloud, "GET", "/v2/pods") == 3


def test_spot_pods_made_elsewhere_are_listed_priced_and_destroyable(
    cloud: DemoCloud, runpod: RunPodPlatform
) -> None:
    spot = cloud.cloud.create_runpod(
        gpu_type_id="NVIDIA GeForce RTX 4090",
        name="from-the-console",
        image=IMAGE,
        cloud_type="COMMUNITY",
        bid_per_gpu=0.25,
    )
    found = wait_for(runpod, spot.id, lambda i: i is not None and i.state == "running")
    assert found is not None and found.price_per_hour == pytest.approx(0.25)
    runpod.destroy_instance(spot.id)
    wait_for(runpod, spot.id, lambda i: i is None)


def test_spot_offers_kept_from_before_are_refused(runpod: RunPodPlatform) -> None:
    offer = offer_for(runpod, "RTX 4000 Ada")
    old = offer.model_copy(
        update={"offer_id": offer.offer_id.replace("|ondemand", "|spot"), "interruptible": True}
    )
    with pytest.raises(PlatformError) as caught:
        runpod.create_instance(old, LaunchSpec(image=IMAGE))
    assert "no spot pods" in str(caught.value)
    assert runpod.list_instances() == []


# ------------------------------------------------------------------------------ readiness words


def test_a_pod_that_fails_is_in_error_with_the_reason(runpod: RunPodPlatform) -> None:
    offer = offer_for(runpod, "RTX 4000 Ada")
    created = runpod.create_instance(offer, LaunchSpec(image="example/does-not-exist:1"))
    failed = wait_for(runpod, created.instance_id, lambda i: i is not None and i.state == "error")
    assert failed is not None and failed.status_message
    assert "does-not-exist" in failed.status_message


def test_runtime_before_the_port_mapping_is_not_yet_unreachable(
    cloud: DemoCloud, runpod: RunPodPlatform
) -> None:
    cloud.cloud.port_delay_seconds = 600.0
    offer = offer_for(runpod, "RTX 4000 Ada")
    created = runpod.create_instance(offer, LaunchSpec(image=IMAGE))
    up = wait_for(runpod, created.instance_id, lambda i: i is not None and i.state == "running")
    assert up is not None and up.ssh is None and up.unreachable is None


def test_a_pod_without_a_public_port_22_says_so(cloud: DemoCloud, runpod: RunPodPlatform) -> None:
    cloud.set_faults("runpod:noport")
    offer = offer_for(runpod, "RTX 4000 Ada", cloud="COMMUNITY")
    created = runpod.create_instance(offer, LaunchSpec(image=IMAGE))
    cloud.set_faults(None)  # the host stays without a public IP
    found = wait_for(runpod, created.instance_id, lambda i: i is not None and i.state == "running")
    assert found is not None and found.ssh is None
    assert found.unreachable is not None and "no public IP" in found.unreachable
    assert "Secure Cloud" in found.unreachable


# ------------------------------------------------------------------------------ price cap


def test_price_cap_refuses_and_creates_nothing(runpod: RunPodPlatform) -> None:
    offer = offer_for(runpod, "H100 SXM", cloud="SECURE")
    assert offer.price_per_hour > 0.5
    with pytest.raises(PriceCapExceeded) as caught:
        runpod.create_instance(offer, LaunchSpec(image="runpod/base:0.1"))
    assert "above your cap of $0.50/h" in str(caught.value)
    assert runpod.list_instances() == []

    cheap = offer_for(runpod, "RTX 4000 Ada", cloud="COMMUNITY")
    with pytest.raises(PriceCapExceeded):
        runpod.create_instance(cheap, LaunchSpec(image="runpod/base:0.1", gpu_count=8))
    assert runpod.list_instances() == []

    raised = LaunchSpec(image="runpod/base:0.1", max_price_per_hour=offer.price_per_hour + 1)
    created = runpod.create_instance(offer, raised)
    assert created.gpu == "H100 SXM"


# ------------------------------------------------------------------------------ account and keys


def test_account_shows_balance_and_spend(cloud: DemoCloud, runpod: RunPodPlatform) -> None:
    account = runpod.account()
    assert account.platform == "runpod"
    assert account.balance is not None and account.balance > 0
    assert account.spend_per_hour == 0 and account.balance_unknown is None
    offer = offer_for(runpod, "RTX 4000 Ada", cloud="COMMUNITY")
    runpod.create_instance(offer, LaunchSpec(image="runpod/base:0.1"))
    assert runpod.account().spend_per_hour == pytest.approx(offer.price_per_hour)


def test_without_graphql_the_balance_is_unknown_and_the_rest_works(
    cloud: DemoCloud, runpod: RunPodPlatform
) -> None:
    offer = offer_for(runpod, "RTX 4000 Ada", cloud="COMMUNITY")
    created = runpod.create_instance(offer, LaunchSpec(image="runpod/base:0.1"))
    wait_for(runpod, created.instance_id, lambda i: i is not None and i.state == "running")
    cloud.set_faults("runpod:nographql")
    with pytest.raises(ApiRetired):
        runpod.http.graphql("query { myself { clientBalance } }", "read balance")
    account = runpod.account()
    assert account.balance is None
    assert account.balance_unknown is not None and "switched off" in account.balance_unknown
    assert account.spend_per_hour == pytest.approx(offer.price_per_hour)  # from the pods
    assert runpod.list_offers(OfferQuery())
    assert [i.instance_id for i in runpod.list_instances()] == [created.instance_id]


def test_a_rate_limited_graphql_leaves_the_balance_unknown(
    cloud: DemoCloud, runpod: RunPodPlatform
) -> None:
    cloud.set_faults("runpod:ratelimit")
    account = runpod.account()
    assert account.balance is None and account.spend_per_hour is None
    assert account.balance_unknown is not None and "rate limited" in account.balance_unknown


def test_billing_agrees_with_what_the_account_spent(
    cloud: DemoCloud, runpod: RunPodPlatform
) -> None:
    offer = offer_for(runpod, "RTX 4000 Ada", cloud="COMMUNITY")
    created = runpod.create_instance(offer, LaunchSpec(image="runpod/base:0.1"))
    wait_for(runpod, created.instance_id, lambda i: i is not None and i.state == "running")
    time.sleep(0.5)
    runpod.destroy_instance(created.instance_id)
    now = datetime.now(UTC)
    billed = runpod.billed_pods(now - timedelta(days=2), now + timedelta(days=1))
    assert billed and {record.pod_id for record in billed} == {created.instance_id}
    total = sum(record.total for record in billed)
    assert total == pytest.approx(cloud.cloud.account("runpod").spent, abs=0.01)


def test_ensure_ssh_key_appends_once_and_never_replaces(
    cloud: DemoCloud, runpod: RunPodPlatform
) -> None:
    old = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 old@box"
    cloud.cloud.set_ssh_keys("runpod", [old])
    runpod.ensure_ssh_key(ED25519_A + " me@laptop")
    runpod.ensure_ssh_key(ED25519_A + " another-comment")
    assert account_keys(cloud) == [old, ED25519_A + " me@laptop"]
    runpod.ensure_ssh_key(ED25519_B)
    assert account_keys(cloud)[-1] == ED25519_B
    assert len(account_keys(cloud)) == 3


def test_ensure_ssh_key_refuses_junk(cloud: DemoCloud, runpod: RunPodPlatform) -> None:
    for junk in ("not a key", ED25519_A + '"}) { evil', ED25519_A + "\nssh-rsa AAAA"):
        with pytest.raises(PlatformError):
            runpod.ensure_ssh_key(junk)
    assert account_keys(cloud) == []


# ------------------------------------------------------------------------------ errors


def test_wrong_key_is_an_auth_error(cloud: DemoCloud) -> None:
    runpod = RunPodPlatform(settings_for(cloud, api_key=SecretStr("wrong-key-1234567890")))
    with pytest.raises(AuthError) as caught:
        runpod.list_instances()
    assert str(caught.value).startswith("RunPod: API key rejected (")
    assert str(caught.value).endswith("check it with `vp config-set --runpod-api-key -`")
    assert "wrong-key-1234567890" not in str(caught.value)


def test_missing_key_is_an_auth_error(cloud: DemoCloud) -> None:
    runpod = RunPodPlatform(settings_for(cloud, api_key=None))
    with pytest.raises(AuthError) as caught:
        runpod.list_offers(OfferQuery())
    assert "vp config-set --runpod-api-key -" in str(caught.value)


@pytest.mark.parametrize(
    ("fault", "kind", "words"),
    [
        ("runpod:auth", AuthError, "API key rejected ("),
        ("runpod:ratelimit", RateLimited, "too many requests ("),
        ("runpod:error=500", Unavailable, "the API answered HTTP 500 (500 Internal Server Error)"),
        ("runpod:error=503", Unavailable, "the API answered HTTP 503 (503 Service Unavailable)"),
        ("runpod:error=400", PlatformError, "refused (HTTP 400)"),
        ("runpod:malformed", Unavailable, "malformed answer from the API"),
    ],
)
def test_faults_become_errors_a_person_can_read(
    cloud: DemoCloud,
    runpod: RunPodPlatform,
    fault: str,
    kind: type[PlatformError],
    words: str,
) -> None:
    cloud.set_faults(fault)
    for call in (lambda: runpod.list_offers(OfferQuery()), runpod.list_instances):
        with pytest.raises(kind) as caught:
            call()
        assert words in str(caught.value)
        assert str(caught.value).startswith("RunPod: ")
        assert caught.value.platform == "runpod"
        assert_clean(caught.value)


def test_retry_after_is_honoured_once(cloud: DemoCloud) -> None:
    runpod = RunPodPlatform(settings_for(cloud))
    waits: list[float] = []
    runpod.http._sleep = waits.append
    cloud.set_faults("runpod:ratelimit")
    cloud.reset_request_counts()
    with pytest.raises(RateLimited) as caught:
        runpod.list_instances()
    assert caught.value.retryable and caught.value.retry_after is not None
    assert len(waits) == 1 and waits[0] == caught.value.retry_after
    assert requests_to(cloud, "GET", "/v2/pods") == 2


def test_unreachable_host_is_unavailable(cloud: DemoCloud) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    runpod = RunPodPlatform(settings_for(cloud, api_url=url))
    with pytest.raises(Unavailable) as caught:
        runpod.list_instances()
    assert str(caught.value).startswith(f"RunPod: cannot reach RunPod at {url}")
    assert_clean(caught.value)


def test_out_of_stock_is_a_capacity_error(runpod: RunPodPlatform) -> None:
    offer = offer_for(runpod, "B200", cloud="SECURE")
    spec = LaunchSpec(image="runpod/base:0.1", gpu_count=8, max_price_per_hour=100)
    with pytest.raises(CapacityError) as caught:
        runpod.create_instance(offer, spec)
    assert "no longer any instances available" in str(caught.value)
    assert runpod.list_instances() == []


def test_an_unknown_gpu_type_is_refused(runpod: RunPodPlatform) -> None:
    offer = offer_for(runpod, "RTX 4090").model_copy(
        update={"offer_id": "NVIDIA GeForce RTX 9999|COMMUNITY|ondemand"}
    )
    with pytest.raises(PlatformError) as caught:
        runpod.create_instance(offer, LaunchSpec(image="runpod/base:0.1"))
    assert "RTX 9999" in str(caught.value)
    assert runpod.list_instances() == []


def test_a_body_runpod_does_not_know_is_refused_naming_the_field(runpod: RunPodPlatform) -> None:
    body = {"name": "x", "image": IMAGE, "gpu": {"id": "NVIDIA RTX A4000"}, "bidPerGpu": 0.1}
    with pytest.raises(PlatformError) as caught:
        runpod.http.rest("POST", "/v2/pods", "create pod", body=body)
    assert caught.value.status == 422
    assert "bidPerGpu" in str(caught.value)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (LaunchSpec(image="runpod/base:0.1", label='x", name: "y'), "label"),
        (LaunchSpec(image='img" } mutation {'), "image"),
        (LaunchSpec(image="runpod/base:0.1", env={"BAD KEY": "1"}), "environment variable"),
        (LaunchSpec(image="runpod/base:0.1", ports=["22/tcp", '8888/http"']), "port"),
        (LaunchSpec(image="runpod/base:0.1", onstart="python train.py"), "start-up command"),
    ],
)
def test_unsafe_launch_input_is_refused(
    runpod: RunPodPlatform, spec: LaunchSpec, words: str
) -> None:
    offer = offer_for(runpod, "RTX 4000 Ada")
    with pytest.raises(PlatformError) as caught:
        runpod.create_instance(offer, spec)
    assert words in str(caught.value)
    assert runpod.list_instances() == []


def test_bad_offer_ids_are_refused(runpod: RunPodPlatform) -> None:
    offer = offer_for(runpod, "RTX 4000 Ada")
    for bad in ("nope", 'NVIDIA"}|COMMUNITY|ondemand', "NVIDIA RTX|MOON|ondemand"):
        with pytest.raises(PlatformError):
            runpod.create_instance(
                offer.model_copy(update={"offer_id": bad}), LaunchSpec(image="a")
            )
    assert runpod.list_instances() == []


def test_two_accounts_in_threads_do_not_mix(cloud: DemoCloud, tmp_path: Path) -> None:
    with DemoCloud(tmp_path / "other", seed=8, boot_seconds=0.3) as other:
        mine = RunPodPlatform(settings_for(cloud))
        theirs = RunPodPlatform(settings_for(other))
        offer = offer_for(theirs, "RTX 4000 Ada")
        theirs.create_instance(offer, LaunchSpec(image="runpod/base:0.1", label="theirs"))
        errors: list[BaseException] = []

        def work(platform: RunPodPlatform, expected: int) -> None:
            try:
                for _ in range(10):
                    assert len(platform.list_instances()) == expected
            except BaseException as exc:  # collected for the main thread
                errors.append(exc)

        threads = [
            threading.Thread(target=work, args=(mine, 0)),
            threading.Thread(target=work, args=(theirs, 1)),
            threading.Thread(target=work, args=(mine, 0)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
