"""Each demo instance's own credential, and GPU utilisation that follows vp-tui's jobs.

Over real HTTP and real SSH: a command on a demo instance sees the provider's
per-instance variables (Vast ``CONTAINER_ID``/``CONTAINER_API_KEY``, RunPod
``RUNPOD_POD_ID``/``RUNPOD_API_KEY``) and ``VP_DEMO_API_URL``; with that key it may
read, stop and destroy its own instance and nothing else.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import paramiko
import pytest
import requests
from fake_clock import FakeClock

from vp_tui.sim.cloud import DEMO_API_URL_ENV, IDLE_GPU_PERCENT
from vp_tui.sim.sandbox import JOBS_DIR, job_running, job_runs
from vp_tui.sim.server import RUNPOD_DEMO_KEY, VAST_DEMO_KEY, DemoCloud

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")

T0 = 1_780_000_000.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def demo(tmp_path: Path, clock: FakeClock) -> Iterator[DemoCloud]:
    with DemoCloud(tmp_path / "demo", boot_seconds=2, faults="", clock=clock) as cloud:
        yield cloud


@pytest.fixture
def client_key(tmp_path: Path) -> tuple[paramiko.PKey, str]:
    """A private key for paramiko and its public line, registered with both accounts."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    path = tmp_path / "id_ed25519"
    path.write_bytes(key.export_private_key("openssh"))
    path.chmod(0o600)
    return paramiko.Ed25519Key.from_private_key_file(str(path)), key.export_public_key(
        "openssh"
    ).decode().strip()


