// A real OpenID provider for the sign-in tests: panva's oidc-provider (OpenID
// Certified), configured from the JSON file named on the command line, with its
// own login and consent forms (devInteractions: any password is accepted; the
// login names the account). Prints "listening" once it answers.
import { readFileSync } from "node:fs";
import Provider from "oidc-provider";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: config.jwks,
  async findAccount(ctx, id) {
    const claims = config.accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "preferred_username"],
  },
  // Keycloak's habit, which most deployments keep: the scopes' claims in the ID token.
  conformIdTokenClaims: config.conformIdTokenClaims ?? false,
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
  },
  pkce: { required: () => true },
  cookies: { keys: ["herald-tests-only"] },
  // The provider refuses to call special-use addresses (SSRF protection); in the
  // tests Herald's back-channel logout endpoint is on 127.0.0.1.
  fetch: (url, options) => {
    delete options.dispatcher;
    return globalThis.fetch(url, options);
  },
});

provider.on("backchannel.error", (ctx, error, client) => {
  console.error(`backchannel logout to ${client.clientId} failed: ${error.message}`);
});

const server = provider.listen(config.port, "127.0.0.1", () => console.log("listening"));
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => server.close(() => process.exit(0)));
