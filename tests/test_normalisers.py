"""The pure functions that turn provider dicts into offers and instances, and input checks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vp_tui.core.models import Instance, InstanceState, Offer, SSHEndpoint, Stock
from vp_tui.platforms.base import OfferQuery, PlatformError
from vp_tui.platforms.errors import key_identity, parse_public_key, scrub
from vp_tui.platforms.runpod import (
    instance_from_runpod_pod,
    offers_from_runpod_gpu_type,
    runpod_state,
)
from vp_tui.platforms.vast import (
    build_search_query,
    instance_from_vast,
    offer_from_vast,
    vast_gpu_names,
    vast_state,
)

# Rows as the reference notes show them (docs/platforms.md, shared SDK notes).
VAST_OFFER: dict[str, Any] = {
    "id": 12345678,
    "machine_id": 4321,
    "num_gpus": 1,
    "gpu_name": "RTX 4090",
    "gpu_ram": 24564,
    "cpu_cores_effective": 16.0,
    "cpu_ram": 128700,
    "disk_space": 250.3,
    "inet_down": 920.5,
    "inet_up": 850.2,
    "dph_total": 0.3271,
    "min_bid": 0.18,
    "dlperf": 64.2,
    "dlperf_per_dphtotal": 196.3,
    "total_flops": 82.6,
    "reliability2": 0.9961,
    "verification": "verified",
    "rentable": True,
    "geolocation": "Sweden, SE",
    "hosting_type": 0,
    "cuda_max_good": 12.4,
}
VAST_INSTANCE: dict[str, Any] = {
    "id": 9876543,
    "label": "train-1",
    "actual_status": "running",
    "intended_status": "running",
    "cur_state": "running",
    "status_msg": "success, running pytorch/pytorch",
    "image_uuid": "pytorch/pytorch:latest",
    "num_gpus": 1,
    "gpu_name": "RTX 4090",
    "gpu_util": 87.0,
    "dph_total": 0.3271,
    "is_bid": False,
    "start_date": 1764440000.1,
    "ssh_host": "ssh4.vast.ai",
    "ssh_port": 38542,
    "public_ipaddr": "203.0.113.42",
    "ports": {"22/tcp": [{"HostIp": "0.0.0.0", "HostPort": "41022"}]},
    "extra_env": [["FOO", "bar"]],
}
# v2 catalog GPU type (reference S1 example) and pod (S1 runtime/ssh example).
RUNPOD_GPU_TYPE: dict[str, Any] = {
    "id": "NVIDIA GeForce RTX 4090",
    "name": "RTX 4090",
    "pool": "ADA_24",
    "manufacturer": "NVIDIA",
    "memory": 24,
    "secure": True,
    "community": True,
    "price": {"secure": 0.44, "community": 0.31, "serverless": 1.1},
    "maxCount": {"secure": 8, "community": 4},
    "availability": "HIGH",
    "dataCenters": [
        {"id": "US-KS-2", "name": "US Kansas 2", "availability": "HIGH"},
        {"id": "EU-RO-1", "name": "Romania", "availability": "NONE"},
    ],
}
RUNPOD_POD: dict[str, Any] = {
    "id": "7h9k2m4n6p",
    "name": "train-1",
    "status": "RUNNING",
    "actions": ["stop", "restart", "terminate"],
    "image": "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404",
    "disk": 50,
    "ports": ["8888/http", "22/tcp"],
    "env": {"JUPYTER_PASSWORD": "xyz"},
    "gpu": {"id": "NVIDIA GeForce RTX 4090", "count": 1},
    "cloud": "SECURE",
    "dataCenterId": "US-KS-2",
    "cost": 0.69,
    "mounts": {"persistent": {"size": 50, "path": "/workspace"}},
    "startedAt": "2026-11-30T10:00:00Z",
    "runtime": {
        "uptime": 3600,
        "gpus": [{"util": 0, "memoryUtil": 0}],
        "ports": [
            {"private": 8888, "public": 60141, "type": "http", "ip": "100.65.0.101"},
            {"private": 22, "public": 34446, "type": "tcp", "ip": "195.26.233.3"},
        ],
    },
    "ssh": {
        "proxy": {
            "host": "ssh.runpod.io",
            "port": 22,
            "username": "7h9k2m4n6p-64411eb2",
            "command": "ssh 7h9k2m4n6p-64411eb2@ssh.runpod.io",
        },
        "direct": {
            "host": "195.26.233.3",
            "port": 34446,
            "username": "root",
            "command": "ssh root@195.26.233.3 -p 34446",
        },
    },
}
ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def with_fields(row: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    out = dict(row)
    for key, value in changes.items():
        if value is _DROP:
            out.pop(key, None)
        else:
            out[key] = value
    return out


_DROP = object()


# ------------------------------------------------------------------------- Vast offers


def test_vast_offer_from_the_reference_row() -> None:
    offer = offer_from_vast(VAST_OFFER)
    assert offer is not None
    assert offer.platform == "vast"
    assert offer.offer_id == "12345678"
    assert (offer.gpu, offer.gpu_raw, offer.gpu_count) == ("RTX 4090", "RTX 4090", 1)
    assert offer.vram_gb == 24.0
    assert offer.price_per_hour == pytest.approx(0.3271)
    assert offer.interruptible is False and offer.min_bid is None
    assert offer.reliability == pytest.approx(0.9961)
    assert offer.location == "Sweden, SE"
    assert offer.verified is True
    assert offer.stock is None and offer.cloud is None
    assert offer.cpu_cores == 16.0
    assert offer.ram_gb == pytest.approx(125.7)
    assert offer.disk_gb == pytest.approx(250.3)
    assert offer.inet_down_mbps == pytest.approx(920.5)
    assert offer.inet_up_mbps == pytest.approx(850.2)
    assert offer.cuda_version == pytest.approx(12.4)
    assert offer.driver_version is None  # the reference row has none
    assert offer.tflops_bf16 == pytest.approx(165.2)


@pytest.mark.parametrize(
    ("changes", "cuda", "driver", "up"),
    [
        ({"cuda_max_good": "12.8", "driver_version": "570.124.06", "inet_up": "95.5"},
         12.8, "570.124.06", 95.5),
        ({"cuda_max_good": "twelve", "driver_version": ["535"], "inet_up": -1}, None, None, None),
        ({"cuda_max_good": None, "driver_version": " ", "inet_up": "fast"}, None, None, None),
        ({"cuda_max_good": float("nan"), "driver_version": "[b]x[/b]", "inet_up": True},
         None, None, None),
        ({"cuda_max_good": 0, "driver_version": 535.1, "inet_up": float("inf")},
         None, "535.1", None),
    ],
)  # fmt: skip
def test_vast_host_facts_are_read_defensively(
    changes: dict[str, Any], cuda: float | None, driver: str | None, up: float | None
) -> None:
    offer = offer_from_vast(with_fields(VAST_OFFER, **changes))
    assert offer is not None
    assert offer.cuda_version == cuda
    assert offer.driver_version == driver
    assert offer.inet_up_mbps == up


def test_vast_bid_offer_is_priced_at_min_bid_plus_storage_with_its_own_id() -> None:
    row = with_fields(VAST_OFFER, storage_cost=0.15)
    offer = offer_from_vast(row, interruptible=True, disk_gb=20)
    assert offer is not None
    assert offer.interruptible is True
    # Not the bid search's dph_total (0.3271): the bid plus storage for 20 GB.
    assert offer.price_per_hour == pytest.approx(0.18 + 0.15 * 20 / 730)
    assert offer.min_bid == pytest.approx(0.18)
    assert offer.offer_id == "12345678-bid"
    no_storage = offer_from_vast(with_fields(VAST_OFFER, dph_total=None), interruptible=True)
    assert no_storage is not None and no_storage.price_per_hour == pytest.approx(0.18)
    assert offer.key != offer_from_vast(VAST_OFFER).key  # type: ignore[union-attr]


def test_vast_ram_is_the_offers_share_of_the_machine() -> None:
    whole = with_fields(VAST_OFFER, cpu_ram=262144, cpu_cores=64, cpu_cores_effective=16.0)
    offer = offer_from_vast(whole)
    assert offer is not None and offer.ram_gb == pytest.approx(64.0)
    alone = offer_from_vast(with_fields(VAST_OFFER, cpu_ram=262144, cpu_cores=_DROP))
    assert alone is not None and alone.ram_gb == pytest.approx(256.0)


@pytest.mark.parametrize(
    ("changes", "gpu", "vram"),
    [
        ({"gpu_name": "A100 SXM4", "gpu_ram": 81920}, "A100 SXM 80GB", 80.0),
        ({"gpu_name": "A100 SXM4", "gpu_ram": 40960}, "A100 SXM 40GB", 40.0),
        ({"gpu_name": "H100 SXM", "gpu_ram": 81559}, "H100 SXM", 80.0),  # marketed size
        ({"gpu_name": "Frobnitz X1", "gpu_ram": 81559}, None, 79.6),  # unknown: as reported
        ({"gpu_name": "RTX 6000Ada", "gpu_ram": 49140}, "RTX 6000 Ada", 48.0),
        ({"gpu_name": "Q RTX 8000", "gpu_ram": 49152}, "Quadro RTX 8000", 48.0),
        ({"gpu_name": "Tesla V100", "gpu_ram": 16384}, "V100 SXM2 16GB", 16.0),
        (
            {"gpu_name": "RTX 4090", "gpu_ram": _DROP, "gpu_total_ram": 49152, "num_gpus": 2},
            "RTX 4090",
            24.0,
        ),
        ({"gpu_name": "RTX 4090", "gpu_ram": _DROP}, "RTX 4090", 24.0),
    ],
)
def test_vast_gpu_names_and_vram(changes: dict[str, Any], gpu: str | None, vram: float) -> None:
    offer = offer_from_vast(with_fields(VAST_OFFER, **changes))
    assert offer is not None
    assert (offer.gpu, offer.vram_gb) == (gpu, vram)


def test_unknown_vast_gpu_stays_unknown() -> None:
    offer = offer_from_vast(with_fields(VAST_OFFER, gpu_name="Zorblax 9000"))
    assert offer is not None
    assert offer.gpu is None
    assert offer.gpu_raw == "Zorblax 9000"
    assert offer.label == "Zorblax 9000"
    assert offer.tflops_bf16 is None


@pytest.mark.parametrize(
    "changes",
    [
        {"id": None},
        {"id": "abc"},
        {"id": -3},
        {"gpu_name": ""},
        {"gpu_name": 4090},
        {"num_gpus": 0},
        {"num_gpus": 1.5},
        {"num_gpus": None},
        {"dph_total": None},
        {"dph_total": -1},
        {"dph_total": float("nan")},
        {"dph_total": "cheap"},
        {"gpu_name": "Zorblax 9000", "gpu_ram": None},
    ],
)
def test_unusable_vast_offers_are_none(changes: dict[str, Any]) -> None:
    assert offer_from_vast(with_fields(VAST_OFFER, **changes)) is None


def test_bid_row_without_min_bid_is_none() -> None:
    assert offer_from_vast(with_fields(VAST_OFFER, min_bid=None), interruptible=True) is None


@pytest.mark.parametrize(
    ("changes", "verified", "reliability"),
    [
        ({"verification": "unverified"}, False, 0.9961),
        ({"verification": "deverified"}, False, 0.9961),
        ({"verification": None, "verified": True}, True, 0.9961),
        ({"verification": None}, None, 0.9961),
        ({"reliability2": None, "reliability": 0.95}, True, 0.95),
        ({"reliability2": 7.0}, True, None),
        ({"reliability2": "0.9"}, True, 0.9),
    ],
)
def test_vast_verification_and_reliability(
    changes: dict[str, Any], verified: bool | None, reliability: float | None
) -> None:
    offer = offer_from_vast(with_fields(VAST_OFFER, **changes))
    assert offer is not None
    assert offer.verified is verified
    assert offer.reliability == (pytest.approx(reliability) if reliability is not None else None)


def test_vast_spellings_for_canonical_names() -> None:
    assert "RTX 4090" in vast_gpu_names("RTX 4090")
    assert "A100 SXM4" in vast_gpu_names("A100 SXM 80GB")
    assert "H100 PCIE" in vast_gpu_names("H100 PCIe")
    assert "Tesla T4" in vast_gpu_names("T4")
    assert "RTX 6000Ada" in vast_gpu_names("RTX 6000 Ada")
    assert vast_gpu_names("Zorblax 9000") == ("Zorblax 9000",)


def test_search_query_from_an_offer_query() -> None:
    query = OfferQuery(
        gpus=("RTX 4090", "H100 SXM"),
        min_gpu_count=1,
        max_gpu_count=4,
        min_vram_gb=24,
        min_reliability=0.98,
        region="SE",
    )
    text = build_search_query(query)
    assert "gpu_name in [RTX_4090,H100_SXM]" in text
    assert "num_gpus>=1" in text and "num_gpus<=4" in text
    assert "gpu_ram>=24" in text
    assert "reliability>=0.98" in text
    assert "SE" not in text.replace("H100_SXM", "")  # region is filtered locally


def test_memory_variant_gets_a_vram_floor() -> None:
    text = build_search_query(OfferQuery(gpus=("A100 SXM 80GB",)))
    assert "A100_SXM4" in text
    assert "gpu_ram>=72" in text


def test_names_the_query_language_cannot_carry_are_left_to_local_filtering() -> None:
    text = build_search_query(OfferQuery(gpus=('bad" name] x=1',)))
    assert "gpu_name" not in text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.text(max_size=20), max_size=4),
    st.one_of(st.none(), st.floats(min_value=0, max_value=200)),
)
def test_search_query_always_parses(gpus: list[str], vram: float | None) -> None:
    from vp_tui.platforms.vast import _parse_query

    text = build_search_query(OfferQuery(gpus=tuple(gpus), min_vram_gb=vram))
    parsed = _parse_query(text)
    names = parsed.get("gpu_name", {})
    for value in names.values():
        for name in value if isinstance(value, list) else [value]:
            assert isinstance(name, str) and "]" not in name and "=" not in name


# ------------------------------------------------------------------------- Vast instances


def test_vast_instance_from_the_reference_row() -> None:
    instance = instance_from_vast(VAST_INSTANCE)
    assert instance is not None
    assert instance.instance_id == "9876543"
    assert instance.label == "train-1"
    assert instance.state is InstanceState.RUNNING
    assert instance.gpu == "RTX 4090"
    assert instance.price_per_hour == pytest.approx(0.3271)
    assert instance.gpu_util == 87.0
    assert instance.image == "pytorch/pytorch:latest"
    assert instance.interruptible is False
    assert instance.started_at == datetime.fromtimestamp(1764440000.1, tz=UTC)
    assert instance.ssh == SSHEndpoint(host="203.0.113.42", port=41022, kind="direct")
    assert instance.ssh_proxy == SSHEndpoint(host="ssh4.vast.ai", port=38542, kind="proxy")


def test_vast_instance_without_direct_port_uses_the_proxy() -> None:
    instance = instance_from_vast(with_fields(VAST_INSTANCE, ports=None, public_ipaddr=None))
    assert instance is not None
    assert instance.ssh == instance.ssh_proxy
    assert instance.ssh is not None and instance.ssh.kind == "proxy"


def test_fresh_vast_instance_has_no_start_and_no_ssh() -> None:
    row = with_fields(
        VAST_INSTANCE,
        actual_status=None,
        start_date=None,
        ssh_host=None,
        ssh_port=None,
        ports=None,
        extra_env=_DROP,
        gpu_util=None,
        is_bid=True,
    )
    instance = instance_from_vast(row)
    assert instance is not None
    assert instance.state is InstanceState.PROVISIONING
    assert instance.started_at is None
    assert instance.ssh is None and instance.ssh_proxy is None
    assert instance.interruptible is True


def test_vast_storage_price_estimate() -> None:
    instance = instance_from_vast(with_fields(VAST_INSTANCE, storage_cost=0.1, disk_space=73))
    assert instance is not None
    assert instance.storage_price_per_hour == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("actual", "intended", "cur", "state"),
    [
        (None, "running", "running", InstanceState.PROVISIONING),
        ("created", "running", "running", InstanceState.PROVISIONING),
        ("scheduling", "running", "stopped", InstanceState.PROVISIONING),
        (None, "stopped", "stopped", InstanceState.STOPPED),
        ("created", "stopped", "running", InstanceState.STOPPING),
        ("loading", "running", "running", InstanceState.STARTING),
        ("loading", "stopped", "running", InstanceState.STOPPING),
        ("running", "running", "running", InstanceState.RUNNING),
        ("running", None, None, InstanceState.RUNNING),
        ("running", "stopped", "stopped", InstanceState.STOPPING),
        ("exited", "stopped", "stopped", InstanceState.STOPPED),
        ("stopped", "stopped", "stopped", InstanceState.STOPPED),
        ("exited", None, None, InstanceState.STOPPED),
        ("exited", "running", "stopped", InstanceState.STARTING),
        ("exited", "running", "running", InstanceState.ERROR),
        ("offline", "running", "running", InstanceState.ERROR),
        ("Running", "RUNNING", "running", InstanceState.RUNNING),
        ("destroyed", None, None, InstanceState.TERMINATED),
        ("frobnicating", "running", "running", InstanceState.UNKNOWN),
        (42, [], {}, InstanceState.UNKNOWN),
    ],
)
def test_vast_state_table(actual: Any, intended: Any, cur: Any, state: InstanceState) -> None:
    assert vast_state(actual, intended, cur)[0] is state


def test_vast_state_explains_errors() -> None:
    instance = instance_from_vast(
        with_fields(VAST_INSTANCE, actual_status="exited", status_msg="OOM killed")
    )
    assert instance is not None
    assert instance.state is InstanceState.ERROR
    assert instance.status_message == "the container exited on its own: OOM killed"


@pytest.mark.parametrize(
    "changes",
    [{"id": None}, {"id": "x1"}, {"id": True}, {"id": 1.5}],
)
def test_vast_instance_without_id_is_none(changes: dict[str, Any]) -> None:
    assert instance_from_vast(with_fields(VAST_INSTANCE, **changes)) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"ssh_port": 70000},
        {"ssh_port": "abc"},
        {"ports": {"22/tcp": []}},
        {"ports": {"22/tcp": [{"HostPort": None}]}},
        {"ports": ["22/tcp"]},
        {"start_date": "yesterday"},
        {"start_date": 1e20},
        {"gpu_util": 900},
        {"dph_total": "lots"},
    ],
)
def test_vast_instance_junk_fields_are_dropped(changes: dict[str, Any]) -> None:
    instance = instance_from_vast(with_fields(VAST_INSTANCE, **changes))
    assert instance is not None
    assert instance.instance_id == "9876543"


# ------------------------------------------------------------------------- RunPod offers


def test_runpod_gpu_type_gives_the_on_demand_offer_of_a_cloud() -> None:
    secure = offers_from_runpod_gpu_type(RUNPOD_GPU_TYPE, cloud="SECURE")
    community = offers_from_runpod_gpu_type(RUNPOD_GPU_TYPE, cloud="COMMUNITY")
    assert [o.offer_id for o in secure] == ["NVIDIA GeForce RTX 4090|SECURE|ondemand"]
    assert [o.offer_id for o in community] == ["NVIDIA GeForce RTX 4090|COMMUNITY|ondemand"]
    offer = secure[0]
    assert (offer.gpu, offer.gpu_raw, offer.vram_gb) == ("RTX 4090", "RTX 4090", 24)
    assert offer.price_per_hour == pytest.approx(0.44)
    assert offer.cloud == "SECURE" and offer.stock is Stock.HIGH
    assert offer.gpu_count == 1 and offer.max_gpu_count == 8
    assert offer.location == "US-KS-2"  # only the data centres with stock
    assert offer.interruptible is False and offer.min_bid is None
    assert community[0].price_per_hour == pytest.approx(0.31)
    assert community[0].max_gpu_count == 4


def test_runpod_gpu_type_skips_a_cloud_that_does_not_offer_it() -> None:
    row = with_fields(RUNPOD_GPU_TYPE, secure=False)
    assert offers_from_runpod_gpu_type(row, cloud="SECURE") == []
    row = with_fields(RUNPOD_GPU_TYPE, price={"secure": 0.44})
    assert offers_from_runpod_gpu_type(row, cloud="COMMUNITY") == []
    row = with_fields(RUNPOD_GPU_TYPE, maxCount={"secure": 8, "community": 0})
    assert offers_from_runpod_gpu_type(row, cloud="COMMUNITY") == []
    assert offers_from_runpod_gpu_type(RUNPOD_GPU_TYPE, cloud="ALL") == []


def test_runpod_offers_for_several_gpus_scale_the_price() -> None:
    offers = offers_from_runpod_gpu_type(RUNPOD_GPU_TYPE, cloud="SECURE", gpu_count=4)
    assert [o.gpu_count for o in offers] == [4]
    assert offers[0].price_per_hour == pytest.approx(1.76)
    assert offers_from_runpod_gpu_type(RUNPOD_GPU_TYPE, cloud="COMMUNITY", gpu_count=5) == []


@pytest.mark.parametrize(
    ("row", "gpu"),
    [
        ({"id": "NVIDIA A100-SXM4-80GB", "name": "A100 SXM", "memory": 80}, "A100 SXM 80GB"),
        ({"id": "NVIDIA A100 80GB PCIe", "name": "A100 PCIe", "memory": 80}, "A100 PCIe 80GB"),
        ({"id": "NVIDIA H100 80GB HBM3", "name": "H100 SXM", "memory": 80}, "H100 SXM"),
        (
            {"id": "NVIDIA RTX 4000 Ada Generation", "name": "RTX 4000 Ada", "memory": 20},
            "RTX 4000 Ada",
        ),
        ({"id": "AMD Instinct MI300X OAM", "name": "MI300X", "memory": 192}, "MI300X"),
        ({"id": "Frobnitz X1", "name": "Frobnitz X1", "memory": 12}, None),
    ],
)
def test_runpod_gpu_names(row: dict[str, Any], gpu: str | None) -> None:
    offers = offers_from_runpod_gpu_type({**row, "price": {"secure": 1.0}}, cloud="SECURE")
    assert len(offers) == 1
    assert offers[0].gpu == gpu
    assert offers[0].gpu_raw == row["name"]


@pytest.mark.parametrize(
    "changes",
    [{"id": None}, {"id": "a|b"}, {"memory": None}, {"memory": -1}, {"price": None}],
)
def test_unusable_runpod_gpu_types(changes: dict[str, Any]) -> None:
    assert (
        offers_from_runpod_gpu_type(with_fields(RUNPOD_GPU_TYPE, **changes), cloud="SECURE") == []
    )


@pytest.mark.parametrize(
    ("stock", "expected"),
    [
        ("HIGH", Stock.HIGH),
        ("low", Stock.LOW),
        ("MEDIUM", Stock.MEDIUM),
        ("NONE", Stock.NONE),
        (None, None),
        ("Plenty", None),
        (3, None),
    ],
)
def test_runpod_availability_words(stock: Any, expected: Stock | None) -> None:
    offers = offers_from_runpod_gpu_type(
        with_fields(RUNPOD_GPU_TYPE, availability=stock), cloud="SECURE"
    )
    assert offers[0].stock is expected


# ------------------------------------------------------------------------- RunPod pods


def test_runpod_pod_from_the_reference_row() -> None:
    instance = instance_from_runpod_pod(RUNPOD_POD)
    assert instance is not None
    assert instance.platform == "runpod"
    assert instance.instance_id == "7h9k2m4n6p"
    assert instance.label == "train-1"
    assert instance.state is InstanceState.RUNNING
    assert instance.ssh == SSHEndpoint(host="195.26.233.3", port=34446, kind="direct")
    assert instance.ssh_proxy == SSHEndpoint(
        host="ssh.runpod.io", port=22, user="7h9k2m4n6p-64411eb2", kind="proxy"
    )
    assert instance.unreachable is None
    assert instance.uptime_seconds == 3600
    assert instance.gpu_util == 0
    assert instance.gpu == "RTX 4090"
    assert instance.price_per_hour == pytest.approx(0.69)
    assert instance.storage_price_per_hour == pytest.approx(50 * 0.20 / 730)
    assert instance.location == "US-KS-2"
    assert instance.started_at == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert instance.image is not None and instance.image.startswith("runpod/pytorch")


@pytest.mark.parametrize(
    ("status", "runtime", "state"),
    [
        ("RUNNING", True, InstanceState.RUNNING),
        ("RUNNING", False, InstanceState.STARTING),
        ("PROVISIONING", False, InstanceState.PROVISIONING),
        ("STARTING", False, InstanceState.STARTING),
        ("EXITED", False, InstanceState.STOPPED),
        ("ERROR", False, InstanceState.ERROR),
        ("TERMINATED", False, InstanceState.TERMINATED),
        ("running", True, InstanceState.RUNNING),
        ("SOMETHING", True, InstanceState.UNKNOWN),
        (None, False, InstanceState.UNKNOWN),
    ],
)
def test_runpod_state_table(status: Any, runtime: bool, state: InstanceState) -> None:
    assert runpod_state(status, runtime) is state


def test_a_stopped_pod_costs_nothing_but_its_volume() -> None:
    row = with_fields(RUNPOD_POD, status="EXITED", cost=0.0, runtime=None)
    row["ssh"] = {"proxy": RUNPOD_POD["ssh"]["proxy"], "direct": None}
    instance = instance_from_runpod_pod(row)
    assert instance is not None and instance.state is InstanceState.STOPPED
    assert instance.price_per_hour == 0 and instance.ssh is None
    assert instance.storage_price_per_hour == pytest.approx(50 * 0.20 / 730)
    no_volume = instance_from_runpod_pod(with_fields(row, mounts={}))
    assert no_volume is not None and no_volume.storage_price_per_hour == 0


def test_runpod_pod_without_runtime_is_starting_without_ssh() -> None:
    instance = instance_from_runpod_pod(with_fields(RUNPOD_POD, runtime=None))
    assert instance is not None
    assert instance.state is InstanceState.STARTING
    assert instance.ssh is None and instance.unreachable is None
    assert instance.uptime_seconds is None


def _no_direct(runtime: dict[str, Any] | None, **changes: Any) -> dict[str, Any]:
    row = with_fields(RUNPOD_POD, runtime=runtime, **changes)
    row["ssh"] = {"proxy": RUNPOD_POD["ssh"]["proxy"], "direct": None}
    return row


def test_a_runtime_port_22_on_a_public_address_is_direct() -> None:
    instance = instance_from_runpod_pod(_no_direct(RUNPOD_POD["runtime"]))
    assert instance is not None
    assert instance.ssh == SSHEndpoint(host="195.26.233.3", port=34446, kind="direct")


def test_a_port_22_without_a_public_ip_is_unreachable_at_once() -> None:
    runtime = {
        "uptime": 5,
        "ports": [{"private": 22, "public": 22, "type": "tcp", "ip": "100.65.3.7"}],
        "gpus": [{"util": 50}, {"util": 100}, {"util": None}],
    }
    instance = instance_from_runpod_pod(_no_direct(runtime))
    assert instance is not None and instance.ssh is None
    assert instance.unreachable is not None and "no public IP" in instance.unreachable
    assert instance.gpu_util == 75


def test_a_port_mapping_is_awaited_for_a_while_then_given_up() -> None:
    early = instance_from_runpod_pod(_no_direct({"uptime": 10, "ports": []}))
    assert early is not None and early.ssh is None and early.unreachable is None
    late = instance_from_runpod_pod(_no_direct({"uptime": 600, "ports": []}))
    assert late is not None and late.unreachable is not None
    assert "no public port 22" in late.unreachable


def test_a_pod_without_port_22_exposed_has_no_way_in() -> None:
    row = _no_direct({"uptime": 1, "ports": []}, ports=["8888/http"])
    instance = instance_from_runpod_pod(row)
    assert instance is not None and instance.unreachable is not None
    assert "22/tcp is not exposed" in instance.unreachable


def test_the_proxy_is_never_the_ssh_endpoint() -> None:
    instance = instance_from_runpod_pod(_no_direct(None))
    assert instance is not None and instance.ssh is None and instance.ssh_proxy is not None


# ------------------------------------------------------------------------- input checks


def test_public_key_lines() -> None:
    assert parse_public_key(ED25519 + " me@laptop") == ("ssh-ed25519", ED25519.split()[1])
    assert parse_public_key(ED25519) == ("ssh-ed25519", ED25519.split()[1])
    for bad in (
        "",
        "ssh-dss AAAAB3NzaC1kc3MAAACBAP",
        ED25519 + ' "quoted"',
        ED25519 + "\nssh-rsa AAAA",
        "ssh-ed25519 not*base64*at*all",
        ED25519 + " comment}",
    ):
        with pytest.raises(PlatformError):
            parse_public_key(bad)
    assert key_identity('command="x" ' + ED25519 + " other comment") == (
        "ssh-ed25519",
        ED25519.split()[1],
    )
    assert key_identity("nothing here") is None


def test_scrub_masks_keys_and_tokens() -> None:
    text = "GET http://x/y?api_key=sekrit123&a=1 Authorization: Bearer abc.def sekrit123"
    clean = scrub(text, ["sekrit123"])
    assert "sekrit123" not in clean and "abc.def" not in clean
    assert "a=1" in clean


# ------------------------------------------------------------------------- never crash

JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=20,
)


def _check_result(result: object, model: type) -> None:
    assert result is None or isinstance(result, model)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSONISH)
def test_random_json_never_crashes(value: Any) -> None:
    _check_result(offer_from_vast(value), Offer)
    _check_result(offer_from_vast(value, interruptible=True), Offer)
    _check_result(instance_from_vast(value), Instance)
    _check_result(instance_from_runpod_pod(value), Instance)
    assert isinstance(offers_from_runpod_gpu_type(value, cloud="SECURE"), list)


def _junked(base: Mapping[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    keys = sorted(base)
    return st.dictionaries(st.sampled_from(keys), JSONISH, max_size=len(keys)).map(
        lambda junk: {**base, **junk}
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_junked(VAST_OFFER), _junked(VAST_INSTANCE), _junked(RUNPOD_GPU_TYPE), _junked(RUNPOD_POD))
def test_realistic_rows_with_junk_never_crash(
    offer: dict[str, Any], instance: dict[str, Any], gpu_type: dict[str, Any], pod: dict[str, Any]
) -> None:
    _check_result(offer_from_vast(offer), Offer)
    _check_result(offer_from_vast(offer, interruptible=True), Offer)
    _check_result(instance_from_vast(instance), Instance)
    _check_result(instance_from_runpod_pod(pod), Instance)
    for result in offers_from_runpod_gpu_type(gpu_type, cloud="COMMUNITY"):
        assert isinstance(result, Offer)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=30).filter(lambda s: s.strip() != ""))
def test_unknown_gpu_names_keep_their_raw_spelling(name: str) -> None:
    from vp_tui.core.gpus import canonical_gpu

    offer = offer_from_vast(with_fields(VAST_OFFER, gpu_name=name))
    assert offer is not None
    assert offer.gpu_raw == name.strip()
    assert offer.gpu == canonical_gpu(name.strip(), offer.vram_gb)
    offers = offers_from_runpod_gpu_type(
        with_fields(RUNPOD_GPU_TYPE, id="x", name=name), cloud="SECURE"
    )
    for runpod_offer in offers:
        assert runpod_offer.gpu_raw == name.strip()