def call(base: str, method: str, path: str, key: str | None, body: Any = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return requests.request(method, base + path, headers=headers, json=body, timeout=10)


def vast(demo: DemoCloud, method: str, path: str, key: str = VAST_DEMO_KEY, **body: Any) -> Any:
    return call(demo.vast_url, method, path, key, body or None)


def rest(demo: DemoCloud, method: str, path: str, key: str = RUNPOD_DEMO_KEY, **body: Any) -> Any:
    return call(demo.runpod_url, method, path, key, body or None)


def create_vast(demo: DemoCloud, public_key: str, label: str) -> tuple[str, str]:
    """Rent a Vast offer with the account key: ``(instance id, instance_api_key)``."""
    assert vast(demo, "POST", "/api/v0/ssh/", ssh_key=public_key).status_code == 200
    offers = vast(demo, "POST", "/api/v0/bundles/", gpu_name={"eq": "RTX 4090"}, limit=5)
    offer = offers.json()["offers"][len(demo.cloud.instances("vast"))]
    made = vast(demo, "PUT", f"/api/v0/asks/{offer['id']}/", image="pytorch/pytorch", label=label)
    assert made.status_code == 200 and made.json()["success"], made.text
    return str(made.json()["new_contract"]), str(made.json()["instance_api_key"])


def deploy(demo: DemoCloud, public_key: str, name: str) -> str:
    """A RunPod pod with SSH (RunPod's image starts sshd): its id."""
    assert rest(demo, "PUT", "/v2/account/ssh-keys", keys=[public_key]).status_code == 200
    made = rest(
        demo,
        "POST",
        "/v2/pods",
        name=name,
        image="runpod/pytorch:2.4",
        gpu={"id": "NVIDIA RTX A4000"},
        ports=["22/tcp"],
        startSsh=True,
    )
    assert made.status_code == 201, made.text
    pod_id: str = made.json()["id"]
    return pod_id


def connect(demo: DemoCloud, platform: str, instance_id: str, pkey: paramiko.PKey) -> Any:
    inst = demo.cloud.get(platform, instance_id)
    assert inst is not None
    endpoint = demo.cloud.observe(inst).endpoint
    assert endpoint is not None, "the instance has no SSH endpoint yet"
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(
        endpoint[0],
        port=endpoint[1],
        username="root",
        pkey=pkey,
        allow_agent=False,
        look_for_keys=False,
        timeout=10,
    )
    return client


def run(client: paramiko.SSHClient, command: str, timeout: float = 30) -> str:
    """Run ``command`` on the instance; its stdout (fails on a non-zero exit)."""
    _stdin, stdout, stderr = client.exec_command(command, timeout=timeout)
    out = stdout.read().decode()
    rc = stdout.channel.recv_exit_status()
    assert rc == 0, f"{command!r} exited {rc}: {stderr.read().decode()}"
    return out


def env_of(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.02)


# What a watchdog on the instance sends: each request with the instance's own key, the
# URL and the ids from the environment; prints one JSON line of [status, body] per request.
REQUESTER = r"""
import json, os, sys, urllib.error, urllib.request
base = os.environ["VP_DEMO_API_URL"]
key = os.environ[sys.argv[1]]
results = []
for method, path, body in json.loads(sys.argv[2]):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + key)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:
            status, text = answer.status, answer.read().decode()
    except urllib.error.HTTPError as failed:
        status, text = failed.code, failed.read().decode()
    results.append([status, text])
print(json.dumps(results))
"""


def requests_from_instance(
    client: paramiko.SSHClient, key_var: str, calls: list[tuple[str, str, Any]]
) -> list[tuple[int, Any]]:
    """Send ``calls`` from a command on the instance, authenticated with ``$key_var``."""
    command = " ".join(
        shlex.quote(word)
        for word in (sys.executable, "-I", "-c", REQUESTER, key_var, json.dumps(calls))
    )
    answers = json.loads(run(client, command))
    return [(status, json.loads(text) if text else None) for status, text in answers]


# ---------------------------------------------------------------------------
# Vast: CONTAINER_ID / CONTAINER_API_KEY
# ---------------------------------------------------------------------------


def test_vast_instance_sees_its_own_id_key_and_api_url(
    demo: DemoCloud, clock: FakeClock, client_key: tuple[paramiko.PKey, str]
) -> None:
    pkey, public = client_key
    mine, my_key = create_vast(demo, public, "mine")
    other, other_key = create_vast(demo, public, "other")
    assert my_key != other_key and len(my_key) == 64
    clock.advance(3)
    client = connect(demo, "vast", mine, pkey)
    try:
        env = env_of(run(client, "env"))
        assert env["CONTAINER_ID"] == mine
        assert env["CONTAINER_API_KEY"] == my_key
        assert env["VAST_CONTAINERLABEL"] == f"C.{mine}"
        assert env[DEMO_API_URL_ENV] == demo.vast_url
        assert "RUNPOD_API_KEY" not in env
        # a detached process (new session, outliving the command) inherits them
        detach = (
            "setsid sh -c 'sleep 0.2; env > /workspace/detached.env' </dev/null >/dev/null 2>&1 &"
        )
        run(client, detach)
        inst = demo.cloud.get("vast", mine)
        assert inst is not None
        detached = demo.cloud.sandbox_dir(inst) / "detached.env"
        wait_until(lambda: detached.exists() and "CONTAINER_ID" in detached.read_text(), "env file")
        wait_until(lambda: "VP_DEMO_API_URL" in detached.read_text(), "env file written")
        later = env_of(detached.read_text())
        assert later["CONTAINER_ID"] == mine and later["CONTAINER_API_KEY"] == my_key
    finally:
        client.close()
    # the other instance has its own
    client = connect(demo, "vast", other, pkey)
    try:
        env = env_of(run(client, "env"))
        assert env["CONTAINER_ID"] == other and env["CONTAINER_API_KEY"] == other_key
    finally:
        client.close()


def test_vast_instance_key_stops_and_destroys_its_own_instance_only(
    demo: DemoCloud, clock: FakeClock, client_key: tuple[paramiko.PKey, str]
) -> None:
    pkey, public = client_key
    mine, my_key = create_vast(demo, public, "mine")
    other, _other_key = create_vast(demo, public, "other")
    clock.advance(3)
    client = connect(demo, "vast", mine, pkey)
    try:
        refused = requests_from_instance(
            client,
            "CONTAINER_API_KEY",
            [
                ("GET", "/api/v1/instances/", None),
                ("GET", "/api/v0/instances/", None),
                ("GET", f"/api/v0/instances/{other}/", None),
                ("PUT", f"/api/v0/instances/{other}/", {"state": "stopped"}),
                ("DELETE", f"/api/v0/instances/{other}/", {}),
                ("PUT", f"/api/v0/instances/{mine}/", {"label": "renamed"}),
                ("PUT", f"/api/v0/instances/{mine}/", {"state": "stopped", "label": "x"}),
                ("PUT", f"/api/v0/instances/reboot/{mine}/", {}),
                ("GET", "/api/v0/users/current/", None),
                ("POST", "/api/v0/bundles/", {"limit": 1}),
                ("DELETE", "/api/v0/instances/", {"instance_ids": [int(other)]}),
            ],
        )
        for status, body in refused:
            assert status == 403, body
            assert body["success"] is False and body["error"] == "forbidden"
            assert mine in body["msg"]
        allowed = requests_from_instance(
            client,
            "CONTAINER_API_KEY",
            [
                ("GET", f"/api/v0/instances/{mine}/?owner=me", None),
                ("PUT", f"/api/v0/instances/{mine}/", {"state": "stopped"}),
            ],
        )
    finally:
        client.close()
    (shown, row), (stopped, answer) = allowed
    assert shown == 200 and str(row["instances"]["id"]) == mine
    assert stopped == 200 and answer == {"success": True}
    assert (
        vast(demo, "GET", f"/api/v0/instances/{mine}/").json()["instances"]["intended_status"]
        == "stopped"
    )
    assert (
        vast(demo, "GET", f"/api/v0/instances/{other}/").json()["instances"]["intended_status"]
        == "running"
    )
    # the same key destroys it (curl-style, from anywhere holding the key) ...
    gone = vast(demo, "DELETE", f"/api/v0/instances/{mine}/", key=my_key)
    assert gone.status_code == 200 and gone.json() == {"success": True}
    assert demo.cloud.get("vast", mine) is None
    # ... and dies with it; the account key keeps working as before
    dead = vast(demo, "GET", f"/api/v0/instances/{mine}/", key=my_key)
    assert dead.status_code == 401 and dead.json()["error"] == "auth_error"
    listed = vast(demo, "GET", "/api/v0/instances/").json()["instances"]
    assert [str(row["id"]) for row in listed] == [other]
    assert vast(demo, "GET", "/api/v0/instances/", key="not-a-key").status_code == 401


def test_vast_instance_key_through_the_official_sdk(
    demo: DemoCloud, clock: FakeClock, client_key: tuple[paramiko.PKey, str]
) -> None:
    """``vastai stop instance $CONTAINER_ID --api-key $CONTAINER_API_KEY`` works, listing
    does not."""
    from vastai import VastAI

    _pkey, public = client_key
    mine, my_key = create_vast(demo, public, "mine")
    clock.advance(3)
    sdk = VastAI(my_key, server_url=demo.vast_url)
    shown = sdk.show_instance(id=int(mine))
    assert shown is not None and str(shown["id"]) == mine
    sdk.stop_instance(id=int(mine))
    assert demo.cloud.get("vast", mine).intended_running is False  # type: ignore[union-attr]
    with pytest.raises(requests.HTTPError) as refused:
        sdk.show_instances()
    assert refused.value.response is not None and refused.value.response.status_code == 403
    sdk.destroy_instance(id=int(mine))
    assert demo.cloud.get("vast", mine) is None


# ---------------------------------------------------------------------------
# RunPod: RUNPOD_POD_ID / RUNPOD_API_KEY (pod-scoped)
# ---------------------------------------------------------------------------


def test_runpod_pod_key_stops_and_terminates_its_own_pod_only(
    demo: DemoCloud, clock: FakeClock, client_key: tuple[paramiko.PKey, str]
) -> None:
    pkey, public = client_key
    mine = deploy(demo, public, "mine")
    other = deploy(demo, public, "other")
    clock.advance(3)
    client = connect(demo, "runpod", mine, pkey)
    try:
        env = env_of(run(client, "env"))
        assert env["RUNPOD_POD_ID"] == mine
        pod_key = env["RUNPOD_API_KEY"]
        assert pod_key.startswith("rpa_") and pod_key != RUNPOD_DEMO_KEY
        assert env[DEMO_API_URL_ENV] == demo.runpod_url
        assert "CONTAINER_API_KEY" not in env
        refused = requests_from_instance(
            client,
            "RUNPOD_API_KEY",
            [
                ("GET", "/v2/pods", None),
                ("GET", f"/v2/pods/{other}", None),
                ("POST", f"/v2/pods/{other}/action", {"action": "stop"}),
                ("DELETE", f"/v2/pods/{other}", None),
                ("POST", f"/v2/pods/{mine}/action", {"action": "restart"}),
                ("PATCH", f"/v2/pods/{mine}", {"name": "renamed"}),
                ("GET", f"/v2/pods/{mine}/logs", None),
                ("GET", "/v2/account/ssh-keys", None),
                ("GET", "/v2/billing/pods", None),
                ("GET", "/v2/catalog/gpus", None),
            ],
        )
        for status, body in refused:
            assert status == 403, body
            assert body["status"] == 403 and mine in body["detail"]
        allowed = requests_from_instance(
            client,
            "RUNPOD_API_KEY",
            [
                ("GET", f"/v2/pods/{mine}", None),
                ("POST", f"/v2/pods/{mine}/action", {"action": "stop"}),
            ],
        )
    finally:
        client.close()
    (shown, pod), (stopped, answer) = allowed
    assert shown == 200 and pod["id"] == mine and pod["status"] == "RUNNING"
    assert stopped == 200 and answer["status"] == "EXITED"
    assert rest(demo, "GET", f"/v2/pods/{other}").json()["status"] == "RUNNING"
    # GraphQL does not take a pod key in the demo cloud
    graphql = call(demo.runpod_url, "POST", "/graphql", pod_key, {"query": "{ myself { id } }"})
    assert graphql.status_code == 401
    # terminate with the same key, then the key dies with the pod
    gone = rest(demo, "DELETE", f"/v2/pods/{mine}", key=pod_key)
    assert gone.status_code == 204
    assert demo.cloud.get("runpod", mine) is None
    assert rest(demo, "GET", f"/v2/pods/{mine}", key=pod_key).status_code == 401
    pods = rest(demo, "GET", "/v2/pods").json()["pods"]
    assert [p["id"] for p in pods] == [other]


def test_runpod_pod_key_terminates_through_the_action_route(
    demo: DemoCloud, clock: FakeClock, client_key: tuple[paramiko.PKey, str]
) -> None:
    _pkey, public = client_key
    mine = deploy(demo, public, "mine")
    clock.advance(3)
    pod_key = demo.cloud.instance_api_key("runpod", mine)
    done = rest(demo, "POST", f"/v2/pods/{mine}/action", key=pod_key, action="terminate")
    assert done.status_code == 204, done.text
    assert demo.cloud.get("runpod", mine) is None


# ---------------------------------------------------------------------------
# GPU utilisation follows vp-tui's jobs
# ---------------------------------------------------------------------------

# A job laid out the way vp-tui's detached jobs are: ~/.vp/jobs/<id>/pid holds
# "PID STARTTIME" (field 22 of /proc/PID/stat) and exit_code appears when it ends.
START_JOB = (
    'd="$HOME/{jobs}/{job}"; mkdir -p "$d"; '
    "setsid sh -c 'read -r _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ st _ < /proc/$$/stat; "
    'printf "%s %s\\n" $$ "$st" > "$1/pid"; exec sleep 60\' sh "$d" '
    "</dev/null >/dev/null 2>&1 &"
)


def vast_util(demo: DemoCloud, instance_id: str) -> float:
    row = vast(demo, "GET", f"/api/v0/instances/{instance_id}/").json()["instances"]
    return float(row["gpu_util"])


def runpod_util(demo: DemoCloud, pod_id: str) -> int:
    pod = rest(demo, "GET", f"/v2/pods/{pod_id}").json()
    return int(pod["runtime"]["gpus"][0]["util"])


def test_gpu_util_is_low_without_a_job_and_busy_while_one_runs(
    demo: DemoCloud, clock: FakeClock, client_key: tuple[paramiko.PKey, str]
) -> None:
    pkey, public = client_key
    mine, _key = create_vast(demo, public, "mine")
    pod = deploy(demo, public, "pod")
    clock.advance(3)
    for _ in range(5):  # idle, whatever the 30 s window
        clock.advance(30)
        assert vast_util(demo, mine) < IDLE_GPU_PERCENT
        assert runpod_util(demo, pod) < IDLE_GPU_PERCENT
    client = connect(demo, "vast", mine, pkey)
    home = demo.cloud.home_dir(demo.cloud.get("vast", mine))  # type: ignore[arg-type]
    try:
        run(client, START_JOB.format(jobs=JOBS_DIR, job="job-1"))
        job = home / JOBS_DIR / "job-1"
        wait_until(lambda: (job / "pid").exists() and job_runs(job), "the job to start")
        for _ in range(5):
            clock.advance(30)
            assert 35.0 <= vast_util(demo, mine) <= 95.0
        assert runpod_util(demo, pod) < IDLE_GPU_PERCENT  # another instance's job is not its
        # the job ends: exit_code written, its process gone
        pid = int((job / "pid").read_text().split()[0])
        (job / "exit_code").write_text("0\n")
        assert vast_util(demo, mine) < IDLE_GPU_PERCENT
        # a job whose process died without an exit code (lost) is not running either
        (job / "exit_code").unlink()
        assert vast_util(demo, mine) >= 35.0
        os.kill(pid, 9)
        wait_until(lambda: not job_runs(job), "the job's process to die")
        assert vast_util(demo, mine) < IDLE_GPU_PERCENT
    finally:
        client.close()
        demo.cloud.destroy("vast", mine)  # kills whatever still runs on it


def test_job_check_is_cheap_and_never_raises(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert job_running(home) is False  # no jobs directory at all
    jobs = home / JOBS_DIR
    jobs.mkdir(parents=True)
    (jobs / "a-file").write_text("not a job")
    (jobs / "empty").mkdir()  # started, no pid yet
    (jobs / "junk").mkdir()
    (jobs / "junk" / "pid").write_bytes(b"\xff\xfe nonsense")
    (jobs / "negative").mkdir()
    (jobs / "negative" / "pid").write_text("-5 1\n")
    (jobs / "unreadable").mkdir()
    (jobs / "unreadable" / "pid").mkdir()  # a directory where the file should be
    assert job_running(home) is False
    # this very process, with the wrong start time: a reused pid, not the job's process
    (jobs / "reused").mkdir()
    (jobs / "reused" / "pid").write_text(f"{os.getpid()} 1\n")
    assert job_running(home) is False
    stat = Path(f"/proc/{os.getpid()}/stat").read_text().rpartition(")")[2].split()
    (jobs / "alive").mkdir()
    (jobs / "alive" / "pid").write_text(f"{os.getpid()} {stat[19]}\n")
    assert job_running(home) is True
    (jobs / "alive" / "exit_code").write_text("0\n")
    assert job_running(home) is False
    for index in range(200):
        (jobs / f"done-{index}").mkdir()
        (jobs / f"done-{index}" / "pid").write_text("1 1\n")
        (jobs / f"done-{index}" / "exit_code").write_text("0\n")
    assert job_running(home) is False
