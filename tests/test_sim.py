"""The demo cloud: market, lifecycles, persistence and faults."""

from __future__ import annotations

import json
import socket
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fake_clock import FakeClock

from vp_tui.sim.cloud import SimCloud, SimError, SimInstance
from vp_tui.sim.faults import FaultInjector, parse_faults
from vp_tui.sim.market import (
    RUNPOD_GPU_TYPES,
    VAST_GPU_MODELS,
    RunPodMarket,
    VastMarket,
)
from vp_tui.sim.server import RUNPOD_DEMO_KEY, VAST_DEMO_KEY, DemoCloud

T0 = 1_780_000_000.0
HOUR = 3600.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def demo(tmp_path: Path, clock: FakeClock) -> Iterator[DemoCloud]:
    with DemoCloud(tmp_path / "demo", boot_seconds=10, faults="", clock=clock) as cloud:
        yield cloud


def vast(demo: DemoCloud, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {VAST_DEMO_KEY}"}
    return requests.request(method, demo.vast_url + path, headers=headers, timeout=10, **kwargs)


def gql(demo: DemoCloud, query: str, key: str = RUNPOD_DEMO_KEY) -> requests.Response:
    return requests.post(
        demo.runpod_url + "/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


def rest(demo: DemoCloud, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {RUNPOD_DEMO_KEY}"}
    return requests.request(method, demo.runpod_url + path, headers=headers, timeout=10, **kwargs)


def search(demo: DemoCloud, **body: Any) -> list[dict[str, Any]]:
    response = vast(demo, "POST", "/api/v0/bundles/", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    offers: list[dict[str, Any]] = response.json()["offers"]
    return offers


def create_vast(demo: DemoCloud, offer_id: int, **body: Any) -> requests.Response:
    payload = {"client_id": "me", "image": "pytorch/pytorch", "disk": 20, **body}
    return vast(demo, "PUT", f"/api/v0/asks/{offer_id}/", json=payload)


def show_vast(demo: DemoCloud, instance_id: int) -> dict[str, Any] | None:
    response = vast(demo, "GET", f"/api/v0/instances/{instance_id}/", params={"owner": "me"})
    assert response.status_code == 200, response.text
    row: dict[str, Any] | None = response.json()["instances"]
    return row


# ---------------------------------------------------------------------------
# Market
# ---------------------------------------------------------------------------


def test_vast_market_is_large_varied_and_priced_like_2026() -> None:
    offers = VastMarket(7).snapshot(T0)
    assert len(offers) >= 2000
    names = {o["gpu_name"] for o in offers}
    assert len(names) >= 25
    for name in ("RTX 4090", "RTX 3090", "RTX 5090", "H100 SXM", "H200", "B200", "A100 SXM4"):
        assert name in names
    assert {o["num_gpus"] for o in offers} == {1, 2, 4, 8}

    def median_per_gpu(name: str) -> float:
        return statistics.median(
            o["dph_base"] / o["num_gpus"] for o in offers if o["gpu_name"] == name
        )

    assert 0.25 <= median_per_gpu("RTX 4090") <= 0.60
    assert 0.15 <= median_per_gpu("RTX 3090") <= 0.30
    assert 1.6 <= median_per_gpu("H100 SXM") <= 2.8
    assert 0.7 <= median_per_gpu("A100 SXM4") <= 1.5
    assert 0.45 <= median_per_gpu("RTX 5090") <= 0.9
    assert any(o["verification"] == "unverified" for o in offers)
    assert all(
        0.4 * o["dph_base"] - 1e-3 <= o["min_bid"] <= 0.7 * o["dph_base"] + 1e-3 for o in offers
    )
    assert all(o["gpu_ram"] > 8000 for o in offers)  # MB
    assert {o["geolocation"] for o in offers} >= {"Sweden, SE", "United States, US", "Romania, RO"}
    reference_fields = {
        "id", "machine_id", "host_id", "num_gpus", "gpu_name", "gpu_ram", "gpu_total_ram",
        "compute_cap", "cuda_max_good", "cpu_name", "cpu_cores_effective", "cpu_ram",
        "disk_space", "inet_up", "inet_down", "dph_base", "min_bid", "storage_cost", "dlperf",
        "total_flops", "reliability", "reliability2", "verification", "rentable", "rented",
        "geolocation", "hosting_type", "static_ip",
    }  # fmt: skip
    assert reference_fields <= set(offers[0])


def test_markets_are_deterministic_per_seed() -> None:
    a, b, c = VastMarket(7).snapshot(T0), VastMarket(7).snapshot(T0), VastMarket(8).snapshot(T0)
    assert a == b
    assert [o["id"] for o in a] != [o["id"] for o in c]
    assert RunPodMarket(7).gpu_types(T0) == RunPodMarket(7).gpu_types(T0)


def test_prices_drift_a_few_percent_over_hours() -> None:
    market = VastMarket(7)
    before = {o["id"]: o["dph_base"] for o in market.snapshot(T0)}
    after = {o["id"]: o["dph_base"] for o in market.snapshot(T0 + 3 * HOUR)}
    common = before.keys() & after.keys()
    ratios = [after[i] / before[i] for i in common]
    assert max(abs(r - 1) for r in ratios) <= 0.09
    assert sum(1 for r in ratios if abs(r - 1) > 0.005) > len(ratios) / 2
    # prices hold for a minute at a time
    minute = T0 - T0 % 60
    first = {o["id"]: o["dph_base"] for o in market.snapshot(minute + 1)}
    assert first == {o["id"]: o["dph_base"] for o in market.snapshot(minute + 59)}


def test_vast_offers_churn_a_little_and_keep_their_ids() -> None:
    market = VastMarket(7)
    now = {o["id"] for o in market.snapshot(T0)}
    later = {o["id"] for o in market.snapshot(T0 + HOUR)}
    assert now != later
    assert len(now ^ later) < 0.15 * len(now)
    assert now | later <= set(market.all_ids())


def test_runpod_catalogue_uses_runpods_ids_and_prices() -> None:
    market = RunPodMarket(7)
    types = {t["id"]: t for t in market.gpu_types(T0)}
    assert len(types) >= 22
    rtx = types["NVIDIA GeForce RTX 4090"]
    assert rtx["displayName"] == "RTX 4090"
    assert 0.3 <= rtx["communityPrice"] <= 0.4 and rtx["securePrice"] > rtx["communityPrice"]
    assert types["NVIDIA H100 80GB HBM3"]["displayName"] == "H100 SXM"
    assert types["NVIDIA B200"]["communityPrice"] is None
    assert types["AMD Instinct MI300X OAM"]["manufacturer"] == "AMD"
    stock = {market.stock_status(t, 1, None, T0) for t in types}
    assert {"High", "Medium", "Low"} <= stock
    assert market.stock_status("NVIDIA GeForce RTX 4090", 16, None, T0) is None
    lowest = market.lowest_price("NVIDIA GeForce RTX 4090", 1, True, T0)
    assert lowest is not None
    assert lowest["uninterruptablePrice"] == rtx["securePrice"]
    assert lowest["minimumBidPrice"] == rtx["secureSpotPrice"]
    assert len(VAST_GPU_MODELS) >= 25 and len(RUNPOD_GPU_TYPES) >= 22


# ---------------------------------------------------------------------------
# Vast emulator
# ---------------------------------------------------------------------------


def test_vast_search_applies_the_sdk_filters(demo: DemoCloud) -> None:
    body = {
        "verified": {"eq": True}, "external": {"eq": False}, "rentable": {"eq": True},
        "gpu_name": {"eq": "RTX 4090"}, "num_gpus": {"eq": "1"}, "reliability": {"gt": "0.98"},
        "dph_total": {"lt": "0.5"}, "gpu_ram": {"gte": 24000.0},
        "order": [["dph_total", "asc"]], "type": "on-demand", "allocated_storage": 5.0,
        "limit": 500,
    }  # fmt: skip
    offers = search(demo, **body)
    assert offers
    for offer in offers:
        assert offer["gpu_name"] == "RTX 4090" and offer["num_gpus"] == 1
        assert offer["reliability"] > 0.98 and offer["dph_total"] < 0.5
        assert offer["verification"] == "verified"
    prices = [o["dph_total"] for o in offers]
    assert prices == sorted(prices)
    in_list = search(demo, gpu_name={"in": ["H100 SXM", "H200"]}, geolocation={"in": ["SE", "US"]})
    assert {o["gpu_name"] for o in in_list} <= {"H100 SXM", "H200"}
    assert all(o["geolocation"].endswith(("SE", "US")) for o in in_list)
    assert len(search(demo)) == 64  # Vast's default page
    unverified = search(demo, verified={"eq": False}, limit=1000)
    assert unverified and all(o["verification"] != "verified" for o in unverified)


def test_vast_bid_search_carries_min_bid_and_storage(demo: DemoCloud) -> None:
    on_demand = {o["id"]: o for o in search(demo, gpu_name={"eq": "RTX 3090"}, limit=1000)}
    bids = search(demo, gpu_name={"eq": "RTX 3090"}, type="bid", limit=1000)
    assert bids
    for offer in bids:
        assert offer["is_bid"] is True
        # dph_total stays the on-demand total; the bid price is the client's to compute
        assert offer["dph_total"] == on_demand[offer["id"]]["dph_total"]
        assert offer["min_bid"] < offer["dph_base"] and offer["storage_cost"] > 0


def test_vast_lifecycle_with_a_frozen_clock(demo: DemoCloud, clock: FakeClock) -> None:
    offer = search(demo, gpu_name={"eq": "RTX 4090"}, order=[["dph_total", "asc"]], limit=1)[0]
    created = create_vast(demo, offer["id"], label="train", env={"FOO": "bar", "-p 8080:8080": "1"})
    assert created.json() == {
        "success": True,
        "new_contract": created.json()["new_contract"],
        "instance_api_key": created.json()["instance_api_key"],
    }
    instance_id = created.json()["new_contract"]
    # the offer is rented: off the market, and a second rent fails the way Vast fails
    assert offer["id"] not in {o["id"] for o in search(demo, limit=10_000, no_default=True)}
    again = create_vast(demo, offer["id"])
    assert again.status_code == 404 and again.json()["error"] == "no_such_ask"

    row = show_vast(demo, instance_id)
    assert row is not None
    assert row["actual_status"] is None and row["intended_status"] == "running"
    assert row["extra_env"] == [["FOO", "bar"]] and isinstance(row["start_date"], float)
    assert row["label"] == "train" and row["gpu_name"] == "RTX 4090"
    clock.advance(5)
    assert show_vast(demo, instance_id)["actual_status"] == "loading"  # type: ignore[index]
    clock.advance(5)
    row = show_vast(demo, instance_id)
    assert row is not None and row["actual_status"] == "running"
    # a running demo instance is served over real SSH by this process
    assert row["ssh_host"] == "127.0.0.1" and isinstance(row["ssh_port"], int)
    with socket.create_connection(("127.0.0.1", row["ssh_port"]), timeout=5) as sock:
        assert sock.recv(4).startswith(b"SSH-")

    assert vast(demo, "PUT", f"/api/v0/instances/{instance_id}/", json={"state": "stopped"}).ok
    row = show_vast(demo, instance_id)
    assert row is not None
    assert (row["actual_status"], row["intended_status"]) == ("exited", "stopped")
    assert vast(demo, "PUT", f"/api/v0/instances/{instance_id}/", json={"state": "running"}).ok
    assert show_vast(demo, instance_id)["actual_status"] == "loading"  # type: ignore[index]
    clock.advance(10)
    assert show_vast(demo, instance_id)["actual_status"] == "running"  # type: ignore[index]
    assert vast(demo, "PUT", f"/api/v0/instances/{instance_id}/", json={"label": "x"}).ok
    assert show_vast(demo, instance_id)["label"] == "x"  # type: ignore[index]

    gone = vast(demo, "DELETE", f"/api/v0/instances/{instance_id}/", json={})
    assert gone.json() == {"success": True}
    assert show_vast(demo, instance_id) is None
    listing = vast(demo, "GET", "/api/v1/instances/", params={"select_filters": "{}"}).json()
    assert listing["instances"] == [] and listing["next_token"] is None
    assert offer["id"] in {o["id"] for o in search(demo, limit=10_000, no_default=True)}
    missing = vast(demo, "DELETE", f"/api/v0/instances/{instance_id}/", json={})
    assert missing.status_code == 200
    assert missing.json() == {
        "success": False,
        "error": "no_such_instance",
        "msg": "Instance ID not found",
    }


def test_vast_rows_carry_the_ssh_endpoint_once_it_exists(demo: DemoCloud, clock: FakeClock) -> None:
    ready: dict[str, tuple[str, int]] = {}
    demo.cloud.ssh_endpoint_provider = lambda inst: ready.get(inst.id)
    offer_id = search(demo, limit=1)[0]["id"]
    instance_id = create_vast(demo, offer_id).json()["new_contract"]
    clock.advance(30)
    row = show_vast(demo, instance_id)
    assert row is not None and row["actual_status"] == "loading" and row["ssh_host"] is None
    ready[str(instance_id)] = ("127.0.0.1", 41022)
    row = show_vast(demo, instance_id)
    assert row is not None and row["actual_status"] == "running"
    assert (row["ssh_host"], row["ssh_port"], row["public_ipaddr"]) == (
        "127.0.0.1",
        41022,
        "127.0.0.1",
    )
    assert row["ports"] == {"22/tcp": [{"HostIp": "0.0.0.0", "HostPort": "41022"}]}


def test_vast_instance_listing_pages_with_tokens(demo: DemoCloud) -> None:
    offers = search(demo, limit=30, order=[["dph_total", "asc"]])
    ids = [create_vast(demo, o["id"]).json()["new_contract"] for o in offers]
    params: dict[str, Any] = {
        "select_filters": "{}",
        "order_by": json.dumps([{"col": "id", "dir": "asc"}]),
        "limit": 25,
    }
    first = vast(demo, "GET", "/api/v1/instances/", params=params).json()
    assert len(first["instances"]) == 25 and first["total_instances"] == 30
    params["after_token"] = first["next_token"]
    second = vast(demo, "GET", "/api/v1/instances/", params=params).json()
    assert len(second["instances"]) == 5 and not second["next_token"]
    assert [r["id"] for r in first["instances"] + second["instances"]] == sorted(ids)
    filtered = vast(
        demo,
        "GET",
        "/api/v1/instances/",
        params={"select_filters": json.dumps({"id": {"eq": ids[3]}})},
    ).json()
    assert [r["id"] for r in filtered["instances"]] == [ids[3]]


def test_vast_account_keys_logs_and_errors(demo: DemoCloud, clock: FakeClock) -> None:
    user = vast(demo, "GET", "/api/v0/users/current").json()
    assert user["credit"] == 25.0 and user["email"]
    key = vast(demo, "POST", "/api/v0/ssh/", json={"ssh_key": "ssh-ed25519 AAAAC3 demo"}).json()
    assert key["success"] and key["key"]["public_key"] == "ssh-ed25519 AAAAC3 demo"
    assert [k["key"] for k in vast(demo, "GET", "/api/v0/ssh/").json()] == [
        "ssh-ed25519 AAAAC3 demo"
    ]
    assert demo.cloud.authorized_keys("vast") == ["ssh-ed25519 AAAAC3 demo"]

    offer = search(demo, limit=1)[0]
    instance_id = create_vast(demo, offer["id"]).json()["new_contract"]
    attach = vast(
        demo, "POST", f"/api/v0/instances/{instance_id}/ssh/", json={"ssh_key": "ssh-rsa B x"}
    )
    assert attach.json()["success"]
    inst = demo.cloud.get("vast", str(instance_id))
    assert inst is not None
    assert demo.cloud.authorized_keys("vast", inst) == ["ssh-ed25519 AAAAC3 demo", "ssh-rsa B x"]

    clock.advance(20)
    logs = vast(demo, "PUT", f"/api/v0/instances/request_logs/{instance_id}/", json={"tail": "2"})
    text = requests.get(logs.json()["result_url"], timeout=10).text
    assert len(text.splitlines()) == 2 and "Container started" in text

    clock.advance(HOUR)
    user = vast(demo, "GET", "/api/v0/users/current").json()
    price = show_vast(demo, instance_id)["dph_total"]  # type: ignore[index]
    assert user["credit"] == pytest.approx(25.0 - price * (HOUR + 20) / HOUR, abs=1e-3)

    wrong = requests.get(
        demo.vast_url + "/api/v0/users/current",
        headers={"Authorization": "Bearer nope"},
        timeout=10,
    )
    assert wrong.status_code == 401
    assert wrong.json() == {"success": False, "error": "auth_error", "msg": "Invalid user key"}
    unknown = vast(demo, "GET", "/api/v0/no/such/thing/")
    assert unknown.status_code == 404 and unknown.json()["success"] is False
    assert create_vast(demo, 1).status_code == 404  # an offer that never existed


def test_stopped_instances_bill_storage_only(demo: DemoCloud, clock: FakeClock) -> None:
    inst = demo.cloud.create_vast(search(demo, limit=1)[0]["id"], image="img", disk=100)
    demo.cloud.stop("vast", inst.id)
    spent = demo.cloud.account("vast").spent
    clock.advance(10 * HOUR)
    assert demo.cloud.account("vast").spent == pytest.approx(
        spent + 10 * inst.storage_per_hour, abs=1e-6
    )
    assert 0 < inst.storage_per_hour < inst.price_per_hour


# ---------------------------------------------------------------------------
# RunPod emulator
# ---------------------------------------------------------------------------


def deploy(demo: DemoCloud, gpu_type_id: str = "NVIDIA RTX A4000", **body: Any) -> str:
    """Create a pod through REST v2; its id."""
    payload = {"name": "p", "image": "runpod/pytorch:2.4", "gpu": {"id": gpu_type_id}, **body}
    answer = rest(demo, "POST", "/v2/pods", json=payload)
    assert answer.status_code == 201, answer.text
    pod_id: str = answer.json()["id"]
    return pod_id


def test_runpod_account_over_graphql_counts_stopped_storage(
    demo: DemoCloud, clock: FakeClock
) -> None:
    pod_id = deploy(demo, mounts={"persistent": {"size": 100}})
    price = rest(demo, "GET", f"/v2/pods/{pod_id}").json()["cost"]
    query = "{ myself { clientBalance currentSpendPerHr clientLifetimeSpend } }"
    assert gql(demo, query).json()["data"]["myself"]["currentSpendPerHr"] == pytest.approx(price)
    clock.advance(HOUR)
    assert rest(demo, "POST", f"/v2/pods/{pod_id}/action", json={"action": "stop"}).ok
    me = gql(demo, query).json()["data"]["myself"]
    assert me["currentSpendPerHr"] == pytest.approx(100 * 0.20 / 730, abs=1e-4)
    assert me["clientLifetimeSpend"] == pytest.approx(price, abs=1e-3)
    assert me["clientBalance"] == pytest.approx(25 - price, abs=1e-3)
    assert gql(demo, "{ myself { id } }", key="wrong").status_code == 401
    via_query = requests.post(
        demo.runpod_url + f"/graphql?api_key={RUNPOD_DEMO_KEY}",
        json={"query": "{ myself { id } }"},
        timeout=10,
    )
    assert via_query.status_code == 200 and via_query.json()["data"]["myself"]["id"]


def test_runpod_keys_replace_all(demo: DemoCloud) -> None:
    keys = ["ssh-ed25519 A a", "ssh-rsa B b"]
    assert rest(demo, "PUT", "/v2/account/ssh-keys", json={"keys": keys}).ok
    assert demo.cloud.authorized_keys("runpod") == keys
    assert demo.cloud.authorized_keys("vast") == []


# ---------------------------------------------------------------------------
# State: persistence, hooks, sandboxes, reset
# ---------------------------------------------------------------------------


def test_state_is_shared_between_two_clouds_on_one_directory(
    tmp_path: Path, clock: FakeClock
) -> None:
    state = tmp_path / "shared"
    with (
        DemoCloud(state, boot_seconds=1, faults="", clock=clock) as one,
        DemoCloud(state, boot_seconds=1, faults="", clock=clock) as two,
    ):
        offer_id = search(one, limit=1)[0]["id"]
        instance_id = create_vast(one, offer_id).json()["new_contract"]
        assert show_vast(two, instance_id) is not None
        assert offer_id not in {o["id"] for o in search(two, limit=10_000, no_default=True)}
        assert vast(two, "DELETE", f"/api/v0/instances/{instance_id}/", json={}).ok
        assert show_vast(one, instance_id) is None
        pod_id = deploy(two, "NVIDIA RTX A6000")
        assert [i.id for i in one.cloud.instances("runpod")] == [pod_id]
    reopened = DemoCloud(state, boot_seconds=1, faults="", clock=clock)
    assert [i.id for i in reopened.cloud.instances()] == [pod_id]
    reopened.reset()
    assert reopened.cloud.instances() == []
    assert not (state / "state.json").exists()


def test_hooks_and_sandboxes(tmp_path: Path, clock: FakeClock) -> None:
    cloud = SimCloud(tmp_path / "c", boot_seconds=2, clock=clock)
    destroyed: list[SimInstance] = []
    cloud.on_destroy.append(destroyed.append)
    offer_id = cloud.vast_offers()[0]["id"]
    inst = cloud.create_vast(offer_id, image="img")
    sandbox = cloud.sandbox_dir(inst)
    assert sandbox == tmp_path / "c" / "sandboxes" / f"vast-{inst.id}" and sandbox.is_dir()
    (sandbox / "result.txt").write_text("done")
    pod = cloud.create_runpod(gpu_type_id="NVIDIA RTX A5000", image="img")
    cloud.destroy("vast", inst.id)
    assert [d.id for d in destroyed] == [inst.id] and not sandbox.exists()
    with pytest.raises(SimError) as err:
        cloud.destroy("vast", inst.id)
    assert err.value.code == "no_such_instance"
    with pytest.raises(SimError) as err:
        cloud.create_vast(123, image="img")
    assert err.value.code == "no_such_ask"
    cloud.reset()
    assert [d.id for d in destroyed] == [inst.id, pod.id]


# ---------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------


def test_fault_specs_parse_and_refuse_mistakes() -> None:
    rules = parse_faults("vast:latency=250, runpod:error=502@0.5,*:ratelimit, vast:nodestroy")
    assert [(r.platform, r.kind, r.value, r.probability) for r in rules] == [
        ("vast", "latency", 250, 1.0),
        ("runpod", "error", 502, 0.5),
        ("*", "ratelimit", 0, 1.0),
        ("vast", "nodestroy", 0, 1.0),
    ]
    assert parse_faults(None) == [] and parse_faults("  ") == []
    for bad in ("aws:auth", "vast:explode", "vast:error", "vast:error=200", "vast:latency=x",
                "vast:auth@2", "vast:auth@x", "auth", "vast:malformed=3"):  # fmt: skip
        with pytest.raises(ValueError, match="VP_SIM_FAULTS item"):
            parse_faults(f"runpod:auth,{bad}")


def test_fault_probabilities_use_a_seeded_rng() -> None:
    def rolls(seed: int) -> list[bool]:
        injector = FaultInjector("vast:ratelimit@0.3", seed=seed)
        return [injector.roll("vast").failure is not None for _ in range(200)]

    assert rolls(7) == rolls(7)
    assert 20 < sum(rolls(7)) < 100
    assert FaultInjector("runpod:auth").roll("vast").failure is None
    assert FaultInjector("vast:auth@0").roll("vast").failure is None
    decision = FaultInjector("*:latency=5,*:latency=7,vast:nodestroy").roll("vast")
    assert decision.latency_ms == 12 and decision.nodestroy and decision.failure is None


def test_every_fault_kind_over_http(demo: DemoCloud) -> None:
    demo.set_faults("vast:latency=1,runpod:latency=1")
    assert vast(demo, "GET", "/api/v0/users/current").ok
    assert gql(demo, "{ myself { id } }").ok

    demo.set_faults("vast:error=503")
    gateway = vast(demo, "GET", "/api/v0/users/current")
    assert gateway.status_code == 503 and "<html>" in gateway.text
    demo.set_faults("vast:error=400")
    bad = vast(demo, "GET", "/api/v0/users/current")
    assert bad.status_code == 400 and bad.json()["success"] is False
    demo.set_faults("runpod:error=502")
    html = gql(demo, "{ myself { id } }")
    assert html.status_code == 502 and html.headers["Content-Type"].startswith("text/html")

    demo.set_faults("*:ratelimit")
    limited = vast(demo, "GET", "/api/v0/users/current")
    assert limited.status_code == 429 and limited.text == "API requests too frequent"
    assert gql(demo, "{ myself { id } }").status_code == 429

    demo.set_faults("*:malformed")
    garbled = vast(demo, "POST", "/api/v0/bundles/", json={"limit": 3})
    assert garbled.status_code == 200
    with pytest.raises(ValueError):
        json.loads(garbled.text)
    with pytest.raises(ValueError):
        json.loads(gql(demo, "{ myself { id email } }").text)

    demo.set_faults("*:auth")
    refused = vast(demo, "GET", "/api/v0/users/current")
    assert refused.status_code == 401 and refused.json()["msg"] == "Invalid user key"
    assert gql(demo, "{ myself { id } }").status_code == 401

    demo.set_faults("*:nodestroy")
    instance_id = create_vast(demo, search(demo, limit=1)[0]["id"]).json()["new_contract"]
    assert vast(demo, "DELETE", f"/api/v0/instances/{instance_id}/", json={}).json() == {
        "success": True
    }
    assert show_vast(demo, instance_id) is not None
    pod_id = deploy(demo)
    assert rest(demo, "DELETE", f"/v2/pods/{pod_id}").status_code == 204
    assert rest(demo, "GET", f"/v2/pods/{pod_id}").ok
    assert demo.cloud.get("runpod", pod_id) is not None

    demo.set_faults(None)
    assert vast(demo, "DELETE", f"/api/v0/instances/{instance_id}/", json={}).ok
    assert show_vast(demo, instance_id) is None
    with pytest.raises(ValueError, match="bogus"):
        demo.set_faults("vast:bogus")


def test_faults_default_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VP_SIM_FAULTS", "vast:auth")
    monkeypatch.setenv("VP_SIM_BOOT_SECONDS", "0.5")
    cloud = DemoCloud(tmp_path / "env")
    assert cloud.cloud.boot_seconds == 0.5
    assert [r.kind for r in cloud.faults.rules] == ["auth"]
    monkeypatch.setenv("VP_SIM_BOOT_SECONDS", "soon")
    with pytest.raises(ValueError, match="VP_SIM_BOOT_SECONDS"):
        DemoCloud(tmp_path / "env2")
