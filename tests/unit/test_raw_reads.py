"""kvctl's own reading of Key Vault's JSON (azure/raw_reads.py) against the SDK's models, which it
replaced on the hot paths: for every well-formed item the two give the same record, and what the
SDK would hand over as undecodable is refused (exit 7) rather than shown wrong."""

from __future__ import annotations

import pytest
from azure.keyvault.secrets import KeyVaultSecret, SecretProperties
from azure.keyvault.secrets._generated import models as generated
from hypothesis import given
from hypothesis import strategies as st

from kvctl.azure.raw_reads import BadAnswer, secret_record
from kvctl.azure.secret_records import from_kv_secret, secret_from
from kvctl.core.errors import UnavailableError

_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
_NAME = st.from_regex(r"[A-Za-z0-9-]{1,30}", fullmatch=True)
_TIME = st.integers(min_value=0, max_value=253402300799)  # up to 9999-12-31
_ATTRIBUTES = st.fixed_dictionaries(
    {},
    optional={
        "enabled": st.booleans(),
        "created": _TIME,
        "updated": _TIME,
        "exp": _TIME,
        "nbf": _TIME,
        "recoveryLevel": st.sampled_from(["Purgeable", "Recoverable+Purgeable", "CustomizedRecoverable"]),
        "recoverableDays": st.integers(min_value=0, max_value=90),
    },
)


@st.composite
def _items(draw: st.DrawFn, with_value: bool) -> dict:
    name = draw(_NAME)
    version = draw(st.one_of(st.none(), st.from_regex(r"[0-9a-f]{32}", fullmatch=True))) if with_value else None
    item: dict = {"id": f"https://v.vault.azure.net/secrets/{name}" + (f"/{version}" if version else "")}
    item.update(
        draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "attributes": _ATTRIBUTES,
                    "tags": st.dictionaries(_TEXT, _TEXT, max_size=3),
                    "contentType": _TEXT,
                    "managed": st.booleans(),
                },
            )
        )
    )
    if with_value:
        item["value"] = draw(_TEXT)
        if draw(st.booleans()):
            item["kid"] = f"https://v.vault.azure.net/keys/{name}"
    return item


@given(_items(with_value=False))
def test_a_list_item_reads_as_the_sdk_reads_it(item):
    sdk = secret_from(SecretProperties._from_secret_item(generated.SecretItem(item)))
    assert secret_record(item) == sdk


@given(_items(with_value=True))
def test_a_secret_reads_as_the_sdk_reads_it(item):
    sdk = from_kv_secret(KeyVaultSecret._from_secret_bundle(generated.SecretBundle(item)))
    assert secret_record(item, item["value"]) == sdk


@pytest.mark.parametrize(
    ("item", "error"),
    [
        ({"id": "https://v.vault.azure.net/secrets/a", "attributes": {"exp": 10**13}}, UnavailableError),
        ({"id": "https://v.vault.azure.net/secrets/a", "attributes": {"exp": "tomorrow"}}, UnavailableError),
        ({"id": "https://v.vault.azure.net/keys/a"}, BadAnswer),
        ({"id": "http://v.vault.azure.net/secrets/a"}, BadAnswer),
        ({"attributes": {}}, BadAnswer),
        ({"id": "https://v.vault.azure.net/secrets/a", "attributes": []}, BadAnswer),
        ({"id": "https://v.vault.azure.net/secrets/a", "tags": {"a": 1}}, BadAnswer),
        ({"id": "https://v.vault.azure.net/secrets/a", "attributes": {"enabled": "yes"}}, BadAnswer),
        (["not", "an", "object"], BadAnswer),
    ],
)
def test_what_the_api_does_not_promise_is_refused(item, error):
    with pytest.raises(error):
        secret_record(item)


def test_a_real_vaults_answers_must_be_about_that_vault():
    from types import SimpleNamespace

    from kvctl.azure.raw_reads import _ours

    item = secret_record({"id": "https://other.vault.azure.net/secrets/a"})
    with pytest.raises(BadAnswer):
        _ours(SimpleNamespace(vault_url="https://mine.vault.azure.net"), item)
    same = secret_record({"id": "https://Mine.vault.azure.net:443/secrets/a"})
    assert _ours(SimpleNamespace(vault_url="https://mine.vault.azure.net/"), same) is same
    # the emulator reached as localhost names itself 127.0.0.1: loopback vaults are not compared
    local = secret_record({"id": "https://127.0.0.1:8443/secrets/a"})
    assert _ours(SimpleNamespace(vault_url="https://localhost:8443"), local) is local
