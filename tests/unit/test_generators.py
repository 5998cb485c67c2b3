"""Properties of the value generators behind `kvctl rotate`."""

from __future__ import annotations

import base64
import binascii
import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvctl.core import generators
from kvctl.core.errors import UsageError
from kvctl.core.generators import CLASSES, GeneratorSpec, check, generate, parse_classes

class_sets = st.lists(st.sampled_from(list(CLASSES)), min_size=1, max_size=4, unique=True).map(tuple)


@given(class_sets, st.integers(1, 200))
def test_passwords_have_the_length_and_one_of_each_class_and_nothing_else(classes, extra):
    length = len(classes) + extra - 1
    value = generate(GeneratorSpec("password", length, classes))
    assert len(value) == length
    allowed = "".join(CLASSES[c] for c in classes)
    assert set(value) <= set(allowed)
    for name in classes:
        assert set(value) & set(CLASSES[name]), f"no {name} character in {value!r}"


@given(class_sets, st.integers(0, 3))
def test_a_password_too_short_for_its_classes_is_refused(classes, length):
    spec = GeneratorSpec("password", length, classes)
    if length >= len(classes) and length >= 1:
        assert len(generate(spec)) == length
    else:
        with pytest.raises(UsageError):
            check(spec)


def test_symbols_avoid_characters_that_shells_and_literals_interpret():
    assert not set(generators.SYMBOLS) & set("\"'`\\$ \t\n")
    assert len(set(generators.SYMBOLS)) == len(generators.SYMBOLS)


@given(st.integers(1, 300))
def test_hex_is_lower_case_hex_of_the_length(length):
    value = generate(GeneratorSpec("hex", length))
    assert re.fullmatch(r"[0-9a-f]+", value) and len(value) == length


@given(st.integers(1, 300))
def test_base64_is_standard_padded_base64_of_length_bytes(length):
    value = generate(GeneratorSpec("base64", length))
    assert len(base64.b64decode(value, validate=True)) == length
    assert len(value) == 4 * ((length + 2) // 3)


def test_uuid_is_a_random_version_4_uuid():
    values = {generate(GeneratorSpec("uuid")) for _ in range(50)}
    assert len(values) == 50
    for value in values:
        assert uuid.UUID(value).version == 4 and str(uuid.UUID(value)) == value


def test_defaults():
    assert len(generate(GeneratorSpec())) == 32
    assert len(generate(GeneratorSpec("hex"))) == 64
    assert len(binascii.a2b_base64(generate(GeneratorSpec("base64")))) == 32


def test_values_do_not_repeat():
    assert len({generate(GeneratorSpec("password", 12)) for _ in range(200)}) == 200


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        (GeneratorSpec("uuid", 10), "does not apply"),
        (GeneratorSpec("hex", 0), "out of range"),
        (GeneratorSpec("base64", generators.MAX_LENGTH + 1), "out of range"),
        (GeneratorSpec("hex", 8, ("digits",)), "only to --generator password"),
        (GeneratorSpec("words"), "unknown generator"),
        (GeneratorSpec("password", 3), "cannot hold one character from each of 4"),
    ],
)
def test_impossible_specs_are_usage_errors(spec, fragment):
    with pytest.raises(UsageError, match=fragment):
        check(spec)


@given(st.text(max_size=40))
def test_parse_classes_accepts_exactly_comma_separated_known_names(text):
    parts = [p.strip().lower() for p in text.split(",") if p.strip()]
    if parts and all(p in CLASSES for p in parts):
        assert parse_classes(text) == tuple(dict.fromkeys(parts))
    else:
        with pytest.raises(UsageError):
            parse_classes(text)


def test_the_alphabet_is_used_evenly():
    """A crude check that characters are drawn uniformly (a biased generator fails it)."""
    value = "".join(generate(GeneratorSpec("password", 4096, ("digits",))) for _ in range(5))
    counts = [value.count(d) for d in "0123456789"]
    expected = len(value) / 10
    assert all(abs(c - expected) < expected * 0.15 for c in counts), counts
