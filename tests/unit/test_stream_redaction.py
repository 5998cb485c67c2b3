"""StreamRedactor: a value that spans lines is masked in output that arrives line by line."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvctl.core.redaction import MASK, StreamRedactor, forget_all, register

# The value's lines and the text around it come from different alphabets, so the text cannot itself
# form the value; masking must still neither show the value nor eat the text around it.
secret_line = st.text(alphabet="abcdefghijklm+/=0123456789", min_size=1, max_size=30)
line = st.text(alphabet="nopqrstuvwxyz -:é", max_size=30)


@pytest.fixture(autouse=True)
def _clean():
    forget_all()
    yield
    forget_all()


def _relay(text: str) -> str:
    redactor = StreamRedactor()
    shown = "".join(redactor.feed(piece) for piece in text.splitlines(keepends=True))
    return shown + redactor.close()


@settings(max_examples=200, deadline=None)
@given(
    body=st.lists(secret_line, min_size=2, max_size=5),
    before=line,
    after=line,
)
def test_a_multi_line_value_never_shows_and_the_rest_does(body, before, after):
    value = "\n".join(body) + "\n"
    if len(value.strip()) < 4:
        return
    forget_all()
    register(value)
    shown = _relay(f"{before}\n{before}{value}{after}\n")
    assert value not in shown and value.strip() not in shown
    assert MASK in shown
    assert shown.startswith(before + "\n") and shown.endswith(after + "\n")


def test_text_that_only_starts_like_a_value_is_shown_once_it_cannot_be_one():
    register("-----BEGIN KEY-----\nc2VjcmV0LWtleS1ib2R5\n-----END KEY-----\n")
    redactor = StreamRedactor()
    assert redactor.feed("hello\n") == "hello\n"
    assert redactor.feed("-----BEGIN KEY-----\n") == "", "held back: it may be the value"
    assert redactor.feed("not the key\n") == "-----BEGIN KEY-----\nnot the key\n"
    assert redactor.feed("-----BEGIN KEY-----\n") == ""
    assert redactor.close() == "-----BEGIN KEY-----\n", "the end of the output lets go of the rest"
