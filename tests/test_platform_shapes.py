"""Answers of the wrong shape are errors, never "nothing there".

A listing that is not a listing, a lookup that is not a lookup, a search without
its offers: each adapter, through its real SDK against the demo cloud, must raise
a ``PlatformError`` (not ``NotFound``) for these, so that an empty account, a
gone instance or an empty market is only ever read from an answer that says so.
The emulators are made to answer HTTP 200 with the wrong body by wrapping their
own ``handle`` for one route.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from vp_tui.config import RunPodSettings, VastSettings
from vp_tui.core.models import InstanceState, LaunchSpec
from vp_tui.platforms.base import NotFound, OfferQuery, PlatformError
from vp_tui.platforms.runpod import RunPodPlatform
from vp_tui.platforms.vast import VastPlatform
from vp_tui.services.fleet import DestroyUnverified, Fleet
from vp_tui.sim.faults import HttpResponse
from vp_tui.sim.server import RUNPOD_DEMO_KEY, VAST_DEMO_KEY, DemoCloud

VAST_LIST = ("GET", "/api/v1/instances")
VAST_SHOW = ("GET", "/api/v0/instances/{id}")
VAST_SEARCH = ("POST", "/api/v0/bundles")
RUNPOD_PODS = ("GET", "/v2/pods")
RUNPOD_POD = ("GET", "/v2/pods/{id}")
RUNPOD_GPU_TYPES = ("GET", "/v2/catalog/gpus")

pytest_plugins = ["shared_demo"]


@pytest.fixture
def vast(cloud: DemoCloud) -> VastPlatform:
    return VastPlatform(
        VastSettings.model_validate(
            {
                "api_key": SecretStr(VAST_DEMO_KEY),
                "api_url": cloud.vast_url,
                "timeout_seconds": 5.0,
                "max_price_per_hour": 0.5,
            }
        )
    )


@pytest.fixture
def runpod(cloud: DemoCloud) -> RunPodPlatform:
    return RunPodPlatform(
        RunPodSettings.model_validate(
            {
                "api_key": SecretStr(RUNPOD_DEMO_KEY),
                "api_url": cloud.runpod_url,
                "cloud_type": "ALL",
                "max_price_per_hour": 0.5,
            }
        )
    )


def answer_with(
    monkeypatch: pytest.MonkeyPatch,
    api: Any,
    route: tuple[str, str],
    body: Any,
    *,
    status: int = 200,
) -> None:
    """Make the emulator ``api`` answer ``body`` on ``route`` (method, route name) only."""
    original = api.handle
    method, name = route

    def handle(req: Any) -> HttpResponse:
        if req.method == method and api.route(req) == name:
            return HttpResponse.json_body(status, body)
        return original(req)

    monkeypatch.setattr(api, "handle", handle)


def assert_malformed(error: BaseException) -> None:
    assert isinstance(error, PlatformError)
    assert not isinstance(error, NotFound)
    assert "malformed answer" in str(error)


# ------------------------------------------------------------------------------ Vast.ai

VAST_BAD_LISTINGS = [
    {},
    {"instances": None},
    {"instances": {}},
    {"instances": "none"},
    {"success": True},
    [],
    None,
]


@pytest.mark.parametrize("body", VAST_BAD_LISTINGS, ids=repr)
def test_vast_listing_without_instances_is_an_error(
    monkeypatch: pytest.MonkeyPatch, cloud: DemoCloud, vast: VastPlatform, body: Any
) -> None:
    answer_with(monkeypatch, cloud.vast_api, VAST_LIST, body)
    with pytest.raises(PlatformError) as caught:
        vast.list_instances()
    assert_malformed(caught.value)


def test_vast_listing_with_a_bad_later_page_is_an_error(
    monkeypatch: pytest.MonkeyPatch, cloud: DemoCloud, vast: VastPlatform
) -> None:
    api = cloud.vast_api
    original = api.handle

    def handle(req: Any) -> HttpResponse:
        if req.method == "GET" and api.route(req) == VAST_LIST[1]:
            if req.query.get("after_token"):
                return HttpResponse.json_body(200, {"next_token": None})
            return HttpResponse.json_body(200, {"instances": [], "next_token": "page-2"})
        return original(req)

    monkeypatch.setattr(api, "handle", handle)
    with pytest.raises(PlatformError) as caught:
        vast.list_instances()
    assert_malformed(caught.value)


def test_vast_empty_listing_is_still_empty(vast: VastPlatform) -> None:
    assert vast.list_instances() == []


VAST_BAD_LOOKUPS = [
    {},
    {"instances": []},
    {"instances": "gone"},
    {"instances": 5},
    {"instance": None},
    {"success": True},
    [],
    None,
]


@pytest.mark.parametrize("body", VAST_BAD_LOOKUPS, ids=repr)
def test_vast_lookup_of_the_wrong_shape_is_an_error_not_gone(
    monkeypatch: pytest.MonkeyPatch, cloud: DemoCloud, vast: VastPlatform, body: Any
) -> None:
    answer_with(monkeypatch, cloud.vast_api, VAST_SHOW, body)
    with pytest.raises(PlatformError) as caught:
        vast.get_instance("123")
    assert_malformed(caught.value)


def test_vast_lookup_refused_is_an_error_not_gone(
    monkeypatch: pytest.MonkeyPatch, cloud: DemoCloud, vast: VastPlatform
) -> None:
    body = {"success": False, "error": "invalid_args", "msg": "try later"}
    answer_with(monkeypatch, cloud.vast_api, VAST_SHOW, body)
    with pytest.raises(PlatformError) as caught:
        vast.get_instance("123")
    assert not isinstance(caught.value, NotFound)
    assert "try later" in str(caught.value)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"instances": None}, 200),
        ({"success": False, "error": "no_such_instance", "msg": "Instance not found"}, 200),
        ({"success": False, "error": "not_found", "msg": "Not found"}, 404),
    ],
    ids=["instances-null", "no_such_instance", "http-404"],
)
def test_vast_lookup_not_found_is_gone(
    monkeypatch: pytest.MonkeyPatch, cloud: DemoCloud, vast: VastPlatform, body: Any, status: int
) -> None:
    answer_with(monkeypatch, cloud.vast_api, VAST_SHOW, body, status=status)
    assert vast.get_instance("123") is None


VAST_BAD_SEARCHES = [
    {},
    {"offers": None},
    {"offers": {}},
    {"offers": "none"},
    [],
]


@pytest.mark.parametrize("body", VAST_BAD_SEARCHES, ids=repr)
def test_vast_search_without_offers_is_an_error(
    monkeypatch: pytest.MonkeyPatch, cloud: DemoCloud, vast: VastPlatform, body: Any
) -> None:
    answer_with(monkeypatch, cloud.vast_api, VAST_SEARCH, body)
    for interruptible in (False, True, None):
        with pytest.raises(PlatformError) as caught:
            vast.list_offers(OfferQuery(interruptible=interruptible))
        assert_malformed(caught.value)


def test_vast_search_with_no_offers_is_empty(
    monkeypatch: pytest.MonkeyPatch, cloud: DemoCloud, vast: VastPlatform
) -> None:
    answer_with(monkeypatch, cloud.vast_api, VAST_SEARCH, {"offers": []})
    assert vast.list_offers(OfferQuery()) == []


# ------------------------------------------------------------------------------ RunPod

RUNPOD_BAD_LISTINGS = [
    {},
    {"pods": None},
    {"pods": {}},
    {"pods": "none"},
    {"data": {"myself": {"pods": []}}},
    {"pods": [], "pagination": {"hasNextPage": True, "nextCursor": None}},
    [],
]


@pytest.mark.parametrize("body", RUNPOD_BAD_LISTINGS, ids=repr)
def test_runpod_listing_without_pods_is_an_error(
    monkeypatch: pytest.MonkeyPatch, cloud: DemoCloud, runpod: RunPodPlatform, body: Any
) -> None:
    answer_with(monkeypatch, cloud.runpod_api, RUNPOD_PODS, body)
    with pytest.raises(PlatformError) as caught:
        runpod.list_instances()
    assert_malformed(caught.value)


def test_runpod_empty_listing_is_still_empty(runpod: RunPodPlatform) -> None:
    assert runpod.list_instances() == []


RUNPOD_BAD_LOOKUPS = [
    {},
    {"pod": None},
    {"id": None, "status": "RUNNING"},
    [],
    "gone",
]


@pytest.mark.parametrize("body", RUNPOD_BAD_LOOKUPS, ids=repr)
def test_runpod_lookup_of_the_wrong_shape_is_an_error_not_gone(
    monkeypatch: pytest.MonkeyPatch, cloud: DemoCloud, runpod: RunPodPlatform, body: Any
) -> None:
    answer_with(monkeypatch, cloud.runpod_api, RUNPOD_POD, body)
    with pytest.raises(PlatformError) as caught:
        runpod.get_instance("nosuchpod000")
    assert_malformed(caught.value)


def test_runpod_404_is_gone(runpod: RunPodPlatform) -> None:
    assert runpod.get_instance("nosuchpod000") is None


RUNPOD_BAD_SEARCHES = [
    {},
    {"gpus": None},
    {"gpus": {}},
    {"data": {"gpuTypes": []}},
    [],
]


@pytest.mark.parametrize("body", RUNPOD_BAD_SEARCHES, ids=repr)
def test_runpod_search_without_gpu_types_is_an_error(
    monkeypatch: pytest.MonkeyPatch, cloud: DemoCloud, runpod: RunPodPlatform, body: Any
) -> None:
    answer_with(monkeypatch, cloud.runpod_api, RUNPOD_GPU_TYPES, body)
    with pytest.raises(PlatformError) as caught:
        runpod.list_offers(OfferQuery())
    assert_malformed(caught.value)


# ------------------------------------------------------------------------------ destroy


def test_vast_destroy_against_a_wrong_shaped_listing_is_unverified(
    monkeypatch: pytest.MonkeyPatch, cloud: DemoCloud, vast: VastPlatform
) -> None:
    offer = vast.list_offers(OfferQuery(interruptible=False, max_price_per_hour=0.2))[0]
    created = vast.create_instance(offer, LaunchSpec(image="busybox", label="shape"))
    answer_with(monkeypatch, cloud.vast_api, VAST_LIST, {"success": True})
    fleet = Fleet({"vast": vast}, sleep=lambda _seconds: None)
    with pytest.raises(DestroyUnverified) as caught:
        fleet.destroy(created.instance_id, "vast", timeout=0.0, poll_seconds=0.0)
    assert "could not be verified" in str(caught.value)
    assert "malformed answer" in str(caught.value)


def test_runpod_destroy_against_a_wrong_shaped_listing_is_unverified(
    monkeypatch: pytest.MonkeyPatch, cloud: DemoCloud, runpod: RunPodPlatform
) -> None:
    query = OfferQuery(gpus=("RTX 4000 Ada",), interruptible=False)
    offer = next(o for o in runpod.list_offers(query) if o.cloud == "COMMUNITY")
    created = runpod.create_instance(offer, LaunchSpec(image="busybox", label="shape"))
    answer_with(monkeypatch, cloud.runpod_api, RUNPOD_PODS, {"pods": None})
    fleet = Fleet({"runpod": runpod}, sleep=lambda _seconds: None)
    with pytest.raises(DestroyUnverified) as caught:
        fleet.destroy(created.instance_id, "runpod", timeout=0.0, poll_seconds=0.0)
    assert "malformed answer" in str(caught.value)


def test_destroy_with_a_good_listing_is_verified(vast: VastPlatform) -> None:
    offer = vast.list_offers(OfferQuery(interruptible=False, max_price_per_hour=0.2))[0]
    created = vast.create_instance(offer, LaunchSpec(image="busybox", label="shape"))
    fleet = Fleet({"vast": vast}, sleep=lambda _seconds: None)
    fleet.destroy(created.instance_id, "vast", timeout=10.0, poll_seconds=0.0)
    found = vast.get_instance(created.instance_id)
    assert found is None or found.state is InstanceState.TERMINATED
