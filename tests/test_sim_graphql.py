"""The RunPod emulator's GraphQL: the schema, what clients send, and GraphQL-shaped errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from graphql import GraphQLError, parse, validate
from runpod.api.mutations import pods as sdk_pod_mutations
from runpod.api.mutations import user as sdk_user_mutations
from runpod.api.queries import gpus as sdk_gpu_queries
from runpod.api.queries import pods as sdk_pod_queries
from runpod.api.queries import user as sdk_user_queries

from vp_tui.platforms.runpod import gpu_types_query, pod_query, spot_mutation
from vp_tui.sim.graphql import RUNPOD_SCHEMA, Refusal, operation_label, run_request
from vp_tui.sim.server import RUNPOD_DEMO_KEY, DemoCloud

T0 = 1_780_000_000.0


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoCloud]:
    with DemoCloud(tmp_path / "demo", boot_seconds=1, faults="", clock=lambda: T0) as cloud:
        yield cloud


def post(demo: DemoCloud, query: str, **extra: Any) -> requests.Response:
    return requests.post(
        demo.runpod_url + "/graphql",
        json={"query": query, **extra},
        headers={"Authorization": f"Bearer {RUNPOD_DEMO_KEY}"},
        timeout=10,
    )


def deploy(demo: DemoCloud) -> str:
    mutation = (
        'mutation { podFindAndDeployOnDemand(input: {name: "g", imageName: "img", '
        'gpuTypeId: "NVIDIA RTX A4000", cloudType: ALL, gpuCount: 1}) { id } }'
    )
    pod_id: str = post(demo, mutation).json()["data"]["podFindAndDeployOnDemand"]["id"]
    return pod_id


def error_of(response: requests.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["errors"][0]
    return error


def sdk_texts() -> list[str]:
    """Every query and mutation text the runpod SDK sends for pods, GPUs and the account."""
    return [
        sdk_gpu_queries.QUERY_GPU_TYPES,
        sdk_gpu_queries.generate_gpu_query("NVIDIA GeForce RTX 4090", 2),
        sdk_pod_queries.QUERY_POD,
        sdk_pod_queries.generate_pod_query("abc123"),
        sdk_user_queries.QUERY_USER,
        sdk_pod_mutations.generate_pod_deployment_mutation(
            name="n",
            image_name="img",
            gpu_type_id="NVIDIA GeForce RTX 4090",
            cloud_type="SECURE",
            data_center_id="EU-RO-1",
            country_code="RO",
            gpu_count=2,
            volume_in_gb=20,
            container_disk_in_gb=10,
            min_vcpu_count=4,
            min_memory_in_gb=16,
            docker_args="bash",
            ports="22/tcp, 8888/http",
            volume_mount_path="/workspace",
            env={"A": "1"},
            template_id="t",
            network_volume_id="v",
            allowed_cuda_versions=["12.4"],
            min_download=100,
            min_upload=100,
        ),
        sdk_pod_mutations.generate_pod_deployment_mutation(name="n", image_name="img"),
        sdk_pod_mutations.generate_pod_stop_mutation("abc123"),
        sdk_pod_mutations.generate_pod_resume_mutation("abc123", 1),
        sdk_pod_mutations.generate_pod_terminate_mutation("abc123"),
        sdk_user_mutations.generate_user_mutation("ssh-ed25519 AAAA one\nssh-rsa BBBB two"),
    ]


def adapter_texts() -> list[str]:
    """The query texts vp-tui's own RunPod adapter builds."""
    return [
        gpu_types_query(4),
        pod_query("abc123"),
        spot_mutation(
            bid_per_gpu=0.2,
            cloud="COMMUNITY",
            gpu_type_id="NVIDIA GeForce RTX 4090",
            gpu_count=1,
            name="spot",
            image="img",
            container_disk_gb=10,
            volume_gb=20,
            ports="22/tcp",
            env={"A": 'quoted "value"\n'},
        ),
    ]


@pytest.mark.parametrize("text", sdk_texts() + adapter_texts())
def test_what_clients_send_is_valid_against_the_schema(text: str) -> None:
    assert validate(RUNPOD_SCHEMA, parse(text)) == []


def test_variables_fragments_aliases_and_directives(demo: DemoCloud) -> None:
    pod_id = deploy(demo)
    query = """
    query One($id: String!, $withMachine: Boolean!) {
      first: pod(input: {podId: $id}) { ...Basics machine @include(if: $withMachine) { podHostId } }
      missing: pod(input: {podId: "nope"}) { id }
    }
    fragment Basics on Pod { __typename id desiredStatus }
    query Other { myself { id } }
    """
    answer = post(demo, query, operationName="One", variables={"id": pod_id, "withMachine": False})
    assert answer.status_code == 200
    assert answer.json() == {
        "data": {
            "first": {"__typename": "Pod", "id": pod_id, "desiredStatus": "RUNNING"},
            "missing": None,
        }
    }
    other = post(demo, query, operationName="Other").json()
    assert other["data"]["myself"]["id"]


