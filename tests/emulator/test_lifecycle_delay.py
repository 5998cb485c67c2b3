"""`kvctl emulator --lifecycle-delay`: delete, recover, purge and restore become visible late, as the
service's recordings show (issue 13, item 6); restore answers only id and attributes (item 7).
Raw HTTPS requests, so what is checked is the wire."""

from __future__ import annotations

import base64
import time
import urllib.error

import pytest

from tests.emulator.test_wire import API, raw


def _until(predicate, seconds: float = 10.0) -> float:
    """Seconds until `predicate()` holds (polled); fails after `seconds`."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < seconds, "never became visible"
        time.sleep(0.1)
    return time.monotonic() - started


def test_delete_recover_purge_restore_show_after_the_delay(fresh_emulator):
    emulator = fresh_emulator("--lifecycle-delay", "2")
    assert raw(emulator, "PUT", f"/secrets/late?{API}", {"value": "v", "tags": {"k": "v"}})[0] == 200
    blob = raw(emulator, "POST", f"/secrets/late/backup?{API}")[2]["value"]

    assert raw(emulator, "DELETE", f"/secrets/late?{API}")[0] == 200
    assert raw(emulator, "GET", f"/secrets/late?{API}")[0] == 404  # gone from the live secrets at once
    assert raw(emulator, "GET", f"/deletedsecrets/late?{API}")[0] == 404  # not yet among the deleted
    assert all(
        s["recoveryId"].rsplit("/", 1)[1] != "late" for s in raw(emulator, "GET", f"/deletedsecrets?{API}")[2]["value"]
    )
    status, _, body = raw(emulator, "DELETE", f"/deletedsecrets/late?{API}")
    assert status == 409 and "currently being deleted" in body["error"]["message"]
    assert raw(emulator, "POST", f"/deletedsecrets/late/recover?{API}")[0] == 409
    waited = _until(lambda: raw(emulator, "GET", f"/deletedsecrets/late?{API}")[0] == 200)
    assert waited > 1.0

    assert raw(emulator, "POST", f"/deletedsecrets/late/recover?{API}")[0] == 200
    assert raw(emulator, "GET", f"/deletedsecrets/late?{API}")[0] == 404
    assert raw(emulator, "GET", f"/secrets/late?{API}")[0] == 404  # not readable yet
    assert raw(emulator, "GET", f"/secrets/late/versions?{API}")[2]["value"] == []
    status, _, body = raw(emulator, "PUT", f"/secrets/late?{API}", {"value": "w"})
    assert status == 409 and "currently being recovered" in body["error"]["message"]
    assert _until(lambda: raw(emulator, "GET", f"/secrets/late?{API}")[0] == 200) > 1.0

    assert raw(emulator, "DELETE", f"/secrets/late?{API}")[0] == 200
    _until(lambda: raw(emulator, "GET", f"/deletedsecrets/late?{API}")[0] == 200)
    assert raw(emulator, "DELETE", f"/deletedsecrets/late?{API}")[0] == 204
    assert raw(emulator, "GET", f"/deletedsecrets/late?{API}")[0] == 404
    status, _, body = raw(emulator, "POST", f"/secrets/restore?{API}", {"value": blob})
    assert status == 409 and "currently being deleted" in body["error"]["message"]  # the purge is running
    _until(lambda: raw(emulator, "POST", f"/secrets/restore?{API}", {"value": blob})[0] == 200)
    assert raw(emulator, "GET", f"/secrets/late?{API}")[0] == 404
    assert _until(lambda: raw(emulator, "GET", f"/secrets/late?{API}")[0] == 200) > 1.0


def test_restore_answers_only_id_and_attributes(emulator):
    """As recorded (azure-sdk-for-python test_example_secrets_backup_restore[7.3]): no value."""
    raw(emulator, "PUT", f"/secrets/shape-r?{API}", {"value": "hidden", "contentType": "t", "tags": {"a": "b"}})
    blob = raw(emulator, "POST", f"/secrets/shape-r/backup?{API}")[2]["value"]
    raw(emulator, "DELETE", f"/secrets/shape-r?{API}")
    raw(emulator, "DELETE", f"/deletedsecrets/shape-r?{API}")
    status, _, body = raw(emulator, "POST", f"/secrets/restore?{API}", {"value": blob})
    assert status == 200
    assert set(body) == {"id", "attributes"}
    assert "hidden" not in str(body) and base64.b64encode(b"hidden").decode() not in str(body)
    assert raw(emulator, "GET", f"/secrets/shape-r?{API}")[2]["tags"] == {"a": "b"}


def test_the_delay_is_a_run_time_knob(fresh_emulator):
    emulator = fresh_emulator()
    assert emulator.knobs(lifecycleDelay=30)["lifecycleDelay"] == 30
    raw(emulator, "PUT", f"/secrets/knobbed?{API}", {"value": "v"})
    raw(emulator, "DELETE", f"/secrets/knobbed?{API}")
    assert raw(emulator, "GET", f"/deletedsecrets/knobbed?{API}")[0] == 404
    assert emulator.knobs(lifecycleDelay=0)["lifecycleDelay"] == 0
    raw(emulator, "PUT", f"/secrets/knobbed2?{API}", {"value": "v"})
    raw(emulator, "DELETE", f"/secrets/knobbed2?{API}")
    assert raw(emulator, "GET", f"/deletedsecrets/knobbed2?{API}")[0] == 200
    for bad in (-1, 4000, "x"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            emulator.knobs(lifecycleDelay=bad)
        assert refused.value.code == 400
