"""`kvctl logout --client-id …` selects cached tokens by their labels: exactly the entries whose
labels include every wanted one go, the rest (and entries with no labels) stay."""

from __future__ import annotations

import json
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvctl.azure.token_cache import TokenStore, labels

_IDS = st.sampled_from(["11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222", None])
_ENTRY = st.tuples(
    st.sampled_from(["public", "china"]),
    st.sampled_from(["t1", None]),
    st.sampled_from(["emulator", "azure-cli"]),
    _IDS,
)


def test_labels_are_hashes_that_ignore_case_and_skip_what_was_not_given():
    one = labels("public", None, "emulator", "ABC")
    assert len(one) == 3 and all(len(label) == 64 for label in one)
    assert labels("public", None, "emulator", "abc") == one
    assert labels("public", None, "emulator", "abd") != one
    assert labels(None, " ", None, None) == ()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(_ENTRY, max_size=6), wanted=_ENTRY, unlabeled=st.booleans())
def test_clear_matching_removes_exactly_the_entries_that_carry_every_wanted_label(
    tmp_path_factory, entries, wanted, unlabeled
):
    directory = Path(tmp_path_factory.mktemp("store")) / "kvctl"
    store = TokenStore(directory)
    expires = int(time.time()) + 3600
    for index, parts in enumerate(entries):
        store.put(f"key{index}", f"token{index}", expires, labels(*parts))
    if unlabeled:
        store.put("old", "old-token", expires)  # written before entries had labels
    want = labels(*wanted)
    expected_gone = {f"key{i}" for i, parts in enumerate(entries) if set(want) <= set(labels(*parts))}
    before = set(json.loads(store.path.read_text())["tokens"]) if store.path.exists() else set()
    removed, kept = store.clear_matching(want)
    after = set(json.loads(store.path.read_text())["tokens"]) if store.path.exists() else set()
    assert before - after == expected_gone
    assert (removed, kept) == (len(expected_gone), len(after))
    assert not unlabeled or "old" in after
