"""A small SOQL subset: parse a query, check it against object types, evaluate it over rows.

Supported: ``SELECT f1, Rel.f2, … FROM Object [WHERE cond] [LIMIT n]``, where ``cond`` joins
comparisons with ``AND`` (parentheses allowed) and a comparison is ``field = value``,
``field != value`` (or ``<>``) or ``field IN (value, …)``; values are quoted strings with backslash
escapes, numbers, ``true``, ``false`` and ``null``. Keywords and names are case-insensitive; output
keys use the canonical casing of the object type.

Everything else that real SOQL accepts (OR, NOT, LIKE, ORDER BY, GROUP BY, functions, subqueries,
bind variables, date literals…) is refused with MALFORMED_QUERY and a message that points at the
token and says the sandbox does not support it, so a test never mistakes a sandbox limit for a
Salesforce rule. Error messages have Salesforce's layout: the query line, a caret under the
offending token, ``ERROR at Row:r:Column:c``, then the reason.

This module knows nothing about particular objects: the caller describes them with `SObjectType`
and hands rows over through a `DataSource`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from lsqsf_helpers import sfid

# ----- errors ---------------------------------------------------------------------------------


class SoqlError(Exception):
    """A query Salesforce would refuse: `error_code` is the REST errorCode, `message` the full text."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


def _located(query: str, pos: int, reason: str) -> str:
    """Salesforce's error layout: the line, a caret under the column, the position, the reason."""
    pos = max(0, min(pos, len(query)))
    line_start = query.rfind("\n", 0, pos) + 1
    line_end = query.find("\n", pos)
    if line_end < 0:
        line_end = len(query)
    row = query.count("\n", 0, pos) + 1
    col = pos - line_start + 1
    return f"\n{query[line_start:line_end]}\n{' ' * (col - 1)}^\nERROR at Row:{row}:Column:{col}\n{reason}"


# ----- object descriptions --------------------------------------------------------------------

FIELD_TYPES = ("id", "reference", "string", "boolean", "int", "double", "datetime", "object")


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str = "string"  # one of FIELD_TYPES; "object" = a compound value (not filterable)

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"unknown field type {self.type!r}")


@dataclass(frozen=True)
class RelationshipDef:
    name: str  # e.g. "Profile"
    target: str  # object type name, e.g. "Profile"
    key: str  # the reference field holding the target's Id, e.g. "ProfileId"


@dataclass(frozen=True)
class SObjectType:
    name: str
    fields: tuple[FieldDef, ...]
    relationships: tuple[RelationshipDef, ...] = ()
    single_row_fields: frozenset[str] = frozenset()  # e.g. Tooling FullName/Metadata: at most one row
    _by_lower: dict[str, FieldDef] = field(default_factory=dict, init=False, repr=False, compare=False)
    _rel_by_lower: dict[str, RelationshipDef] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._by_lower.update({f.name.lower(): f for f in self.fields})
        self._rel_by_lower.update({r.name.lower(): r for r in self.relationships})

    def field(self, name: str) -> FieldDef | None:
        return self._by_lower.get(name.lower())

    def relationship(self, name: str) -> RelationshipDef | None:
        return self._rel_by_lower.get(name.lower())


Row = Mapping[str, Any]


class DataSource(Protocol):
    """What the evaluator needs from a model: object types, their rows, and lookups by id."""

    def sobject_type(self, name: str) -> SObjectType | None: ...

    def rows(self, object_name: str) -> Sequence[Row]: ...

    def get(self, object_name: str, record_id: str) -> Row | None: ...


# ----- tokens ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # "ident" | "string" | "number" | "op" | "punct" | "eof"
    text: str  # source text (for strings: the decoded value)
    pos: int

    def shown(self) -> str:
        return "<EOF>" if self.kind == "eof" else f"'{self.text}'"


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_OPS = ("!=", "<>", "<=", ">=", "=", "<", ">")
_ESCAPES = {
    "\\": "\\",
    "'": "'",
    '"': '"',
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    "_": "\\_",
    "%": "\\%",
}

