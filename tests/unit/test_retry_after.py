"""A throttled answer's pause, made sleepable (azure/pipeline.sane_retry_after): whatever a service
sends, the SDK's retry policy is left whole seconds between 0 and the cap, or its own backoff."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kvctl.azure.pipeline import RETRY_AFTER_CAP, sane_retry_after


@given(st.text(max_size=40), st.text(max_size=30))
def test_whatever_arrives_the_pause_is_whole_seconds_within_the_cap_or_none(value, ms):
    headers = {"retry-after": value, "x-ms-retry-after-ms": ms}
    sane_retry_after(headers)
    if "retry-after" in headers:
        assert headers["retry-after"].isdigit() and 0 <= int(headers["retry-after"]) <= RETRY_AFTER_CAP
    if "x-ms-retry-after-ms" in headers:
        assert 0 <= int(headers["x-ms-retry-after-ms"]) <= RETRY_AFTER_CAP * 1000


def test_what_a_service_really_sends_is_kept():
    for sent, kept in (("5", "5"), ("0", "0"), ("1, 1", "1"), ("3600", str(RETRY_AFTER_CAP))):
        headers = {"retry-after": sent}
        sane_retry_after(headers)
        assert headers == {"retry-after": kept}
    for sent, kept in (("1500", "1500"), ("0", "0"), ("99999", str(RETRY_AFTER_CAP * 1000)), ("abc", None)):
        headers = {"x-ms-retry-after-ms": sent, "retry-after-ms": sent}
        sane_retry_after(headers)
        assert headers == ({} if kept is None else {"x-ms-retry-after-ms": kept, "retry-after-ms": kept})
    dated = {"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"}
    sane_retry_after(dated)
    assert dated == {"retry-after": str(RETRY_AFTER_CAP)}
