"""The Vast emulator does what Vast really does, the unpleasant parts included.

Each test talks HTTP on loopback (``requests`` or the official ``vastai`` SDK),
as the app's adapter does; the evidence for each behaviour is in
``shared/reference/vast-api.md`` ("Corrections and traps found later").
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fake_clock import FakeClock
from vastai import VastAI

from vp_tui.sim.market import STORAGE_HOURS_PER_MONTH
from vp_tui.sim.server import VAST_DEMO_KEY, DemoCloud
from vp_tui.sim.vast_api import DEFAULT_SEARCH_QUOTA

T0 = 1_780_000_000.0
HOUR = 3600.0
BOOT = 10.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def demo(tmp_path: Path, clock: FakeClock) -> Iterator[DemoCloud]:
    with DemoCloud(tmp_path / "demo", boot_seconds=BOOT, faults="", clock=clock) as cloud:
        yield cloud


@pytest.fixture
def sdk(demo: DemoCloud) -> VastAI:
    return VastAI(VAST_DEMO_KEY, server_url=demo.vast_url)


def vast(demo: DemoCloud, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {VAST_DEMO_KEY}"}
    return requests.request(method, demo.vast_url + path, headers=headers, timeout=10, **kwargs)


def search(demo: DemoCloud, **body: Any) -> list[dict[str, Any]]:
    response = vast(demo, "POST", "/api/v0/bundles/", json=body)
    assert response.status_code == 200, response.text
    offers: list[dict[str, Any]] = response.json()["offers"]
    return offers


def cheapest(demo: DemoCloud, **filters: Any) -> dict[str, Any]:
    return search(demo, order=[["dph_total", "asc"]], limit=1, **filters)[0]


def create(demo: DemoCloud, offer_id: int, **body: Any) -> requests.Response:
    payload = {"client_id": "me", "image": "pytorch/pytorch", "disk": 20, **body}
    return vast(demo, "PUT", f"/api/v0/asks/{offer_id}/", json=payload)


def row(demo: DemoCloud, instance_id: int) -> dict[str, Any]:
    response = vast(demo, "GET", f"/api/v0/instances/{instance_id}/", params={"owner": "me"})
    assert response.status_code == 200, response.text
    found: dict[str, Any] | None = response.json()["instances"]
    assert found is not None
    return found


def listed_ids(demo: DemoCloud) -> set[int]:
    listing = vast(demo, "GET", "/api/v1/instances/", params={"select_filters": "{}"}).json()
    return {r["id"] for r in listing["instances"]}


def states(r: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    return (r["actual_status"], r["intended_status"], r["cur_state"], r["next_state"])


def banner(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        return sock.recv(4)


# ---------------------------------------------------------------------------
# 1. A failed create leaves a stopped, storage-billing instance
# ---------------------------------------------------------------------------


def test_a_low_bid_with_cancel_unavail_is_refused_and_leaves_nothing(demo: DemoCloud) -> None:
    offer = cheapest(demo, type="bid")
    refused = create(demo, offer["id"], price=offer["min_bid"] * 0.5, cancel_unavail=True)
    assert refused.status_code == 400
    body = refused.json()
    assert body["success"] is False and body["error"] == "invalid_args"
    assert "below" in body["msg"] and "minimum bid" in body["msg"]
    assert "new_contract" not in body
    assert listed_ids(demo) == set()


def test_a_low_bid_without_cancel_unavail_leaves_a_stopped_instance_billing_storage(
    demo: DemoCloud, clock: FakeClock, sdk: VastAI
) -> None:
    offer = cheapest(demo, type="bid")
    bid = round(offer["min_bid"] * 0.5, 4)
    answer = sdk.create_instance(id=offer["id"], image="img", disk=40, price=bid)
    assert answer["success"] is False and answer["error"] == "insufficient_bid"
    assert "below" in answer["msg"]
    instance_id = answer["new_contract"]
    assert instance_id in listed_ids(demo)

    r = row(demo, instance_id)
    assert states(r) == ("created", "stopped", "stopped", "stopped")
    assert "bid" in r["status_msg"].lower() and r["uptime_mins"] is None
    assert r["is_bid"] is True and r["dph_base"] == pytest.approx(bid)
    storage = offer["storage_cost"] * 40 / STORAGE_HOURS_PER_MONTH
    assert r["storage_total_cost"] == pytest.approx(storage, abs=1e-6)
    clock.advance(BOOT * 3)
    assert states(row(demo, instance_id)) == ("created", "stopped", "stopped", "stopped")

    spent = demo.cloud.account("vast").spent
    clock.advance(10 * HOUR)
    assert demo.cloud.account("vast").spent == pytest.approx(spent + 10 * storage, abs=1e-4)
    assert sdk.destroy_instance(instance_id)["success"] is True
    assert instance_id not in listed_ids(demo)


def test_schedfail_fails_the_create_both_ways(demo: DemoCloud, clock: FakeClock) -> None:
    demo.set_faults("vast:schedfail")
    first = cheapest(demo)
    refused = create(demo, first["id"], cancel_unavail=True)
    assert refused.status_code == 400
    body = refused.json()
    assert body["success"] is False and body["error"] == "unavailable"
    assert "not available" in body["msg"] and "new_contract" not in body
    assert listed_ids(demo) == set()

    left = create(demo, first["id"], cancel_unavail=False)
    assert left.status_code == 200
    body = left.json()
    assert body["success"] is False and body["error"] == "scheduling_failed"
    assert "not available" in body["msg"]
    instance_id = body["new_contract"]
    demo.set_faults(None)
    r = row(demo, instance_id)
    assert states(r) == ("created", "stopped", "stopped", "stopped")
    assert "not available" in r["status_msg"]
    assert demo.cloud.account("vast").spend_per_hour == pytest.approx(r["storage_total_cost"])
    # it can be started like any stopped instance; then it boots and runs
    assert vast(demo, "PUT", f"/api/v0/instances/{instance_id}/", json={"state": "running"}).ok
    clock.advance(BOOT)
    assert row(demo, instance_id)["actual_status"] == "running"


# ---------------------------------------------------------------------------
# 2. start_date is creation, uptime is uptime_mins
# ---------------------------------------------------------------------------


def test_start_date_is_creation_and_uptime_counts_from_the_last_start(
    demo: DemoCloud, clock: FakeClock
) -> None:
    offer = cheapest(demo)
    instance_id = create(demo, offer["id"], disk=20).json()["new_contract"]
    clock.advance(BOOT + 30 * 60)
    r = row(demo, instance_id)
    assert r["start_date"] == T0 and r["uptime_mins"] == pytest.approx(30 + BOOT / 60, abs=0.01)
    running_price = r["dph_total"]

    path = f"/api/v0/instances/{instance_id}/"
    assert vast(demo, "PUT", path, json={"state": "stopped"}).ok
    clock.advance(HOUR)
    stopped = row(demo, instance_id)
    assert stopped["uptime_mins"] is None and stopped["start_date"] == T0
    # the trap: a stopped instance still reports its compute price in dph_total
    assert stopped["dph_total"] == running_price
    storage = stopped["storage_total_cost"]
    assert storage == pytest.approx(offer["storage_cost"] * 20 / STORAGE_HOURS_PER_MONTH, abs=1e-6)

    assert vast(demo, "PUT", path, json={"state": "running"}).ok
    clock.advance(BOOT + 5 * 60)
    again = row(demo, instance_id)
    assert again["start_date"] == T0 and again["uptime_mins"] == pytest.approx(
        5 + BOOT / 60, abs=0.01
    )

    assert vast(demo, "PUT", f"/api/v0/instances/reboot/{instance_id}/", json={}).ok
    clock.advance(BOOT + 60)
    assert row(demo, instance_id)["uptime_mins"] == pytest.approx(1 + BOOT / 60, abs=0.01)

    inst = demo.cloud.get("vast", str(instance_id))
    assert inst is not None
    running_time = (BOOT + 30 * 60) + (BOOT + 5 * 60) + (BOOT + 60)
    gpu, disk = inst.spend_between(T0, clock.now)
    assert gpu == pytest.approx(running_price * running_time / HOUR, abs=1e-6)
    assert disk == pytest.approx(storage, abs=1e-6)


# ---------------------------------------------------------------------------
# 3. States: rebooting and the fates
# ---------------------------------------------------------------------------


def test_a_reboot_reads_rebooting_until_it_has_booted(demo: DemoCloud, clock: FakeClock) -> None:
    instance_id = create(demo, cheapest(demo)["id"]).json()["new_contract"]
    clock.advance(BOOT)
    assert row(demo, instance_id)["actual_status"] == "running"
    assert vast(demo, "PUT", f"/api/v0/instances/reboot/{instance_id}/", json={}).ok
    r = row(demo, instance_id)
    assert states(r) == ("rebooting", "running", "running", "running")
    assert r["ssh_port"] is None
    clock.advance(BOOT)
    assert row(demo, instance_id)["actual_status"] == "running"


@pytest.mark.parametrize(
    ("fault", "actual", "message"),
    [
        ("frozen", "frozen", "frozen"),
        ("offline", "offline", "offline"),
        ("unknown", "unknown", "unknown"),
        ("ocifail", "created", "OCI runtime create failed: "),
    ],
)
def test_fates_strike_once_the_instance_has_booted_and_last(
    demo: DemoCloud, clock: FakeClock, fault: str, actual: str, message: str
) -> None:
    demo.set_faults(f"vast:{fault}")
    instance_id = create(demo, cheapest(demo)["id"]).json()["new_contract"]
    demo.set_faults(None)
    untouched = create(demo, cheapest(demo)["id"]).json()["new_contract"]
    clock.advance(BOOT / 2)
    assert row(demo, instance_id)["actual_status"] == "loading"
    clock.advance(BOOT)
    r = row(demo, instance_id)
    assert states(r) == (actual, "running", "running", "running")
    assert message in r["status_msg"]
    assert r["ssh_host"] is None and r["ssh_port"] is None and r["uptime_mins"] is None
    clock.advance(HOUR)
    assert row(demo, instance_id)["actual_status"] == actual  # never comes back by itself
    # the GPU is still billed (a frozen instance keeps its GPU)
    assert demo.cloud.account("vast").spend_per_hour == pytest.approx(
        r["dph_total"] + row(demo, untouched)["dph_total"]
    )
    # a fate belongs to the instances created while the fault fired
    assert row(demo, untouched)["actual_status"] == "running"


def test_ocifail_shows_in_the_container_log(demo: DemoCloud, clock: FakeClock) -> None:
    demo.set_faults("vast:ocifail")
    instance_id = create(demo, cheapest(demo)["id"]).json()["new_contract"]
    demo.set_faults(None)
    clock.advance(BOOT)
    logs = vast(demo, "PUT", f"/api/v0/instances/request_logs/{instance_id}/", json={})
    text = requests.get(logs.json()["result_url"], timeout=10).text
    assert "OCI runtime create failed" in text and "Container started" not in text


def test_an_outbid_instance_stops_and_bills_storage_only(demo: DemoCloud, clock: FakeClock) -> None:
    offer = cheapest(demo, type="bid")
    bid = round(offer["min_bid"] * 1.1, 4)
    demo.set_faults("vast:outbid")
    answer = create(demo, offer["id"], price=bid, cancel_unavail=True).json()
    demo.set_faults(None)
    assert answer["success"] is True
    instance_id = answer["new_contract"]
    booting = row(demo, instance_id)
    assert booting["dph_base"] == pytest.approx(bid) and booting["min_bid"] < bid

    clock.advance(BOOT + 60)
    r = row(demo, instance_id)
    assert states(r) == ("exited", "stopped", "stopped", "stopped")
    assert r["is_bid"] is True and "outbid" in r["status_msg"]
    assert r["dph_base"] == pytest.approx(bid) and r["min_bid"] > r["dph_base"]
    storage = r["storage_total_cost"]
    assert demo.cloud.account("vast").spend_per_hour == pytest.approx(storage)
    inst = demo.cloud.get("vast", str(instance_id))
    assert inst is not None
    gpu, disk = inst.spend_between(T0, clock.now)
    assert gpu == pytest.approx((bid + storage) * BOOT / HOUR, abs=1e-6)
    assert disk == pytest.approx(storage * 60 / HOUR, abs=1e-6)
    clock.advance(HOUR)
    assert row(demo, instance_id)["actual_status"] == "exited"


def test_outbid_spares_on_demand_instances(demo: DemoCloud, clock: FakeClock) -> None:
    demo.set_faults("vast:outbid")
    instance_id = create(demo, cheapest(demo)["id"]).json()["new_contract"]
    demo.set_faults(None)
    clock.advance(BOOT)
    assert row(demo, instance_id)["actual_status"] == "running"


# ---------------------------------------------------------------------------
# 4. Account keys reach an instance at creation only
# ---------------------------------------------------------------------------


def test_account_keys_reach_an_instance_at_creation_only(demo: DemoCloud, sdk: VastAI) -> None:
    assert sdk.create_ssh_key("ssh-ed25519 AAAA first")["success"]
    instance_id = create(demo, cheapest(demo)["id"]).json()["new_contract"]
    assert sdk.create_ssh_key("ssh-ed25519 AAAA later")["success"]
    inst = demo.cloud.get("vast", str(instance_id))
    assert inst is not None
    assert demo.cloud.authorized_keys("vast", inst) == ["ssh-ed25519 AAAA first"]

    for _ in range(2):  # attaching the same key twice is fine and adds it once
        assert sdk.attach_ssh(instance_id, "ssh-ed25519 AAAA later")["success"]
    assert demo.cloud.authorized_keys("vast", inst) == [
        "ssh-ed25519 AAAA first",
        "ssh-ed25519 AAAA later",
    ]
    listed = vast(demo, "GET", f"/api/v0/instances/{instance_id}/ssh/").json()
    assert [k["public_key"] for k in json.loads(listed["ssh_keys"])] == [
        "ssh-ed25519 AAAA first",
        "ssh-ed25519 AAAA later",
    ]
    # a key deleted from the account stays on instances made before
    first = next(k for k in sdk.show_ssh_keys() if k["key"] == "ssh-ed25519 AAAA first")
    assert vast(demo, "DELETE", f"/api/v0/ssh/{first['id']}/").ok
    assert "ssh-ed25519 AAAA first" in demo.cloud.authorized_keys("vast", inst)


def test_an_instance_saved_before_creation_copies_uses_the_account_keys(
    demo: DemoCloud, sdk: VastAI
) -> None:
    instance_id = create(demo, cheapest(demo)["id"]).json()["new_contract"]
    state = json.loads(demo.cloud.state_file.read_text())
    for saved in state["instances"]:
        saved["extra"].pop("keys_copied", None)
    demo.cloud.state_file.write_text(json.dumps(state))
    assert sdk.create_ssh_key("ssh-ed25519 AAAA account")["success"]
    inst = demo.cloud.get("vast", str(instance_id))
    assert inst is not None
    assert demo.cloud.authorized_keys("vast", inst) == ["ssh-ed25519 AAAA account"]


# ---------------------------------------------------------------------------
# 5. and 6. Memory as Vast reports it
# ---------------------------------------------------------------------------

NVIDIA_SMI_MIB = {
    "H100 SXM": {81559},
    "H100 PCIE": {81559},
    "H200": {143771},
    "A100 SXM4": {40960, 81920},
    "A100 PCIE": {40960, 81920},
    "RTX 4090": {24564},
    "RTX 3090": {24576},
    "L40S": {46068},
    "RTX 6000Ada": {49140},
    "RTX A6000": {49140},
    "RTX 3060": {12288},
    "Tesla T4": {15360},
    "Tesla V100": {16384, 32768},
}


def test_gpu_ram_is_what_nvidia_smi_reports(demo: DemoCloud, clock: FakeClock) -> None:
    offers = search(demo, limit=10_000)
    for offer in offers:
        if offer["gpu_name"] in NVIDIA_SMI_MIB:
            assert offer["gpu_ram"] in NVIDIA_SMI_MIB[offer["gpu_name"]], offer["gpu_name"]
        assert offer["gpu_total_ram"] == offer["gpu_ram"] * offer["num_gpus"]
    h100 = cheapest(demo, gpu_name={"eq": "H100 SXM"})
    instance_id = create(demo, h100["id"]).json()["new_contract"]
    r = row(demo, instance_id)
    assert r["gpu_ram"] == 81559 and r["gpu_totalram"] == 81559 * h100["num_gpus"]


def test_cpu_ram_is_the_whole_machines(demo: DemoCloud) -> None:
    offers = search(demo, limit=10_000)
    partial = [o for o in offers if o["cpu_cores_effective"] < o["cpu_cores"]]
    assert partial
    machine_sizes = {gb * 1024 * k for gb in (64, 128, 256, 512, 1024, 2048) for k in (1, 2)}
    for offer in offers:
        assert offer["cpu_ram"] in machine_sizes
        assert offer["cpu_cores_effective"] <= offer["cpu_cores"]
    offer = partial[0]
    instance_id = create(demo, offer["id"]).json()["new_contract"]
    r = row(demo, instance_id)
    assert r["cpu_ram"] == offer["cpu_ram"] and r["cpu_cores"] == offer["cpu_cores"]
    assert r["cpu_cores_effective"] == offer["cpu_cores_effective"]
    share = offer["cpu_cores_effective"] / offer["cpu_cores"]
    assert r["mem_limit"] == pytest.approx(offer["cpu_ram"] * share / 1024, abs=1e-3)


# ---------------------------------------------------------------------------
# 7. Bid searches
# ---------------------------------------------------------------------------


def test_bid_search_prices_are_on_demand_totals_with_min_bid_alongside(
    demo: DemoCloud,
) -> None:
    on_demand = {o["id"]: o for o in search(demo, limit=500, allocated_storage=30)}
    bids = search(demo, limit=500, type="bid", allocated_storage=30)
    common = [o for o in bids if o["id"] in on_demand]
    assert common
    for offer in common:
        storage = offer["storage_cost"] * 30 / STORAGE_HOURS_PER_MONTH
        assert offer["dph_total"] == pytest.approx(offer["dph_base"] + storage, abs=1e-5)
        assert offer["dph_total"] == on_demand[offer["id"]]["dph_total"]
        assert 0 < offer["min_bid"] < offer["dph_base"]


# ---------------------------------------------------------------------------
# 8. Destroy twice, UDP ports, the SSH proxy
# ---------------------------------------------------------------------------


def test_a_second_destroy_answers_no_such_instance(demo: DemoCloud, sdk: VastAI) -> None:
    instance_id = create(demo, cheapest(demo)["id"]).json()["new_contract"]
    demo.set_faults("vast:nodestroy")
    assert sdk.destroy_instance(instance_id) == {"success": True}
    assert instance_id in listed_ids(demo)
    demo.set_faults(None)
    assert sdk.destroy_instance(instance_id) == {"success": True}
    gone = {"success": False, "error": "no_such_instance", "msg": "Instance ID not found"}
    assert sdk.destroy_instance(instance_id) == gone
    never = vast(demo, "DELETE", "/api/v0/instances/123/", json={})
    assert never.status_code == 200 and never.json() == gone


def test_port_mappings_keep_their_protocol(demo: DemoCloud, clock: FakeClock) -> None:
    env = {"-p 8888:8888/udp": "1", "-p 8080:8080": "1", "FOO": "bar"}
    instance_id = create(demo, cheapest(demo)["id"], env=env).json()["new_contract"]
    assert row(demo, instance_id)["ports"] == {}
    clock.advance(BOOT)
    ports = row(demo, instance_id)["ports"]
    assert set(ports) == {"22/tcp", "8888/udp", "8080/tcp"}
    for mapping in ports.values():
        assert mapping[0]["HostIp"] == "0.0.0.0" and mapping[0]["HostPort"].isdigit()
    assert ports["8888/udp"][0]["HostPort"] != ports["22/tcp"][0]["HostPort"]


def test_the_ssh_proxy_is_its_own_port_of_the_same_server(
    demo: DemoCloud, clock: FakeClock
) -> None:
    instance_id = create(demo, cheapest(demo)["id"], runtype="ssh_direc ssh_proxy").json()[
        "new_contract"
    ]
    clock.advance(BOOT)
    r = row(demo, instance_id)
    direct = int(r["ports"]["22/tcp"][0]["HostPort"])
    assert r["public_ipaddr"] == "127.0.0.1" and r["ssh_host"] == "127.0.0.1"
    assert r["ssh_port"] != direct
    assert banner(r["ssh_port"]).startswith(b"SSH-") and banner(direct).startswith(b"SSH-")
    key = f"vast-{instance_id}"
    assert demo.ssh_hosts.proxy_endpoint(key) == ("127.0.0.1", r["ssh_port"])


def test_jupyter_run_types_report_the_proxy_port_minus_one(
    demo: DemoCloud, clock: FakeClock
) -> None:
    runtype = "jupyter_direc ssh_direc ssh_proxy"
    instance_id = create(demo, cheapest(demo)["id"], runtype=runtype).json()["new_contract"]
    clock.advance(BOOT)
    r = row(demo, instance_id)
    assert r["image_runtype"] == runtype
    proxy = demo.ssh_hosts.proxy_endpoint(f"vast-{instance_id}")
    assert proxy is not None and r["ssh_port"] == proxy[1] - 1
    assert banner(r["ssh_port"] + 1).startswith(b"SSH-")


# ---------------------------------------------------------------------------
# 9. Rate limits and the daily search quota
# ---------------------------------------------------------------------------


def test_plain_rate_limits_carry_no_retry_after(demo: DemoCloud) -> None:
    demo.set_faults("vast:ratelimit")
    limited = vast(demo, "GET", "/api/v0/users/current")
    assert limited.status_code == 429 and limited.text == "API requests too frequent"
    assert "Retry-After" not in limited.headers
    demo.set_faults("vast:ratelimit-retry")
    limited = vast(demo, "GET", "/api/v0/users/current")
    assert limited.status_code == 429 and limited.text == "API requests too frequent"
    assert limited.headers["Retry-After"] == "1"


def test_the_sdk_waits_out_retry_after_inside_the_call(demo: DemoCloud, sdk: VastAI) -> None:
    demo.set_faults("vast:ratelimit-retry")
    lifted = threading.Timer(0.3, demo.set_faults, args=(None,))
    lifted.start()
    began = time.monotonic()
    try:
        user = sdk.show_user()
    finally:
        lifted.cancel()
    assert user["id"] and time.monotonic() - began >= 0.9


def test_the_daily_search_quota(demo: DemoCloud, clock: FakeClock, sdk: VastAI) -> None:
    assert demo.vast_api.search_quota == DEFAULT_SEARCH_QUOTA
    demo.vast_api.search_quota = 3
    for _ in range(3):
        assert search(demo, limit=1)
    refused = vast(demo, "POST", "/api/v0/bundles/", json={"limit": 1})
    assert refused.status_code == 429 and "Retry-After" not in refused.headers
    assert refused.json() == {
        "success": False,
        "error": "search_quota_exceeded",
        "msg": "Daily search quota exceeded; it resets at 00:00 UTC",
    }
    assert demo.vast_api.searches_today() == 3
    with pytest.raises(requests.HTTPError) as err:  # the SDK does not retry it
        sdk.search_offers("num_gpus=1", limit=1)
    assert err.value.response.json()["error"] == "search_quota_exceeded"
    assert vast(demo, "GET", "/api/v0/users/current").ok  # other calls are not counted

    clock.now = (clock.now // 86400 + 1) * 86400  # midnight UTC
    assert search(demo, limit=1)
    assert demo.vast_api.searches_today() == 1
    demo.vast_api.reset_search_counts()
    assert demo.vast_api.searches_today() == 0


def test_the_search_quota_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VP_SIM_VAST_SEARCH_QUOTA", "7")
    assert DemoCloud(tmp_path / "q").vast_api.search_quota == 7
    monkeypatch.setenv("VP_SIM_VAST_SEARCH_QUOTA", "lots")
    with pytest.raises(ValueError, match="VP_SIM_VAST_SEARCH_QUOTA"):
        DemoCloud(tmp_path / "q2")
