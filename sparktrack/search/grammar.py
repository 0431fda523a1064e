"""MLflow's search grammar (``filter_string`` and ``order_by``), parsed and bound to a schema.
``search.arrow`` evaluates a bound query on an Arrow table in the driver and ``search.spark``
compiles it to Spark Columns, with the same semantics.

A filter is a conjunction of comparisons joined by ``AND`` (any case)::

    metrics.accuracy > 0.9 AND params.optimizer = 'adam' AND tags.`my tag` LIKE 'ex%'

Identifiers are ``<entity>.<key>``. Entity prefixes (any case): ``metric``/``metrics``;
``param``/``params``/``parameter``/``parameters``; ``tag``/``tags``;
``attribute``/``attributes``/``attr``/``run``. A bare key is letters, digits and ``_ - . / :``
(``tags.sparktrack.user`` has the key ``sparktrack.user``); any other key is quoted with backticks or
double quotes right after the dot (``params."batch size"``).

Values:

* strings in single or double quotes. A quote inside a string is written twice, as in SQL
  (``'it''s'`` is ``it's``); a backslash is an ordinary character, except inside LIKE/ILIKE
  patterns where Spark reads ``\\%``, ``\\_`` and ``\\\\`` as escapes (any other use is an error);
* numeric literals: ``3``, ``-0.5``, ``.5``, ``1e-3``. ``NaN`` and ``inf`` are not literals;
* ``IN ('a', 'b')`` / ``NOT IN (...)``: a non-empty list of quoted strings.

Operators: metrics ``= != < <= > >=`` with numbers; params and tags ``= != LIKE ILIKE IN NOT IN`` with
quoted strings; string attributes as params; time attributes as metrics, in epoch milliseconds.
LIKE/ILIKE use the SQL wildcards ``%`` and ``_``.

Semantics (as in MLflow): a comparison on a key a run lacks is NULL and excludes the run, ``!=``
included. A NaN metric value behaves as in Python: only ``!=`` is true for it. ``order_by`` puts
runs lacking the key last in both directions; for metrics NaN values come after numbers and before
missing ones. Values are never pasted into SQL text: every value is a literal Column argument.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sparktrack.errors import SHOWN_CHARS, FilterSyntaxError
from sparktrack.search.schemas import PLURAL, RUNS, SearchSchema

NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=")
STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")

_ENTITY_ALIASES = {
    "metric": "metric", "metrics": "metric",
    "param": "param", "params": "param", "parameter": "param", "parameters": "param",
    "tag": "tag", "tags": "tag",
    "attribute": "attribute", "attributes": "attribute", "attr": "attribute", "run": "attribute",
}
_MLFLOW_NUMERIC_ENTITIES = frozenset({"metric"})



@dataclass(frozen=True, kw_only=True)
class Comparison:
    """One ``<entity>.<key> <op> <value>`` term of a filter."""

    entity: str  # "metric" | "param" | "tag" | "attribute"
    key: str
    op: str  # one of NUMBER_OPS or STRING_OPS
    value: object  # float, str, or tuple[str, ...] for IN / NOT IN
    position: int  # offset of the identifier in the filter text



# --------------------------------------------------------------------------------------- tokens


@dataclass(frozen=True, kw_only=True)
class _Token:
    kind: str  # word | number | string | backtick | op | ( | ) | , | other | end
    text: str  # the source text of the token
    value: object  # decoded: str for strings and words, float for numbers
    position: int

    @property
    def end(self) -> int:
        return self.position + len(self.text)

    def shown(self) -> str:
        if self.kind == "end":
            return "end of input"
        return _cut(self.text) if self.kind in ("string", "backtick") else f"'{_cut(self.text)}'"

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "word" and str(self.value).upper() in words


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_\-./:]*")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_OPERATORS = ("!=", "<=", ">=", "==", "<>", "=", "<", ">")
_WORD_CHAR = re.compile(r"[A-Za-z0-9_.]")


def _cut(text: str) -> str:
    """Source text as an error message echoes it: at most SHOWN_CHARS characters."""
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}... ({len(text)} characters)"


def _fail(text: str, position: int, message: str) -> FilterSyntaxError:
    return FilterSyntaxError(text, position, message)


def _scan(text: str, index: int) -> _Token:
    """The token starting at ``index`` (after whitespace), or the end token."""
    while index < len(text) and text[index].isspace():
        index += 1
    if index == len(text):
        return _Token(kind="end", text="", value=None, position=index)
    char = text[index]
    if char in "'\"`":
        return _scan_quoted(text, index)
    if word := _WORD.match(text, index):
        return _Token(kind="word", text=word.group(), value=word.group(), position=index)
    if number := _NUMBER.match(text, index):
        return _scan_number(text, index, number.group())
    for op in _OPERATORS:
        if text.startswith(op, index):
            return _Token(kind="op", text=op, value=op, position=index)
    kind = char if char in "()," else "other"
    return _Token(kind=kind, text=char, value=char, position=index)


def _scan_quoted(text: str, start: int) -> _Token:
    """A quoted string or key; the quote character written twice stands for itself."""
    quote, index, parts = text[start], start + 1, []
    while True:
        close = text.find(quote, index)
        if close < 0:
            what = "quoted key" if quote == "`" else "string"
            raise _fail(text, start, f"Unterminated {what}: the {quote} here is never closed; "
                                     f"end it with {quote} (write {quote}{quote} for a {quote} "
                                     "inside it)")
        parts.append(text[index:close])
        if text.startswith(quote * 2, close):
            parts.append(quote)
            index = close + 2
            continue
        kind = "backtick" if quote == "`" else "string"
        return _Token(kind=kind, text=text[start:close + 1], value="".join(parts), position=start)


def _scan_number(text: str, start: int, literal: str) -> _Token:
    end = start + len(literal)
    if end < len(text) and _WORD_CHAR.match(text[end]):
        bad = re.match(r"[^\s()',=<>!]*", text[start:]).group()
        raise _fail(text, start, f"Malformed number {bad!r}: write a plain number such as 0.5 or "
                                 "1e-3, or quote a string value")
    value = float(literal)
    if math.isinf(value):
        raise _fail(text, start, f"Number {_cut(literal)} is out of range: filter numbers must be "
                                 "finite (at most about 1.8e308 in size)")
    return _Token(kind="number", text=literal, value=value, position=start)


class _Tokens:
    """Scans one filter or order_by clause on demand, so the leftmost problem is reported."""

    def __init__(self, text: str):
        self.text = text
        self._offset = 0
        self._next: _Token | None = None

    def peek(self) -> _Token:
        if self._next is None:
            self._next = _scan(self.text, self._offset)
        return self._next

    def next(self) -> _Token:
        token = self.peek()
        self._offset, self._next = token.end, None
        return token

    def at_end(self) -> bool:
        return self.peek().kind == "end"

    def fail(self, token: _Token, message: str) -> FilterSyntaxError:
        return _fail(self.text, token.position, message)


# ------------------------------------------------------------------------------------- parsing


@dataclass(frozen=True, kw_only=True)
class _Identifier:
    entity: str
    key: str
    text: str
    position: int


@dataclass(frozen=True, kw_only=True)
class _Parsed:
    """A comparison with the tokens its errors point at."""

    comparison: Comparison
    identifier: _Identifier
    op_token: _Token
    value_token: _Token


def _parse_identifier(tokens: _Tokens, prefixes: str, bare: frozenset[str] = frozenset()) -> _Identifier:
    token = tokens.next()
    if token.kind == "(":
        raise tokens.fail(token, "Parentheses are only allowed around IN lists: a filter is "
                                 "comparisons joined by AND, without grouping")
    if token.kind != "word" or token.is_keyword("AND", "OR", "NOT", "IN", "LIKE", "ILIKE"):
        raise tokens.fail(token, f"Expected an identifier ({prefixes}), got {token.shown()}")
    if token.text in bare:  # a bare attribute name, as MLflow allows (``name LIKE 'a%'``)
        return _Identifier(entity="attribute", key=token.text, text=token.text, position=token.position)
    prefix, dot, key = token.text.partition(".")
    entity = _ENTITY_ALIASES.get(prefix.lower())
    if not dot or entity is None:
        raise tokens.fail(token, f"Invalid identifier {_cut(token.text)!r}: expected {prefixes}")
    if key:
        return _Identifier(entity=entity, key=key, text=token.text, position=token.position)
    return _quoted_key(tokens, token, entity)


def _quoted_key(tokens: _Tokens, prefix: _Token, entity: str) -> _Identifier:
    token = tokens.peek()
    quoted = token.kind == "backtick" or (token.kind == "string" and token.text[0] == '"')
    if token.position != prefix.end or not quoted:
        raise tokens.fail(prefix, f"Missing key after {_cut(prefix.text)!r}: write "
                                  f"{prefix.text}<key>, or quote it as {prefix.text}`my key`")
    tokens.next()
    if not token.value:
        raise tokens.fail(token, f"Empty key {prefix.text + token.text!r}: give the key a name")
    text = prefix.text + token.text
    return _Identifier(entity=entity, key=str(token.value), text=text, position=prefix.position)


def _parse_operator(tokens: _Tokens, identifier: _Identifier) -> tuple[str, _Token]:
    token = tokens.next()
    if token.kind == "op" and token.text in ("==", "<>"):
        hint = "=" if token.text == "==" else "!="
        raise tokens.fail(token, f"Unknown operator {token.text!r}: use {hint!r}")
    if token.kind == "op":
        return token.text, token
    if token.is_keyword("LIKE", "ILIKE", "IN"):
        return str(token.value).upper(), token
    if token.is_keyword("NOT"):
        follower = tokens.next()
        if not follower.is_keyword("IN"):
            raise tokens.fail(follower, f"Expected IN after 'NOT', got {follower.shown()}: "
                                        "NOT only appears in NOT IN (...)")
        return "NOT IN", token
    raise tokens.fail(token, f"Expected an operator after {_cut(identifier.text)!r} (one of "
                             f"{', '.join(NUMBER_OPS + STRING_OPS[2:])}), got {token.shown()}; "
                             "quote keys with spaces or special characters in backticks")


def _parse_value(tokens: _Tokens, op: str, op_token: _Token) -> tuple[object, _Token]:
    if op in ("IN", "NOT IN"):
        return _parse_in_list(tokens, op)
    token = tokens.next()
    if token.kind in ("string", "number"):
        return token.value, token
    if token.kind == "(":
        raise tokens.fail(token, f"Parentheses are only allowed around IN lists, not after {op!r}")
    hint = f"; quote string values: '{_cut(token.text)}'" if token.kind == "word" else ""
    if token.is_keyword("NAN", "INF", "INFINITY"):
        raise tokens.fail(token, f"{token.text} is not a value a filter can compare with: compare "
                                 "with finite numbers (a NaN metric matches only '!=')")
    raise tokens.fail(token, f"Expected a value (a quoted string or a number) after "
                             f"{op_token.text!r}, got {token.shown()}{hint}")


def _parse_in_list(tokens: _Tokens, op: str) -> tuple[tuple[str, ...], _Token]:
    opening = tokens.next()
    if opening.kind != "(":
        raise tokens.fail(opening, f"{op} needs a list of quoted strings in parentheses, "
                                   f"e.g. {op} ('a', 'b'); got {opening.shown()}")
    if tokens.peek().kind == ")":
        raise tokens.fail(tokens.peek(), f"Empty {op} list '()': give at least one quoted value")
    values = []
    while True:
        values.append(_parse_in_item(tokens, op))
        separator = tokens.next()
        if separator.kind == ")":
            return tuple(values), opening
        if separator.kind != ",":
            raise tokens.fail(separator, f"Expected ',' or ')' in the {op} list, "
                                         f"got {separator.shown()}")


def _parse_in_item(tokens: _Tokens, op: str) -> str:
    token = tokens.next()
    if token.kind == "string":
        return str(token.value)
    if token.kind in ("number", "word"):
        raise tokens.fail(token, f"{op} lists hold quoted strings; got {token.shown()}. "
                                 f"Quote it: '{_cut(token.text)}'")
    raise tokens.fail(token, f"Expected a quoted string in the {op} list, got {token.shown()}")


def _parse_comparison(tokens: _Tokens, prefixes: str, bare: frozenset[str]) -> _Parsed:
    identifier = _parse_identifier(tokens, prefixes, bare)
    op, op_token = _parse_operator(tokens, identifier)
    value, value_token = _parse_value(tokens, op, op_token)
    comparison = Comparison(entity=identifier.entity, key=identifier.key, op=op, value=value,
                            position=identifier.position)
    return _Parsed(comparison=comparison, identifier=identifier, op_token=op_token,
                   value_token=value_token)


def _parse(text: str | None, schema: SearchSchema) -> tuple[str, list[_Parsed]]:
    prefixes, bare = schema.prefixes(), schema.bare_attributes()
    if text is None or not text.strip():
        return text or "", []
    tokens = _Tokens(text)
    parsed = [_parse_comparison(tokens, prefixes, bare)]
    while not tokens.at_end():
        token = tokens.next()
        if token.is_keyword("OR"):
            raise tokens.fail(token, "OR is not supported: a filter is comparisons joined by AND; "
                                     "run two searches and combine the results")
        if not token.is_keyword("AND"):
            raise tokens.fail(token, f"Unexpected {token.shown()} after a complete comparison: "
                                     "join comparisons with AND")
        if tokens.at_end():
            raise tokens.fail(token, "Trailing 'AND' with no comparison after it: remove it or "
                                     "add a comparison")
        parsed.append(_parse_comparison(tokens, prefixes, bare))
    return text, parsed


# ------------------------------------------------------------------------------- value checks


def _check_kind(text: str, parsed: _Parsed, kind: str, subject: str) -> None:
    """Check operator and value against what ``subject`` holds: "number", "string" or "any"."""
    op, value = parsed.comparison.op, parsed.comparison.value
    op_token, value_token = parsed.op_token, parsed.value_token
    wants_number = kind == "number" or (kind == "any" and op in ("<", "<=", ">", ">="))
    wants_string = kind == "string" or (kind == "any" and op in ("LIKE", "ILIKE"))
    if kind == "number" and op not in NUMBER_OPS:
        raise _fail(text, op_token.position, f"{subject} compare with numbers using "
                                             f"{', '.join(NUMBER_OPS)}; {op!r} is not supported")
    if kind == "string" and op not in STRING_OPS:
        raise _fail(text, op_token.position, f"{subject} compare with strings using "
                                             f"{', '.join(STRING_OPS)}; {op!r} is not supported")
    if wants_number and isinstance(value, str):
        raise _fail(text, value_token.position, f"{subject} compare with numbers; got the string "
                                                f"{_cut(value_token.text)}: write the number unquoted")
    if wants_string and isinstance(value, float):
        raise _fail(text, value_token.position, f"{subject} compare with quoted strings; got the "
                                                f"number {_cut(value_token.text)}: quote it as "
                                                f"'{_cut(value_token.text)}'")
    if op in ("LIKE", "ILIKE"):
        _check_pattern(text, value_token)


def _check_pattern(text: str, token: _Token) -> None:
    """Spark rejects a backslash in a LIKE pattern unless it escapes %, _ or a backslash."""
    for match in re.finditer(r"\\(.?)", str(token.value), flags=re.DOTALL):
        escaped = match.group(1)
        if not escaped or escaped not in "%_\\":
            raise _fail(text, token.position, f"LIKE pattern {_cut(token.text)} has a backslash that "
                                              "escapes nothing: a backslash may only escape %, _ "
                                              "or another backslash (write \\\\ for one backslash)")


def _entity_kind(entity: str, numeric_entities: frozenset[str]) -> tuple[str, str]:
    kind = "number" if entity in numeric_entities else "string"
    return kind, PLURAL[entity]


def parse_filter(text: str | None) -> list[Comparison]:
    """Parse a filter into its comparisons (an empty list for ``None`` or blank text).

    Checks the syntax and MLflow's value rules for metrics (numbers), params and tags (quoted
    strings). Attribute names are checked by :func:`compile_filter`, which knows the schema.
    """
    text, parsed = _parse(text, RUNS)
    for item in parsed:
        entity = item.comparison.entity
        if entity == "attribute":
            _check_kind(text, item, "any", f"attributes like {item.comparison.key!r}")
        else:
            _check_kind(text, item, *_entity_kind(entity, _MLFLOW_NUMERIC_ENTITIES))
    return [item.comparison for item in parsed]



# ------------------------------------------------------------------------------------ binding


@dataclass(frozen=True, kw_only=True)
class Target:
    """Where a comparison's left-hand side lives: a map column's key, or an attribute column."""

    kind: str  # "map" | "string" | "time" | "number"
    column: str
    key: str = ""
    numeric: bool = False

    @property
    def name(self) -> str:
        """The column an Arrow table holds the values in: ``metrics.acc`` for a map lookup."""
        return f"{self.column}.{self.key}" if self.kind == "map" else self.column


def _resolve(text: str, identifier: _Identifier, schema: SearchSchema) -> Target:
    entity, key = identifier.entity, identifier.key
    if entity == "attribute":
        if key in schema.string_attributes:
            return Target(kind="string", column=schema.string_attributes[key])
        if key in schema.time_attributes:
            return Target(kind="time", column=schema.time_attributes[key])
        if key in schema.number_attributes:
            return Target(kind="number", column=schema.number_attributes[key])
        raise _fail(text, identifier.position, f"Unknown attribute {_cut(key)!r} for {schema.name}: "
                                               f"valid attributes are {schema.attribute_names()}")
    if entity not in schema.map_columns:
        raise _fail(text, identifier.position, f"{schema.name} have no {PLURAL[entity]} "
                                               f"({_cut(identifier.text)!r}): use {schema.prefixes()}")
    numeric = entity in schema.numeric_entities
    return Target(kind="map", column=schema.map_columns[entity], key=key, numeric=numeric)


def _bind(text: str, parsed: _Parsed, schema: SearchSchema) -> Target:
    target = _resolve(text, parsed.identifier, schema)
    name = parsed.identifier.key
    if target.kind == "map":
        _check_kind(text, parsed, *_entity_kind(parsed.comparison.entity, schema.numeric_entities))
    elif target.kind == "time":
        _check_kind(text, parsed, "number", f"time attributes like {name!r} (epoch milliseconds)")
    elif target.kind == "number":
        _check_kind(text, parsed, "number", f"numeric attributes like {name!r}")
    else:
        _check_kind(text, parsed, "string", f"string attributes like {name!r}")
    return target



def _parse_order_clause(clause: str, schema: SearchSchema) -> tuple[Target, bool]:
    if not isinstance(clause, str):
        raise _fail(repr(clause), 0, f"order_by clauses are strings; got {clause!r} of type "
                                     f"{type(clause).__name__}, e.g. write 'metrics.accuracy DESC'")
    if not clause.strip():
        raise _fail(clause, 0, "Empty order_by clause: write '<identifier> [ASC|DESC]', "
                               "e.g. 'metrics.accuracy DESC'")
    tokens = _Tokens(clause)
    identifier = _parse_identifier(tokens, schema.prefixes(), schema.bare_attributes())
    target = _resolve(clause, identifier, schema)
    direction = tokens.next()
    if direction.kind != "end" and not direction.is_keyword("ASC", "DESC"):
        raise tokens.fail(direction, f"Expected ASC or DESC after {_cut(identifier.text)!r}, got "
                                     f"{direction.shown()}; an order_by clause is "
                                     "'<identifier> [ASC|DESC]', one clause per list item")
    if not tokens.at_end():
        extra = tokens.peek()
        raise tokens.fail(extra, f"Unexpected {extra.shown()} after the sort direction: an "
                                 "order_by clause is '<identifier> [ASC|DESC]', one per list item")
    return target, not direction.is_keyword("DESC")




def _ordering(clauses: list[str] | None, schema: SearchSchema) -> list[tuple[Target, bool]]:
    """(target, ascending) of each clause, then of ``schema``'s default tie-breakers."""
    ordering = [_parse_order_clause(clause, schema) for clause in clauses or []]
    return ordering + [(Target(kind="string", column=name), direction.upper() == "ASC")
                       for name, direction in schema.default_order]


