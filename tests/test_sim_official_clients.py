"""The official clients against the demo cloud: the ``vastai`` CLI and SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from vastai import VastAI

from vp_tui.sim.server import VAST_DEMO_KEY, DemoCloud

T0 = 1_780_000_000.0


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def demo(tmp_path: Path, clock: FakeClock) -> Iterator[DemoCloud]:
    with DemoCloud(tmp_path / "demo", boot_seconds=5, faults="", clock=clock) as cloud:
        yield cloud


@pytest.fixture
def sdk(demo: DemoCloud) -> VastAI:
    return VastAI(VAST_DEMO_KEY, server_url=demo.vast_url)


def vastai_cli() -> list[str]:
    """The ``vastai`` console script of the running interpreter's environment."""
    script = Path(sys.executable).parent / "vastai"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from vastai.cli.main import main; main()"]


def run_cli(
    demo: DemoCloud, *args: str, key: str = VAST_DEMO_KEY
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, VASTAI_NO_UPDATE_CHECK="1")
    command = [*vastai_cli(), "--url", demo.vast_url, "--api-key", key, *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)


# ---------------------------------------------------------------------------
# The vastai CLI
# ---------------------------------------------------------------------------


def test_vastai_cli_searches_creates_lists_and_destroys(demo: DemoCloud, clock: FakeClock) -> None:
    found = run_cli(demo, "search", "offers", "gpu_name=RTX_4090 num_gpus=1", "--raw", "-o", "dph")
    assert found.returncode == 0, found.stderr
    offers = json.loads(found.stdout)
    assert offers and {o["gpu_name"] for o in offers} == {"RTX 4090"}
    assert {o["num_gpus"] for o in offers} == {1}
    prices = [o["dph_total"] for o in offers]
    assert prices == sorted(prices)

    created = run_cli(
        demo, "create", "instance", str(offers[0]["id"]), "--image", "pytorch/pytorch",
        "--disk", "32", "--label", "cli", "--env", "-e FOO=bar", "--raw",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    instance_id = json.loads(created.stdout)["new_contract"]

    clock.now += 10
    shown = run_cli(demo, "show", "instances", "--raw")
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)
    assert [(r["id"], r["label"], r["actual_status"]) for r in rows] == [
        (instance_id, "cli", "running")
    ]
    assert rows[0]["extra_env"] == {"FOO": "bar"} and rows[0]["disk_space"] == 32

    gone = run_cli(demo, "destroy", "instance", str(instance_id), "-y", "--raw")
    assert gone.returncode == 0, gone.stderr
    assert json.loads(run_cli(demo, "show", "instances", "--raw").stdout) == []


def test_vastai_cli_reports_a_wrong_key(demo: DemoCloud) -> None:
    refused = run_cli(demo, "show", "user", "--raw", key="not-the-demo-key")
    assert json.loads(refused.stderr.strip().splitlines()[-1]) == {
        "error": True,
        "status_code": 401,
        "msg": "Invalid user key",
    }


# ---------------------------------------------------------------------------
# The vastai SDK
# ---------------------------------------------------------------------------


