"""Recursive-descent parser for the KQL subset (grammar in kvctl.emulator.kql's docstring).

Nesting is counted so that a deep parenthesis nest, or a very long operator chain, is a SyntaxError
and never a RecursionError in the parser or in the evaluator that walks the tree.
"""

from __future__ import annotations

from typing import Any

from . import kql_ast as ast
from .kql_lexer import Token, tokenize
from .kql_model import MAX_NESTING, MAX_TREE_DEPTH, semantic_error, syntax_error
from .kql_values import parse_datetime, parse_timespan

# Kusto operators the emulator does not implement: refused by name (SemanticError), not mis-parsed.
UNSUPPORTED_OPERATORS = frozenset(
    {
        "join",
        "union",
        "lookup",
        "mv-expand",
        "mv-apply",
        "parse",
        "parse-where",
        "parse-kv",
        "evaluate",
        "render",
        "as",
        "search",
        "find",
        "sample",
        "sample-distinct",
        "serialize",
        "make-series",
        "invoke",
        "getschema",
        "fork",
        "facet",
        "range",
        "print",
        "partition",
        "scan",
        "top-nested",
        "top-hitters",
        "project-keep",
        "project-reorder",
        "reduce",
        "consume",
        "externaldata",
        "materialize",
    }
)
STRING_OPERATORS = frozenset(
    {
        "has",
        "!has",
        "has_cs",
        "!has_cs",
        "contains",
        "!contains",
        "contains_cs",
        "!contains_cs",
        "startswith",
        "!startswith",
        "startswith_cs",
        "!startswith_cs",
        "endswith",
        "!endswith",
        "endswith_cs",
        "!endswith_cs",
        "hasprefix",
        "!hasprefix",
        "hassuffix",
        "!hassuffix",
    }
)
UNSUPPORTED_BINARY = frozenset({"has_any", "!has_any", "has_all", "!has_all", "like", "notlike", "matches"})
COMPARISONS = frozenset({"==", "!=", "<>", "<", "<=", ">", ">=", "=~", "!~"})
IN_OPERATORS = frozenset({"in", "!in", "in~", "!in~"})
_BOOLS = {"true": True, "false": False}


