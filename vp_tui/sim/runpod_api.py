"""RunPod's API on one base URL, as ``https://api.runpod.io`` serves it: REST v2 under
``/v2/`` (:mod:`vp_tui.sim.runpod_rest`) and the GraphQL API at ``/graphql``.

GraphQL only serves what has no REST v2 route: the account (``myself { clientBalance
currentSpendPerHr ... }``). The ``nographql`` fault makes ``/graphql`` answer
``410 Gone``, as RunPod will once GraphQL is retired.
"""

from __future__ import annotations

import json
from typing import Any

from vp_tui.sim.cloud import SimCloud, SimError
from vp_tui.sim.faults import HttpRequest, HttpResponse
from vp_tui.sim.graphql import RUNPOD_SCHEMA, operation_label, run_request
from vp_tui.sim.market import RUNPOD_DATACENTERS
from vp_tui.sim.rest_problems import problem
from vp_tui.sim.runpod_rest import RunPodRestV2

USER_ID = "user_2demoVpTuiAccount0000000"
_DATACENTERS = RUNPOD_DATACENTERS
"""RunPod's data centres in the demo: ``(id, name, country code)``."""
GRAPHQL_GONE = (
    "The GraphQL API is retired: use the REST API v2 (https://api.runpod.io/v2, "
    "https://api.runpod.io/v2)."
)

_HTML_5XX = """<!DOCTYPE html>
<html>
<head><title>{status} {reason}</title></head>
<body>
<h1>{status} {reason}</h1>
<p>The server encountered a temporary error and could not complete your request.</p>
<hr><p>cloudflare</p>
</body>
</html>
"""
_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _gql_errors(status: int, message: str) -> HttpResponse:
    return HttpResponse.json_body(status, {"errors": [{"message": message}], "data": None})


def is_rest(req: HttpRequest | None) -> bool:
    """Whether a request addresses REST v2 (``/v2/...``) rather than GraphQL."""
    return req is not None and (req.path == "/v2" or req.path.startswith("/v2/"))


def _is_graphql(req: HttpRequest) -> bool:
    return req.path.rstrip("/") == "/graphql"


