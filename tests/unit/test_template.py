"""`inject` templates: `{{ REF }}` placeholders, the `{{ "{{" }}` escape, errors with line numbers,
and all-or-nothing resolution (against the in-memory fake vault)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvctl.core.clouds import CLOUDS
from kvctl.core.errors import ExitCode, PartialFailure, UsageError
from kvctl.core.template import Placeholder, escape_literal, inject, parse_template, render
from tests.fakes import FakeVault

PUBLIC = CLOUDS["public"]
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
ref_text = st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc"), blacklist_characters='{}"'), min_size=1)
spaces = st.text(" \t", max_size=3)


def _joined(segments):
    """Adjacent literals joined, so two segment lists can be compared."""
    out = []
    for segment in segments:
        if isinstance(segment, str) and out and isinstance(out[-1], str):
            out[-1] += segment
        elif segment != "":
            out.append(segment)
    return out


@given(st.lists(st.one_of(text, st.tuples(ref_text, spaces, spaces)), max_size=8))
def test_escaped_literals_and_placeholders_parse_back(parts):
    template = "".join(escape_literal(p) if isinstance(p, str) else "{{" + p[1] + p[0] + p[2] + "}}" for p in parts)
    parsed = parse_template(template)
    expected = _joined([p if isinstance(p, str) else Placeholder(p[0], 0) for p in parts])
    assert [s if isinstance(s, str) else ("ref", s.ref) for s in parsed] == [
        s if isinstance(s, str) else ("ref", s.ref) for s in expected
    ]


@given(text)
def test_text_without_double_braces_is_itself(value):
    if "{{" not in value:
        assert parse_template(value) == ([value] if value else [])


@given(text)
def test_any_text_parses_or_fails_with_one_line_naming_the_line(value):
    try:
        segments = parse_template(value, "t")
    except UsageError as exc:
        assert exc.message.startswith("t, line ") and "\n" not in exc.message and exc.hint
    else:
        assert render(segments, {s.ref: "" for s in segments if isinstance(s, Placeholder)}) is not None


def test_placeholder_forms_and_line_numbers():
    segments = parse_template('a\n{{x}} {{  akv://v/n \t}}\n{{ "{{" }} lit }}\n{{ "}}" }}{{y}}')
    assert segments == [
        "a\n",
        Placeholder("x", 2),
        " ",
        Placeholder("akv://v/n", 2),
        "\n{{ lit }}\n}}",
        Placeholder("y", 4),
    ]


@pytest.mark.parametrize(
    ("template", "line", "fragment"),
    [
        ("ok\n{{ }}", 2, "without a reference"),
        ("{{", 1, "without a reference"),
        ("a\nb\n{{ name", 3, "not closed"),
        ("{{ name\n}}", 1, "not closed"),
        ('{{ "unterminated }}', 1, "without a reference"),
        ("{{{ name }}", 1, "without a reference"),
    ],
)
def test_malformed_placeholders_are_errors(template, line, fragment):
    with pytest.raises(UsageError) as info:
        parse_template(template, "cfg.tpl")
    assert info.value.message.startswith(f"cfg.tpl, line {line}: ") and fragment in info.value.message
    assert '{{ "{{" }}' in (info.value.hint or "")


def test_a_closed_placeholder_around_two_words_says_so():
    with pytest.raises(UsageError) as info:
        parse_template("x\n{{ two words }} and }}", "cfg.tpl")
    assert info.value.message == "cfg.tpl, line 2: '{{ two words }}' is not one reference"
    assert "no spaces" in (info.value.hint or "")


def test_escape_literal_quotes_only_what_it_must():
    assert escape_literal("plain { text }") == "plain { text }"
    assert escape_literal("a{{b") == 'a{{ "{" }}{b'
    assert escape_literal("ends{") == 'ends{{ "{" }}'
    assert parse_template(escape_literal("{{{ x }}}") + "{{ n }}") == ["{{{ x }}}", Placeholder("n", 1)]


def _vault():
    vault = FakeVault()
    vault.set("db", "p@ss {{ not-a-placeholder }}\nline2")
    vault.set("api", "key")
    return vault


def test_inject_replaces_every_placeholder_verbatim_and_fetches_each_secret_once():
    vault = _vault()
    template = 'db={{ db }}\napi={{akv://fake/api}}\nagain={{ DB }} {{ db }}\n{{ "{{" }}\n'
    result = inject(lambda url: vault, template, "t", "fake", PUBLIC, concurrency=4)
    assert (
        result.text
        == "db=p@ss {{ not-a-placeholder }}\nline2\napi=key\nagain="
        + ("p@ss {{ not-a-placeholder }}\nline2 " * 2).rstrip(" ")
        + "\n{{\n"
    )
    assert (result.placeholders, result.secrets) == (4, 2)
    assert sorted(name for op, name in vault.calls if op == "getSecret") == ["api", "db"]


def test_invalid_references_are_all_reported_before_any_request():
    vault = _vault()
    with pytest.raises(UsageError) as info:
        inject(lambda url: vault, "{{ bad_1 }}\n{{ db }}\n{{ akv:// }}", "t", "fake", PUBLIC, concurrency=2)
    assert "line 1: invalid secret name 'bad_1'" in info.value.message
    assert "line 3: invalid secret reference" in info.value.message
    assert [call for call in vault.calls if call[0] == "getSecret"] == []


def test_bare_names_need_a_vault():
    with pytest.raises(UsageError, match="no vault"):
        inject(lambda url: _vault(), "{{ db }}", "t", None, PUBLIC, concurrency=2)


def test_any_missing_secret_fails_the_whole_template():
    vault = _vault()
    with pytest.raises(PartialFailure) as info:
        inject(lambda url: vault, "{{ db }} {{ gone-1 }} {{ gone-2 }}", "t", "fake", PUBLIC, concurrency=2)
    assert info.value.exit_code == ExitCode.NOT_FOUND
    assert [name for name, _ in info.value.failures] == ["gone-1", "gone-2"]


def test_a_template_without_placeholders_needs_no_vault():
    result = inject(lambda url: pytest.fail("no request"), "just text\n", "t", None, PUBLIC, concurrency=2)
    assert result.text == "just text\n" and result.secrets == 0