def parse(query: str) -> ast.Query:
    return _Parser(tokenize(query)).query()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.nesting = 0
        self.depths: dict[int, int] = {}

    # -- token helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def at_op(self, *texts: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in texts

    def at_word(self, *words: str) -> bool:
        return self.tok.kind == "ident" and self.tok.text in words

    def expect_op(self, text: str) -> Token:
        if not self.at_op(text):
            raise self.unexpected(f"expected '{text}'")
        return self.advance()

    def expect_word(self, word: str) -> Token:
        if not self.at_word(word):
            raise self.unexpected(f"expected '{word}'")
        return self.advance()

    def unexpected(self, what: str) -> Exception:
        tok = self.tok
        shown = "end of query" if tok.kind == "eof" else f"'{tok.text}'"
        return syntax_error(f"{what}, found {shown} at position {tok.pos}", tok.pos, tok.text or None)

    def enter(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise syntax_error(
                f"expression nested more than {MAX_NESTING} levels deep at position {self.tok.pos}",
                self.tok.pos,
                self.tok.text,
            )

    def leave(self) -> None:
        self.nesting -= 1

    def node(self, expr: ast.Expr, *children: ast.Expr) -> ast.Expr:
        depth = 1 + max((self.depths.get(id(c), 1) for c in children), default=0)
        if depth > MAX_TREE_DEPTH:
            raise syntax_error(
                f"expression too deeply nested (more than {MAX_TREE_DEPTH} operators) at position {expr.pos}",
                expr.pos,
            )
        self.depths[id(expr)] = depth
        return expr

    # -- statements and tabular operators
    def query(self) -> ast.Query:
        lets: list[tuple[str, ast.Expr]] = []
        while self.at_word("let"):
            self.advance()
            name = self.identifier("a name after 'let'")
            self.expect_op("=")
            lets.append((name.text, self.expr()))
            self.expect_op(";")
        table = self.tok
        if table.kind == "ident":
            self.advance()
            table_name = table.text
        elif self.at_op("["):
            table_name = self.bracketed_name()
        else:
            raise self.unexpected("expected a table name")
        operators: list[ast.Operator] = []
        while self.at_op("|"):
            self.advance()
            operators.append(self.operator())
        while self.at_op(";"):
            self.advance()
        if self.tok.kind != "eof":
            raise self.unexpected("expected '|' or the end of the query")
        return ast.Query(tuple(lets), table_name, table.pos, tuple(operators))

    def identifier(self, what: str) -> Token:
        if self.tok.kind != "ident":
            raise self.unexpected(f"expected {what}")
        return self.advance()

    def bracketed_name(self) -> str:
        self.expect_op("[")
        tok = self.tok
        if tok.kind != "string":
            raise self.unexpected("expected a quoted name inside '[...]'")
        self.advance()
        self.expect_op("]")
        return str(tok.value)

    def operator(self) -> ast.Operator:
        tok = self.identifier("a tabular operator after '|'")
        word = tok.text
        lower = word.lower()
        if lower in UNSUPPORTED_OPERATORS:
            raise semantic_error(
                f"operator '{word}' at position {tok.pos} is not supported by the emulator's KQL subset",
                tok.pos,
                word,
            )
        if word in ("where", "filter"):
            return ast.Where(tok.pos, self.expr())
        if word == "project":
            return ast.Project(tok.pos, self.assignments())
        if word == "extend":
            return ast.Extend(tok.pos, self.assignments())
        if word == "project-away":
            return ast.ProjectAway(tok.pos, self.name_patterns())
        if word == "project-rename":
            return ast.ProjectRename(tok.pos, self.renames())
        if word in ("order", "sort"):
            self.expect_word("by")
            return ast.Sort(tok.pos, self.sort_keys())
        if word in ("take", "limit"):
            return ast.Take(tok.pos, self.expr())
        if word == "top":
            count = self.expr()
            self.expect_word("by")
            return ast.Top(tok.pos, count, self.sort_keys())
        if word == "summarize":
            aggregates: tuple[ast.Assign, ...] = ()
            if not self.at_word("by"):
                aggregates = self.assignments()
            by: tuple[ast.Assign, ...] = ()
            if self.at_word("by"):
                self.advance()
                by = self.assignments()
            if not aggregates and not by:
                raise self.unexpected("expected an aggregate or 'by' after 'summarize'")
            return ast.Summarize(tok.pos, aggregates, by)
        if word == "distinct":
            if self.at_op("*"):
                self.advance()
                return ast.Distinct(tok.pos, ())
            return ast.Distinct(tok.pos, self.assignments())
        if word == "count":
            return ast.Count(tok.pos)
        raise syntax_error(f"unknown tabular operator '{word}' at position {tok.pos}", tok.pos, word)

    def assignments(self) -> tuple[ast.Assign, ...]:
        items = [self.assignment()]
        while self.at_op(","):
            self.advance()
            items.append(self.assignment())
        return tuple(items)

    def assignment(self) -> ast.Assign:
        if self.tok.kind == "ident" and self.peek().kind == "op" and self.peek().text == "=":
            name = self.advance().text
            self.advance()
            return ast.Assign(name, self.expr())
        if self.at_op("[") and self.peek().kind == "string" and self.peek(2).text == "]" and self.peek(3).text == "=":
            name = self.bracketed_name()
            self.advance()
            return ast.Assign(name, self.expr())
        return ast.Assign(None, self.expr())

    def name_patterns(self) -> tuple[tuple[str, int], ...]:
        patterns: list[tuple[str, int]] = []
        while True:
            start = self.tok
            if self.at_op("["):
                patterns.append((self.bracketed_name(), start.pos))
            else:
                text = ""
                end = start.pos
                while (self.tok.kind == "ident" or self.at_op("*")) and (not text or self.tok.pos == end):
                    text += self.tok.text
                    end = self.tok.pos + len(self.tok.text)
                    self.advance()
                if not text:
                    raise self.unexpected("expected a column name")
                patterns.append((text, start.pos))
            if not self.at_op(","):
                return tuple(patterns)
            self.advance()

    def renames(self) -> tuple[tuple[str, str, int], ...]:
        pairs: list[tuple[str, str, int]] = []
        while True:
            new = self.bracketed_name() if self.at_op("[") else self.identifier("a new column name").text
            self.expect_op("=")
            old_tok = self.tok
            old = self.bracketed_name() if self.at_op("[") else self.identifier("an existing column name").text
            pairs.append((new, old, old_tok.pos))
            if not self.at_op(","):
                return tuple(pairs)
            self.advance()

    def sort_keys(self) -> tuple[ast.SortKey, ...]:
        keys: list[ast.SortKey] = []
        while True:
            expr = self.expr()
            descending = True
            if self.at_word("asc", "desc"):
                descending = self.advance().text == "desc"
            nulls_first = not descending
            if self.at_word("nulls"):
                self.advance()
                if not self.at_word("first", "last"):
                    raise self.unexpected("expected 'first' or 'last' after 'nulls'")
                nulls_first = self.advance().text == "first"
            keys.append(ast.SortKey(expr, descending, nulls_first))
            if not self.at_op(","):
                return tuple(keys)
            self.advance()

    # -- scalar expressions, lowest precedence first
    def expr(self) -> ast.Expr:
        self.enter()
        try:
            return self.or_expr()
        finally:
            self.leave()

    def or_expr(self) -> ast.Expr:
        left = self.and_expr()
        while self.at_word("or"):
            tok = self.advance()
            right = self.and_expr()
            left = self.node(ast.Binary(tok.pos, "or", left, right), left, right)
        return left

    def and_expr(self) -> ast.Expr:
        left = self.relation()
        while self.at_word("and"):
            tok = self.advance()
            right = self.relation()
            left = self.node(ast.Binary(tok.pos, "and", left, right), left, right)
        return left

    def relation(self) -> ast.Expr:
        left = self.additive()
        tok = self.tok
        op = tok.text
        if tok.kind == "op" and op in COMPARISONS:
            self.advance()
            right = self.additive()
            return self.node(ast.Binary(tok.pos, "!=" if op == "<>" else op, left, right), left, right)
        if tok.kind in ("ident", "op") and op in UNSUPPORTED_BINARY:
            raise semantic_error(
                f"operator '{op}' at position {tok.pos} is not supported by the emulator's KQL subset", tok.pos, op
            )
        if tok.kind in ("ident", "op") and op in STRING_OPERATORS:
            self.advance()
            right = self.additive()
            return self.node(ast.Binary(tok.pos, op, left, right), left, right)
        if tok.kind == "ident" and op == "matches":
            self.advance()
            self.expect_word("regex")
            right = self.additive()
            return self.node(ast.Binary(tok.pos, "matches regex", left, right), left, right)
        if (tok.kind == "op" and op in IN_OPERATORS) or (tok.kind == "ident" and op == "in"):
            self.advance()
            items = self.paren_list()
            return self.node(ast.InList(tok.pos, op, left, tuple(items)), left, *items)
        if (tok.kind == "ident" and op == "between") or (tok.kind == "op" and op == "!between"):
            self.advance()
            self.expect_op("(")
            self.enter()
            low = self.additive()
            self.expect_op("..")
            high = self.additive()
            self.leave()
            self.expect_op(")")
            return self.node(ast.Between(tok.pos, op.startswith("!"), left, low, high), left, low, high)
        return left

    def paren_list(self) -> list[ast.Expr]:
        self.expect_op("(")
        items: list[ast.Expr] = []
        if not self.at_op(")"):
            items.append(self.expr())
            while self.at_op(","):
                self.advance()
                items.append(self.expr())
        self.expect_op(")")
        return items

    def additive(self) -> ast.Expr:
        left = self.multiplicative()
        while self.at_op("+", "-"):
            tok = self.advance()
            right = self.multiplicative()
            left = self.node(ast.Binary(tok.pos, tok.text, left, right), left, right)
        return left

    def multiplicative(self) -> ast.Expr:
        left = self.unary()
        while self.at_op("*", "/", "%"):
            tok = self.advance()
            right = self.unary()
            left = self.node(ast.Binary(tok.pos, tok.text, left, right), left, right)
        return left

    def unary(self) -> ast.Expr:
        if self.at_op("-", "+"):
            tok = self.advance()
            self.enter()
            try:
                operand = self.unary()
            finally:
                self.leave()
            return self.node(ast.Unary(tok.pos, tok.text, operand), operand)
        return self.postfix()

    def postfix(self) -> ast.Expr:
        expr = self.primary()
        while True:
            if self.at_op("."):
                self.advance()
                key = self.identifier("a property name after '.'")
                expr = self.node(ast.Member(key.pos, expr, key.text), expr)
            elif self.at_op("["):
                tok = self.advance()
                if self.tok.kind == "string" and self.peek().text == "]":
                    key_tok = self.advance()
                    self.advance()
                    expr = self.node(ast.Member(tok.pos, expr, str(key_tok.value)), expr)
                else:
                    self.enter()
                    index = self.expr()
                    self.leave()
                    self.expect_op("]")
                    expr = self.node(ast.Index(tok.pos, expr, index), expr, index)
            else:
                return expr

    def primary(self) -> ast.Expr:
        tok = self.tok
        if tok.kind == "string":
            self.advance()
            return ast.Literal(tok.pos, tok.value, "string")
        if tok.kind in ("long", "real", "timespan"):
            self.advance()
            return ast.Literal(tok.pos, tok.value, tok.kind)
        if tok.kind in ("datetime", "time", "guid"):
            self.advance()
            return self.raw_literal(tok)
        if self.at_op("("):
            self.advance()
            self.enter()
            inner = self.expr()
            self.leave()
            self.expect_op(")")
            return inner
        if self.at_op("["):
            return ast.Name(tok.pos, self.bracketed_name())
        if self.at_op("*"):
            self.advance()
            return ast.Star(tok.pos)
        if tok.kind == "ident":
            self.advance()
            if tok.text.lower() in _BOOLS and not self.at_op("("):
                return ast.Literal(tok.pos, _BOOLS[tok.text.lower()], "bool")
            if self.at_op("("):
                if tok.text == "dynamic":
                    return self.dynamic_literal(tok)
                return self.call(tok)
            return ast.Name(tok.pos, tok.text)
        raise self.unexpected("expected an expression")

    def call(self, name: Token) -> ast.Expr:
        self.enter()
        try:
            args = self.paren_list()
        finally:
            self.leave()
        return self.node(ast.Call(name.pos, name.text, tuple(args)), *args)

    def raw_literal(self, tok: Token) -> ast.Expr:
        raw = str(tok.value)
        if raw == "null":
            kind = "timespan" if tok.kind == "time" else tok.kind
            return ast.Literal(tok.pos, None, kind)
        if tok.kind == "datetime":
            value: Any = parse_datetime(raw)
            kind = "datetime"
        elif tok.kind == "time":
            value = parse_timespan(raw)
            kind = "timespan"
        else:
            value = raw.lower() if _is_guid(raw) else None
            kind = "guid"
        if value is None:
            raise syntax_error(f"invalid {kind} literal '{tok.text}' at position {tok.pos}", tok.pos, tok.text)
        return ast.Literal(tok.pos, value, kind)

    def dynamic_literal(self, tok: Token) -> ast.Expr:
        self.expect_op("(")
        value = self.json_value()
        self.expect_op(")")
        return ast.Literal(tok.pos, value, "dynamic")

    def json_value(self) -> Any:
        tok = self.tok
        self.enter()
        try:
            if self.at_op("["):
                self.advance()
                items: list[Any] = []
                if not self.at_op("]"):
                    items.append(self.json_value())
                    while self.at_op(","):
                        self.advance()
                        items.append(self.json_value())
                self.expect_op("]")
                return items
            if self.at_op("{"):
                self.advance()
                bag: dict[str, Any] = {}
                if not self.at_op("}"):
                    while True:
                        key = self.tok
                        if key.kind != "string":
                            raise self.unexpected("expected a quoted property name")
                        self.advance()
                        self.expect_op(":")
                        bag[str(key.value)] = self.json_value()
                        if not self.at_op(","):
                            break
                        self.advance()
                self.expect_op("}")
                return bag
            if self.at_op("-") and self.peek().kind in ("long", "real"):
                self.advance()
                return -self.advance().value
            if tok.kind in ("string", "long", "real"):
                self.advance()
                return tok.value
            if tok.kind in ("datetime", "time", "guid"):
                self.advance()
                literal = self.raw_literal(tok)
                assert isinstance(literal, ast.Literal)
                return literal.value
            if tok.kind == "ident" and tok.text.lower() in (*_BOOLS, "null"):
                self.advance()
                return _BOOLS.get(tok.text.lower())
            raise self.unexpected("expected a value inside dynamic(...)")
        finally:
            self.leave()


def _is_guid(text: str) -> bool:
    import re

    return re.fullmatch(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", text) is not None
