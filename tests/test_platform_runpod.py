"""The RunPod adapter through the real ``runpod`` SDK against the demo cloud's GraphQL emulator.

The SDK's request timeout is fixed at 30 s, so a slow RunPod is not tested here
(see docs/platforms.md); an unreachable one is.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
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
from vp_tui.platforms.runpod import RunPodPlatform
from vp_tui.sim.server import RUNPOD_DEMO_KEY, DemoCloud

ED25519_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
ED25519_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKx8nS8x3b0y7a1VbqQ1xq2w3e4r5t6y7u8i9o0p1a2s"
WAIT_SECONDS = 30.0

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
    return RunPodPlatform(settings_for(cloud))


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


def offer_for(runpod: RunPodPlatform, gpu: str, *, spot: bool = False, cloud: str = "") -> Offer:
    offers = runpod.list_offers(OfferQuery(gpus=(gpu,), interruptible=spot))
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


# ------------------------------------------------------------------------------ basics


def test_is_a_platform(runpod: RunPodPlatform) -> None:
    assert isinstance(runpod, Platform)
    assert runpod.name == "runpod"


def test_importing_the_adapter_does_not_import_the_sdk() -> None:
    code = (
        "import sys\n"
        "from pydantic import SecretStr\n"
        "from vp_tui.config import RunPodSettings\n"
        "import vp_tui.platforms.runpod as r\n"
        "r.RunPodPlatform(RunPodSettings(api_key=SecretStr('k')))\n"
        "assert 'runpod' not in sys.modules, 'runpod imported early'\n"
    )
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=root
    )
    assert result.returncode == 0, result.stderr


def test_first_use_leaves_logging_and_the_terminal_alone() -> None:
    code = (
        "import logging, sys\n"
        "from pydantic import SecretStr\n"
        "from vp_tui.config import RunPodSettings\n"
        "from vp_tui.platforms.runpod import RunPodPlatform\n"
        "from vp_tui.platforms.base import Unavailable\n"
        "root = logging.getLogger()\n"
        "before = (list(root.handlers), root.level)\n"
        "p = RunPodPlatform(RunPodSettings(api_key=SecretStr('k'), api_url='http://127.0.0.1:9'))\n"
        "try:\n"
        "    p.account()\n"
        "except Unavailable:\n"
        "    pass\n"
        "assert 'runpod' in sys.modules\n"
        "assert (list(root.handlers), root.level) == before, root.handlers\n"
    )
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=root
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""


# ------------------------------------------------------------------------------ offers


def test_offers_cover_both_clouds_and_pricings(runpod: RunPodPlatform) -> None:
    offers = runpod.list_offers(OfferQuery())
    assert offers
    assert all(offer.platform == "runpod" and offer.gpu_count == 1 for offer in offers)
    assert {offer.cloud for offer in offers} == {"SECURE", "COMMUNITY"}
    assert any(offer.interruptible for offer in offers)
    assert any(not offer.interruptible for offer in offers)
    prices = [offer.price_per_hour for offer in offers]
    assert prices == sorted(prices)
    assert len({offer.key for offer in offers}) == len(offers)
    rtx = [o for o in offers if o.offer_id == "NVIDIA GeForce RTX 4090|SECURE|ondemand"]
    assert len(rtx) == 1
    assert rtx[0].gpu == "RTX 4090" and rtx[0].vram_gb == 24 and rtx[0].max_gpu_count == 8
    assert rtx[0].stock in {Stock.HIGH, Stock.MEDIUM}
    assert runpod.skipped_rows == 0


def test_offer_filters_are_honoured(runpod: RunPodPlatform) -> None:
    h100 = runpod.list_offers(OfferQuery(gpus=("H100 SXM",)))
    assert h100 and {offer.gpu for offer in h100} == {"H100 SXM"}

    cheap = runpod.list_offers(OfferQuery(max_price_per_hour=0.3))
    assert cheap and all(offer.price_per_hour <= 0.3 for offer in cheap)

    big = runpod.list_offers(OfferQuery(min_vram_gb=80))
    assert big and all(offer.vram_gb >= 80 for offer in big)

    spot = runpod.list_offers(OfferQuery(interruptible=True))
    assert spot and all(o.interruptible and o.min_bid == o.price_per_hour for o in spot)
    ondemand = runpod.list_offers(OfferQuery(interruptible=False))
    assert ondemand and not any(offer.interruptible for offer in ondemand)

    four = runpod.list_offers(OfferQuery(gpus=("RTX 4090",), min_gpu_count=4))
    assert four and all(offer.gpu_count == 4 for offer in four)
    single = offer_for(runpod, "RTX 4090", cloud="SECURE")
    quad = next(o for o in four if o.offer_id == single.offer_id)
    assert quad.price_per_hour == pytest.approx(single.price_per_hour * 4)

    assert runpod.list_offers(OfferQuery(region="US")) == []  # RunPod offers carry no location
    assert len(runpod.list_offers(OfferQuery(limit=3))) == 3


def test_configured_cloud_type_narrows_offers(cloud: DemoCloud) -> None:
    community = RunPodPlatform(settings_for(cloud, cloud_type="COMMUNITY"))
    offers = community.list_offers(OfferQuery())
    assert offers and {offer.cloud for offer in offers} == {"COMMUNITY"}


# ------------------------------------------------------------------------------ lifecycle


def test_create_run_stop_start_destroy(runpod: RunPodPlatform) -> None:
    offer = offer_for(runpod, "RTX 4000 Ada", cloud="COMMUNITY")
    env = {"QUOTED": 'say "hi"\\n', "NEWLINE": "a\nb", "BRACES": "}) { x", "EMPTY": ""}
    created = runpod.create_instance(
        offer, LaunchSpec(image="runpod/pytorch:2.8.0", label="train-1", env=env, disk_gb=15)
    )
    assert created.platform == "runpod"
    assert created.label == "train-1"
    assert created.gpu == "RTX 4000 Ada"
    assert created.state in {InstanceState.PROVISIONING, InstanceState.STARTING}

    listed = {instance.instance_id for instance in runpod.list_instances()}
    assert created.instance_id in listed

    running = wait_for(
        runpod, created.instance_id, lambda i: i is not None and i.state == "running"
    )
    assert running is not None
    assert running.price_per_hour == pytest.approx(offer.price_per_hour)
    assert running.uptime_seconds is not None and running.gpu_util is not None

    runpod.stop_instance(created.instance_id)
    wait_for(runpod, created.instance_id, lambda i: i is not None and i.state == "stopped")
    runpod.start_instance(created.instance_id)
    wait_for(runpod, created.instance_id, lambda i: i is not None and i.state == "running")

    runpod.destroy_instance(created.instance_id)
    wait_for(runpod, created.instance_id, lambda i: i is None)
    assert created.instance_id not in {i.instance_id for i in runpod.list_instances()}


def test_env_values_reach_the_pod_exactly(cloud: DemoCloud, runpod: RunPodPlatform) -> None:
    offer = offer_for(runpod, "RTX 4000 Ada")
    env = {"QUOTED": 'say "hi" \\ back\\slash', "NEWLINE": "a\nb\tc", "UNICODE": "grüße ✓"}
    created = runpod.create_instance(offer, LaunchSpec(image="runpod/base:0.1", env=env))
    stored = cloud.cloud.get("runpod", created.instance_id)
    assert stored is not None and stored.env == env


def test_spot_pods_bid_the_spot_price(cloud: DemoCloud, runpod: RunPodPlatform) -> None:
    offer = offer_for(runpod, "RTX 4090", spot=True, cloud="COMMUNITY")
    created = runpod.create_instance(offer, LaunchSpec(image="runpod/base:0.1", label="spot-1"))
    assert created.interruptible is True
    stored = cloud.cloud.get("runpod", created.instance_id)
    assert stored is not None and stored.is_bid
    assert stored.bid_price == pytest.approx(offer.min_bid)


def test_several_gpus_on_one_pod(runpod: RunPodPlatform) -> None:
    offer = offer_for(runpod, "RTX 4000 Ada", cloud="COMMUNITY")
    spec = LaunchSpec(image="runpod/base:0.1", gpu_count=2, max_price_per_hour=5)
    created = runpod.create_instance(offer, spec)
    assert created.gpu_count == 2
    assert created.price_per_hour == pytest.approx(offer.price_per_hour * 2)


def test_unknown_pods(runpod: RunPodPlatform) -> None:
    assert runpod.get_instance("nosuchpod000") is None
    assert runpod.get_instance('x"} bad') is None
    with pytest.raises(NotFound) as caught:
        runpod.destroy_instance("nosuchpod000")
    assert str(caught.value) == "RunPod: Pod not found."


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


def test_account_shows_balance_and_spend(runpod: RunPodPlatform) -> None:
    account = runpod.account()
    assert account.platform == "runpod"
    assert account.balance is not None and account.balance > 0
    assert account.spend_per_hour == 0
    offer = offer_for(runpod, "RTX 4000 Ada", cloud="COMMUNITY")
    runpod.create_instance(offer, LaunchSpec(image="runpod/base:0.1"))
    assert runpod.account().spend_per_hour == pytest.approx(offer.price_per_hour)


def test_ensure_ssh_key_appends_once_and_never_replaces(
    cloud: DemoCloud, runpod: RunPodPlatform
) -> None:
    cloud.cloud.set_ssh_keys("runpod", ["ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 old@box"])
    runpod.ensure_ssh_key(ED25519_A + " me@laptop")
    runpod.ensure_ssh_key(ED25519_A + " another-comment")
    assert account_keys(cloud) == [
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 old@box",
        ED25519_A + " me@laptop",
    ]
    runpod.ensure_ssh_key(ED25519_B)
    assert account_keys(cloud)[-1] == ED25519_B
    assert len(account_keys(cloud)) == 3


def test_ensure_ssh_key_keeps_odd_existing_text_intact(
    cloud: DemoCloud, runpod: RunPodPlatform
) -> None:
    odd = 'ssh-ed25519 AAAAC3Nz "quoted" back\\slash'
    cloud.cloud.set_ssh_keys("runpod", [odd])
    runpod.ensure_ssh_key(ED25519_A)
    assert account_keys(cloud) == [odd, ED25519_A]


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
    assert str(caught.value) == (
        "RunPod: API key rejected (Unauthorized request, please check your API key.): "
        "check it with `vp config-set --runpod-api-key -`"
    )


def test_missing_key_is_an_auth_error(cloud: DemoCloud) -> None:
    runpod = RunPodPlatform(settings_for(cloud, api_key=None))
    with pytest.raises(AuthError) as caught:
        runpod.list_offers(OfferQuery())
    assert "vp config-set --runpod-api-key -" in str(caught.value)


@pytest.mark.parametrize(
    ("fault", "kind", "words"),
    [
        ("runpod:auth", AuthError, "API key rejected (Unauthorized request"),
        ("runpod:ratelimit", RateLimited, "too many requests (Too many requests"),
        ("runpod:error=500", Unavailable, "error page (500 Internal Server Error)"),
        ("runpod:error=503", Unavailable, "error page (503 Service Unavailable)"),
        ("runpod:error=400", PlatformError, "400 Bad Request"),
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
    for call in (lambda: runpod.list_offers(OfferQuery()), runpod.list_instances, runpod.account):
        with pytest.raises(kind) as caught:
            call()
        assert words in str(caught.value)
        assert str(caught.value).startswith("RunPod: ")
        assert caught.value.platform == "runpod"
        assert_clean(caught.value)


def test_retryable_errors(cloud: DemoCloud, runpod: RunPodPlatform) -> None:
    cloud.set_faults("runpod:ratelimit")
    with pytest.raises(RateLimited) as limited:
        runpod.account()
    assert limited.value.retryable
    cloud.set_faults("runpod:error=502")
    with pytest.raises(Unavailable) as down:
        runpod.account()
    assert down.value.retryable
    cloud.set_faults(None)
    assert runpod.account().balance is not None


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


def test_gpu_type_gone_is_a_capacity_error(runpod: RunPodPlatform) -> None:
    offer = offer_for(runpod, "RTX 4090").model_copy(
        update={"offer_id": "NVIDIA GeForce RTX 9999|COMMUNITY|ondemand"}
    )
    with pytest.raises(CapacityError) as caught:
        runpod.create_instance(offer, LaunchSpec(image="runpod/base:0.1"))
    assert "no longer offers" in str(caught.value)


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
