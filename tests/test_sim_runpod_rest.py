"""The demo cloud's RunPod REST API v2 emulator, over real HTTP on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fake_clock import FakeClock

from vp_tui.sim.cloud import NO_INSTANCES_AVAILABLE
from vp_tui.sim.server import RUNPOD_DEMO_KEY, DemoCloud

T0 = 1_780_000_000.0
HOUR = 3600.0
BOOT = 10.0
RTX_4090 = "NVIDIA GeForce RTX 4090"
KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA me@a"
KEY_B = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAB me@b"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def demo(tmp_path: Path, clock: FakeClock) -> Iterator[DemoCloud]:
    with DemoCloud(tmp_path / "demo", boot_seconds=BOOT, faults="", clock=clock) as cloud:
        yield cloud


def call(
    demo: DemoCloud, method: str, path: str, key: str | None = RUNPOD_DEMO_KEY, **kwargs: Any
) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    headers.update(kwargs.pop("headers", {}))
    return requests.request(method, demo.runpod_url + path, headers=headers, timeout=10, **kwargs)


def create(demo: DemoCloud, **body: Any) -> requests.Response:
    payload: dict[str, Any] = {
        "name": "train",
        "image": "runpod/pytorch:2.4",
        "gpu": {"id": RTX_4090, "count": 1},
        **body,
    }
    return call(demo, "POST", "/v2/pods", json=payload)


def new_pod(demo: DemoCloud, **body: Any) -> dict[str, Any]:
    answer = create(demo, **body)
    assert answer.status_code == 201, answer.text
    pod: dict[str, Any] = answer.json()
    return pod


def get_pod(demo: DemoCloud, pod_id: str) -> dict[str, Any]:
    answer = call(demo, "GET", f"/v2/pods/{pod_id}")
    assert answer.status_code == 200, answer.text
    pod: dict[str, Any] = answer.json()
    return pod


def act(demo: DemoCloud, pod_id: str, action: str) -> requests.Response:
    return call(demo, "POST", f"/v2/pods/{pod_id}/action", json={"action": action})


def assert_problem(answer: requests.Response, status: int, *words: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert body["status"] == status and body["title"] and isinstance(body["detail"], str)
    text = json.dumps(body)
    for word in words:
        assert word in text, (word, body)
    return body


# ---------------------------------------------------------------------------
# Auth, routing, errors
# ---------------------------------------------------------------------------


def test_bearer_auth_only(demo: DemoCloud) -> None:
    assert_problem(call(demo, "GET", "/v2/pods", key=None), 401, "missing bearer token")
    assert_problem(call(demo, "GET", "/v2/pods", key="wrong"), 401)
    by_query = requests.get(
        demo.runpod_url + "/v2/pods", params={"api_key": RUNPOD_DEMO_KEY}, timeout=10
    )
    assert_problem(by_query, 401, "missing bearer token")
    assert call(demo, "GET", "/v2/pods").ok


def test_unknown_paths_and_methods(demo: DemoCloud) -> None:
    assert_problem(call(demo, "GET", "/v2/networkvolumes"), 404)
    wrong = call(demo, "DELETE", "/v2/pods")
    assert_problem(wrong, 405)
    assert set(wrong.headers["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}


def test_faults_on_rest_paths(demo: DemoCloud) -> None:
    demo.set_faults("runpod:ratelimit")
    limited = call(demo, "GET", "/v2/pods")
    assert_problem(limited, 429)
    assert limited.headers["Retry-After"].isdigit()
    assert "RateLimit" in limited.headers and "RateLimit-Policy" in limited.headers
    demo.set_faults("runpod:error=403")
    assert_problem(call(demo, "GET", "/v2/pods"), 403)
    demo.set_faults("runpod:error=502")
    edge = call(demo, "GET", "/v2/pods")
    assert edge.status_code == 502 and edge.headers["Content-Type"].startswith("text/html")
    demo.set_faults("runpod:auth")
    assert_problem(call(demo, "GET", "/v2/pods"), 401)
    demo.set_faults(None)
    assert call(demo, "GET", "/v2/pods").ok


def test_nographql_retires_graphql_only(demo: DemoCloud) -> None:
    demo.set_faults("runpod:nographql")
    gone = call(demo, "POST", "/graphql", json={"query": "{ myself { id } }"})
    assert_problem(gone, 410, "GraphQL", "REST API v2")
    assert call(demo, "GET", "/v2/pods").ok
    demo.set_faults(None)
    assert call(demo, "POST", "/graphql", json={"query": "{ myself { id } }"}).ok


# ---------------------------------------------------------------------------
# Catalog
# ---------------------------------------------------------------------------


def test_catalog_lists_gpu_types_without_spot_prices(demo: DemoCloud) -> None:
    answer = call(demo, "GET", "/v2/catalog/gpus")
    assert answer.status_code == 200
    gpus = {g["id"]: g for g in answer.json()["gpus"]}
    assert len(gpus) >= 22
    rtx = gpus[RTX_4090]
    assert rtx["name"] == "RTX 4090" and rtx["manufacturer"] == "NVIDIA" and rtx["memory"] == 24
    assert rtx["secure"] is True and rtx["community"] is True
    assert set(rtx["price"]) == {"secure", "community"} and rtx["price"]["secure"] > 0.5
    assert rtx["maxCount"] == {"secure": 8, "community": 8} and rtx["pool"] == "ADA_24"
    assert all({"version", "available"} == set(v) for v in rtx["cudaVersions"])
    assert "availability" not in rtx and "dataCenters" not in rtx
    b200 = gpus["NVIDIA B200"]
    assert "community" not in b200["price"] and b200["maxCount"]["community"] == 0
    amd = gpus["AMD Instinct MI300X OAM"]
    assert amd["manufacturer"] == "AMD" and "cudaVersions" not in amd
    assert "Spot" not in answer.text and "bid" not in answer.text.lower()


def test_catalog_availability_per_cloud_count_and_country(demo: DemoCloud) -> None:
    path = "/v2/catalog/gpus/NVIDIA%20GeForce%20RTX%204090"
    one = call(demo, "GET", path, params={"include": "AVAILABILITY", "product": "POD"}).json()
    assert one["availability"] in ("LOW", "MEDIUM", "HIGH")
    assert one["dataCenters"] and all(
        {"id", "name", "availability"} == set(d) for d in one["dataCenters"]
    )
    huge = call(
        demo, "GET", path, params={"include": "AVAILABILITY", "product": "POD", "count": "16"}
    ).json()
    assert huge["availability"] == "NONE" and "dataCenters" not in huge
    community = call(
        demo,
        "GET",
        "/v2/catalog/gpus/NVIDIA%20B200",
        params={"include": "AVAILABILITY", "product": "POD", "cloud": "COMMUNITY"},
    ).json()
    assert community["availability"] == "NONE"
    nowhere = call(
        demo,
        "GET",
        path,
        params={"include": "AVAILABILITY", "product": "POD", "countryCodes": "JP"},
    ).json()
    assert nowhere["availability"] == "NONE"
    listed = call(
        demo,
        "GET",
        "/v2/catalog/gpus",
        params={"include": "AVAILABILITY", "product": "POD", "countryCodes": "JP"},
    ).json()
    assert listed["gpus"] == []
    old_cuda = call(
        demo,
        "GET",
        "/v2/catalog/gpus/NVIDIA%20GeForce%20RTX%205090",
        params={"include": "AVAILABILITY", "product": "POD", "cudaVersions": "11.8"},
    ).json()
    assert old_cuda["availability"] == "NONE"
    assert_problem(call(demo, "GET", "/v2/catalog/gpus/NVIDIA%20GTX%20480"), 404)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"include": "AVAILABILITY"}, 400),
        ({"product": "POD"}, 400),
        ({"count": "2"}, 400),
        ({"cloud": "SECURE"}, 400),
        ({"include": "AVAILABILITY", "product": "POD", "cudaVersions": "12.8",
          "minCudaVersion": "12"}, 400),
        ({"include": "PRICES", "product": "POD"}, 422),
        ({"include": "AVAILABILITY", "product": "SPOT"}, 422),
        ({"include": "AVAILABILITY", "product": "POD", "count": "two"}, 422),
        ({"include": "AVAILABILITY", "product": "POD", "cloud": "ALL"}, 422),
        ({"include": "AVAILABILITY", "product": "POD", "countryCodes": "france"}, 422),
        ({"include": "AVAILABILITY", "product": "POD", "cudaVersions": "twelve"}, 422),
    ],
)  # fmt: skip
def test_catalog_query_rules(demo: DemoCloud, params: dict[str, str], status: int) -> None:
    assert_problem(call(demo, "GET", "/v2/catalog/gpus", params=params), status)


# ---------------------------------------------------------------------------
# Pods: create, validation
# ---------------------------------------------------------------------------


def test_create_answers_the_pod_as_sent(demo: DemoCloud) -> None:
    pod = new_pod(
        demo,
        cloud="COMMUNITY",
        disk=30,
        ports=["22/tcp", "8888/http"],
        env={"HELLO": "world"},
        args="",
        mounts={"persistent": {"size": 20, "path": "/workspace"}},
        startSsh=True,
        startJupyter=True,
    )
    assert pod["status"] == "PROVISIONING" and pod["actions"] == ["stop", "terminate"]
    assert pod["name"] == "train" and pod["image"] == "runpod/pytorch:2.4"
    assert pod["disk"] == 30 and pod["ports"] == ["22/tcp", "8888/http"]
    assert pod["env"] == {"HELLO": "world"}  # no injected PUBLIC_KEY / JUPYTER_PASSWORD
    assert pod["gpu"] == {"id": RTX_4090, "count": 1} and pod["cloud"] == "COMMUNITY"
    assert pod["dataCenterId"] and pod["cudaVersion"] and pod["cost"] > 0.3
    assert pod["runtime"] is None and pod["ssh"]["direct"] is None
    proxy = pod["ssh"]["proxy"]
    assert proxy["host"] == "ssh.runpod.io" and proxy["port"] == 22
    assert proxy["username"].startswith(pod["id"] + "-")
    assert pod["mounts"] == {"persistent": {"size": 20, "path": "/workspace"}}
    assert pod["template"] is None and pod["locked"] is False and pod["registry"] is None
    assert pod["globalNetworking"] == {"enabled": False}
    assert pod["createdAt"].endswith("Z") and pod["startedAt"].endswith("Z")
    assert "bid" not in json.dumps(pod).lower()
    plain = new_pod(demo)
    assert plain["cloud"] == "SECURE" and plain["ports"] == [] and plain["mounts"] == {}


def test_create_validates_strictly(demo: DemoCloud) -> None:
    extra = assert_problem(create(demo, dataCenterId="EU-RO-1"), 422)
    assert extra["errors"] == ["$: additional properties 'dataCenterId' not allowed"]
    missing = call(demo, "POST", "/v2/pods", json={"image": "x", "gpu": {"id": RTX_4090}})
    assert_problem(missing, 422, "missing property 'name'")
    wrong: tuple[dict[str, Any], ...] = (
        {"disk": "big"},
        {"disk": 0},
        {"ports": "22/tcp"},
        {"ports": ["22"]},
        {"env": [{"key": "A", "value": "1"}]},
        {"env": {"A": 1}},
        {"cloud": "ALL"},
        {"startSsh": "yes"},
        {"gpu": {"id": RTX_4090, "count": 0}},
        {"gpu": {"id": RTX_4090, "colour": "red"}},
        {"mounts": {"persistent": {"size": 5}}},
        {"mounts": {"disk": {}}},
    )
    for body in wrong:
        assert_problem(create(demo, **body), 422)
    assert_problem(create(demo, cpu={"id": "cpu5c", "vcpuCount": 4}), 400)
    cpu_only = {"name": "c", "image": "x", "cpu": {"id": "cpu5c", "vcpuCount": 4}}
    assert_problem(call(demo, "POST", "/v2/pods", json=cpu_only), 400, "no CPU pods")
    assert_problem(call(demo, "POST", "/v2/pods", json={"name": "n", "image": "x"}), 400)
    assert_problem(create(demo, image=None), 422)
    no_image = {"name": "n", "gpu": {"id": RTX_4090}}
    assert_problem(call(demo, "POST", "/v2/pods", json=no_image), 400, "image")
    assert_problem(create(demo, templateId="tpl"), 404)
    both_cuda = {"id": RTX_4090, "allowedCudaVersions": ["12.8"], "minCudaVersion": "12.4"}
    assert_problem(create(demo, gpu=both_cuda), 400)
    network = {"network": [{"volumeId": "v", "path": "/workspace"}]}
    assert_problem(create(demo, mounts=network), 400)
    both = {**network, "persistent": {"size": 20, "path": "/workspace"}}
    assert_problem(create(demo, mounts=both), 400)
    assert_problem(create(demo, gpu={"id": "NVIDIA GeForce GTX 480"}), 400)
    bad_json = call(demo, "POST", "/v2/pods", data=b"{", headers={"Content-Type": "x"})
    assert bad_json.status_code in (400, 422)
    assert demo.cloud.instances("runpod") == []


def test_create_without_stock_or_credit(demo: DemoCloud, clock: FakeClock) -> None:
    full = assert_problem(create(demo, gpu={"id": RTX_4090, "count": 16}), 400)
    assert full["detail"] == NO_INSTANCES_AVAILABLE
    assert_problem(create(demo, gpu={"id": "NVIDIA B200"}, cloud="COMMUNITY"), 400)
    assert_problem(create(demo, gpu={"id": "NVIDIA GeForce RTX 5090", "minCudaVersion": "13"}), 400)
    assert_problem(create(demo, dataCenterIds=["NOWHERE-1"]), 400)
    gpu = call(
        demo,
        "GET",
        "/v2/catalog/gpus/NVIDIA%20GeForce%20RTX%204090",
        params={"include": "AVAILABILITY", "product": "POD"},
    ).json()
    stocked = {d["id"] for d in gpu["dataCenters"]}
    empty = [dc for dc in ("EU-RO-1", "EU-SE-1", "EU-CZ-1", "EUR-IS-1", "US-TX-3", "US-CA-2",
                           "US-GA-1", "CA-MTL-1") if dc not in stocked]  # fmt: skip
    if empty:
        refused = assert_problem(create(demo, dataCenterIds=empty), 400)
        assert refused["detail"] == NO_INSTANCES_AVAILABLE
    chosen = sorted(stocked)[0]
    assert new_pod(demo, dataCenterIds=[chosen])["dataCenterId"] == chosen
    demo.cloud.create_runpod(gpu_type_id="NVIDIA H100 80GB HBM3", image="img", gpu_count=2)
    clock.advance(8 * HOUR)  # 2 x ~$3/h eats the $25 of credit
    assert_problem(create(demo), 402)


# ---------------------------------------------------------------------------
# Pods: life cycle, timing, SSH
# ---------------------------------------------------------------------------


def test_status_runtime_and_port_arrive_in_order(demo: DemoCloud, clock: FakeClock) -> None:
    assert demo.cloud.port_delay_seconds == 3.0
    pod = new_pod(demo, ports=["22/tcp", "8888/http"], startSsh=True)
    pod_id = pod["id"]
    clock.advance(BOOT * 0.6)
    starting = get_pod(demo, pod_id)
    assert starting["status"] == "STARTING" and starting["runtime"] is None
    clock.advance(BOOT * 0.4 + 1)
    booted = get_pod(demo, pod_id)
    assert booted["status"] == "RUNNING" and booted["actions"] == ["stop", "restart", "terminate"]
    runtime = booted["runtime"]
    assert runtime["uptime"] == 1 and len(runtime["gpus"]) == 1
    assert set(runtime["gpus"][0]) == {"util", "memoryUtil"}
    assert set(runtime["cpu"]) == {"util"} and set(runtime["memory"]) == {"util"}
    assert [p["private"] for p in runtime["ports"]] == [8888]  # port 22 not mapped yet
    assert booted["ssh"]["direct"] is None
    clock.advance(demo.cloud.port_delay_seconds)
    ready = get_pod(demo, pod_id)
    ssh_port = [p for p in ready["runtime"]["ports"] if p["private"] == 22]
    direct = ready["ssh"]["direct"]
    assert direct is not None and direct["username"] == "root"
    assert ssh_port == [
        {"private": 22, "public": direct["port"], "type": "tcp", "ip": direct["host"]}
    ]
    assert direct["command"] == f"ssh root@{direct['host']} -p {direct['port']}"
    inst = demo.cloud.get("runpod", pod_id)
    assert inst is not None and demo.cloud.observe(inst).endpoint == (
        direct["host"],
        direct["port"],
    )


def test_port_delay_is_settable_and_pods_without_22_get_no_direct_ssh(
    demo: DemoCloud, clock: FakeClock
) -> None:
    demo.cloud.port_delay_seconds = 0
    with_ssh = new_pod(demo, ports=["22/tcp"])
    without = new_pod(demo, ports=["8888/http"])
    clock.advance(BOOT)
    assert get_pod(demo, with_ssh["id"])["ssh"]["direct"] is not None
    later = get_pod(demo, without["id"])
    assert later["status"] == "RUNNING" and later["ssh"]["direct"] is None
    assert all(p["private"] != 22 for p in later["runtime"]["ports"])


def test_noport_pods_never_get_a_public_port_22(demo: DemoCloud, clock: FakeClock) -> None:
    demo.set_faults("runpod:noport")
    hidden = new_pod(demo, ports=["22/tcp"])
    demo.set_faults(None)
    normal = new_pod(demo, ports=["22/tcp"])
    clock.advance(BOOT + 60)
    pod = get_pod(demo, hidden["id"])
    assert pod["status"] == "RUNNING" and pod["ssh"]["direct"] is None
    (port,) = pod["runtime"]["ports"]
    assert port["private"] == 22 and port["public"] == 22 and port["type"] == "tcp"
    assert port["ip"].startswith("100.65.")
    assert act(demo, hidden["id"], "restart").ok
    clock.advance(BOOT + 60)
    assert get_pod(demo, hidden["id"])["ssh"]["direct"] is None
    assert get_pod(demo, normal["id"])["ssh"]["direct"] is not None


def test_a_missing_image_ends_in_error(demo: DemoCloud, clock: FakeClock) -> None:
    image = "ghcr.io/me/does-not-exist:1.0"
    pod = new_pod(demo, image=image, ports=["22/tcp"])
    clock.advance(BOOT / 2 + 0.1)
    assert get_pod(demo, pod["id"])["status"] == "STARTING"
    clock.advance(BOOT)
    failed = get_pod(demo, pod["id"])
    assert failed["status"] == "ERROR" and failed["actions"] == ["start", "terminate"]
    assert failed["runtime"] is None and failed["ssh"]["direct"] is None
    logs = call(demo, "GET", f"/v2/pods/{pod['id']}/logs", params={"source": "system"})
    assert "pull access denied for ghcr.io/me/does-not-exist, repository does not exist" in (
        logs.text
    )
    assert_problem(act(demo, pod["id"], "stop"), 409)
    assert act(demo, pod["id"], "start").json()["status"] == "STARTING"  # on its own host
    assert act(demo, pod["id"], "terminate").status_code == 204


def test_actions_follow_the_status(demo: DemoCloud, clock: FakeClock) -> None:
    pod_id = new_pod(demo, mounts={"persistent": {"size": 50}})["id"]
    assert_problem(act(demo, pod_id, "start"), 409, "PROVISIONING")
    assert_problem(act(demo, pod_id, "restart"), 409)
    assert_problem(act(demo, pod_id, "reset"), 422)
    assert_problem(
        call(demo, "POST", f"/v2/pods/{pod_id}/action", json={"action": "stop", "x": 1}), 422
    )
    assert_problem(act(demo, "nope", "stop"), 404)
    clock.advance(BOOT)
    restarted = act(demo, pod_id, "restart")
    assert restarted.status_code == 200 and restarted.json()["status"] == "STARTING"
    clock.advance(BOOT)
    stopped = act(demo, pod_id, "stop").json()
    assert stopped["status"] == "EXITED" and stopped["cost"] == 0.0
    assert stopped["actions"] == ["start", "terminate"] and stopped["runtime"] is None
    assert_problem(act(demo, pod_id, "stop"), 409)
    started = act(demo, pod_id, "start").json()
    assert started["status"] == "STARTING" and started["cost"] > 0
    assert act(demo, pod_id, "terminate").status_code == 204
    assert_problem(call(demo, "GET", f"/v2/pods/{pod_id}"), 404)


def test_delete_and_the_nodestroy_fault(demo: DemoCloud) -> None:
    pod_id = new_pod(demo)["id"]
    demo.set_faults("runpod:nodestroy")
    kept = call(demo, "DELETE", f"/v2/pods/{pod_id}")
    assert kept.status_code == 204 and kept.content == b""
    assert get_pod(demo, pod_id)["id"] == pod_id
    demo.set_faults(None)
    gone = call(demo, "DELETE", f"/v2/pods/{pod_id}")
    assert gone.status_code == 204 and gone.content == b""
    assert_problem(call(demo, "GET", f"/v2/pods/{pod_id}"), 404)
    assert_problem(call(demo, "DELETE", f"/v2/pods/{pod_id}"), 404)
    assert call(demo, "GET", "/v2/pods").json()["pods"] == []


def test_patch_changes_name_env_and_ports(demo: DemoCloud) -> None:
    pod_id = new_pod(demo, env={"A": "1"}, startSsh=True)["id"]
    patched = call(
        demo, "PATCH", f"/v2/pods/{pod_id}", json={"name": "renamed", "env": {"B": "2"}}
    ).json()
    assert patched["name"] == "renamed" and patched["env"] == {"B": "2"}
    ports = call(demo, "PATCH", f"/v2/pods/{pod_id}", json={"ports": ["22/tcp"]}).json()
    assert ports["ports"] == ["22/tcp"]
    assert_problem(call(demo, "PATCH", f"/v2/pods/{pod_id}", json={"image": "other"}), 422)
    assert_problem(call(demo, "PATCH", f"/v2/pods/{pod_id}", json={"colour": "red"}), 422)
    assert_problem(call(demo, "PATCH", f"/v2/pods/{pod_id}", json={"name": 5}), 422)
    assert_problem(call(demo, "PATCH", "/v2/pods/nope", json={"name": "x"}), 404)


def test_listing_pages_newest_first(demo: DemoCloud, clock: FakeClock) -> None:
    ids = []
    for n in range(5):
        ids.append(new_pod(demo, name=f"p{n}")["id"])
        clock.advance(1)
    everything = call(demo, "GET", "/v2/pods", params={"unknownFilter": "x"}).json()
    assert [p["id"] for p in everything["pods"]] == ids[::-1]
    assert everything["pagination"] == {"nextCursor": None, "hasNextPage": False}
    seen: list[str] = []
    params: dict[str, str] = {"limit": "2"}
    while True:
        page = call(demo, "GET", "/v2/pods", params=params).json()
        seen.extend(p["id"] for p in page["pods"])
        if not page["pagination"]["hasNextPage"]:
            assert page["pagination"]["nextCursor"] is None
            break
        params = {"limit": "2", "cursor": page["pagination"]["nextCursor"]}
    assert seen == ids[::-1]
    for limit in ("0", "1001", "many"):
        assert_problem(call(demo, "GET", "/v2/pods", params={"limit": limit}), 422)
    for cursor in ("not-a-cursor", "eyJ4IjogMX0", "WyJwb2RzIiwgMSwgIngiLCAiYmFkIl0"):
        assert_problem(call(demo, "GET", "/v2/pods", params={"cursor": cursor}), 422)


def test_spot_pods_made_elsewhere_are_listed_and_managed(demo: DemoCloud) -> None:
    spot = demo.cloud.create_runpod(
        gpu_type_id=RTX_4090, image="runpod/pytorch:2.4", cloud_type="COMMUNITY", bid_per_gpu=0.3
    )
    listed = call(demo, "GET", "/v2/pods").json()["pods"]
    assert [p["id"] for p in listed] == [spot.id]
    assert listed[0]["cost"] == pytest.approx(0.3) and listed[0]["ports"] == ["22/tcp"]
    assert act(demo, spot.id, "stop").json()["status"] == "EXITED"
    assert call(demo, "DELETE", f"/v2/pods/{spot.id}").status_code == 204


# ---------------------------------------------------------------------------
# Keys: the account's, fixed into a pod at creation, only where an sshd runs
# ---------------------------------------------------------------------------


def test_account_ssh_keys_replace_the_whole_set(demo: DemoCloud) -> None:
    assert call(demo, "GET", "/v2/account/ssh-keys").json() == {"keys": []}
    put = call(demo, "PUT", "/v2/account/ssh-keys", json={"keys": [KEY_A, KEY_B]})
    assert put.status_code == 200 and put.json() == {"keys": [KEY_A, KEY_B]}
    assert call(demo, "GET", "/v2/account/ssh-keys").json() == {"keys": [KEY_A, KEY_B]}
    assert call(demo, "PUT", "/v2/account/ssh-keys", json={"keys": [KEY_B]}).json() == {
        "keys": [KEY_B]
    }
    for body in ({"keys": ["not a key"]}, {"keys": "x"}, {"keys": [KEY_A], "more": 1}, {}):
        assert_problem(call(demo, "PUT", "/v2/account/ssh-keys", json=body), 422)
    assert call(demo, "PUT", "/v2/account/ssh-keys", json={"keys": []}).json() == {"keys": []}


def pod_keys(demo: DemoCloud, pod_id: str) -> list[str]:
    inst = demo.cloud.get("runpod", pod_id)
    assert inst is not None
    return demo.cloud.authorized_keys("runpod", inst)


def test_pods_get_the_account_keys_at_creation_only(demo: DemoCloud) -> None:
    call(demo, "PUT", "/v2/account/ssh-keys", json={"keys": [KEY_A]})
    with_ssh = new_pod(demo, startSsh=True, ports=["22/tcp"])["id"]
    without_flag = new_pod(demo, ports=["22/tcp"])["id"]
    own_key = new_pod(demo, startSsh=True, env={"PUBLIC_KEY": KEY_B})["id"]
    call(demo, "PUT", "/v2/account/ssh-keys", json={"keys": [KEY_A, KEY_B]})
    assert pod_keys(demo, with_ssh) == [KEY_A]  # the later key never arrives
    assert pod_keys(demo, without_flag) == []
    assert pod_keys(demo, own_key) == [KEY_B]
    assert get_pod(demo, own_key)["env"] == {"PUBLIC_KEY": KEY_B}
    inst = demo.cloud.get("runpod", with_ssh)
    assert inst is not None and inst.env["PUBLIC_KEY"] == KEY_A
    assert get_pod(demo, with_ssh)["env"] == {}


def test_keys_only_open_pods_that_run_an_sshd(demo: DemoCloud) -> None:
    call(demo, "PUT", "/v2/account/ssh-keys", json={"keys": [KEY_A]})
    custom = new_pod(demo, image="nvidia/cuda:12.4", startSsh=True)["id"]
    replaced = new_pod(demo, startSsh=True, args="python train.py")["id"]
    diy_args = (
        'bash -c \'mkdir -p ~/.ssh && echo "$PUBLIC_KEY" >> ~/.ssh/authorized_keys && '
        "service ssh start || /usr/sbin/sshd; sleep infinity'"
    )
    diy = new_pod(demo, image="nvidia/cuda:12.4", startSsh=True, args=diy_args)["id"]
    assert pod_keys(demo, custom) == []
    assert pod_keys(demo, replaced) == []
    assert pod_keys(demo, diy) == [KEY_A]


# ---------------------------------------------------------------------------
# Logs and billing
# ---------------------------------------------------------------------------


def sse_events(text: str) -> list[tuple[int, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((int(fields["id"]), json.loads(fields["data"])))
    return events


def test_logs_stream_the_backlog_as_server_sent_events(demo: DemoCloud, clock: FakeClock) -> None:
    pod_id = new_pod(demo)["id"]
    clock.advance(BOOT + 1)
    answer = call(demo, "GET", f"/v2/pods/{pod_id}/logs")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/event-stream")
    events = sse_events(answer.text)
    assert [n for n, _ in events] == list(range(1, len(events) + 1))
    assert {e["source"] for _, e in events} == {"system", "container"}
    assert all(set(e) == {"source", "line", "ts"} for _, e in events)
    assert any("Pulling image runpod/pytorch:2.4" in e["line"] for _, e in events)
    tail = sse_events(call(demo, "GET", f"/v2/pods/{pod_id}/logs", params={"tail": "1"}).text)
    assert tail == events[-1:]
    container = call(demo, "GET", f"/v2/pods/{pod_id}/logs", params={"source": "container"})
    assert {e["source"] for _, e in sse_events(container.text)} == {"container"}
    resumed = call(
        demo, "GET", f"/v2/pods/{pod_id}/logs", headers={"Last-Event-ID": str(len(events) - 1)}
    )
    assert sse_events(resumed.text) == events[-1:]
    assert_problem(call(demo, "GET", f"/v2/pods/{pod_id}/logs", params={"tail": "5001"}), 422)
    assert_problem(call(demo, "GET", f"/v2/pods/{pod_id}/logs", params={"source": "x"}), 422)
    assert_problem(call(demo, "GET", "/v2/pods/nope/logs"), 404)


def test_billing_per_pod_and_bucket_matches_the_account(demo: DemoCloud, clock: FakeClock) -> None:
    first = new_pod(demo, mounts={"persistent": {"size": 100}})["id"]
    second = new_pod(demo, gpu={"id": "NVIDIA RTX A4000"})["id"]
    clock.advance(2 * HOUR)
    act(demo, first, "stop")
    clock.advance(5 * HOUR)
    call(demo, "DELETE", f"/v2/pods/{second}")
    clock.advance(HOUR)
    act(demo, first, "start")
    clock.advance(HOUR / 2)

    start = "2026-01-01T00:00:00Z"
    hourly = call(
        demo, "GET", "/v2/billing/pods", params={"startTime": start, "bucketSize": "hour"}
    ).json()
    records = hourly["records"]
    assert {r["podId"] for r in records} == {first, second}  # destroyed pods included
    assert all(
        set(r) == {"startTime", "endTime", "podId", "totalAmount", "gpuAmount", "cpuAmount",
                   "diskAmount"} and r["totalAmount"] > 0
        for r in records
    )  # fmt: skip
    assert any(r["diskAmount"] > 0 and r["gpuAmount"] == 0 for r in records if r["podId"] == first)
    meta = hourly["metadata"]
    assert meta["recordCount"] == len(records) and meta["uniquePodCount"] == 2
    assert meta["query"]["bucketSize"] == "hour" and meta["query"]["startTime"] == start
    spent = demo.cloud.account("runpod").spent
    assert meta["totals"]["totalAmount"] == pytest.approx(spent, abs=0.01)
    daily = call(demo, "GET", "/v2/billing/pods", params={"startTime": start}).json()
    assert daily["metadata"]["totals"]["totalAmount"] == pytest.approx(spent, abs=0.01)
    one = call(demo, "GET", "/v2/billing/pods", params={"startTime": start, "podId": second}).json()
    assert {r["podId"] for r in one["records"]} == {second}
    recent = call(
        demo, "GET", "/v2/billing/pods", params={"lastN": "3", "bucketSize": "hour"}
    ).json()
    assert len({r["startTime"] for r in recent["records"]}) <= 3
    assert_problem(
        call(demo, "GET", "/v2/billing/pods", params={"lastN": "2", "startTime": start}), 400
    )
    assert_problem(call(demo, "GET", "/v2/billing/pods", params={"bucketSize": "minute"}), 422)
    assert_problem(call(demo, "GET", "/v2/billing/pods", params={"startTime": "yesterday"}), 422)
