"""Resolving an assignee when the directory cannot be read, and where Graph tokens may go."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.credentials import AccessToken

from kvctl.azure.credentials import GuardedCredential
from kvctl.core.clouds import CLOUDS, graph_endpoint, is_azure_graph_host
from kvctl.core.errors import ForbiddenError, UsageError
from kvctl.core.principals import DirectoryUnavailable, Principal, names_for, resolve

GUID = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"


class Forbidden:
    def get_by_ids(self, object_ids: list[str]) -> list[Principal]:
        raise DirectoryUnavailable("Microsoft Graph refused the directory lookup (403 Authorization_RequestDenied)")

    service_principals_with_app_id = with_display_name = get_by_ids  # type: ignore[assignment]

    def user(self, upn: str) -> Principal | None:
        raise DirectoryUnavailable("Microsoft Graph refused the directory lookup (403)")


def test_without_graph_permission_an_object_id_is_taken_as_it_is_and_says_so():
    resolved = resolve(Forbidden(), GUID.upper())
    assert resolved.object_id == GUID and resolved.principal is None
    assert resolved.note and "taking" in resolved.note and GUID.upper() in resolved.note


@pytest.mark.parametrize("assignee", ["my-app", "someone@contoso.com"])
def test_without_graph_permission_a_name_cannot_be_resolved(assignee):
    with pytest.raises(ForbiddenError) as refused:
        resolve(Forbidden(), assignee)
    assert assignee in str(refused.value) and refused.value.hint


@pytest.mark.parametrize("assignee", ["", "   ", "a\nb", "x" * 257])
def test_malformed_assignees_are_refused_before_any_request(assignee):
    with pytest.raises(UsageError):
        resolve(Forbidden(), assignee)


def test_names_are_optional_when_the_directory_refuses():
    names, why = names_for(Forbidden(), [GUID])
    assert names == {} and why and "403" in why


class _Token:
    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, 0)


def test_graph_tokens_go_only_to_the_clouds_graph_host():
    public = CLOUDS["public"]
    assert is_azure_graph_host("graph.microsoft.com", public)
    assert not is_azure_graph_host("graph.microsoft.us", public)
    assert is_azure_graph_host("graph.microsoft.us", CLOUDS["usgov"])
    real = _Token("a.eyJpc3MiOiJodHRwczovL3N0cy53aW5kb3dzLm5ldC94LyJ9.c")  # iss: sts.windows.net
    assert GuardedCredential(real, "graph.microsoft.com", public).get_token(public.graph_scope)
    for host in ("graph.microsoft.com.evil.example", "graph.microsoft.us", "127.0.0.1"):
        with pytest.raises(UsageError):
            GuardedCredential(real, host, public).get_token(public.graph_scope)


def test_the_emulators_graph_is_its_arm_url_and_azures_is_the_clouds():
    assert graph_endpoint("https://127.0.0.1:8443", CLOUDS["public"]) == "https://127.0.0.1:8443"
    assert graph_endpoint("https://management.azure.com", CLOUDS["public"]) == "https://graph.microsoft.com"
    assert graph_endpoint("https://management.chinacloudapi.cn", CLOUDS["china"]).endswith("chinacloudapi.cn")
