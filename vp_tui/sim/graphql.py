"""A small GraphQL reader and executor, enough to answer what RunPod clients send.

It parses query and mutation operations (named or anonymous, or the ``{ ... }``
shorthand) with nested selection sets, aliases and arguments whose values are
strings (with escapes, and block strings), ints, floats, booleans, null, enums,
lists and input objects. Variables, fragments and directives are recognised and
refused with a GraphQL error, never a crash.

Execution resolves only the fields a query asks for from :class:`GqlObject`
values, so any subset of a type's fields can be requested; asking for a field
the type does not have is an error, as on a real GraphQL server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


class GraphQLError(Exception):
    """An error to report in the response's ``errors`` list."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        path: list[str | int] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.path = path
        self.code = code

    def to_dict(self) -> dict[str, Any]:
        """The error as it appears in a GraphQL response."""
        out: dict[str, Any] = {"message": self.message}
        if self.line is not None:
            out["locations"] = [{"line": self.line, "column": self.column}]
        if self.path:
            out["path"] = self.path
        if self.code:
            out["extensions"] = {"code": self.code}
        return out


class GraphQLSyntaxError(GraphQLError):
    """The query text is not valid GraphQL (or uses what this reader refuses)."""


# ---------------------------------------------------------------------------
# Syntax tree
# ---------------------------------------------------------------------------


@dataclass
class Field:
    """One field of a selection set."""

    name: str
    alias: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    selections: list[Field] | None = None
    line: int = 0
    column: int = 0

    @property
    def key(self) -> str:
        """The name the field's value has in the response."""
        return self.alias or self.name


@dataclass
class Operation:
    """A query or mutation of a document."""

    kind: str
    """``query`` or ``mutation`` (``subscription`` is parsed, then refused)."""
    name: str | None
    selections: list[Field]


@dataclass
class Document:
    """A parsed GraphQL document."""

    operations: list[Operation]

    def operation(self, name: str | None = None) -> Operation:
        """The operation to run: the one named, or the only one."""
        if name:
            for op in self.operations:
                if op.name == name:
                    return op
            raise GraphQLError(f'Unknown operation named "{name}".')
        if len(self.operations) != 1:
            raise GraphQLError("Must provide operation name if query contains multiple operations.")
        return self.operations[0]


class EnumValue(str):
    """An enum literal (``cloudType: ALL``): a string that remembers it was unquoted."""

    __slots__ = ()


# ---------------------------------------------------------------------------
# Lexer
# ---------------------------------------------------------------------------


@dataclass
class _Token:
    kind: str  # punct, name, int, float, string, eof
    value: str
    line: int
    column: int