# Words real SOQL understands that this sandbox refuses (the message says so).
UNSUPPORTED_WORDS = frozenset(
    {
        "or", "not", "like", "includes", "excludes", "order", "group", "having", "offset", "for",
        "with", "using", "typeof", "update", "view", "reference", "tracking", "all", "nulls",
        "asc", "desc", "rollup", "cube", "format", "scope", "by", "above", "below", "at",
    }
)  # fmt: skip
_SANDBOX_LIMIT = " (valid SOQL, but not supported by the lsqsf sandbox)"


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "'":
            start, i, out = i, i + 1, []
            while True:
                if i >= n:
                    raise SoqlError("MALFORMED_QUERY", _located(query, start, "unterminated string literal"))
                c = query[i]
                if c == "'":
                    i += 1
                    break
                if c == "\\":
                    if i + 1 >= n or query[i + 1] not in _ESCAPES:
                        raise SoqlError(
                            "MALFORMED_QUERY",
                            _located(
                                query, i, "Invalid string literal: illegal escape sequence in a quoted string"
                            ),
                        )
                    out.append(_ESCAPES[query[i + 1]])
                    i += 2
                    continue
                out.append(c)
                i += 1
            tokens.append(Token("string", "".join(out), start))
            continue
        m = _IDENT.match(query, i)
        if m:
            tokens.append(Token("ident", m.group(), i))
            i = m.end()
            continue
        m = _NUMBER.match(query, i)
        if m:
            tokens.append(Token("number", m.group(), i))
            i = m.end()
            continue
        op = next((o for o in _OPS if query.startswith(o, i)), None)
        if op:
            tokens.append(Token("op", op, i))
            i += len(op)
            continue
        if ch in "(),":
            tokens.append(Token("punct", ch, i))
            i += 1
            continue
        reason = f"unexpected token: '{ch}'"
        if ch == ":":
            reason += _SANDBOX_LIMIT  # a bind variable
        raise SoqlError("MALFORMED_QUERY", _located(query, i, reason))
    tokens.append(Token("eof", "", n))
    return tokens


# ----- syntax tree ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    kind: str  # "string" | "number" | "boolean" | "null"
    value: Any
    pos: int


@dataclass(frozen=True)
class Comparison:
    path: str
    pos: int
    op: str  # "=" | "!=" | "in"
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class Query:
    text: str
    fields: tuple[tuple[str, int], ...]  # (dotted path as written, position)
    sobject: str
    sobject_pos: int
    where: tuple[Comparison, ...]  # ANDed
    limit: int | None


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        t = self.tokens[self.i]
        if t.kind != "eof":
            self.i += 1
        return t

    def fail(self, token: Token, reason: str | None = None) -> SoqlError:
        if reason is None:
            reason = f"unexpected token: {token.shown()}"
            if (token.kind == "ident" and token.text.lower() in UNSUPPORTED_WORDS) or (
                token.kind == "op" and token.text in ("<", ">", "<=", ">=")
            ):
                reason += _SANDBOX_LIMIT
        return SoqlError("MALFORMED_QUERY", _located(self.query, token.pos, reason))

    def is_word(self, word: str) -> bool:
        return self.tok.kind == "ident" and self.tok.text.lower() == word

    def expect_word(self, word: str) -> Token:
        if not self.is_word(word):
            raise self.fail(self.tok)
        return self.advance()

    def parse(self) -> Query:
        self.expect_word("select")
        fields = [self.select_item()]
        while self.tok.kind == "punct" and self.tok.text == ",":
            self.advance()
            fields.append(self.select_item())
        self.expect_word("from")
        if self.tok.kind != "ident":
            raise self.fail(self.tok)
        obj = self.advance()
        if "." in obj.text:
            raise self.fail(obj)
        where: list[Comparison] = []
        if self.is_word("where"):
            self.advance()
            where = self.condition()
        limit = None
        if self.is_word("limit"):
            self.advance()
            t = self.tok
            if t.kind != "number" or not t.text.isdigit():
                raise self.fail(t)
            self.advance()
            limit = int(t.text)
        if self.tok.kind != "eof":
            raise self.fail(self.tok)
        return Query(self.query, tuple(fields), obj.text, obj.pos, tuple(where), limit)

    def select_item(self) -> tuple[str, int]:
        t = self.tok
        if t.kind == "punct" and t.text == "(":
            raise self.fail(t, f"unexpected token: '('{_SANDBOX_LIMIT}: subqueries")
        if t.kind != "ident" or t.text.lower() in ("from", "where", "select"):
            raise self.fail(t)
        self.advance()
        nxt = self.tok
        if nxt.kind == "punct" and nxt.text == "(":
            raise self.fail(t, f"unexpected token: '{t.text}('{_SANDBOX_LIMIT}: functions and aggregates")
        if nxt.kind == "ident" and nxt.text.lower() != "from":
            raise self.fail(nxt)
        return t.text, t.pos

    def condition(self) -> list[Comparison]:
        out = self.term()
        while True:
            if self.is_word("and"):
                self.advance()
                out.extend(self.term())
                continue
            if self.is_word("or"):
                raise self.fail(self.tok)
            return out

    def term(self) -> list[Comparison]:
        t = self.tok
        if t.kind == "punct" and t.text == "(":
            self.advance()
            inner = self.condition()
            if not (self.tok.kind == "punct" and self.tok.text == ")"):
                raise self.fail(self.tok)
            self.advance()
            return inner
        if t.kind != "ident" or t.text.lower() in ("not",):
            raise self.fail(t)
        self.advance()
        op_tok = self.tok
        if op_tok.kind == "op" and op_tok.text in ("=", "!=", "<>"):
            self.advance()
            return [Comparison(t.text, t.pos, "=" if op_tok.text == "=" else "!=", (self.value(),))]
        if op_tok.kind == "ident" and op_tok.text.lower() == "in":
            self.advance()
            if not (self.tok.kind == "punct" and self.tok.text == "("):
                raise self.fail(self.tok)
            self.advance()
            if self.is_word("select"):
                raise self.fail(self.tok, f"unexpected token: 'SELECT'{_SANDBOX_LIMIT}: semi-joins")
            values = [self.value()]
            while self.tok.kind == "punct" and self.tok.text == ",":
                self.advance()
                values.append(self.value())
            if not (self.tok.kind == "punct" and self.tok.text == ")"):
                raise self.fail(self.tok)
            self.advance()
            return [Comparison(t.text, t.pos, "in", tuple(values))]
        raise self.fail(op_tok)

    def value(self) -> Literal:
        t = self.tok
        if t.kind == "string":
            self.advance()
            return Literal("string", t.text, t.pos)
        if t.kind == "number":
            self.advance()
            number: float | int = float(t.text) if "." in t.text else int(t.text)
            return Literal("number", number, t.pos)
        if t.kind == "ident" and t.text.lower() in ("true", "false"):
            self.advance()
            return Literal("boolean", t.text.lower() == "true", t.pos)
        if t.kind == "ident" and t.text.lower() == "null":
            self.advance()
            return Literal("null", None, t.pos)
        if t.kind == "ident":
            raise self.fail(t, f"unexpected token: {t.shown()}{_SANDBOX_LIMIT}: date literals and bare words")
        raise self.fail(t)


