"""The real Azure CLI against the emulator: `login --identity`, `keyvault secret` CRUD,
`role assignment create/list/delete --assignee` (through the emulator's Microsoft Graph), and the
ARM vault commands (`keyvault show/update/create`).

The CLI is installed from the package index into a cache venv outside the repository and the lock
(tests/thirdparty/azure_cli.py); where it cannot be installed these tests skip with a loud reason.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from tests.conftest import EmulatorProcess, run_kvctl
from tests.thirdparty.azure_cli import AzureCli, az_executable

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # the first run installs azure-cli

ROLE = "Key Vault Secrets User"


@pytest.fixture(scope="module")
def emu(tmp_path_factory) -> Iterator[EmulatorProcess]:
    process = EmulatorProcess(
        tmp_path_factory.mktemp("azcli-emu"), ["--identity", "app", "--identity", "ci", "--user", "alice"]
    ).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def az(emu, tmp_path_factory) -> AzureCli:
    cli = AzureCli(az_executable(), tmp_path_factory.mktemp("azure-config"), emu)
    cli.register_cloud()
    return cli


@pytest.fixture(scope="module")
def logged_in(az) -> list[dict]:
    return az.json("login", "--identity")


def test_login_with_the_emulators_managed_identity(az, emu, logged_in):
    assert [s["id"] for s in logged_in] == [emu.info["subscriptionId"]]
    account = logged_in[0]
    assert account["tenantId"] == emu.info["tenantId"] and account["environmentName"] == "kvctl-emulator"
    assert account["user"]["type"] == "servicePrincipal"
    shown = az.json("account", "show")
    assert shown["id"] == emu.info["subscriptionId"]


def test_secret_set_show_list_delete(az, emu, logged_in):
    vault = emu.vault_url
    made = az.json("keyvault", "secret", "set", "--vault-name", "127.0.0.1", "--name", "from-az", "--value", "v1")
    assert made["id"].startswith(f"{vault}/secrets/from-az/") and made["value"] == "v1"
    # kvctl reads what the CLI wrote, and the CLI reads what kvctl wrote.
    assert run_kvctl(["get", "from-az"], emulator=emu).stdout == "v1\n"
    run_kvctl(["set", "from-kvctl", "--value", "v2"], emulator=emu)
    assert az.json("keyvault", "secret", "show", "--id", f"{vault}/secrets/from-kvctl")["value"] == "v2"
    shown = az.json("keyvault", "secret", "show", "--vault-name", "127.0.0.1", "--name", "from-az")
    assert shown["value"] == "v1" and shown["attributes"]["recoveryLevel"].startswith("Recoverable")
    names = {s["name"] for s in az.json("keyvault", "secret", "list", "--vault-name", "127.0.0.1")}
    assert {"from-az", "from-kvctl"} <= names
    assert {s["name"] for s in az.json("keyvault", "secret", "list", "--id", vault)} == names
    deleted = az.json("keyvault", "secret", "delete", "--vault-name", "127.0.0.1", "--name", "from-az")
    assert deleted["recoveryId"].endswith("/deletedsecrets/from-az")
    gone = az.run("keyvault", "secret", "show", "--id", f"{vault}/secrets/from-az")
    assert gone.returncode != 0 and "SecretNotFound" in gone.stderr
    assert run_kvctl(["get", "from-az"], emulator=emu).exit_code == 3


@pytest.mark.parametrize("form", ["clientId", "objectId", "upn"])
def test_role_assignment_create_list_delete_by_assignee(az, emu, logged_in, form):
    if form == "upn":
        user = emu.info["users"][0]
        assignee, object_id, principal_type = user["userPrincipalName"], user["objectId"], "User"
    else:
        identity = emu.identity("app" if form == "clientId" else "ci")
        assignee, object_id, principal_type = identity[form], identity["objectId"], "ServicePrincipal"
    scope = emu.info["vaults"][0]["resourceId"]
    created = az.json("role", "assignment", "create", "--role", ROLE, "--assignee", assignee, "--scope", scope)
    assert (created["principalId"], created["principalType"]) == (object_id, principal_type)
    listed = az.json("role", "assignment", "list", "--assignee", assignee, "--scope", scope)
    assert [a["principalId"] for a in listed] == [object_id]
    assert listed[0]["roleDefinitionName"] == ROLE and listed[0]["principalName"]
    # kvctl sees the same assignment, named.
    entry = next(
        e for e in run_kvctl(["access", "list", "-o", "json"], emulator=emu).json if e["principalId"] == object_id
    )
    assert entry["principalType"] == principal_type and entry["principalName"]
    az.json("role", "assignment", "delete", "--assignee", assignee, "--role", ROLE, "--scope", scope)
    assert az.json("role", "assignment", "list", "--assignee", assignee, "--scope", scope) == []


def test_role_assignment_for_an_unknown_assignee_is_refused(az, emu, logged_in):
    refused = az.run(
        "role",
        "assignment",
        "create",
        "--role",
        ROLE,
        "--assignee",
        "nobody-here",
        "--scope",
        emu.info["vaults"][0]["resourceId"],
    )
    assert refused.returncode != 0 and "Cannot find user or service principal" in refused.stderr


def test_a_role_granted_with_the_cli_opens_the_data_plane(az, emu, logged_in):
    app = emu.identity("app")
    run_kvctl(["set", "cli-granted", "--value", "ok"], emulator=emu)
    as_app = ["--auth", "managed-identity", "--client-id", app["clientId"], "get", "cli-granted"]
    assert run_kvctl(as_app, emulator=emu).exit_code == 5
    scope = emu.info["vaults"][0]["resourceId"] + "/secrets/cli-granted"
    az.json("role", "assignment", "create", "--role", ROLE, "--assignee", app["clientId"], "--scope", scope)
    assert run_kvctl(as_app, emulator=emu).stdout == "ok\n"
    az.json("role", "assignment", "delete", "--assignee", app["clientId"], "--scope", scope)
    assert run_kvctl(as_app, emulator=emu).exit_code == 5


# -- ARM vault commands -------------------------------------------------------------------------
# These need ARM vault PUT and `$filter` on resources (issue 13, items 1-2). The probe below asks the
# emulator itself; with an emulator that lacks them the group is skipped, not expected to fail.


def _arm_vault_writes_supported(emu: EmulatorProcess) -> str | None:
    """None when the emulator serves vault PUT and the resources `$filter`; else why not."""
    info = emu.info
    context = ssl.create_default_context(cafile=info["caFile"])
    headers = {"Authorization": f"Bearer {emu.token()}", "Content-Type": "application/json"}
    vault = info["vaults"][0]
    base = f"{info['armEndpoint']}{vault['resourceId']}?api-version=2023-07-01"
    with urllib.request.urlopen(urllib.request.Request(base, headers=headers), timeout=30, context=context) as got:
        current = json.loads(got.read())
    body = json.dumps(
        {"location": current["location"], "properties": current["properties"], "tags": current.get("tags") or {}}
    )
    probes = [
        ("vault PUT", urllib.request.Request(base, data=body.encode(), method="PUT", headers=headers)),
        (
            "$filter on resources",
            urllib.request.Request(
                f"{info['armEndpoint']}/subscriptions/{info['subscriptionId']}/resources?api-version=2021-04-01&"
                + urllib.parse.urlencode(
                    {"$filter": f"resourceType eq 'Microsoft.KeyVault/vaults' and name eq '{vault['name']}'"}
                ),
                headers=headers,
            ),
        ),
    ]
    for what, request in probes:
        try:
            with urllib.request.urlopen(request, timeout=30, context=context):
                pass
        except urllib.error.HTTPError as exc:
            if exc.code in (400, 404, 405):
                return f"this emulator does not serve ARM {what} yet ({exc.code}; issue 13 items 1-2)"
            raise
    return None


@pytest.fixture(scope="module")
def arm_vaults(emu) -> None:
    reason = _arm_vault_writes_supported(emu)
    if reason:
        pytest.skip(reason)


def test_keyvault_show_by_name_only(az, emu, logged_in, arm_vaults):
    shown = az.json("keyvault", "show", "--name", emu.info["vaults"][0]["name"])
    assert shown["id"] == emu.info["vaults"][0]["resourceId"]
    assert shown["properties"]["vaultUri"].rstrip("/") == emu.vault_url


def test_keyvault_update(az, emu, logged_in, arm_vaults):
    name = emu.info["vaults"][0]["name"]
    updated = az.json("keyvault", "update", "--name", name, "--set", "properties.enabledForDeployment=true")
    assert updated["properties"]["enabledForDeployment"] is True
    assert az.json("keyvault", "show", "--name", name, "--resource-group", emu.info["resourceGroup"])["properties"][
        "enabledForDeployment"
    ]


def test_keyvault_create_serves_a_new_vault(az, emu, logged_in, arm_vaults):
    created = az.json(
        "keyvault",
        "create",
        "--name",
        "made-by-az",
        "--resource-group",
        emu.info["resourceGroup"],
        "--location",
        emu.info["location"],
    )
    props = created["properties"]
    assert props["enableRbacAuthorization"] is True and props["enableSoftDelete"] is True
    url = props["vaultUri"].rstrip("/")
    assert url.startswith("https://127.0.0.1:")
    assert az.json("keyvault", "show", "--name", "made-by-az")["properties"]["vaultUri"].rstrip("/") == url
    run_kvctl(["--vault", url, "set", "in-new-vault", "--value", "fresh"], emulator=emu)
    assert az.json("keyvault", "secret", "show", "--id", f"{url}/secrets/in-new-vault")["value"] == "fresh"
