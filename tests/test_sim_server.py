"""The demo cloud's HTTP side: request counters, emulator failures, and where its logs go."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from vastai import VastAI

from vp_tui.sim.cloud import SimCloud
from vp_tui.sim.server import (
    INTERNAL_ERROR_HEADER,
    RUNPOD_DEMO_KEY,
    VAST_DEMO_KEY,
    DemoCloud,
)

T0 = 1_780_000_000.0
SERVER_LOG = "vp_tui.sim.server"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoCloud]:
    with DemoCloud(tmp_path / "demo", boot_seconds=1, faults="", clock=lambda: T0) as cloud:
        yield cloud


def vast(demo: DemoCloud, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {VAST_DEMO_KEY}"}
    return requests.request(method, demo.vast_url + path, headers=headers, timeout=10, **kwargs)


def rest(demo: DemoCloud, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {RUNPOD_DEMO_KEY}"}
    return requests.request(method, demo.runpod_url + path, headers=headers, timeout=10, **kwargs)


def gql(demo: DemoCloud, query: str) -> requests.Response:
    return requests.post(
        demo.runpod_url + "/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {RUNPOD_DEMO_KEY}"},
        timeout=10,
    )


# ---------------------------------------------------------------------------
# Request counters
# ---------------------------------------------------------------------------


def test_requests_are_counted_per_api_method_and_route(demo: DemoCloud) -> None:
    assert demo.requests == Counter() and demo.request_count() == 0
    assert vast(demo, "GET", "/api/v0/users/current/").ok
    assert vast(demo, "GET", "/api/v0/users/current/").ok
    assert vast(demo, "GET", "/api/v0/instances/12345/").status_code == 200
    assert vast(demo, "DELETE", "/api/v0/users/current/").status_code == 405
    assert gql(demo, "query Account { myself { clientBalance } }").ok
    assert rest(demo, "GET", "/v2/pods").json()["pods"] == []
    assert rest(demo, "POST", "/v2/pods/nope/action", json={"action": "stop"}).status_code == 404
    assert rest(demo, "GET", "/v2/catalog/gpus/NVIDIA%20L4").ok
    assert gql(demo, "{ broken").status_code == 400

    assert demo.requests == Counter(
        {
            ("vast", "GET", "/api/v0/users/current"): 2,
            ("vast", "GET", "/api/v0/instances/{id}"): 1,
            ("vast", "DELETE", "/api/v0/users/current"): 1,
            ("runpod", "POST", "query Account"): 1,
            ("runpod", "GET", "/v2/pods"): 1,
            ("runpod", "POST", "/v2/pods/{id}/action"): 1,
            ("runpod", "GET", "/v2/catalog/gpus/{id}"): 1,
            ("runpod", "POST", "invalid"): 1,
        }
    )
    assert demo.request_count("vast") == 4
    assert demo.request_count("runpod") == 5
    assert demo.request_count() == 9

    snapshot = demo.requests
    snapshot.clear()
    assert demo.request_count() == 9
    demo.reset_request_counts()
    assert demo.requests == Counter() and demo.request_count() == 0


def test_refused_and_faulted_requests_count_too(demo: DemoCloud) -> None:
    demo.set_faults("*:ratelimit")
    assert vast(demo, "GET", "/api/v0/users/current/").status_code == 429
    assert gql(demo, "query Me { myself { id } }").status_code == 429
    demo.set_faults(None)
    wrong_key = requests.get(
        demo.vast_url + "/api/v0/instances/",
        headers={"Authorization": "Bearer wrong"},
        timeout=10,
    )
    assert wrong_key.status_code == 401
    assert demo.requests == Counter(
        {
            ("vast", "GET", "/api/v0/users/current"): 1,
            ("vast", "GET", "/api/v0/instances"): 1,
            ("runpod", "POST", "query Me"): 1,
        }
    )


def test_the_sdk_requests_are_counted_by_route(demo: DemoCloud) -> None:
    sdk = VastAI(VAST_DEMO_KEY, server_url=demo.vast_url)
    sdk.show_instances()
    offers = sdk.search_offers(query="num_gpus=1", limit=1)
    assert offers
    counted = demo.requests
    assert sum(counted.values()) == demo.request_count("vast") >= 2
    assert {api for api, _method, _route in counted} == {"vast"}
    assert counted[("vast", "POST", "/api/v0/bundles")] == 1


def test_counting_is_exact_under_concurrent_requests(demo: DemoCloud) -> None:
    def poll() -> None:
        for _ in range(5):
            assert vast(demo, "GET", "/api/v0/users/current/").ok
            assert gql(demo, "query Me { myself { id } }").ok

    threads = [threading.Thread(target=poll) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert demo.request_count("vast") == 30 and demo.request_count("runpod") == 30
    assert demo.requests[("runpod", "POST", "query Me")] == 30


# ---------------------------------------------------------------------------
# Emulator failures
# ---------------------------------------------------------------------------


def test_an_emulator_bug_is_logged_and_marked(
    demo: DemoCloud, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: SimCloud, platform: str) -> None:
        raise RuntimeError(f"ledger for {platform} is missing")

    monkeypatch.setattr(SimCloud, "account", broken)
    with caplog.at_level(logging.ERROR, logger=SERVER_LOG):
        vast_answer = vast(demo, "GET", "/api/v0/users/current/")
        runpod_answer = gql(demo, "{ myself { clientBalance } }")
        monkeypatch.setattr(SimCloud, "instances", broken)
        rest_answer = rest(demo, "GET", "/v2/pods")

    assert vast_answer.status_code == 500
    assert vast_answer.headers[INTERNAL_ERROR_HEADER] == "1"
    assert vast_answer.json() == {
        "success": False,
        "error": "server_error",
        "msg": "demo cloud internal error: RuntimeError: ledger for vast is missing",
    }
    assert runpod_answer.status_code == 500
    assert runpod_answer.headers[INTERNAL_ERROR_HEADER] == "1"
    assert runpod_answer.json()["errors"][0]["message"] == (
        "demo cloud internal error: RuntimeError: ledger for runpod is missing"
    )
    assert rest_answer.status_code == 500 and rest_answer.headers[INTERNAL_ERROR_HEADER] == "1"
    assert rest_answer.headers["Content-Type"] == "application/problem+json"
    assert rest_answer.json()["detail"] == (
        "demo cloud internal error: RuntimeError: ledger for runpod is missing"
    )

    failures = [r for r in caplog.records if r.name == SERVER_LOG and r.levelno == logging.ERROR]
    assert len(failures) == 3
    for record, platform in zip(failures[:2], ("vast", "runpod"), strict=True):
        assert record.exc_info is not None
        exc = record.exc_info[1]
        assert isinstance(exc, RuntimeError) and f"ledger for {platform}" in str(exc)
        assert f"demo {platform} API failed" in record.getMessage()


def test_a_request_shape_the_handler_does_not_expect_is_an_internal_error(
    demo: DemoCloud, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger=SERVER_LOG):
        answer = vast(demo, "PUT", "/api/v0/instances/", json={"ids": 5, "state": "stopped"})
    assert answer.status_code == 500 and answer.headers[INTERNAL_ERROR_HEADER] == "1"
    assert "demo cloud internal error" in answer.json()["msg"]
    assert any(r.exc_info for r in caplog.records if r.levelno == logging.ERROR)


def test_injected_faults_are_not_internal_errors(
    demo: DemoCloud, caplog: pytest.LogCaptureFixture
) -> None:
    demo.set_faults("*:error=500")
    with caplog.at_level(logging.DEBUG, logger=SERVER_LOG):
        vast_answer = vast(demo, "GET", "/api/v0/users/current/")
        runpod_answer = gql(demo, "{ myself { id } }")
    for answer in (vast_answer, runpod_answer):
        assert answer.status_code == 500
        assert INTERNAL_ERROR_HEADER not in answer.headers
        assert "demo cloud internal error" not in answer.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# ---------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------


def test_access_logs_go_to_the_logger_not_stderr(
    demo: DemoCloud, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.DEBUG, logger=SERVER_LOG):
        answer = requests.get(
            demo.vast_url + "/api/v0/users/current/",
            params={"api_key": VAST_DEMO_KEY},
            timeout=10,
        )
        assert answer.ok
        assert vast(demo, "GET", "/nowhere").status_code == 404
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    lines = [r.getMessage() for r in caplog.records if r.name == SERVER_LOG]
    assert "demo vast API: GET /api/v0/users/current/ -> 200" in lines
    assert "demo vast API: GET /nowhere -> 404" in lines
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == SERVER_LOG)
    assert not any(VAST_DEMO_KEY in line for line in lines)
