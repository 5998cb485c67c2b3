"""One line out of azure-identity's account of a failed chain: every reason whole or cut at a word,
never inside a parenthesis (a new user saw `... are not al)` and `... not probed (;`)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kvctl.azure.errors import summarize_credential_failure

_WORDS = st.lists(
    st.sampled_from(["IMDS", "is", "not", "probed", "(no signal)", "(set X=1)", "AZURE_CLIENT_ID,", "and"]), max_size=60
)


def test_long_reasons_are_cut_at_a_word_outside_parentheses():
    text = (
        "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
        "Attempted credentials:\n"
        "\tEnvironmentCredential: skipped, AZURE_CLIENT_ID, AZURE_TENANT_ID and a secret, certificate or "
        "username are not all set in the environment, so this credential was not tried at all\n"
        "\tManagedIdentityCredential: skipped, no IDENTITY_ENDPOINT or MSI_ENDPOINT and not an Azure VM, "
        "so IMDS is not probed (set KVCTL_IMDS=1 to probe it on a machine that is one)\n"
    )
    line = summarize_credential_failure(text)
    assert "\n" not in line and " al)" not in line and "probed (;" not in line
    assert "EnvironmentCredential (skipped" in line and "ManagedIdentityCredential (skipped" in line


@given(_WORDS)
def test_cutting_a_reason_never_leaves_a_parenthesis_open(words):
    reason = " ".join(words)
    line = summarize_credential_failure(f"Attempted credentials:\n\tAzureCliCredential: {reason}\n")
    inner = line.split("AzureCliCredential (", 1)[1][:-1]
    assert inner.count("(") <= inner.count(")")
