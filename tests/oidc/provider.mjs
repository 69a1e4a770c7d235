// A real OpenID provider (panva's certified oidc-provider) on loopback, for Cairn's staff
// sign-in tests. Usage: node provider.mjs <redirect_uri>. It prints one JSON line
// {"issuer": "http://127.0.0.1:<port>"} once it listens, and serves until its stdin closes.
//
// Test client: id "cairn", secret "cairn-test-secret". Accounts (tenant `tid`, `groups`):
//   alice   agency tenant, groups [cairn-admins, staff], alice@agency.example
//   bob     agency tenant, groups [staff],               bob@agency.example
//   mallory another tenant,                              mallory@elsewhere.example
//
// Test controls (plain HTTP on the same port, for the test only):
//   POST /test/next-login  {"account": "alice", "amr": ["pwd", "mfa"]}  who the next
//        interaction signs in (non-interactively: GET /interaction/<uid> finishes it at once)
//   POST /test/disable     {"account": "bob"}   the provider stops vouching for bob
//   POST /test/groups      {"account": "alice", "groups": ["staff"]}   change someone's groups
//   POST /test/tamper      {"mode": "none" | "forge" | "audience" | "replay"}  what the token
//        endpoint's next ID token becomes: signed by another key (same kid), issued to another
//        client (signed with the real key), or the ID token of the previous sign-in
import { createServer } from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const redirectUri = process.argv[2];
if (!redirectUri) {
  console.error('usage: node provider.mjs <redirect_uri>');
  process.exit(2);
}

const accounts = {
  alice: { email: 'alice@agency.example', name: 'Alice Admin', groups: ['cairn-admins', 'staff'], tid: 'agency-tenant' },
  bob: { email: 'bob@agency.example', name: 'Bob Staff', groups: ['staff'], tid: 'agency-tenant' },
  mallory: { email: 'mallory@elsewhere.example', name: 'Mallory', groups: ['cairn-admins'], tid: 'other-tenant' },
};
const disabled = new Set();
let nextLogin = { account: 'bob', amr: ['pwd'] };
let tamper = 'none';
let lastIdToken = null;

const kid = 'test-key';
const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
const { privateKey: otherKey } = await jose.generateKeyPair('RS256', { extractable: true });

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'cairn',
      client_secret: 'cairn-test-secret',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
    {
      client_id: 'another-app',
      client_secret: 'another-secret',
      redirect_uris: ['http://127.0.0.1:9/callback'],
      response_types: ['code'],
    },
  ],
  jwks: { keys: [signingJwk] },
  cookies: { keys: ['cairn-test-cookie-key'] },
  claims: {
    acr: null,
    amr: null,
    auth_time: null,
    iss: null,
    sid: null,
    openid: ['sub', 'tid', 'groups', 'amr'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // The agency's claims in the ID token itself, as Entra and Google put them.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, id) {
    const account = accounts[id];
    if (!account || disabled.has(id)) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email_verified: true, ...account };
      },
    };
  },
});

// The token endpoint's answer, changed as the test asked (a real provider's token, then tampered).
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== '/token' || !ctx.body || typeof ctx.body.id_token !== 'string') return;
  const original = ctx.body.id_token;
  const claims = jose.decodeJwt(original);
  const sign = (payload, key) =>
    new jose.SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid }).sign(key);
  if (tamper === 'forge') ctx.body.id_token = await sign(claims, otherKey);
  else if (tamper === 'audience') ctx.body.id_token = await sign({ ...claims, aud: 'another-app', azp: 'another-app' }, privateKey);
  else if (tamper === 'replay' && lastIdToken) ctx.body.id_token = lastIdToken;
  lastIdToken = original;
});

async function body(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}

const callback = provider.callback();
server.on('request', async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (req.method === 'POST' && url.pathname.startsWith('/test/')) {
      const input = await body(req);
      if (url.pathname === '/test/next-login') nextLogin = { account: input.account, amr: input.amr ?? ['pwd'] };
      else if (url.pathname === '/test/disable') disabled.add(input.account);
      else if (url.pathname === '/test/groups') accounts[input.account].groups = input.groups;
      else if (url.pathname === '/test/tamper') tamper = input.mode;
      else { res.statusCode = 404; return res.end(); }
      res.statusCode = 204;
      return res.end();
    }
    const interaction = url.pathname.match(/^\/interaction\/([^/]+)$/);
    if (req.method === 'GET' && interaction) {
      // The person signs in at once as the test chose, and consents to what was asked.
      const details = await provider.interactionDetails(req, res);
      const accountId = nextLogin.account;
      const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope);
      const grantId = await grant.save();
      return await provider.interactionFinished(
        req,
        res,
        { login: { accountId, amr: nextLogin.amr }, consent: { grantId } },
        { mergeWithLastSubmission: false },
      );
    }
    return callback(req, res);
  } catch (err) {
    console.error(err);
    res.statusCode = 500;
    res.end(String(err));
  }
});

console.log(JSON.stringify({ issuer }));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
