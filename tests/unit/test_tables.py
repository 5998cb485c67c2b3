"""The table layout rules, for any rows and any width: identifiers whole, nothing dropped silently."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kvctl.tables import Spec, plan, render

IDENT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-/.", min_size=1, max_size=70)
WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz=", min_size=1, max_size=15)
SPECS = [
    Spec("Name"),
    Spec("Version"),
    Spec("Finding", wrap="text"),
    Spec("Tags", wrap="list", drop=3),
    Spec("Flag", drop=1),
]


@st.composite
def tables(draw):
    count = draw(st.integers(1, 6))
    rows = []
    for _ in range(count):
        rows.append(
            [
                draw(IDENT),
                draw(IDENT),
                " ".join(draw(st.lists(WORD, max_size=8))),
                ", ".join(draw(st.lists(WORD, max_size=4))),
                draw(st.sampled_from(["true", "false", ""])),
            ]
        )
    return rows


@settings(max_examples=300, deadline=None)
@given(rows=tables(), width=st.integers(20, 160))
def test_identifiers_are_never_broken_and_no_column_vanishes_silently(rows, width):
    lines = render(SPECS, rows, [[""] * len(SPECS) for _ in rows], width, colour=False)
    text = "\n".join(lines)
    for row in rows:
        for i in (0, 1):
            assert any(row[i] in line for line in lines), f"{row[i]!r} broken at width {width}:\n{text}"
        for word in row[2].split():
            assert word in text
    chosen = plan(SPECS, rows, width)
    for i, spec in enumerate(SPECS):
        if any(row[i] for row in rows) and i not in chosen.shown:
            assert spec.header in " ".join(chosen.notes), f"{spec.header} left out without a word"


@settings(max_examples=200, deadline=None)
@given(rows=tables(), width=st.integers(40, 160))
def test_a_table_fits_its_width_unless_one_word_is_wider(rows, width):
    chosen = plan(SPECS, rows, width)
    if chosen.records:
        return
    lines = render(SPECS, rows, [[""] * len(SPECS) for _ in rows], width, colour=False)
    table = lines[: lines.index("")] if "" in lines else lines  # the footer's items are kept whole instead
    for line in table:
        assert len(line) <= width or any(len(w) > 12 for w in line.split()), (width, line)


def test_colour_only_when_asked():
    rows = [["a", "b", "c", "", "x"]]
    styled = render(SPECS, rows, [["bold red"] * 5], 80, colour=True)
    plain = render(SPECS, rows, [["bold red"] * 5], 80, colour=False)
    assert "\x1b[1;31m" in "".join(styled) and "\x1b" not in "".join(plain)