def test_vastai_sdk_offers_and_instance_lifecycle(
    demo: DemoCloud, sdk: VastAI, clock: FakeClock
) -> None:
    offers = sdk.search_offers(
        "gpu_name=H100_SXM gpu_ram>=80 reliability>0.95", order="dph_total", limit=5
    )
    assert 0 < len(offers) <= 5
    assert all(o["gpu_name"] == "H100 SXM" and o["gpu_ram"] >= 80_000 for o in offers)
    assert [o["dph_total"] for o in offers] == sorted(o["dph_total"] for o in offers)
    bids = sdk.search_offers("gpu_name=RTX_3090", type="bid", limit=3)
    assert all(b["dph_total"] < b["dph_base"] + 0.01 for b in bids)

    result = sdk.create_instance(
        id=offers[0]["id"], image="pytorch/pytorch:latest", disk=40, env={"A": "1"}, label="sdk",
        ssh=True, direct=True,
    )  # fmt: skip
    instance_id = result["new_contract"]
    assert result["success"] is True
    assert sdk.show_instance(instance_id)["actual_status"] is None
    assert sdk.ssh_url(instance_id) == ""

    demo.cloud.ssh_endpoint_provider = lambda inst: ("127.0.0.1", 45678)
    clock.now += 6
    inst = sdk.show_instance(instance_id)
    assert inst["actual_status"] == "running" and inst["extra_env"] == {"A": "1"}
    assert inst["duration"] >= 0
    assert sdk.ssh_url(instance_id) == "ssh://root@127.0.0.1:45678"

    assert sdk.label_instance(instance_id, "renamed")["success"]
    assert sdk.stop_instance(instance_id)["success"]
    assert sdk.show_instance(instance_id)["actual_status"] == "exited"
    assert sdk.start_instance(instance_id)["success"]
    assert sdk.show_instance(instance_id)["label"] == "renamed"
    clock.now += 6
    assert "Container started" in sdk.logs(instance_id, tail="5")

    sandbox = demo.cloud.sandbox_dir(demo.cloud.instances("vast")[0])
    (sandbox / "out.txt").write_text("42")
    assert sdk.execute(instance_id, "ls /workspace").split() == ["out.txt"]
    assert sdk.destroy_instance(instance_id) == {"success": True}
    assert sdk.show_instance(instance_id) is None
    assert sdk.show_instances() == []


def test_vastai_sdk_pages_through_many_instances(demo: DemoCloud, sdk: VastAI) -> None:
    offers = demo.cloud.vast_offers()[:27]
    made = [demo.cloud.create_vast(o["id"], image="img").id for o in offers]
    rows = sdk.show_instances()
    assert sorted(str(r["id"]) for r in rows) == sorted(made)
    assert all(isinstance(r["extra_env"], dict) for r in rows)


def test_vastai_sdk_account_keys_bids_and_copies(
    demo: DemoCloud, sdk: VastAI, clock: FakeClock
) -> None:
    user = sdk.show_user()
    assert user["credit"] == 25.0 and "api_key" not in user
    assert sdk.create_ssh_key("ssh-ed25519 AAAAC3Nz demo@laptop")["success"]
    assert [k["key"] for k in sdk.show_ssh_keys()] == ["ssh-ed25519 AAAAC3Nz demo@laptop"]

    offer = sdk.search_offers("num_gpus=1", type="bid", order="dph_total", limit=1)[0]
    instance_id = sdk.create_instance(id=offer["id"], image="img", price=offer["min_bid"] * 1.2)[
        "new_contract"
    ]
    assert sdk.show_instance(instance_id)["is_bid"] is True
    assert sdk.change_bid(instance_id, price=offer["min_bid"] * 1.5)["success"]
    assert sdk.attach_ssh(instance_id, "ssh-rsa AAAAB3 extra")["success"]
    inst = demo.cloud.get("vast", str(instance_id))
    assert inst is not None and "ssh-rsa AAAAB3 extra" in demo.cloud.authorized_keys("vast", inst)

    demo.cloud.ssh_endpoint_provider = lambda inst: ("127.0.0.1", 40123)
    clock.now += 6
    upload = sdk.copy("local:data", f"C.{instance_id}:/workspace/data")
    assert (upload["dst_addr"], upload["dst_port"]) == ("127.0.0.1", 40123)

    with pytest.raises(requests.HTTPError) as err:
        VastAI("wrong-key", server_url=demo.vast_url).show_user()
    assert err.value.response.status_code == 401


def test_vastai_sdk_sees_rate_limits_and_errors(demo: DemoCloud, sdk: VastAI) -> None:
    demo.set_faults("vast:ratelimit")
    with pytest.raises(requests.HTTPError) as err:
        sdk.show_user()
    assert err.value.response.status_code == 429
    demo.set_faults("vast:error=500")
    with pytest.raises(requests.HTTPError) as err:
        sdk.show_instances()
    assert err.value.response.json()["success"] is False
    demo.set_faults("vast:malformed")
    with pytest.raises(ValueError):
        sdk.show_user()
    demo.set_faults(None)
    assert sdk.show_user()["id"]