_PUNCT = set("!$&()[]{}:=@|")
_NAME_START = set("_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_NAME_CHARS = _NAME_START | set("0123456789")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _tokens(text: str) -> Iterator[_Token]:
    i, line, line_start, n = 0, 1, 0, len(text)

    def err(message: str, at: int) -> GraphQLSyntaxError:
        return GraphQLSyntaxError(f"Syntax Error: {message}", line=line, column=at - line_start + 1)

    while i < n:
        ch = text[i]
        if ch == "\n":
            i += 1
            line, line_start = line + 1, i
            continue
        if ch in " \t\r,\ufeff":
            i += 1
            continue
        if ch == "#":
            while i < n and text[i] not in "\r\n":
                i += 1
            continue
        col = i - line_start + 1
        if text.startswith("...", i):
            yield _Token("punct", "...", line, col)
            i += 3
            continue
        if ch in _PUNCT:
            yield _Token("punct", ch, line, col)
            i += 1
            continue
        if ch in _NAME_START:
            j = i + 1
            while j < n and text[j] in _NAME_CHARS:
                j += 1
            yield _Token("name", text[i:j], line, col)
            i = j
            continue
        if ch == "-" or ch.isdigit():
            j = i + 1 if ch == "-" else i
            start_digits = j
            while j < n and text[j].isdigit():
                j += 1
            if j == start_digits:
                raise err(f"Invalid number, expected digit but got {text[j : j + 1]!r}.", j)
            kind = "int"
            if j < n and text[j] == ".":
                kind = "float"
                j += 1
                frac = j
                while j < n and text[j].isdigit():
                    j += 1
                if j == frac:
                    raise err("Invalid number, expected digit after '.'.", j)
            if j < n and text[j] in "eE":
                kind = "float"
                j += 1
                if j < n and text[j] in "+-":
                    j += 1
                exp = j
                while j < n and text[j].isdigit():
                    j += 1
                if j == exp:
                    raise err("Invalid number, expected digit in exponent.", j)
            if j < n and (text[j] in _NAME_START or text[j] == "."):
                raise err(f"Invalid number, unexpected character {text[j]!r}.", j)
            yield _Token(kind, text[i:j], line, col)
            i = j
            continue
        if text.startswith('"""', i):
            end = i + 3
            chunks: list[str] = []
            while True:
                if end >= n:
                    raise err("Unterminated string.", i)
                if text.startswith('\\"""', end):
                    chunks.append('"""')
                    end += 4
                    continue
                if text.startswith('"""', end):
                    break
                if text[end] == "\n":
                    line, line_start = line + 1, end + 1
                chunks.append(text[end])
                end += 1
            yield _Token("string", _block_string_value("".join(chunks)), line, col)
            i = end + 3
            continue
        if ch == '"':
            j = i + 1
            out: list[str] = []
            while True:
                if j >= n or text[j] in "\r\n":
                    raise err("Unterminated string.", i)
                c = text[j]
                if c == '"':
                    break
                if c == "\\":
                    nxt = text[j + 1 : j + 2]
                    if nxt in _ESCAPES:
                        out.append(_ESCAPES[nxt])
                        j += 2
                        continue
                    if nxt == "u":
                        digits = text[j + 2 : j + 6]
                        if len(digits) != 4 or any(
                            d not in "0123456789abcdefABCDEF" for d in digits
                        ):
                            raise err(f"Invalid Unicode escape sequence: \\u{digits}.", j)
                        out.append(chr(int(digits, 16)))
                        j += 6
                        continue
                    raise err(f"Invalid character escape sequence: \\{nxt}.", j)
                out.append(c)
                j += 1
            yield _Token("string", "".join(out), line, col)
            i = j + 1
            continue
        raise err(f"Unexpected character: {ch!r}.", i)
    yield _Token("eof", "<EOF>", line, i - line_start + 1)


def _block_string_value(raw: str) -> str:
    lines = raw.replace("\r\n", "\n").split("\n")
    indent: int | None = None
    for text in lines[1:]:
        stripped = text.lstrip(" \t")
        if stripped:
            width = len(text) - len(stripped)
            indent = width if indent is None else min(indent, width)
    if indent:
        lines = [lines[0]] + [text[indent:] for text in lines[1:]]
    while lines and not lines[0].strip(" \t"):
        lines.pop(0)
    while lines and not lines[-1].strip(" \t"):
        lines.pop()
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self._tokens = list(_tokens(text))
        self._pos = 0

    @property
    def _tok(self) -> _Token:
        return self._tokens[self._pos]

    def _error(self, message: str, tok: _Token | None = None) -> GraphQLSyntaxError:
        tok = tok or self._tok
        return GraphQLSyntaxError(f"Syntax Error: {message}", line=tok.line, column=tok.column)

    def _describe(self, tok: _Token) -> str:
        if tok.kind == "eof":
            return "<EOF>"
        if tok.kind == "punct":
            return f'"{tok.value}"'
        if tok.kind == "string":
            return f'String "{tok.value}"'
        kind = {"name": "Name", "int": "Int", "float": "Float"}[tok.kind]
        return f'{kind} "{tok.value}"'

    def _advance(self) -> _Token:
        tok = self._tok
        self._pos += 1
        return tok

    def _peek(self, value: str, kind: str = "punct") -> bool:
        return self._tok.kind == kind and self._tok.value == value

    def _expect(self, value: str) -> _Token:
        if not self._peek(value):
            raise self._error(f'Expected "{value}", found {self._describe(self._tok)}.')
        return self._advance()

    def _name(self) -> str:
        if self._tok.kind != "name":
            raise self._error(f"Expected Name, found {self._describe(self._tok)}.")
        return self._advance().value

    def document(self) -> Document:
        operations: list[Operation] = []
        if self._tok.kind == "eof":
            raise self._error("Unexpected <EOF>.")
        while self._tok.kind != "eof":
            operations.append(self._definition())
        return Document(operations)

    def _definition(self) -> Operation:
        tok = self._tok
        if self._peek("{"):
            return Operation("query", None, self._selection_set())
        if tok.kind == "name" and tok.value in ("query", "mutation", "subscription"):
            self._advance()
            name = self._name() if self._tok.kind == "name" else None
            if self._peek("("):
                raise GraphQLSyntaxError(
                    "Variables are not supported by this server: put the values in the query.",
                    line=self._tok.line,
                    column=self._tok.column,
                )
            self._refuse_directives()
            if tok.value == "subscription":
                raise GraphQLError(
                    "Subscriptions are not supported.", line=tok.line, column=tok.column
                )
            return Operation(tok.value, name, self._selection_set())
        if tok.kind == "name" and tok.value == "fragment":
            raise GraphQLSyntaxError(
                "Fragments are not supported by this server.", line=tok.line, column=tok.column
            )
        raise self._error(f"Unexpected {self._describe(tok)}.")

    def _refuse_directives(self) -> None:
        if self._peek("@"):
            raise GraphQLSyntaxError(
                "Directives are not supported by this server.",
                line=self._tok.line,
                column=self._tok.column,
            )

    def _selection_set(self) -> list[Field]:
        self._expect("{")
        fields: list[Field] = []
        while not self._peek("}"):
            if self._tok.kind == "eof":
                raise self._error("Expected Name, found <EOF>.")
            fields.append(self._field())
        self._advance()
        if not fields:
            raise self._error('Expected Name, found "}".')
        return fields

    def _field(self) -> Field:
        if self._peek("..."):
            raise GraphQLSyntaxError(
                "Fragments are not supported by this server.",
                line=self._tok.line,
                column=self._tok.column,
            )
        start = self._tok
        name = self._name()
        alias = None
        if self._peek(":"):
            self._advance()
            alias, name = name, self._name()
        args: dict[str, Any] = {}
        if self._peek("("):
            self._advance()
            while not self._peek(")"):
                arg_name = self._name()
                self._expect(":")
                args[arg_name] = self._value()
            self._advance()
            if not args:
                raise self._error('Expected Name, found ")".')
        self._refuse_directives()
        selections = self._selection_set() if self._peek("{") else None
        return Field(name, alias, args, selections, start.line, start.column)

    def _value(self) -> Any:
        tok = self._tok
        if tok.kind == "punct":
            if tok.value == "$":
                raise GraphQLSyntaxError(
                    "Variables are not supported by this server: put the values in the query.",
                    line=tok.line,
                    column=tok.column,
                )
            if tok.value == "[":
                self._advance()
                items = []
                while not self._peek("]"):
                    if self._tok.kind == "eof":
                        raise self._error('Expected "]", found <EOF>.')
                    items.append(self._value())
                self._advance()
                return items
            if tok.value == "{":
                self._advance()
                obj: dict[str, Any] = {}
                while not self._peek("}"):
                    key = self._name()
                    self._expect(":")
                    obj[key] = self._value()
                self._advance()
                return obj
            raise self._error(f"Unexpected {self._describe(tok)}.")
        self._advance()
        if tok.kind == "int":
            return int(tok.value)
        if tok.kind == "float":
            return float(tok.value)
        if tok.kind == "string":
            return tok.value
        if tok.kind == "name":
            if tok.value == "true":
                return True
            if tok.value == "false":
                return False
            if tok.value == "null":
                return None
            return EnumValue(tok.value)
        raise self._error(f"Unexpected {self._describe(tok)}.", tok)


def parse(text: str) -> Document:
    """Parse GraphQL query text; raises GraphQLSyntaxError (a GraphQLError) on bad text."""
    return _Parser(text).document()


# ---------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------

Resolver = Callable[[dict[str, Any]], Any]
"""A field whose value depends on its arguments: called with the field's arguments."""


@dataclass
class GqlObject:
    """A value of an object type: its GraphQL type name and its fields.

    A field's value may be a plain value (scalar, list, GqlObject, None) or a
    :data:`Resolver`, called only when the field is asked for.
    """

    typename: str
    fields: Mapping[str, Any]


def _complete(value: Any, fld: Field, path: list[str | int]) -> Any:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return [_complete(item, fld, [*path, i]) for i, item in enumerate(value)]
    if isinstance(value, GqlObject):
        if fld.selections is None:
            raise GraphQLError(
                f'Field "{fld.name}" of type "{value.typename}" must have a selection of '
                f'subfields. Did you mean "{fld.name} {{ ... }}"?',
                line=fld.line,
                column=fld.column,
                code="GRAPHQL_VALIDATION_FAILED",
            )
        return select(value, fld.selections, path)
    if fld.selections is not None:
        raise GraphQLError(
            f'Field "{fld.name}" must not have a selection since its type has no subfields.',
            line=fld.line,
            column=fld.column,
            code="GRAPHQL_VALIDATION_FAILED",
        )
    return value


def select(obj: GqlObject, selections: list[Field], path: list[str | int] | None = None) -> dict:
    """Resolve ``selections`` against ``obj``: only the fields asked for, under their keys."""
    path = path or []
    out: dict[str, Any] = {}
    for fld in selections:
        if fld.name == "__typename":
            out[fld.key] = obj.typename
            continue
        if fld.name not in obj.fields:
            raise GraphQLError(
                f'Cannot query field "{fld.name}" on type "{obj.typename}".',
                line=fld.line,
                column=fld.column,
                code="GRAPHQL_VALIDATION_FAILED",
            )
        value = obj.fields[fld.name]
        field_path = [*path, fld.key]
        if callable(value):
            try:
                value = value(fld.args)
            except GraphQLError as exc:
                if exc.path is None:
                    exc.path = field_path
                if exc.line is None:
                    exc.line, exc.column = fld.line, fld.column
                raise
        out[fld.key] = _complete(value, fld, field_path)
    return out


def execute(
    document: str | Document,
    *,
    query: GqlObject,
    mutation: GqlObject | None = None,
    operation_name: str | None = None,
) -> dict[str, Any]:
    """Run a GraphQL request: ``{"data": ...}``, or ``{"errors": [...], "data": None}``.

    Raises nothing for bad queries: syntax and field errors come back in ``errors``.
    """
    try:
        doc = parse(document) if isinstance(document, str) else document
        op = doc.operation(operation_name)
        if op.kind == "mutation":
            if mutation is None:
                raise GraphQLError("Schema is not configured for mutations.")
            root = mutation
        else:
            root = query
        return {"data": select(root, op.selections)}
    except GraphQLError as exc:
        return {"errors": [exc.to_dict()], "data": None}
