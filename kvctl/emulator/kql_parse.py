"""Recursive-descent parser for the KQL subset (grammar in kvctl.emulator.kql's docstring): statements
and tabular operators; scalar expressions are parsed by kql_parse_expr.ExprParser."""

from __future__ import annotations

from . import kql_ast as ast
from .kql_lexer import tokenize
from .kql_model import semantic_error, syntax_error, words
from .kql_parse_expr import ExprParser

# Kusto operators the emulator does not implement: refused by name (SemanticError), not mis-parsed.
UNSUPPORTED_OPERATORS = words(
    "join union lookup mv-expand mv-apply mvexpand mvapply parse parse-where parse-kv evaluate render as search "
    "find sample sample-distinct serialize make-series invoke getschema fork facet range print "
    "partition scan top-nested top-hitters project-keep project-reorder reduce consume "
    "externaldata materialize "
)


def parse(query: str) -> ast.Query:
    return _Parser(tokenize(query)).query()


class _Parser(ExprParser):
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