def test_requests_that_do_not_parse_or_validate_answer_400(demo: DemoCloud) -> None:
    syntax = post(demo, "{\n  myself {\n    id\n")
    assert syntax.status_code == 400 and "data" not in syntax.json()
    assert error_of(syntax)["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert error_of(syntax)["message"].startswith("Syntax Error")
    assert error_of(syntax)["locations"] == [{"line": 4, "column": 1}]

    for query, words in (
        ("{ myself { nonsense } }", "Cannot query field"),
        ("{ pod { id } }", "PodFilter!"),
        ("{ pod(input: {}) { id } }", "podId"),
        ('{ pod(input: {podId: "x", colour: "red"}) { id } }', "colour"),
        ("{ gpuTypes }", "must have a selection"),
        ("{ myself { id { x } } }", "must not have a selection"),
        ('mutation { podStop(input: {podId: "x"}) }', "must have a selection"),
        (
            'mutation { podFindAndDeployOnDemand(input: {cloudType: CHEAP, gpuTypeId: "x"})'
            " { id } }",
            "CHEAP",
        ),
        (
            'mutation { podFindAndDeployOnDemand(input: {env: ["A=1"]}) { id } }',
            "EnvironmentVariableInput",
        ),
        ("query Q($id: String) { pod(input: {podId: $id}) { id } }", "$id"),
    ):
        answer = post(demo, query)
        assert answer.status_code == 400, query
        assert error_of(answer)["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", query
        assert words in error_of(answer)["message"], query

    two = post(demo, "query A { myself { id } } query B { myself { email } }")
    assert two.status_code == 400
    assert error_of(two)["extensions"]["code"] == "OPERATION_RESOLUTION_FAILURE"
    unknown = post(demo, "query A { myself { id } }", operationName="Z")
    assert unknown.status_code == 400 and "Z" in error_of(unknown)["message"]

    bad_variable = post(
        demo, "query Q($id: String!) { pod(input: {podId: $id}) { id } }", variables={"id": 7}
    )
    assert bad_variable.status_code == 400
    assert error_of(bad_variable)["extensions"]["code"] == "BAD_USER_INPUT"
    not_an_object = post(demo, "{ myself { id } }", variables=[1])
    assert not_an_object.status_code == 400


def test_refusals_come_back_beside_the_data(demo: DemoCloud) -> None:
    answer = post(demo, 'mutation { podStop(input: {podId: "nope"}) { id } }')
    assert answer.status_code == 200
    assert answer.json()["data"] == {"podStop": None}
    assert error_of(answer)["message"] == "Pod not found."
    assert error_of(answer)["path"] == ["podStop"]
    cpu = post(demo, 'mutation { deployCpuPod(input: {name: "c", imageName: "i"}) { id } }')
    assert "CPU pods" in error_of(cpu)["message"]
    low_bid = post(
        demo,
        "mutation { podRentInterruptable(input: {bidPerGpu: 0.01, gpuTypeId: "
        '"NVIDIA RTX A4000", imageName: "img", cloudType: COMMUNITY}) { id } }',
    )
    assert "below the current minimum bid" in error_of(low_bid)["message"]


def test_get_serves_queries_and_refuses_mutations(demo: DemoCloud) -> None:
    url = demo.runpod_url + "/graphql"
    params = {
        "api_key": RUNPOD_DEMO_KEY,
        "query": "query Me($x: Boolean!) { myself { id @skip(if: $x) email } }",
        "variables": json.dumps({"x": True}),
    }
    got = requests.get(url, params=params, timeout=10)
    assert got.status_code == 200
    assert got.json() == {"data": {"myself": {"email": "demo@vp-tui.invalid"}}}
    mutation = 'mutation { podTerminate(input: {podId: "x"}) }'
    refused = requests.get(url, params={"api_key": RUNPOD_DEMO_KEY, "query": mutation}, timeout=10)
    assert refused.status_code == 405 and refused.headers["Allow"] == "POST"
    assert "POST" in error_of(refused)["message"]


def test_run_request_tells_refusals_from_bugs() -> None:
    def refuse(_info: Any) -> None:
        raise Refusal("no account here")

    refused = run_request(RUNPOD_SCHEMA, "{ myself { id } }", root={"myself": refuse})
    assert refused.status == 200
    assert refused.payload == {
        "data": {"myself": None},
        "errors": [
            {"message": "no account here", "locations": [{"line": 1, "column": 3}],
             "path": ["myself"]},
        ],
    }  # fmt: skip

    def broken(_info: Any) -> None:
        raise KeyError("oops")

    with pytest.raises(KeyError, match="oops"):
        run_request(RUNPOD_SCHEMA, "{ myself { id } }", root={"myself": broken})
    with pytest.raises(GraphQLError, match="Int cannot represent"):
        run_request(
            RUNPOD_SCHEMA, "{ myself { spendLimit } }", root={"myself": {"spendLimit": "lots"}}
        )

    class Declined(Exception):
        pass

    def decline(_info: Any) -> None:
        raise Declined("not today")

    declined = run_request(
        RUNPOD_SCHEMA, "{ myself { id } }", root={"myself": decline}, refusals=(Declined,)
    )
    assert declined.payload["errors"][0]["message"] == "not today"


def test_operation_labels() -> None:
    assert operation_label(sdk_pod_queries.QUERY_POD) == "query myPods"
    assert operation_label(sdk_pod_mutations.generate_pod_stop_mutation("x")) == "mutation podStop"
    assert operation_label("{ myself { id } gpuTypes { id } }") == "query myself,gpuTypes"
    assert operation_label("query A { a } query B { b }", "B") == "query B"
    assert operation_label("query A { a } query B { b }") == "invalid"
    assert operation_label("{ broken") == "invalid"
