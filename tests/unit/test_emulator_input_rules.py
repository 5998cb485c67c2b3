"""Property tests for the emulator's refusals of attacked input: times out of the service's range,
and JSON text that is not Unicode (lone surrogates)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from kvctl.emulator.http import ApiError, Request, has_lone_surrogate
from kvctl.emulator.secret_rules import MAX_INSTANT, attributes_in


@given(st.sampled_from(["exp", "nbf"]), st.integers(min_value=-(2**70), max_value=2**70))
def test_a_time_is_kept_exactly_when_the_service_can_keep_it(key, moment):
    try:
        kept = attributes_in({key: moment})
    except ApiError as err:
        assert not 0 <= moment <= MAX_INSTANT
        assert err.status == 400 and err.code == "BadParameter"
        return
    assert 0 <= moment <= MAX_INSTANT and kept == {key: moment}


def _request(body: bytes) -> Request:
    return Request("PUT", "/secrets/x", {}, {"content-type": "application/json"}, body, "127.0.0.1")


# Text that may hold lone surrogates: any code point, or one of them mixed in on purpose.
_TEXT = st.text(st.characters(exclude_categories=()) | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))


@given(st.recursive(_TEXT | st.integers() | st.none(), lambda inner: st.dictionaries(_TEXT, inner)))
def test_a_body_parses_or_is_bad_parameter_never_text_that_cannot_be_encoded(document):
    body = json.dumps({"value": document}).encode("ascii")  # \ud800 escapes survive as escapes
    try:
        parsed = _request(body).json()
    except ApiError as err:
        assert err.code == "BadParameter" and has_lone_surrogate(document)
        return
    json.dumps(parsed, ensure_ascii=False).encode("utf-8")  # whatever passes can be stored and sent
    assert not has_lone_surrogate(document)
