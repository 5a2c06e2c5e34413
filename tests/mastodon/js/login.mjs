// masto (npm) against a running instance, for tests/mastodon/test_clients_login.py.
//   node login.mjs register URL                          -> {"clientId", "clientSecret"}
//   node login.mjs login URL ID SECRET CODE REDIRECT QUERY -> {"token", "me", "found"}
// Prints one JSON document on stdout; an error exits non-zero with the message on stderr.
import { createOAuthAPIClient, createRestAPIClient } from "masto";

const [command, url, ...rest] = process.argv.slice(2);

async function main() {
  if (command === "register") {
    const rest_ = createRestAPIClient({ url });
    const app = await rest_.v1.apps.create({
      clientName: "masto test",
      redirectUris: "urn:ietf:wg:oauth:2.0:oob",
      scopes: "read write follow",
    });
    return { clientId: app.clientId, clientSecret: app.clientSecret };
  }
  if (command === "login") {
    const [clientId, clientSecret, code, redirectUri, query] = rest;
    const oauth = createOAuthAPIClient({ url });
    const token = await oauth.token.create({
      grantType: "authorization_code",
      clientId,
      clientSecret,
      redirectUri,
      code,
      scope: "read write follow",
    });
    const client = createRestAPIClient({ url, accessToken: token.accessToken });
    const me = await client.v1.accounts.verifyCredentials();
    const found = await client.v2.search.list({ q: query, resolve: true });
    const instance = await client.v2.instance.fetch();
    return { token: token.accessToken, me, found, instance: instance.domain };
  }
  throw new Error(`unknown command ${command}`);
}

main().then(
  (result) => console.log(JSON.stringify(result)),
  (error) => {
    console.error(error.stack || String(error));
    process.exit(1);
  },
);
