"""Property tests of the emulator's KQL engine: it refuses bad text only with KqlError, and its
where / order by + take / summarize agree with direct Python reference implementations of Kusto's
semantics (written here independently of the engine)."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvctl.emulator.kql import Column, KqlError, Table, execute, parse

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
COLUMNS = [
    Column("id", "long"),
    Column("s", "string"),
    Column("n", "long"),
    Column("r", "real"),
    Column("t", "datetime"),
    Column("k", "string"),
]
WORDS = ["Get", "get", "SecretGet", "db-password", "a b", "x/y", "API", "api-key", "", "Ab1"]
SMALL_TEXT = st.text(alphabet="aAbB1 -/._", max_size=8)
rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "s": st.one_of(st.sampled_from(WORDS), SMALL_TEXT),
            "n": st.one_of(st.none(), st.integers(-5, 5)),
            "r": st.one_of(st.none(), st.floats(-3, 3, allow_nan=False).map(lambda x: round(x, 1))),
            "t": st.one_of(st.none(), st.integers(-3, 3).map(lambda d: NOW + dt.timedelta(days=d))),
            "k": st.sampled_from(["red", "green", "blue", ""]),
        }
    ),
    max_size=12,
).map(lambda rows: [{"id": i, **row} for i, row in enumerate(rows)])


def table(rows: list[dict[str, Any]]) -> dict[str, Table]:
    return {"T": Table("T", COLUMNS, rows)}


# -- (1) any text: a result or a KqlError, nothing else ------------------------------------------

VOCABULARY = [
    "T", "|", "where", "project", "extend", "summarize", "by", "order", "sort", "asc", "desc", "nulls", "first",
    "take", "top", "count", "distinct", "project-away", "project-rename", "let", "x", "=", ";", "(", ")", "[", "]",
    "{", "}", ",", ".", "..", "==", "!=", "<", ">", "<=", ">=", "=~", "!~", "+", "-", "*", "/", "%", "and", "or",
    "not", "in", "!in", "in~", "has", "!has", "contains", "startswith", "between", "matches", "regex", "s", "n",
    "r", "t", "k", "id", "1", "0", "-1", "2.5", "1d", "3h", "'a'", '"b"', "@'c'", "true", "false",
    "datetime(2026-12-01)", "datetime(nope)", "time(1.00:00:00)", "dynamic([1,'a'])", "dynamic({'a':1})",
    "ago(1d)", "now()", "count()", "max(n)", "dcount(s)", "arg_max(t, *)", "bin(t, 1d)", "tostring(n)",
    "strlen(s)", "iff(", "case(", "coalesce(", "toint(", "split(s, '-')", "isnull(", "99999999999999999999",
    "1e999", "'unterminated", "//c\n", "\n", "é", "\\", "'\\q'", "join", "union", "mv-expand", "foo(",
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_is_answered_or_refused_with_kqlerror(text: str) -> None:
    _answered_or_refused(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(VOCABULARY), max_size=25), rows_strategy)
def test_token_soup_is_answered_or_refused_with_kqlerror(tokens: list[str], rows: list[dict[str, Any]]) -> None:
    _answered_or_refused("T | " + " ".join(tokens), rows)
    _answered_or_refused(" ".join(tokens), rows)


def _answered_or_refused(text: str, rows: list[dict[str, Any]] | None = None) -> None:
    try:
        parse(text)
    except KqlError as exc:
        assert exc.kind in ("SyntaxError", "SemanticError")
        assert exc.position is None or 0 <= exc.position <= len(text)
    try:
        result = execute(text, table(rows or []), now=NOW)
    except KqlError as exc:
        assert exc.kind in ("SyntaxError", "SemanticError")
        assert exc.message
        return
    assert result.name == "PrimaryResult"
    names = [c.name for c in result.columns]
    assert len(set(names)) == len(names)
    for row in result.rows:
        assert set(row) == set(names)


# A grammar of the subset: expressions over columns of every type (with nulls), so that typing and
# evaluation paths are reached, not only the parser's refusals.
TYPED_COLUMNS = [
    Column("s", "string"),
    Column("n", "long"),
    Column("i", "int"),
    Column("r", "real"),
    Column("b", "bool"),
    Column("t", "datetime"),
    Column("d", "timespan"),
    Column("g", "guid"),
    Column("p", "dynamic"),
]
TYPED_ROWS = [
    {"s": "a-b", "n": 3, "i": 1, "r": 1.5, "b": True, "t": NOW, "d": dt.timedelta(hours=1),
     "g": "11111111-2222-3333-4444-555555555555", "p": {"a": [1, "x"], "b": {"c": True}}},
    {"s": "", "n": None, "i": None, "r": None, "b": None, "t": None, "d": None, "g": None, "p": None},
    {"s": "X", "n": -2**63, "i": 0, "r": -0.0, "b": False, "t": NOW - dt.timedelta(days=400),
     "d": -dt.timedelta(days=3), "g": "", "p": [1, 2, {"a": "b"}]},
]  # fmt: skip
ATOMS = [c.name for c in TYPED_COLUMNS] + [
    "1", "0", "-1", "2.5", "'a'", '""', "true", "false", "1d", "-1h", "datetime(2026-01-01)", "datetime(null)",
    "dynamic([1, 'a'])", "dynamic({'a': 1})", "dynamic(null)", "now()", "ago(1d)", "9223372036854775807",
    "p.a", "p['b'].c", "p[0]", "-n", "-r", "-d", "-i", "guid(11111111-2222-3333-4444-555555555555)",
]  # fmt: skip
BINARY = ["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "=~", "!~", "has", "!has", "contains",
          "startswith", "endswith", "has_cs", "hasprefix", "and", "or"]  # fmt: skip
FUNCTIONS = ["tolower", "toupper", "strlen", "strcat", "substring", "split", "extract", "replace_string",
             "format_datetime", "tostring", "tolong", "toint", "toreal", "tobool", "todatetime", "totimespan",
             "parse_json", "isempty", "isnotempty", "isnull", "isnotnull", "iff", "case", "coalesce", "bin",
             "round", "abs", "startofday", "startofmonth", "array_length", "bag_keys", "not", "ago", "now"]  # fmt: skip


def _grow(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    args = st.lists(children, min_size=0, max_size=3).map(", ".join)
    return st.one_of(
        st.tuples(children, st.sampled_from(BINARY), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(FUNCTIONS), args).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(children, st.sampled_from(["in", "!in", "in~", "!in~"]), args).map(
            lambda t: f"({t[0]} {t[1]} ({t[2]}))"
        ),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} between ({t[1]} .. {t[2]}))"),
    )


def _aggregate(name: str, arg: str) -> str:
    if name.endswith(")"):
        return name
    return f"{name}({arg}, *)" if name == "arg_max" else f"{name}({arg})"


expressions = st.recursive(st.sampled_from(ATOMS), _grow, max_leaves=5)
operators = st.one_of(
    expressions.map(lambda e: f"where {e}"),
    expressions.map(lambda e: f"extend x = {e}"),
    expressions.map(lambda e: f"project s, y = {e}"),
    expressions.map(lambda e: f"order by {e} desc"),
    st.tuples(
        st.sampled_from(["count()", "max", "min", "sum", "avg", "dcount", "make_set", "arg_max", "any"]),
        expressions,
        expressions,
    ).map(lambda t: f"summarize {_aggregate(t[0], t[1])} by {t[2]}"),
    expressions.map(lambda e: f"top 2 by {e}"),
    expressions.map(lambda e: f"distinct {e}"),
)
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "long": (int,),
    "int": (int,),
    "real": (float,),
    "bool": (bool,),
    "datetime": (dt.datetime,),
    "timespan": (dt.timedelta,),
    "guid": (str,),
}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operators, min_size=1, max_size=3))
def test_grammar_queries_are_answered_with_typed_values_or_refused(ops: list[str]) -> None:
    query = "T | " + " | ".join(ops)
    try:
        result = execute(query, {"T": Table("T", TYPED_COLUMNS, TYPED_ROWS)}, now=NOW)
    except KqlError as exc:
        assert exc.kind in ("SyntaxError", "SemanticError")
        return
    for row in result.rows:
        assert list(row) == [c.name for c in result.columns] or set(row) == {c.name for c in result.columns}
        for column in result.columns:
            value = row[column.name]
            if column.type == "string":
                assert isinstance(value, str), (query, column, value)  # Kusto strings are never null
            elif column.type != "dynamic" and value is not None:
                assert isinstance(value, _PYTHON_TYPES[column.type]), (query, column, value)
                assert column.type in ("bool",) or not isinstance(value, bool), (query, column, value)
                if column.type in ("long", "int"):
                    assert -(2**63) <= value < 2**63, (query, column, value)


# -- (2) where agrees with a reference implementation of Kusto's three-valued semantics ------------


@dataclass(frozen=True)
class Pred:
    kql: str
    ref: Any  # a function of a row giving True, False or None


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _terms(text: str) -> set[str]:
    return set(re.findall(r"[0-9a-z]+", text.lower()))


def _equality(x: Any, y: Any, negate: bool) -> bool | None:
    if x is None and y is None:
        return None
    if x is None or y is None:
        return negate  # null == value is false, null != value is true
    return (x == y) != negate


def _ordering(x: Any, y: Any, op: str) -> bool | None:
    if x is None or y is None:
        return None
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


@st.composite
def string_preds(draw: st.DrawFn) -> Pred:
    value = draw(st.one_of(st.sampled_from(WORDS), SMALL_TEXT))
    op = draw(
        st.sampled_from(
            [
                "==",
                "!=",
                "=~",
                "!~",
                "has",
                "!has",
                "has_cs",
                "contains",
                "!contains",
                "contains_cs",
                "startswith",
                "!startswith",
                "endswith",
                "!endswith",
                "in",
                "!in",
                "in~",
            ]
        )
    )
    if op in ("has", "!has", "has_cs"):
        value = re.sub(r"[^0-9A-Za-z]", "", value) or "a"  # whole-term needles: the reference is a term set
    literal = _quote(value)
    lv = value.lower()
    tests = {
        "==": lambda s: s == value,
        "!=": lambda s: s != value,
        "=~": lambda s: s.lower() == lv,
        "!~": lambda s: s.lower() != lv,
        "has": lambda s: lv in _terms(s),
        "!has": lambda s: lv not in _terms(s),
        "has_cs": lambda s: value in set(re.findall(r"[0-9A-Za-z]+", s)),
        "contains": lambda s: lv in s.lower(),
        "!contains": lambda s: lv not in s.lower(),
        "contains_cs": lambda s: value in s,
        "startswith": lambda s: s.lower().startswith(lv),
        "!startswith": lambda s: not s.lower().startswith(lv),
        "endswith": lambda s: s.lower().endswith(lv),
        "!endswith": lambda s: not s.lower().endswith(lv),
        "in": lambda s: s in (value, "Get"),
        "!in": lambda s: s not in (value, "Get"),
        "in~": lambda s: s.lower() in (lv, "get"),
    }
    test = tests[op]
    if op.endswith(("in", "in~")):
        return Pred(f"s {op} ({literal}, 'Get')", lambda row: test(row["s"]))
    return Pred(f"s {op} {literal}", lambda row: test(row["s"]))


@st.composite
def number_preds(draw: st.DrawFn) -> Pred:
    column = draw(st.sampled_from(["n", "r"]))
    value = draw(st.integers(-5, 5))
    op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "!in"]))
    if op in ("in", "!in"):
        values = draw(st.lists(st.integers(-5, 5), min_size=1, max_size=3))
        listed = ", ".join(map(str, values))
        negated = op == "!in"
        # null is in no list and !in every list (as null == x is false and null != x true)
        return Pred(
            f"{column} {op} ({listed})",
            lambda row: negated if row[column] is None else (row[column] in values) != negated,
        )
    if op in ("==", "!="):
        return Pred(f"{column} {op} {value}", lambda row: _equality(row[column], value, op == "!="))
    return Pred(f"{column} {op} {value}", lambda row: _ordering(row[column], value, op))


@st.composite
def time_preds(draw: st.DrawFn) -> Pred:
    days = draw(st.integers(-3, 3))
    op = draw(st.sampled_from(["<", ">=", "==", "!="]))
    when = NOW + dt.timedelta(days=days)
    literal = f"datetime({when:%Y-%m-%dT%H:%M:%SZ})" if days % 2 else f"now() + {days}d"
    if op in ("==", "!="):
        return Pred(f"t {op} {literal}", lambda row: _equality(row["t"], when, op == "!="))
    return Pred(f"t {op} {literal}", lambda row: _ordering(row["t"], when, op))


@st.composite
def null_preds(draw: st.DrawFn) -> Pred:
    column = draw(st.sampled_from(["n", "r", "t"]))
    if draw(st.booleans()):
        return Pred(f"isnull({column})", lambda row: row[column] is None)
    return Pred(f"isnotnull({column})", lambda row: row[column] is not None)


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def _combine(children: st.SearchStrategy[Pred]) -> st.SearchStrategy[Pred]:
    both = st.tuples(children, children)
    return st.one_of(
        both.map(lambda p: Pred(f"({p[0].kql}) and ({p[1].kql})", lambda row: _and(p[0].ref(row), p[1].ref(row)))),
        both.map(lambda p: Pred(f"({p[0].kql}) or ({p[1].kql})", lambda row: _or(p[0].ref(row), p[1].ref(row)))),
        children.map(lambda p: Pred(f"not({p.kql})", lambda row: None if (v := p.ref(row)) is None else not v)),
    )


predicates = st.recursive(st.one_of(string_preds(), number_preds(), time_preds(), null_preds()), _combine, max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(rows_strategy, predicates)
def test_where_agrees_with_the_reference(rows: list[dict[str, Any]], pred: Pred) -> None:
    result = execute(f"T | where {pred.kql} | project id", table(rows), now=NOW)
    assert [r["id"] for r in result.rows] == [row["id"] for row in rows if pred.ref(row) is True]


# -- (3) order by + take agrees with sorted()[:k] ----------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    rows_strategy,
    st.sampled_from(["n", "r", "t", "s"]),
    st.sampled_from(["asc", "desc", ""]),
    st.sampled_from(["", "nulls first", "nulls last"]),
    st.integers(0, 15),
)
def test_order_by_take_agrees_with_sorted(
    rows: list[dict[str, Any]], column: str, direction: str, nulls: str, k: int
) -> None:
    result = execute(f"T | order by {column} {direction} {nulls}, id asc | take {k}", table(rows), now=NOW)
    descending = direction != "asc"
    nulls_first = nulls == "nulls first" or (not nulls and not descending)
    present = [row for row in rows if row[column] is not None]
    missing = [row for row in rows if row[column] is None]
    # sorted() is stable, also with reverse=True: sorting by id first leaves ties in id order
    by_id = sorted(present, key=lambda row: row["id"])
    ordered = sorted(by_id, key=lambda row: row[column], reverse=descending)
    nulls_part = sorted(missing, key=lambda row: row["id"])
    expected = nulls_part + ordered if nulls_first else ordered + nulls_part
    assert [r["id"] for r in result.rows] == [row["id"] for row in expected][:k]


# -- (4) summarize count() by k agrees with Counter --------------------------------------------


@settings(max_examples=200, deadline=None)
@given(rows_strategy, st.sampled_from(["k", "n", "s"]))
def test_summarize_count_agrees_with_counter(rows: list[dict[str, Any]], key: str) -> None:
    result = execute(f"T | summarize count() by {key}", table(rows), now=NOW)
    assert [c.name for c in result.columns] == [key, "count_"]
    got = {r[key]: r["count_"] for r in result.rows}
    assert len(got) == len(result.rows)  # one row per group
    assert got == dict(Counter(row[key] for row in rows))
    dcount = execute(f"T | where isnotempty({key}) | summarize dcount({key})", table(rows), now=NOW)
    assert dcount.rows == [{f"dcount_{key}": len({row[key] for row in rows if row[key] not in (None, "")})}]