def parse(query: str) -> Query:
    """The syntax tree of a query in the supported subset, or SoqlError(MALFORMED_QUERY)."""
    if not query.strip():
        raise SoqlError("MALFORMED_QUERY", "A query string must be given in the 'q' parameter.")
    return _Parser(query).parse()


# ----- checking and evaluation ----------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedPath:
    """A field path checked against the types: relationships walked, then one field."""

    relationships: tuple[RelationshipDef, ...]
    field: FieldDef
    types: tuple[SObjectType, ...]  # the type each step starts from, then the final type


def _resolve(query: Query, source: DataSource, base: SObjectType, path: str, pos: int) -> ResolvedPath:
    parts = path.split(".")
    current = base
    rels: list[RelationshipDef] = []
    types = [base]
    for offset, part in enumerate(parts[:-1]):
        rel = current.relationship(part)
        target = source.sobject_type(rel.target) if rel else None
        if rel is None or target is None:
            where = pos + len(".".join(parts[:offset])) + (1 if offset else 0)
            raise SoqlError(
                "INVALID_FIELD",
                _located(
                    query.text,
                    where,
                    f"Didn't understand relationship '{part}' in field path. Check the spelling of the "
                    f"relationship name on entity '{current.name}'.",
                ),
            )
        rels.append(rel)
        current = target
        types.append(current)
    found = current.field(parts[-1])
    if found is None:
        raise SoqlError(
            "INVALID_FIELD",
            _located(
                query.text,
                pos,
                f"No such column '{parts[-1]}' on entity '{current.name}'. Check the spelling of the field "
                "name, and append '__c' to custom field names.",
            ),
        )
    return ResolvedPath(tuple(rels), found, tuple(types))


def _canonical(path: ResolvedPath) -> tuple[str, ...]:
    return (*(r.name for r in path.relationships), path.field.name)


def _follow(source: DataSource, row: Row | None, rels: Sequence[RelationshipDef]) -> Row | None:
    for rel in rels:
        if row is None:
            return None
        key = row.get(rel.key)
        row = source.get(rel.target, key) if key else None
    return row


