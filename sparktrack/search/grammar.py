"""MLflow's search grammar (``filter_string`` and ``order_by``), parsed and bound to a schema.
``search.arrow`` evaluates a bound query on an Arrow table in the driver and ``search.spark``
compiles it to Spark Columns, with the same semantics; one test corpus checks both.

A filter is comparisons joined by ``AND`` (any case; a leading, trailing or doubled AND is
ignored, as MLflow ignores it)::

    metrics.accuracy > 0.9 AND params.optimizer = 'adam' AND tags.`my tag` LIKE 'ex%'

Identifiers are ``<entity>.<key>``, with MLflow's entity names in lower case: ``metric``/``metrics``,
``param``/``params``/``parameter``/``parameters``, ``tag``/``tags``,
``attribute``/``attributes``/``attr``/``run`` and ``dataset``/``datasets`` for runs;
``attribute``, ``tag``/``tags`` for experiments and the registry. The entity may be quoted in
backticks (`` `metrics`.acc ``). A bare key is letters (any script), digits and ``_ - . / :``
(``tags.sparktrack.user`` has the key ``sparktrack.user``); any other key is quoted with
backticks, double or single quotes right after the dot (``params."batch size"``). Attributes may
stand alone (``status = 'FINISHED'``, `` `run name` = 'x' ``).

Values:

* strings in single or double quotes. A quote inside a string is written twice, as in SQL
  (``'it''s'`` is ``it's``; MLflow keeps both quotes). A backslash is an ordinary character, except
  inside LIKE/ILIKE patterns where ``\\%``, ``\\_`` and ``\\\\`` are escapes (any other use is an
  error), as in Spark and PostgreSQL;
* numeric literals: ``3``, ``-0.5``, ``.5``, ``1e-3``, finite. ``NaN`` and ``inf`` are not literals;
* ``IN ('a', 'b')`` / ``NOT IN (...)``: a non-empty list of quoted strings (a trailing comma is
  allowed).

Operators: metrics ``= != < <= > >=`` with numbers; params, tags, datasets and string attributes
``= != LIKE ILIKE IN NOT IN`` with quoted strings (MLflow takes IN only on ``run_id``, datasets and
the registry's names: the other lists are sparktrack's own); time and number attributes as
metrics, times in epoch milliseconds. ``IS NULL`` / ``IS NOT NULL`` on metrics, params and tags
(MLflow: params and tags): true where the run lacks the key / has it. LIKE/ILIKE use ``%`` and
``_``.

Semantics (as in MLflow): a comparison on a key a run lacks is NULL and excludes the run, ``!=``
included. A NaN metric value behaves as in Python: only ``!=`` is true for it. A ``datasets.*``
comparison holds when one of the run's logged datasets satisfies it. ``order_by`` puts runs
lacking the key last in both directions; for metrics NaN values come after numbers and before
missing ones. Values are never pasted into SQL text: every value is a literal Column argument.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from sparktrack.errors import SHOWN_CHARS, FilterSyntaxError
from sparktrack.search.schemas import NUMBER, PLURAL, RUN_PREFIXES, RUNS, STRING, TIME, SearchSchema

NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=")
STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
NULL_OPS = ("IS NULL", "IS NOT NULL")


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """One ``<entity>.<key> <op> <value>`` term of a filter."""

    entity: str  # "metric" | "param" | "tag" | "attribute" | "dataset"
    key: str
    op: str  # one of NUMBER_OPS, STRING_OPS or NULL_OPS
    value: object  # float, str, tuple[str, ...] for IN / NOT IN, None for IS [NOT] NULL
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


_WORD = re.compile(r"[^\W\d][\w\-./:]*")  # unicode letters too, as logged keys may hold them
_BARE_KEY = re.compile(r"[\w\-./:]+")
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

    def seek(self, offset: int) -> None:
        """Go on scanning from ``offset`` (after a key read straight from the text)."""
        self._offset, self._next = offset, None

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


def _parse_identifier(tokens: _Tokens, schema: SearchSchema, ordering: bool = False) -> _Identifier:
    token = tokens.next()
    names = schema.prefix_names()
    bare = schema.bare_attributes()
    if token.kind == "(":
        raise tokens.fail(token, "Parentheses are only allowed around IN lists: a filter is "
                                 "comparisons joined by AND, without grouping")
    quoted = token.kind == "backtick" or (token.kind == "string" and token.text[0] == '"')
    if quoted and tokens.text.startswith(".", token.end):  # `metrics`.acc: a quoted entity
        return _after_dot(tokens, token, str(token.value), schema)
    if quoted and token.value in bare:  # `run name` = 'x': a quoted bare attribute
        return _Identifier(entity="attribute", key=str(token.value), text=token.text, position=token.position)
    if token.kind != "word" or token.is_keyword("AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS"):
        raise tokens.fail(token, f"Expected an identifier ({names}), got {token.shown()}")
    if token.text in bare:  # a bare attribute name, as MLflow allows (``status = 'FINISHED'``)
        return _Identifier(entity="attribute", key=token.text, text=token.text, position=token.position)
    prefix, dot, key = token.text.partition(".")
    if not dot:
        raise tokens.fail(token, f"Invalid identifier {_cut(token.text)!r}: expected {names}, or an "
                                 f"attribute of {schema.name} ({schema.attribute_names(ordering)})")
    entity = _entity(tokens, token, prefix, schema)
    if key:
        return _Identifier(entity=entity, key=key, text=token.text, position=token.position)
    return _quoted_key(tokens, token, entity)


def _entity(tokens: _Tokens, token: _Token, prefix: str, schema: SearchSchema) -> str:
    entity = schema.prefixes.get(prefix)
    if entity is not None:
        return entity
    known = RUN_PREFIXES.get(prefix)
    if known is not None and known not in schema.prefixes.values():
        raise tokens.fail(token, f"{schema.name} have no {PLURAL[known]} ({_cut(token.text)!r}): use "
                                 f"{schema.prefix_names()}")
    if known is not None:
        spellings = sorted(name for name, entity in schema.prefixes.items() if entity == known)
        raise tokens.fail(token, f"Invalid entity type {_cut(prefix)!r} in {_cut(token.text)!r}: {schema.name} "
                                 f"spell it {' or '.join(spellings)}")
    lower = f" (entity names are lower case: {prefix.lower()}.)" if prefix.lower() in RUN_PREFIXES else ""
    raise tokens.fail(token, f"Invalid entity type {_cut(prefix)!r} in {_cut(token.text)!r}: expected "
                             f"{schema.prefix_names()}{lower}")


def _after_dot(tokens: _Tokens, entity_token: _Token, spelling: str, schema: SearchSchema) -> _Identifier:
    """The key after a quoted entity (`` `metrics`.acc ``), bare or quoted."""
    entity = _entity(tokens, entity_token, spelling, schema)
    start = entity_token.end + 1
    text = tokens.text
    if start < len(text) and text[start] in "`\"'":
        key_token = _scan_quoted(text, start)
        key, end = str(key_token.value), key_token.end
    else:
        bare_key = _BARE_KEY.match(text, start)
        if bare_key is None:
            raise tokens.fail(entity_token, f"Missing key after {_cut(text[entity_token.position:start])!r}")
        key, end = bare_key.group(), bare_key.end()
    if not key:
        raise tokens.fail(entity_token, f"Empty key in {_cut(text[entity_token.position:end])!r}: give the key a name")
    tokens.seek(end)
    return _Identifier(entity=entity, key=key, text=text[entity_token.position:end], position=entity_token.position)


def _quoted_key(tokens: _Tokens, prefix: _Token, entity: str) -> _Identifier:
    token = tokens.peek()
    if token.position != prefix.end or token.kind not in ("backtick", "string"):
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
                                        "NOT only appears in NOT IN (...) and IS NOT NULL")
        return "NOT IN", token
    if token.is_keyword("IS"):
        follower = tokens.next()
        negated = follower.is_keyword("NOT")
        if negated:
            follower = tokens.next()
        if not follower.is_keyword("NULL"):
            raise tokens.fail(follower, f"Expected NULL after {'IS NOT' if negated else 'IS'}, got "
                                        f"{follower.shown()}: write IS NULL or IS NOT NULL")
        return ("IS NOT NULL" if negated else "IS NULL"), token
    raise tokens.fail(token, f"Expected an operator after {_cut(identifier.text)!r} (one of "
                             f"{', '.join(NUMBER_OPS + STRING_OPS[2:] + NULL_OPS)}), got {token.shown()}; "
                             "quote keys with spaces or special characters in backticks")


def _parse_value(tokens: _Tokens, op: str, op_token: _Token) -> tuple[object, _Token]:
    if op in NULL_OPS:
        return None, op_token
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
    if token.is_keyword("NULL"):
        raise tokens.fail(token, f"Compare with NULL using IS NULL or IS NOT NULL, not {op!r}")
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
        if separator.kind == "," and tokens.peek().kind == ")":  # a trailing comma, as Python allows
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


def _parse_comparison(tokens: _Tokens, schema: SearchSchema) -> _Parsed:
    identifier = _parse_identifier(tokens, schema)
    op, op_token = _parse_operator(tokens, identifier)
    value, value_token = _parse_value(tokens, op, op_token)
    comparison = Comparison(entity=identifier.entity, key=identifier.key, op=op, value=value,
                            position=identifier.position)
    return _Parsed(comparison=comparison, identifier=identifier, op_token=op_token,
                   value_token=value_token)


def _parse(text: str | None, schema: SearchSchema) -> tuple[str, list[_Parsed]]:
    if text is None or not text.strip():
        return text or "", []
    tokens = _Tokens(text)
    parsed: list[_Parsed] = []
    while True:
        while tokens.peek().is_keyword("AND"):  # leading or doubled ANDs, which MLflow ignores
            tokens.next()
        if tokens.at_end():
            return text, parsed
        parsed.append(_parse_comparison(tokens, schema))
        if tokens.at_end():
            return text, parsed
        token = tokens.next()
        if token.is_keyword("OR"):
            raise tokens.fail(token, "OR is not supported: a filter is comparisons joined by AND; "
                                     "run two searches and combine the results")
        if not token.is_keyword("AND"):
            raise tokens.fail(token, f"Unexpected {token.shown()} after a complete comparison: "
                                     "join comparisons with AND")


# ------------------------------------------------------------------------------- value checks


def _check_kind(text: str, parsed: _Parsed, kind: str, subject: str) -> None:
    """Check operator and value against what ``subject`` holds: "number" or "string"."""
    op, value = parsed.comparison.op, parsed.comparison.value
    op_token, value_token = parsed.op_token, parsed.value_token
    if op in NULL_OPS:
        return
    if kind == "number" and op not in NUMBER_OPS:
        raise _fail(text, op_token.position, f"{subject} compare with numbers using "
                                             f"{', '.join(NUMBER_OPS)}; {op!r} is not supported")
    if kind == "string" and op not in STRING_OPS:
        raise _fail(text, op_token.position, f"{subject} compare with strings using "
                                             f"{', '.join(STRING_OPS)}; {op!r} is not supported")
    if kind == "number" and isinstance(value, str):
        raise _fail(text, value_token.position, f"{subject} compare with numbers; got the string "
                                                f"{_cut(value_token.text)}: write the number unquoted")
    if kind == "string" and isinstance(value, float):
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


def parse_filter(text: str | None, schema: SearchSchema = RUNS) -> list[Comparison]:
    """Parse and check a filter (of runs, by default) into its comparisons (an empty list for
    ``None`` or blank text)."""
    text, parsed = _parse(text, schema)
    return [comparison for _, comparison in (_bind(text, item, schema) for item in parsed)]


# ------------------------------------------------------------------------------------ binding


@dataclass(frozen=True, kw_only=True)
class Target:
    """Where a comparison's left-hand side lives: a map column's key, a list of structs' field
    (datasets), or an attribute column."""

    kind: str  # "map" | "list" | "string" | "time" | "number"
    column: str
    key: str = ""
    numeric: bool = False

    @property
    def name(self) -> str:
        """The column an Arrow table holds the values in: ``metrics.acc`` for a map lookup,
        ``datasets.name`` (a list per row) for datasets."""
        return f"{self.column}.{self.key}" if self.kind in ("map", "list") else self.column


def _resolve(text: str, identifier: _Identifier, schema: SearchSchema, ordering: bool = False) -> Target:
    entity, key = identifier.entity, identifier.key
    if entity == "attribute":
        found = (schema.sorted_by() if ordering else schema.attributes).get(key)
        if found is None:
            raise _fail(text, identifier.position, f"Unknown attribute {_cut(key)!r} for {schema.name}: "
                                                   f"valid attributes are {schema.attribute_names(ordering)}")
        return Target(kind=found[0], column=found[1])
    if entity in schema.list_entities:
        if ordering:
            raise _fail(text, identifier.position, f"{schema.name} cannot be ordered by {PLURAL[entity]}")
        if key not in schema.list_entities[entity]:
            raise _fail(text, identifier.position, f"Unknown {entity} key {_cut(key)!r}: valid keys are "
                                                   f"{', '.join(schema.list_entities[entity])}")
        return Target(kind="list", column=PLURAL[entity], key=key)
    if entity not in schema.map_columns:
        raise _fail(text, identifier.position, f"{schema.name} have no {PLURAL[entity]} "
                                               f"({_cut(identifier.text)!r}): use {schema.prefix_names()}")
    numeric = entity in schema.numeric_entities
    return Target(kind="map", column=schema.map_columns[entity], key=key, numeric=numeric)


def _bind(text: str, parsed: _Parsed, schema: SearchSchema) -> tuple[Target, Comparison]:
    target = _resolve(text, parsed.identifier, schema)
    comparison = parsed.comparison
    name = parsed.identifier.key
    if comparison.op in NULL_OPS and comparison.entity not in schema.null_entities:
        allowed = ", ".join(PLURAL[e] for e in sorted(schema.null_entities))
        raise _fail(text, parsed.op_token.position, f"IS NULL / IS NOT NULL is supported for {allowed} of "
                                                    f"{schema.name}, not for {_cut(parsed.identifier.text)!r}")
    if (target.kind == NUMBER and name in schema.quoted_numbers and isinstance(comparison.value, str)
            and re.fullmatch(r"[+-]?\d+", comparison.value)):  # version_number = '3', as MLflow allows
        comparison = dataclasses.replace(comparison, value=float(comparison.value))
        parsed = dataclasses.replace(parsed, comparison=comparison)
    if target.kind == "map":
        numeric = comparison.entity in schema.numeric_entities
        _check_kind(text, parsed, "number" if numeric else "string", PLURAL[comparison.entity])
    elif target.kind == "list":
        _check_kind(text, parsed, "string", f"{PLURAL[comparison.entity]} keys like {name!r}")
    elif target.kind == TIME:
        _check_kind(text, parsed, "number", f"time attributes like {name!r} (epoch milliseconds)")
    elif target.kind == NUMBER:
        _check_kind(text, parsed, "number", f"numeric attributes like {name!r}")
    else:
        _check_kind(text, parsed, "string", f"string attributes like {name!r}")
    return target, comparison


# ----------------------------------------------------------------------------------- ordering


def _parse_order_clause(clause: str, schema: SearchSchema) -> tuple[Target, bool]:
    if not isinstance(clause, str):
        raise _fail(repr(clause), 0, f"order_by clauses are strings; got {clause!r} of type "
                                     f"{type(clause).__name__}, e.g. write 'metrics.accuracy DESC'")
    if not clause.strip():
        raise _fail(clause, 0, "Empty order_by clause: write '<identifier> [ASC|DESC]', "
                               "e.g. 'metrics.accuracy DESC'")
    tokens = _Tokens(clause)
    identifier = _parse_identifier(tokens, schema, ordering=True)
    target = _resolve(clause, identifier, schema, ordering=True)
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
    return ordering + [(Target(kind=STRING, column=name), direction.upper() == "ASC")
                       for name, direction in schema.default_order]


@dataclass(frozen=True)
class Query:
    """A filter and an ``order_by`` bound to a schema: what every evaluator compiles."""

    schema: SearchSchema
    conditions: list[tuple[Target, Comparison]]
    ordering: list[tuple[Target, bool]]  # (target, ascending), the schema's tie-breakers last

    @property
    def keys(self) -> dict[str, list[str]]:
        """The keys the query looks up in each map (and list) column, e.g. ``{"metrics": ["acc"],
        "datasets": ["name"]}``: all a search needs of them."""
        keys: dict[str, list[str]] = {}
        for target in [t for t, _ in self.conditions] + [t for t, _ in self.ordering]:
            if target.kind in ("map", "list") and target.key not in keys.setdefault(target.column, []):
                keys[target.column].append(target.key)
        return {column: names for column, names in keys.items() if names}


def bind(filter_string: str | None, order_by: list[str] | None, schema: SearchSchema) -> Query:
    """Parse ``filter_string`` and ``order_by`` and bind them to ``schema``. Raises
    :class:`~sparktrack.errors.FilterSyntaxError`, naming the position, when either is malformed
    or names something ``schema`` lacks."""
    text, parsed = _parse(filter_string, schema)
    conditions = [_bind(text, item, schema) for item in parsed]
    return Query(schema=schema, conditions=conditions, ordering=_ordering(order_by, schema))
