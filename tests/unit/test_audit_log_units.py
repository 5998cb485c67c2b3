"""The audit trail's pure parts: timespans as the Log Analytics API takes them (in every form the
SDK and `az` send), the service's operation names per request, and the bounded row store."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvctl.builtin_roles import BUILTIN_ROLES, role_allows
from kvctl.emulator import audit_store
from kvctl.emulator.audit_log import operation_name, result_signature, sends_audit_events
from kvctl.emulator.loganalytics_api import LaError, parse_timespan
from kvctl.emulator.store import Store

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
moments = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC))
spans = st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=3650))


@given(spans)
def test_a_duration_as_the_sdk_writes_it_ends_now(span):
    start, end = parse_timespan(f"PT{span.total_seconds()}S", NOW)
    assert end is None
    assert start is not None
    assert abs((NOW - start) - span) < dt.timedelta(milliseconds=1)


@given(moments, moments)
def test_start_and_end_round_trip(first, second):
    start, end = parse_timespan(f"{first.isoformat()}/{second.isoformat()}", NOW)
    assert (start, end) == (first, second)


@given(moments, spans)
def test_start_and_duration(first, span):
    start, end = parse_timespan(f"{first.isoformat().replace('+00:00', 'Z')}/PT{span.total_seconds()}S", NOW)
    assert start == first
    assert end is not None
    assert abs((end - first) - span) < dt.timedelta(milliseconds=1)


@pytest.mark.parametrize(
    ("text", "seconds"), [("P7D", 7 * 86400), ("PT1H", 3600), ("P1DT2H30M", 95400), ("P2W", 14 * 86400)]
)
def test_iso_durations(text, seconds):
    start, _ = parse_timespan(text, NOW)
    assert start == NOW - dt.timedelta(seconds=seconds)


@given(st.text(max_size=40))
def test_anything_else_is_a_bad_argument_never_a_crash(text):
    try:
        parse_timespan(text, NOW)
    except LaError as exc:
        assert (exc.status, exc.code, exc.inner and exc.inner["code"]) == (
            400,
            "BadArgumentError",
            "InvalidTimespanFormat",
        )


_numbers = st.one_of(st.integers(0, 10**30).map(str), st.sampled_from(["0.5", "9" * 400, "99999999", "2914000"]))
_durations = st.builds(
    lambda number, unit: f"P{number}{unit}" if unit in "WD" else f"PT{number}{unit}",
    _numbers,
    st.sampled_from("WDHMS"),
)
_instants = st.one_of(
    st.sampled_from(["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00"]),
    st.sampled_from(["9999-12-31T23:59:59-14:00", "2026-12-01T12:00:00Z"]),
)


@given(st.one_of(_durations, st.tuples(st.one_of(_instants, _durations), st.one_of(_instants, _durations))))
def test_a_duration_or_instant_out_of_range_is_a_bad_argument_never_an_overflow(parts):
    text = parts if isinstance(parts, str) else "/".join(parts)
    try:
        start, end = parse_timespan(text, NOW)
    except LaError as exc:
        assert (exc.status, exc.inner and exc.inner["code"]) == (400, "InvalidTimespanFormat")
    else:
        # the endpoint filters rows by these instants' timestamps
        assert start is None or isinstance(start.timestamp(), float)
        assert end is None or isinstance(end.timestamp(), float)


@pytest.mark.parametrize("text", ["P99999999D", "9999-12-31T23:59:59Z/P1D", "P1D/0001-01-01T00:00:00Z", "P999999D"])
def test_timespans_past_the_calendar_are_refused(text):
    with pytest.raises(LaError) as info:
        parse_timespan(text, NOW)
    assert info.value.inner == {
        "code": "InvalidTimespanFormat",
        "message": f"The timespan '{text}' is not a valid ISO 8601 time interval.",
    }


@pytest.mark.parametrize("text", ["yesterday", "P", "PT", "7d", "2026-13-01/PT1H", "PT1H/PT2H", "a/b/c"])
def test_malformed_timespans_are_refused(text):
    with pytest.raises(LaError):
        parse_timespan(text, NOW)


def test_no_timespan_means_everything():
    assert parse_timespan(None, NOW) == (None, None)
    assert parse_timespan("", NOW) == (None, None)


@pytest.mark.parametrize(
    ("method", "path", "name"),
    [
        ("GET", "/secrets", "SecretList"),
        ("GET", "/secrets/", "SecretList"),
        ("GET", "/secrets/a", "SecretGet"),
        ("GET", "/secrets/a/", "SecretGet"),
        ("GET", "/secrets/a/0123456789abcdef0123456789abcdef", "SecretGet"),
        ("GET", "/secrets/a/versions", "SecretListVersions"),
        ("PUT", "/secrets/a", "SecretSet"),
        ("PATCH", "/secrets/a/0123456789abcdef0123456789abcdef", "SecretUpdate"),
        ("DELETE", "/secrets/a", "SecretDelete"),
        ("POST", "/secrets/a/backup", "SecretBackup"),
        ("POST", "/secrets/restore", "SecretRestore"),
        ("GET", "/deletedsecrets", "SecretListDeleted"),
        ("GET", "/deletedsecrets/a", "SecretGetDeleted"),
        ("DELETE", "/deletedsecrets/a", "SecretPurge"),
        ("POST", "/deletedsecrets/a/recover", "SecretRecover"),
        ("GET", "/keys/a", None),
        ("POST", "/secrets", None),
        ("GET", "/", None),
    ],
)
def test_operation_names_are_the_services(method, path, name):
    assert operation_name(method, path) == name


@pytest.mark.parametrize(
    ("status", "signature"),
    [
        (200, "OK"),
        (204, "NoContent"),
        (401, "Unauthorized"),
        (403, "Forbidden"),
        (404, "NotFound"),
        (429, "TooManyRequests"),
    ],
)
def test_result_signatures(status, signature):
    assert result_signature(status) == signature


@pytest.mark.parametrize(
    ("logs", "routed"),
    [
        ([{"category": "AuditEvent", "enabled": True}], True),
        ([{"categoryGroup": "audit", "enabled": True}], True),
        ([{"categoryGroup": "allLogs", "enabled": True}], True),
        ([{"category": "AuditEvent", "enabled": False}], False),
        ([{"category": "AzurePolicyEvaluationDetails", "enabled": True}], False),
        ([], False),
    ],
)
def test_only_an_enabled_audit_category_routes_rows(logs, routed):
    setting = {
        "properties": {"workspaceId": "/subscriptions/s/resourceGroups/g/providers/x/workspaces/w", "logs": logs}
    }
    assert (sends_audit_events(setting) is not None) == routed
    assert sends_audit_events({"properties": {"storageAccountId": "/x", "logs": logs}}) is None


def test_the_store_keeps_the_newest_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(audit_store, "MAX_AUDIT_ROWS", 5)
    monkeypatch.setattr(audit_store, "_TRIM_EVERY", 3)
    store = Store(tmp_path / "state.db")
    for index in range(12):
        store.add_audit_event(float(index), "v", {"n": index}, ["ws"])
    kept = [row["n"] for row in store.audit_events("ws", None, None)]
    assert kept == list(range(12 - len(kept), 12))  # the newest, in order
    assert 5 <= len(kept) < 5 + 3
    assert [row["n"] for row in store.audit_events("ws", 9.0, 11.0)] == [9, 10]
    store.close()


def test_log_analytics_reader_may_query_but_not_read_shared_keys():
    role = next(r for r in BUILTIN_ROLES if r.name == "Log Analytics Reader")
    assert role.guid == "73c42c96-874c-492b-b04d-ab87d138a893"
    assert role_allows(role, "Microsoft.OperationalInsights/workspaces/query/read", data=False)
    assert not role_allows(role, "Microsoft.OperationalInsights/workspaces/sharedKeys/read", data=False)
    assert not role_allows(role, "Microsoft.OperationalInsights/workspaces/write", data=False)
    assert not role_allows(role, "Microsoft.KeyVault/vaults/secrets/getSecret/action", data=True)
