"""RunPod's GraphQL schema, as far as the demo cloud serves it, and running one request on it.

The schema is real GraphQL (``graphql-core``): queries are parsed, validated
and executed the way a GraphQL server does it, so variables, fragments,
aliases and directives work, and a query that names a field or argument the
schema lacks fails as a whole with a GraphQL error. Status codes follow Apollo
Server's conventions: a query that does not parse or validate answers 400 with
``extensions.code``; errors raised while resolving fields come back in
``errors`` beside the ``data`` of HTTP 200.

Resolvers are plain values: a root value is a mapping from field name to a
value, or to a callable ``(info, **arguments)`` run only when the field is
asked for (``graphql-core``'s default resolver), so nested objects are mappings
too. A resolver refuses a request by raising :class:`Refusal` (or one of the
extra ``refusals`` exception types given to :func:`run_request`); any other
exception is an emulator bug and is raised again to the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLSchema,
    OperationType,
    build_schema,
    execute_sync,
    get_operation_ast,
    parse,
    validate,
)
from graphql.language import DocumentNode, FieldNode, OperationDefinitionNode

RUNPOD_SDL = """
type Query {
  myself: User
}

\"\"\"The account. Pods, GPU types, SSH keys and every mutation moved to REST v2.\"\"\"
type User {
  id: String
  email: String
  clientBalance: Float
  currentSpendPerHr: Float
  clientLifetimeSpend: Float
  spendLimit: Int
  minBalance: Float
  underBalance: Boolean
  hostBalance: Float
  multiFactorEnabled: Boolean
  signedTermsOfService: Boolean
}
"""

RUNPOD_SCHEMA: GraphQLSchema = build_schema(RUNPOD_SDL)
"""The part of RunPod's GraphQL schema the demo cloud serves: what REST v2 lacks."""


class Refusal(Exception):
    """A request a resolver turns down on purpose; its text goes to the response's ``errors``."""


@dataclass(frozen=True)
class GraphQLAnswer:
    """What to send back for one GraphQL request: the HTTP status and the JSON payload."""

    status: int
    payload: dict[str, Any]


def _request_error(status: int, error: GraphQLError, code: str) -> GraphQLAnswer:
    formatted: dict[str, Any] = dict(error.formatted)
    formatted["extensions"] = {**(error.extensions or {}), "code": code}
    return GraphQLAnswer(status, {"errors": [formatted]})


def _root_fields(operation: OperationDefinitionNode) -> list[str]:
    return [
        selection.name.value
        for selection in operation.selection_set.selections
        if isinstance(selection, FieldNode)
    ]


def operation_label(query: str, operation_name: str | None = None) -> str:
    """A short name for what a request asks, for counting: ``query Pods``, ``mutation podStop``.

    The operation's name when it has one, else its root fields joined by ``,``;
    ``invalid`` when the text does not parse or names no runnable operation.
    """
    try:
        document = parse(query)
    except GraphQLError:
        return "invalid"
    operation = get_operation_ast(document, operation_name or None)
    if operation is None:
        return "invalid"
    name = operation.name.value if operation.name else ",".join(_root_fields(operation))
    return f"{operation.operation.value} {name}"


def _prepare(
    schema: GraphQLSchema, query: str, operation_name: str | None
) -> DocumentNode | GraphQLAnswer:
    try:
        document = parse(query)
    except GraphQLError as exc:
        return _request_error(400, exc, "GRAPHQL_PARSE_FAILED")
    errors = validate(schema, document)
    if errors:
        return _request_error(400, errors[0], "GRAPHQL_VALIDATION_FAILED")
    if get_operation_ast(document, operation_name) is None:
        message = (
            f'Unknown operation named "{operation_name}".'
            if operation_name
            else "Must provide operation name if query contains multiple operations."
        )
        return _request_error(400, GraphQLError(message), "OPERATION_RESOLUTION_FAILURE")
    return document


def run_request(
    schema: GraphQLSchema,
    query: str,
    *,
    root: Mapping[str, Any],
    context: Any = None,
    operation_name: str | None = None,
    variables: dict[str, Any] | None = None,
    allow_mutations: bool = True,
    refusals: tuple[type[Exception], ...] = (),
) -> GraphQLAnswer:
    """Parse, validate and execute one GraphQL request against ``root``.

    ``allow_mutations=False`` (a GET request) refuses mutations with 405.
    Exceptions of ``refusals`` raised by resolvers are reported like
    :class:`Refusal`; any other exception a resolver raises (or a value the
    schema cannot represent) is an emulator bug and is raised again.
    """
    prepared = _prepare(schema, query, operation_name or None)
    if isinstance(prepared, GraphQLAnswer):
        return prepared
    operation = get_operation_ast(prepared, operation_name or None)
    kind = operation.operation if operation is not None else OperationType.QUERY
    if not allow_mutations and kind is not OperationType.QUERY:
        error = GraphQLError(f"Can only perform a {kind.value} operation from a POST request.")
        return _request_error(405, error, "BAD_REQUEST")
    result = execute_sync(
        schema,
        prepared,
        root_value=root,
        context_value=context,
        variable_values=variables,
        operation_name=operation_name or None,
    )
    if result.errors and result.data is None and all(e.path is None for e in result.errors):
        return _request_error(400, result.errors[0], "BAD_USER_INPUT")
    for error in result.errors or ():
        original = error.original_error
        if error.path is not None and not isinstance(original, (Refusal, *refusals)):
            raise original if original is not None else error
    return GraphQLAnswer(200, dict(result.formatted))
