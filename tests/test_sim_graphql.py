"""The demo cloud's GraphQL engine and RunPod's trimmed GraphQL API (the account only)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from graphql import GraphQLError, build_schema, parse, validate

from vp_tui.sim.graphql import RUNPOD_SCHEMA, Refusal, operation_label, run_request
from vp_tui.sim.server import RUNPOD_DEMO_KEY, DemoCloud

T0 = 1_780_000_000.0

ACCOUNT_QUERY = (
    "query Account { myself { id email clientBalance currentSpendPerHr clientLifetimeSpend "
    "spendLimit underBalance minBalance } }"
)

TOY_SCHEMA = build_schema(
    """
    type Query { item(input: ItemFilter!): Item }
    type Mutation { drop(input: ItemFilter!): Item }
    input ItemFilter { id: String! }
    type Item { id: String size: Int }
    """
)
"""A small schema with arguments and a mutation, for the engine's own tests."""


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


def error_of(response: requests.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["errors"][0]
    return error


def test_the_account_query_is_valid_and_nothing_else_is_served() -> None:
    assert validate(RUNPOD_SCHEMA, parse(ACCOUNT_QUERY)) == []
    for gone in (
        "{ myself { pubKey } }",
        "{ myself { pods { id } } }",
        '{ pod(input: {podId: "x"}) { id } }',
        "{ gpuTypes { id } }",
        'mutation { podStop(input: {podId: "x"}) { id } }',
    ):
        assert validate(RUNPOD_SCHEMA, parse(gone)) != [], gone


def test_the_account_answers_balance_and_spend(demo: DemoCloud) -> None:
    answer = post(demo, ACCOUNT_QUERY)
    assert answer.status_code == 200
    me = answer.json()["data"]["myself"]
    assert me["clientBalance"] == 25.0 and me["currentSpendPerHr"] == 0.0
    assert me["email"] == "demo@vp-tui.invalid" and me["underBalance"] is False


def test_fragments_aliases_and_directives(demo: DemoCloud) -> None:
    query = """
    query One($skip: Boolean!) {
      me: myself { ...Basics email @skip(if: $skip) }
    }
    fragment Basics on User { __typename id }
    query Other { myself { spendLimit } }
    """
    answer = post(demo, query, operationName="One", variables={"skip": True})
    assert answer.status_code == 200
    me = answer.json()["data"]["me"]
    assert me["__typename"] == "User" and me["id"] and "email" not in me
    other = post(demo, query, operationName="Other").json()
    assert other["data"]["myself"]["spendLimit"] == 80


def test_requests_that_do_not_parse_or_validate_answer_400(demo: DemoCloud) -> None:
    syntax = post(demo, "{\n  myself {\n    id\n")
    assert syntax.status_code == 400 and "data" not in syntax.json()
    assert error_of(syntax)["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert error_of(syntax)["message"].startswith("Syntax Error")
    assert error_of(syntax)["locations"] == [{"line": 4, "column": 1}]

    for query, words in (
        ("{ myself { nonsense } }", "Cannot query field"),
        ("{ myself }", "must have a selection"),
        ("{ myself { id { x } } }", "must not have a selection"),
        ("{ pods { id } }", "Cannot query field"),
        ("query Q($x: Boolean) { myself { id @skip(if: $x) } }", "$x"),
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
        demo, "query Q($x: Boolean!) { myself { id @skip(if: $x) } }", variables={"x": "yes"}
    )
    assert bad_variable.status_code == 400
    assert error_of(bad_variable)["extensions"]["code"] == "BAD_USER_INPUT"
    not_an_object = post(demo, "{ myself { id } }", variables=[1])
    assert not_an_object.status_code == 400
    mutation = post(demo, 'mutation { podStop(input: {podId: "x"}) { id } }')
    assert mutation.status_code == 400


def test_get_serves_queries(demo: DemoCloud) -> None:
    url = demo.runpod_url + "/graphql"
    params = {
        "api_key": RUNPOD_DEMO_KEY,
        "query": "query Me($x: Boolean!) { myself { id @skip(if: $x) email } }",
        "variables": json.dumps({"x": True}),
    }
    got = requests.get(url, params=params, timeout=10)
    assert got.status_code == 200
    assert got.json() == {"data": {"myself": {"email": "demo@vp-tui.invalid"}}}


def test_the_engine_runs_variables_and_refuses_mutations_over_get() -> None:
    root = {"item": lambda _info, **args: {"id": args["input"]["id"], "size": 3}}
    query = "query Q($id: String!) { a: item(input: {id: $id}) { id size } }"
    answer = run_request(TOY_SCHEMA, query, root=root, variables={"id": "x"})
    assert answer.status == 200 and answer.payload == {"data": {"a": {"id": "x", "size": 3}}}
    bad = run_request(TOY_SCHEMA, query, root=root, variables={"id": 7})
    assert bad.status == 400 and bad.payload["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    refused = run_request(
        TOY_SCHEMA, 'mutation { drop(input: {id: "x"}) { id } }', root={}, allow_mutations=False
    )
    assert refused.status == 405 and "POST" in refused.payload["errors"][0]["message"]


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
    assert operation_label(ACCOUNT_QUERY) == "query Account"
    assert operation_label('mutation { podStop(input: {podId: "x"}) { id } }') == (
        "mutation podStop"
    )
    assert operation_label("{ myself { id } gpuTypes { id } }") == "query myself,gpuTypes"
    assert operation_label("query A { a } query B { b }", "B") == "query B"
    assert operation_label("query A { a } query B { b }") == "invalid"
    assert operation_label("{ broken") == "invalid"
