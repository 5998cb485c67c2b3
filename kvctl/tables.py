"""Laying out a table for a terminal of a given width, without ever breaking an identifier.

The rules, in order: columns whose cells are all empty go, and so (with two rows or more) do
columns whose cells are all the same, named once in a footer; identifiers (names, versions,
GUIDs, paths) and times are never wrapped or cut; free text wraps at spaces; if the table is still
too wide, the least important columns are left out (the footer says which); if even the columns
that must stay do not fit, each row is printed as a block of `Header: value` lines instead.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

GAP = "  "
MIN_TEXT_WIDTH = 12


@dataclass(frozen=True)
class Spec:
    header: str
    wrap: str = ""  # "text": wraps at spaces; "list": wraps after ", " (items stay whole); "": never
    drop: int = 0  # 0: keep; higher numbers are left out first when the width runs short


@dataclass(frozen=True)
class Plan:
    shown: list[int]  # indexes of the columns shown, in order
    records: bool  # one block of `Header: value` lines per row instead of a table
    notes: list[str]  # footer lines: constant columns, columns left out


def plan(specs: list[Spec], rows: list[list[str]], width: int) -> Plan:
    """Decide what to show. Pure, so the rules are testable without a terminal."""
    notes: list[str] = []
    shown = [i for i in range(len(specs)) if any(row[i] for row in rows)]
    if len(rows) >= 2:
        # The first column names the row, so it stays even if it repeats.
        constant = [i for i in shown if i != 0 and len({row[i] for row in rows}) == 1]
        if constant:
            notes.append("every row: " + "; ".join(f"{specs[i].header}: {rows[0][i]}" for i in constant))
            shown = [i for i in shown if i not in constant]
    if _fits(specs, rows, shown, width):
        return Plan(shown, False, notes)
    left_out: list[int] = []
    for i in sorted((i for i in shown if specs[i].drop), key=lambda i: (-specs[i].drop, -i)):
        shown = [j for j in shown if j != i]
        left_out.append(i)
        if _fits(specs, rows, shown, width):
            return Plan(shown, False, [*notes, _left_out_note(specs, sorted(left_out))])
    # The columns that matter do not fit side by side: one block per row shows everything.
    return Plan(sorted(shown + left_out), True, notes)


def _left_out_note(specs: list[Spec], left_out: list[int]) -> str:
    names = ", ".join(specs[i].header for i in left_out)
    return f"left out for width: {names}; a wider terminal or -o json shows them"


def _natural(rows: list[list[str]], i: int, header: str) -> int:
    return max([len(header), *(max((len(p) for p in row[i].split("\n")), default=0) for row in rows)])


def _minimum(spec: Spec, rows: list[list[str]], i: int) -> int:
    natural = _natural(rows, i, spec.header)
    if not spec.wrap:
        return natural
    longest_word = max([len(w) for row in rows for w in _words(row[i], spec.wrap)] + [len(spec.header)])
    return min(natural, max(MIN_TEXT_WIDTH, longest_word))


def _words(text: str, wrap: str) -> list[str]:
    if wrap == "list":
        items = text.split(", ")
        return [item + "," for item in items[:-1]] + items[-1:]
    return text.split()


def _fits(specs: list[Spec], rows: list[list[str]], shown: list[int], width: int) -> bool:
    if not shown:
        return True
    return sum(_minimum(specs[i], rows, i) for i in shown) + len(GAP) * (len(shown) - 1) <= width


def widths(specs: list[Spec], rows: list[list[str]], shown: list[int], width: int) -> dict[int, int]:
    """Each shown column's width: whole identifiers, and what is left shared among the text columns."""
    natural = {i: _natural(rows, i, specs[i].header) for i in shown}
    result = {i: _minimum(specs[i], rows, i) for i in shown}
    spare = width - sum(result.values()) - len(GAP) * (len(shown) - 1)
    growable = [i for i in shown if result[i] < natural[i]]
    while spare > 0 and growable:
        share = max(1, spare // len(growable))
        for i in list(growable):
            grow = min(share, natural[i] - result[i], spare)
            result[i] += grow
            spare -= grow
            if result[i] >= natural[i]:
                growable.remove(i)
            if spare <= 0:
                break
    return result


def _join_items(items: list[str], sep: str, width: int) -> list[str]:
    lines: list[str] = []
    for n, item in enumerate(items):
        piece = item + (sep.rstrip() if n < len(items) - 1 else "")
        if lines and len(lines[-1]) + 1 + len(piece) <= width:
            lines[-1] += " " + piece
        else:
            lines.append(piece)
    return lines


def wrap_cell(text: str, width: int, wrap: str) -> list[str]:
    if not wrap:
        return text.split("\n") or [""]
    lines: list[str] = []
    if wrap == "list":
        for item in _words(text, wrap):
            if lines and len(lines[-1]) + 1 + len(item) <= width:
                lines[-1] += " " + item
            else:
                lines.append(item)
        return lines or [""]
    for part in text.split("\n"):
        # Words longer than the column stay whole: a long path in a message is still copyable.
        lines += textwrap.wrap(part, width, break_long_words=False, break_on_hyphens=False) or [""]
    return lines


_SGR = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "blue": "34", "cyan": "36"}


def sgr(style: str, text: str, colour: bool) -> str:
    """`text` in a style named as rich names them ("bold red"); plain without colour."""
    codes = [_SGR[w] for w in style.split() if w in _SGR]
    if not colour or not codes or not text:
        return text
    return f"\x1b[{';'.join(codes)}m{text}\x1b[0m"


def render(specs: list[Spec], rows: list[list[str]], styles: list[list[str]], width: int, colour: bool) -> list[str]:
    """The lines to print: a table, or blocks of `Header: value` lines, then the footer notes."""
    chosen = plan(specs, rows, width)
    lines: list[str] = []
    if not chosen.shown:
        return lines
    if chosen.records:
        label = max(len(specs[i].header) for i in chosen.shown) + 1
        for n, row in enumerate(rows):
            if n:
                lines.append("")
            for i in chosen.shown:
                if not row[i]:
                    continue
                parts = row[i].split("\n")
                head = sgr("bold", (specs[i].header + ":").ljust(label), colour)
                lines.append(f"{head} {sgr(styles[n][i], parts[0], colour)}")
                lines += [" " * (label + 1) + p for p in parts[1:]]
    else:
        size = widths(specs, rows, chosen.shown, width)
        last = chosen.shown[-1]

        def line(cells: list[tuple[int, str, str]]) -> str:
            out = []
            for i, text, style in cells:
                pad = "" if i == last else " " * (size[i] - len(text))
                out.append(sgr(style, text, colour) + pad)
            return GAP.join(out).rstrip()

        lines.append(line([(i, specs[i].header, "bold") for i in chosen.shown]))
        for n, row in enumerate(rows):
            wrapped = {i: wrap_cell(row[i], size[i], specs[i].wrap) for i in chosen.shown}
            for k in range(max(len(w) for w in wrapped.values())):
                cells = [(i, wrapped[i][k] if k < len(wrapped[i]) else "", styles[n][i]) for i in chosen.shown]
                lines.append(line(cells))
    if chosen.notes:
        lines.append("")
        for note in chosen.notes:
            # Wrapped between items only, so that a value in a note (a date and time) stays whole.
            lines += _join_items(f"({note})".split("; "), "; ", width)
    return lines
