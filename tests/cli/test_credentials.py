"""Credential failures as a user meets them, in a real `kvctl` process: one line of kvctl's own
(plus a hint that fits the cause), azure-identity's log lines only with -v. The managed identity
endpoints are the emulator's (App Service and IMDS flavours) or a closed loopback port."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from kvctl.azure.credential_errors import explain, managed_identity_source
from tests.conftest import closed_port, run_kvctl_subprocess

WRONG = "0badc1d0-0000-4000-8000-00000000beef"


def _path_without_az(extra: Path | None = None) -> str:
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not (Path(d) / "az").exists()]
    return os.pathsep.join(([str(extra)] if extra else []) + dirs)


def _one_line_of_kvctls_own(result) -> tuple[str, str]:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 4, result.stderr
    assert len(lines) == 2 and lines[0].startswith("kvctl: error: ") and lines[1].startswith("hint: "), result.stderr
    assert "azure.identity" not in result.stderr and "get_token failed" not in result.stderr
    assert "Traceback" not in result.stderr and result.stdout in ("", "[")
    return lines[0], lines[1]


def test_a_wrong_client_id_says_the_endpoint_refused_it(emulator):
    result = run_kvctl_subprocess(["--auth", "managed-identity", "--client-id", WRONG, "show", "x"], emulator=emulator)
    error, hint = _one_line_of_kvctls_own(result)
    assert f"refused client id {WRONG}" in error and emulator.info["identityEndpoint"] in error
    assert "not found in environment" not in result.stderr, "the configuration is there"
    assert "az login" not in hint and "--client-id" in hint


def test_azure_identity_speaks_only_with_v(emulator):
    result = run_kvctl_subprocess(
        ["-v", "--auth", "managed-identity", "--client-id", WRONG, "show", "x"], emulator=emulator
    )
    assert result.exit_code == 4
    assert "azure.identity" in result.stderr, "with -v the SDK's own lines are shown"
    assert [line for line in result.stderr.splitlines() if line.startswith("kvctl: error: ")] == [
        next(line for line in result.stderr.splitlines() if "refused client id" in line)
    ]


def test_a_wrong_client_id_at_imds_is_refused_too(emulator):
    env = {
        "IDENTITY_ENDPOINT": None,
        "IDENTITY_HEADER": None,
        "AZURE_POD_IDENTITY_AUTHORITY_HOST": emulator.info["imdsEndpoint"],
    }
    result = run_kvctl_subprocess(
        ["--auth", "managed-identity", "--client-id", WRONG, "show", "x"], emulator=emulator, env=env
    )
    error, hint = _one_line_of_kvctls_own(result)
    assert f"refused client id {WRONG}" in error and "IMDS" in error, error
    assert "az login" not in hint


def test_an_empty_identity_variable_is_named(emulator):
    """azure-identity ignores an empty IDENTITY_ENDPOINT, MSAL does not: say which variable is empty."""
    env = {
        "IDENTITY_ENDPOINT": "",
        "IDENTITY_HEADER": "",
        "AZURE_POD_IDENTITY_AUTHORITY_HOST": emulator.info["imdsEndpoint"],
    }
    result = run_kvctl_subprocess(
        ["--auth", "managed-identity", "--client-id", WRONG, "show", "x"], emulator=emulator, env=env
    )
    error, hint = _one_line_of_kvctls_own(result)
    assert "IDENTITY_ENDPOINT, IDENTITY_HEADER are set but empty" in error
    assert "unset IDENTITY_ENDPOINT IDENTITY_HEADER" in hint


def test_no_managed_identity_endpoint_and_no_az(emulator):
    imds = f"http://127.0.0.1:{closed_port()}"
    env = {
        "IDENTITY_ENDPOINT": None,
        "IDENTITY_HEADER": None,
        "AZURE_POD_IDENTITY_AUTHORITY_HOST": imds,
        "PATH": _path_without_az(),
        "KVCTL_RETRIES": "0",
    }
    result = run_kvctl_subprocess(["--auth", "managed-identity", "show", "x"], emulator=emulator, env=env)
    error, hint = _one_line_of_kvctls_own(result)
    assert "no managed identity endpoint answered" in error and imds in error
    assert "azure-cli" not in hint and "az login" not in hint, "az is not installed: do not send the user there"


def test_azure_cli_auth_without_az_says_to_install_it(emulator):
    result = run_kvctl_subprocess(
        ["--auth", "azure-cli", "show", "x"], emulator=emulator, env={"PATH": _path_without_az()}
    )
    error, hint = _one_line_of_kvctls_own(result)
    assert "not installed or not on PATH" in error
    assert "install the Azure CLI" in hint and "--auth managed-identity" in hint


def test_azure_cli_auth_with_az_signed_out_says_az_login(emulator, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "az"
    fake.write_text("#!/bin/sh\necho \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    result = run_kvctl_subprocess(
        ["--auth", "azure-cli", "show", "x"], emulator=emulator, env={"PATH": _path_without_az(bin_dir)}
    )
    error, hint = _one_line_of_kvctls_own(result)
    assert "not signed in" in error and "`az login`" in hint


def test_default_auth_without_az_does_not_suggest_az_login(emulator, tmp_path):
    env = {
        "IDENTITY_ENDPOINT": None,
        "IDENTITY_HEADER": None,
        "AZURE_POD_IDENTITY_AUTHORITY_HOST": f"http://127.0.0.1:{closed_port()}",
        "PATH": _path_without_az(),
        "HOME": str(tmp_path),
        "KVCTL_RETRIES": "0",
    }
    result = run_kvctl_subprocess(["--auth", "default", "show", "x"], emulator=emulator, env=env)
    error, hint = _one_line_of_kvctls_own(result)
    assert "tried" in error
    assert hint.startswith("hint: the Azure CLI is not installed"), hint


def test_in_one_process_a_quiet_run_after_a_verbose_one_is_quiet(kvctl):
    """Logging is process-wide: what -v set up must not outlive its run."""
    loud = kvctl("-v", "--auth", "managed-identity", "--client-id", WRONG, "show", "x")
    assert loud.exit_code == 4 and "azure.identity" in loud.stderr
    quiet = kvctl("--auth", "managed-identity", "--client-id", WRONG, "show", "x")
    assert quiet.exit_code == 4 and "azure.identity" not in quiet.stderr, quiet.stderr
    assert len(quiet.stderr.strip().splitlines()) == 2, quiet.stderr


# -- the classification itself (pure) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "kind"),
    [
        ({"IDENTITY_ENDPOINT": "http://e", "IDENTITY_HEADER": "h"}, ("App Service", "http://e")),
        ({"IDENTITY_ENDPOINT": "http://e", "IMDS_ENDPOINT": "http://i"}, ("Azure Arc", "http://e")),
        ({"MSI_ENDPOINT": "http://m"}, ("Cloud Shell", "http://m")),
        ({}, ("IMDS", "http://169.254.169.254")),
        ({"AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://127.0.0.1:9/"}, ("IMDS", "http://127.0.0.1:9")),
    ],
)
def test_the_managed_identity_source_follows_azure_identity(environ, kind):
    assert managed_identity_source(environ) == kind


def test_imds_400_without_a_client_id_means_no_system_identity():
    text = "ManagedIdentityCredential authentication unavailable. No identity has been assigned to this resource."
    error = explain(RuntimeError(text), "managed-identity", None, {}, which=lambda _: "/usr/bin/az")
    assert "no system-assigned identity" in error.message and "--client-id" in (error.hint or "")


def test_service_principal_errors_keep_one_line_without_trace_ids():
    text = (
        "ClientSecretCredential authentication failed: AADSTS7000215: Invalid client secret provided. "
        "Trace ID: 1 Correlation ID: 2 Timestamp: 3\nmore"
    )
    error = explain(RuntimeError(text), "environment", None, {}, which=lambda _: None)
    assert error.message.startswith("--auth environment: ") and "AADSTS7000215" in error.message
    assert "Trace ID" not in error.message and "\n" not in error.message
    assert "AZURE_CLIENT_SECRET" in (error.hint or "")


def test_sys_executable_is_used_so_path_games_do_not_lose_python():
    assert Path(sys.executable).is_absolute()