class RunPodAPI:
    """RunPod's REST v2 and GraphQL APIs over a :class:`SimCloud`."""

    platform = "runpod"

    def __init__(self, cloud: SimCloud, api_key: str) -> None:
        self.cloud = cloud
        self._api_key = api_key
        self.rest = RunPodRestV2(cloud, api_key)
        self._root: dict[str, Any] = {"myself": lambda _info: self._user()}

    # -- plumbing ------------------------------------------------------------------

    def unauthorized(self, req: HttpRequest | None = None) -> HttpResponse:
        """RunPod's answer to a missing or wrong API key: a problem body on REST v2, a
        GraphQL error otherwise."""
        if is_rest(req):
            return self.rest.unauthorized()
        return _gql_errors(401, "Unauthorized")

    def rate_limited(self, req: HttpRequest | None = None) -> HttpResponse:
        """RunPod's 429 (REST v2: a problem body with ``Retry-After`` and ``RateLimit``)."""
        if is_rest(req):
            return self.rest.rate_limited()
        response = _gql_errors(429, "Too many requests: slow down and try again shortly.")
        response.headers["Retry-After"] = "1"
        return response

    def error_response(self, status: int, req: HttpRequest | None = None) -> HttpResponse:
        """What RunPod's edge answers with ``status``: an HTML page for 5xx; otherwise a
        problem body on REST v2, a GraphQL error on GraphQL."""
        if status == 401:
            return self.unauthorized(req)
        if status == 429:
            return self.rate_limited(req)
        reason = _REASONS.get(status, "Error")
        if status >= 500:
            return HttpResponse.text(
                status, _HTML_5XX.format(status=status, reason=reason), "text/html; charset=UTF-8"
            )
        if is_rest(req):
            return problem(status, f"{status} {reason}")
        return _gql_errors(status, f"{status} {reason}")

    def internal_error(self, detail: str, req: HttpRequest | None = None) -> HttpResponse:
        """The answer when the emulator itself failed, naming the demo cloud: a problem
        body on REST v2, a GraphQL error otherwise."""
        message = f"demo cloud internal error: {detail}"
        if is_rest(req):
            return problem(500, message)
        return HttpResponse.json_body(
            500,
            {
                "errors": [{"message": message, "extensions": {"code": "INTERNAL_SERVER_ERROR"}}],
                "data": None,
            },
        )

    @staticmethod
    def _operation(req: HttpRequest) -> dict[str, Any] | HttpResponse:
        """The request's ``query``, ``operationName`` and ``variables``, or the 400 to answer."""
        if req.method == "GET":
            body: Any = {
                "query": req.query.get("query", ""),
                "operationName": req.query.get("operationName"),
                "variables": req.query.get("variables") or None,
            }
            if body["variables"] is not None:
                try:
                    body["variables"] = json.loads(body["variables"])
                except ValueError:
                    return _gql_errors(400, "`variables` in the URL is not valid JSON.")
        else:
            try:
                body = req.json()
            except ValueError:
                return _gql_errors(400, "POST body sent invalid JSON.")
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _gql_errors(400, "GraphQL operations must contain a non-empty `query`.")
        if not body["query"].strip():
            return _gql_errors(400, "GraphQL operations must contain a non-empty `query`.")
        if body.get("variables") is not None and not isinstance(body["variables"], dict):
            return _gql_errors(400, "`variables` in a POST body should be an object.")
        name = body.get("operationName")
        if name is not None and not isinstance(name, str):
            return _gql_errors(400, "`operationName` in a POST body should be a string.")
        return body

    def route(self, req: HttpRequest) -> str:
        """What a request asks, for counting: a REST v2 route (``/v2/pods/{id}``), a
        GraphQL operation (``query Account``), or the path."""
        if is_rest(req):
            return self.rest.route(req)
        if not _is_graphql(req):
            return req.path
        body = self._operation(req)
        if isinstance(body, HttpResponse):
            return "invalid"
        return operation_label(body["query"], body.get("operationName"))

    def handle(self, req: HttpRequest) -> HttpResponse:
        """Answer one request."""
        if is_rest(req):
            return self.rest.handle(req)
        if not _is_graphql(req):
            return HttpResponse.text(404, "404 page not found")
        if req.nographql:
            return problem(410, GRAPHQL_GONE)
        return self._graphql(req)

    def _graphql(self, req: HttpRequest) -> HttpResponse:
        if req.method not in ("POST", "GET"):
            return _gql_errors(405, "GraphQL only supports GET and POST requests.")
        if req.bearer() != self._api_key:
            return self.unauthorized(req)
        body = self._operation(req)
        if isinstance(body, HttpResponse):
            return body
        answer = run_request(
            RUNPOD_SCHEMA,
            body["query"],
            root=self._root,
            context=req,
            operation_name=body.get("operationName"),
            variables=body.get("variables"),
            allow_mutations=req.method == "POST",
            refusals=(SimError,),
        )
        response = HttpResponse.json_body(answer.status, answer.payload)
        if answer.status == 405:
            response.headers["Allow"] = "POST"
        return response

    # -- objects -------------------------------------------------------------------

    def _user(self) -> dict[str, Any]:
        """The account: balance, spend (stopped pods' storage included) and limits."""
        account = self.cloud.account("runpod")
        return {
            "id": USER_ID,
            "email": "demo@vp-tui.invalid",
            "clientBalance": round(account.remaining, 4),
            "currentSpendPerHr": round(account.spend_per_hour, 4),
            "clientLifetimeSpend": round(account.spent, 4),
            "spendLimit": 80,
            "minBalance": 0,
            "underBalance": account.remaining <= 0,
            "hostBalance": 0,
            "multiFactorEnabled": False,
            "signedTermsOfService": True,
        }