@dataclass(frozen=True)
class Query:
    """A filter and an ``order_by`` bound to a schema: what every evaluator compiles."""

    schema: SearchSchema
    conditions: list[tuple[Target, Comparison]]
    ordering: list[tuple[Target, bool]]  # (target, ascending), the schema's tie-breakers last

    @property
    def keys(self) -> dict[str, list[str]]:
        """The keys the query looks up in each map column, e.g. ``{"metrics": ["acc"]}``: all a
        search needs of the maps."""
        keys: dict[str, list[str]] = {}
        for target in [t for t, _ in self.conditions] + [t for t, _ in self.ordering]:
            if target.kind == "map" and target.key not in keys.setdefault(target.column, []):
                keys[target.column].append(target.key)
        return {column: names for column, names in keys.items() if names}


def bind(filter_string: str | None, order_by: list[str] | None, schema: SearchSchema) -> Query:
    """Parse ``filter_string`` and ``order_by`` and bind them to ``schema``. Raises
    :class:`~sparktrack.errors.FilterSyntaxError`, naming the position, when either is malformed
    or names something ``schema`` lacks."""
    text, parsed = _parse(filter_string, schema)
    conditions = [(_bind(text, item, schema), item.comparison) for item in parsed]
    return Query(schema=schema, conditions=conditions, ordering=_ordering(order_by, schema))
