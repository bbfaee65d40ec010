// The OpenID provider Atrium's SSO tests sign in through: the `oidc-provider` package
// (pinned in package.json, installed by scripts/oidc-provider) on a loopback port.
//
//   OIDC_PORT            port to listen on (0: any; the line below says which)
//   OIDC_REDIRECT_URIS   the test client's redirect URIs, comma-separated
//   OIDC_CLIENT_ID       default "atrium"
//   OIDC_CLIENT_SECRET   default "atrium-secret"
//
// Prints `OIDC_PROVIDER_READY <issuer>` on stdout once it listens. The sign-in page
// (/interaction/<uid>) is a form with one field, "E-mail": whoever is typed signs in (their
// `sub` is the address, the address is verified), except addresses removed with
// /test/remove. Consent is given without asking. Test controls (loopback only, JSON):
//   POST /test/tamper {iss?, aud?, expired?}  the next token response's ID token is
//        re-signed with the provider's own key, with that issuer / audience / an expiry in
//        the past
//   POST /test/remove {email}                  the person is refused from now on
import http from 'node:http';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT || 0);
const redirectUris = (process.env.OIDC_REDIRECT_URIS || 'http://127.0.0.1/cb')
  .split(',').map((s) => s.trim()).filter(Boolean);
const clientId = process.env.OIDC_CLIENT_ID || 'atrium';
const clientSecret = process.env.OIDC_CLIENT_SECRET || 'atrium-secret';

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key-1', alg: 'RS256', use: 'sig' };

const removed = new Set();
let tamper = null;

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { data += c; if (data.length > 65536) reject(new Error('too large')); });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

function sign(payload) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = enc({ alg: 'RS256', kid: jwk.kid, typ: 'JWT' });
  const body = enc(payload);
  const sig = crypto.sign('sha256', Buffer.from(`${head}.${body}`), privateKey).toString('base64url');
  return `${head}.${body}.${sig}`;
}

let provider;

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1');
    const m = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
    if (m && req.method === 'GET' && !m[2]) {
      const details = await provider.interactionDetails(req, res);
      const hint = details.params.login_hint || '';
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(`<!doctype html><html lang="en"><head><title>Test provider: sign in</title></head><body>
<h1>Test identity provider</h1>
<form method="post" action="/interaction/${escapeHtml(details.uid)}/login">
<label for="login">E-mail</label> <input id="login" name="login" value="${escapeHtml(hint)}">
<button type="submit" id="submit">Sign in</button>
</form></body></html>`);
      return;
    }
    if (m && req.method === 'POST' && m[2]) {
      const form = new URLSearchParams(await readBody(req));
      const login = (form.get('login') || '').trim().toLowerCase();
      if (!login || removed.has(login)) {
        await provider.interactionFinished(req, res, {
          error: 'access_denied',
          error_description: 'This person may not sign in here.',
        }, { mergeWithLastSubmission: false });
        return;
      }
      await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
      return;
    }
    if (url.pathname === '/test/tamper' && req.method === 'POST') {
      tamper = JSON.parse((await readBody(req)) || '{}');
      res.end('ok');
      return;
    }
    if (url.pathname === '/test/remove' && req.method === 'POST') {
      const { email } = JSON.parse((await readBody(req)) || '{}');
      removed.add(String(email).toLowerCase());
      res.end('ok');
      return;
    }
    provider.callback()(req, res);
  } catch (e) {
    res.statusCode = 500;
    res.end(String(e && e.message));
  }
});

server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [jwk] },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['given_name', 'family_name', 'name'],
    },
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          const local = sub.split('@')[0] || sub;
          return {
            sub,
            email: sub,
            email_verified: true,
            given_name: local.charAt(0).toUpperCase() + local.slice(1),
            family_name: 'Tester',
            name: `${local} Tester`,
          };
        },
      };
    },
    async loadExistingGrant(ctx) {
      const existing = ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (existing) {
        const found = await ctx.oidc.provider.Grant.find(existing);
        if (found) return found;
      }
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid email profile');
      grant.addOIDCClaims(['email', 'email_verified', 'given_name', 'family_name', 'name']);
      await grant.save();
      return grant;
    },
    ttl: { AuthorizationCode: 60, IdToken: 3600, AccessToken: 3600, Interaction: 600, Session: 3600, Grant: 3600 },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token' && tamper && ctx.body && ctx.body.id_token) {
      const payload = JSON.parse(Buffer.from(ctx.body.id_token.split('.')[1], 'base64url').toString());
      if (tamper.iss) payload.iss = tamper.iss;
      if (tamper.aud) payload.aud = tamper.aud;
      if (tamper.expired) {
        const now = Math.floor(Date.now() / 1000);
        payload.iat = now - 7200;
        payload.exp = now - 3600;
      }
      ctx.body = { ...ctx.body, id_token: sign(payload) };
      tamper = null;
    }
  });
  process.stdout.write(`OIDC_PROVIDER_READY ${issuer}\n`);
});

process.on('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
