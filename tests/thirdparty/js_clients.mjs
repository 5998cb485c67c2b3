// Drives the JavaScript SDKs against the emulator and prints one JSON object of what they saw.
// Run by tests/thirdparty/test_js_sdks.py with NODE_PATH at a cache outside the repository.
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";

const require = createRequire(process.env.KVCTL_NODE_MODULES + "/");
const { ManagedIdentityCredential } = require("@azure/identity");
const { AuthorizationManagementClient } = require("@azure/arm-authorization");
const { KeyVaultManagementClient } = require("@azure/arm-keyvault");
const { SecretClient } = require("@azure/keyvault-secrets");

const info = JSON.parse(process.env.KVCTL_EMULATOR_INFO);
const mode = process.argv[2];
const credential = new ManagedIdentityCredential();
// Older ARM packages read `credentialScopes`, newer ones `credentials.scopes`; by default both
// would ask for a token for the emulator's URL, which ARM (like Azure) refuses.
const armScopes = ["https://management.azure.com/.default"];
const arm = { endpoint: info.armEndpoint, credentialScopes: armScopes, credentials: { scopes: armScopes } };
const out = {};

async function collect(iterable) {
  const items = [];
  for await (const item of iterable) items.push(item);
  return items;
}

try {
  if (mode === "basic") {
    const secrets = new SecretClient(info.vaults[0].url, credential, { disableChallengeResourceVerification: true });
    await secrets.setSecret("from-js", "js-value");
    out.secret = (await secrets.getSecret("from-js")).value;

    const kv = new KeyVaultManagementClient(credential, info.subscriptionId, arm);
    const vault = await kv.vaults.get(info.resourceGroup, info.vaults[0].name);
    out.vaultUri = vault.properties.vaultUri;
    out.vaults = (await collect(kv.vaults.listBySubscription())).map((v) => v.name);

    const auth = new AuthorizationManagementClient(credential, info.subscriptionId, arm);
    const scope = info.vaults[0].resourceId;
    const app = info.identities.find((i) => i.name === "app");
    const role = `/subscriptions/${info.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6`;
    const name = randomUUID();
    const created = await auth.roleAssignments.create(scope, name, {
      roleDefinitionId: role,
      principalId: app.objectId,
      principalType: "ServicePrincipal",
    });
    out.created = { principalId: created.principalId, principalType: created.principalType };
    out.listed = (await collect(auth.roleAssignments.listForScope(scope, { filter: `principalId eq '${app.objectId}'` })))
      .map((a) => a.principalId);
    await auth.roleAssignments.delete(scope, name);
    out.afterDelete = (await collect(auth.roleAssignments.listForScope(scope, { filter: `principalId eq '${app.objectId}'` })))
      .length;
  } else if (mode === "vault-put") {
    const kv = new KeyVaultManagementClient(credential, info.subscriptionId, arm);
    const current = await kv.vaults.get(info.resourceGroup, info.vaults[0].name);
    const updated = await kv.vaults.beginCreateOrUpdateAndWait(info.resourceGroup, info.vaults[0].name, {
      location: current.location,
      properties: { ...current.properties, enabledForDeployment: true },
    });
    out.enabledForDeployment = updated.properties.enabledForDeployment;
  }
  console.log(JSON.stringify(out));
} catch (error) {
  console.log(JSON.stringify({ error: String(error && error.message ? error.message : error), code: error && error.code, statusCode: error && error.statusCode }));
  process.exitCode = 1;
}