def _ids_equal(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a[:15] == b[:15]


def _check_literal(query: Query, fdef: FieldDef, lit: Literal) -> None:
    if lit.kind == "null":
        return
    where = lit.pos
    if fdef.type in ("id", "reference"):
        if lit.kind != "string" or not sfid.is_valid(lit.value):
            shown = lit.value if lit.kind == "string" else str(lit.value).lower()
            raise SoqlError(
                "INVALID_QUERY_FILTER_OPERATOR", _located(query.text, where, f"invalid ID field: {shown}")
            )
    elif fdef.type == "boolean":
        if lit.kind != "boolean":
            raise SoqlError(
                "INVALID_FIELD",
                _located(
                    query.text,
                    where,
                    f"value of filter criterion for field '{fdef.name}' must be of type boolean and should "
                    "not be enclosed in quotes",
                ),
            )
    elif fdef.type in ("int", "double"):
        if lit.kind != "number":
            raise SoqlError(
                "INVALID_FIELD",
                _located(
                    query.text,
                    where,
                    f"value of filter criterion for field '{fdef.name}' must be of type {fdef.type} and "
                    "should not be enclosed in quotes",
                ),
            )
    elif fdef.type in ("string", "datetime") and lit.kind != "string":
        raise SoqlError(
            "INVALID_FIELD",
            _located(
                query.text, where, f"value of filter criterion for field '{fdef.name}' must be of type string"
            ),
        )


def _matches(fdef: FieldDef, actual: Any, lit: Literal) -> bool:
    if lit.kind == "null":
        return actual is None
    if actual is None:
        return False
    if fdef.type in ("id", "reference"):
        return _ids_equal(actual, lit.value)
    if fdef.type == "string" and isinstance(actual, str):
        return actual.casefold() == str(lit.value).casefold()
    return bool(actual == lit.value)


@dataclass
class Result:
    sobject: str  # canonical object name
    records: list[dict[str, Any]]


def execute(
    query_text: str,
    source: DataSource,
    record_url: Callable[[str, str], str],
    on_read: Callable[[str, list[Row]], list[Row]] | None = None,
) -> Result:
    """Parse, check and run a query; records come back shaped like Salesforce's JSON.

    `record_url(object, id)` makes each record's `attributes.url`; `on_read(object, rows)` lets the
    model see (and update, e.g. to advance an install request) the rows a query returns.
    """
    query = parse(query_text)
    base = source.sobject_type(query.sobject)
    if base is None:
        raise SoqlError(
            "INVALID_TYPE",
            _located(
                query.text,
                query.sobject_pos,
                f"sObject type '{query.sobject}' is not supported. If you are attempting to use a custom "
                "object, be sure to append the '__c' after the entity name. Please reference your WSDL or "
                "the describe call for the appropriate names.",
            ),
        )
    selected: list[ResolvedPath] = []
    seen: set[tuple[str, ...]] = set()
    for path, pos in query.fields:
        resolved = _resolve(query, source, base, path, pos)
        key = tuple(p.lower() for p in _canonical(resolved))
        if key in seen:
            raise SoqlError("MALFORMED_QUERY", _located(query.text, pos, f"duplicate field selected: {path}"))
        seen.add(key)
        selected.append(resolved)
    filters: list[tuple[ResolvedPath, Comparison]] = []
    for cmp in query.where:
        resolved = _resolve(query, source, base, cmp.path, cmp.pos)
        if resolved.field.type == "object":
            raise SoqlError(
                "INVALID_FIELD",
                _located(
                    query.text, cmp.pos, f"field '{resolved.field.name}' can not be filtered in a query call"
                ),
            )
        for lit in cmp.values:
            _check_literal(query, resolved.field, lit)
        filters.append((resolved, cmp))

    rows: list[Row] = []
    for row in source.rows(base.name):
        ok = True
        for resolved, cmp in filters:
            target = _follow(source, row, resolved.relationships)
            actual = target.get(resolved.field.name) if target is not None else None
            hit = any(_matches(resolved.field, actual, lit) for lit in cmp.values)
            if (cmp.op == "!=" and hit) or (cmp.op != "!=" and not hit):
                ok = False
                break
        if ok:
            rows.append(row)
    if query.limit is not None:
        rows = rows[: query.limit]
    single = [p for p in selected if not p.relationships and p.field.name in base.single_row_fields]
    if single and len(rows) > 1:
        names = ", ".join(p.field.name for p in single)
        raise SoqlError(
            "MALFORMED_QUERY",
            f"When you select {names}, the query must return at most one row; this one returns {len(rows)}. "
            "Filter it (for example by Id) or add LIMIT 1.",
        )
    if on_read is not None:
        rows = on_read(base.name, rows)
    return Result(base.name, [_render(source, base, row, selected, record_url) for row in rows])


def _render(
    source: DataSource,
    base: SObjectType,
    row: Row,
    selected: Sequence[ResolvedPath],
    record_url: Callable[[str, str], str],
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "attributes": {"type": base.name, "url": record_url(base.name, str(row.get("Id")))}
    }
    for path in selected:
        holder = out
        current: Row | None = row
        for depth, rel in enumerate(path.relationships):
            if current is None:
                break
            key = current.get(rel.key)
            target_row = source.get(rel.target, key) if key else None
            if target_row is None:
                holder.setdefault(rel.name, None)
                current = None
                break
            existing = holder.get(rel.name)
            if existing is None:
                target_type = path.types[depth + 1]
                existing = {
                    "attributes": {
                        "type": target_type.name,
                        "url": record_url(target_type.name, str(target_row["Id"])),
                    }
                }
                holder[rel.name] = existing
            holder = existing
            current = target_row
        else:
            if current is not None:
                holder[path.field.name] = current.get(path.field.name)
    return out
