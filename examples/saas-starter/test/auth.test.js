// Auth suite (depends_on: postgres, redis, oauth). Branches:
// - google-oauth (OAUTH_PROVIDER=google): OIDC authorization code + PKCE against oauth-mock
//   through the app's auth module (openid-client), id_token verified against the JWKS with
//   jose (iss, aud, signature), user created then looked up in PostgreSQL, session in Redis.
// - github-oauth (OAUTH_PROVIDER=github): GitHub's authorize, access_token and /user
//   endpoints; the same user and session checks.
// - email-password (AUTH_METHOD=email): login as a user from create-test-users.sh (scrypt
//   hash), a wrong password and an unknown address are refused and open no session.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as oidc from 'openid-client';
import {
  AuthError,
  beginOAuthLogin,
  completeOAuthLogin,
  issuerUrl,
  loginWithPassword,
  providerConfig,
  signUp,
  verifyIdToken,
} from '../src/auth.js';
import { loadConfig } from '../src/config.js';
import { createPool } from '../src/db.js';
import { verifyPassword } from '../src/passwords.js';
import { connectRedis, getSession } from '../src/sessions.js';
import { selectedScenario, testUsers } from './support.js';

const OAUTH_USER = 'test.user@example.com';
const config = loadConfig();
const scenario = selectedScenario(
  process.env.AUTH_METHOD === 'email' ? 'email-password' : process.env.OAUTH_PROVIDER && `${process.env.OAUTH_PROVIDER}-oauth`,
);
let ctx;

before(async () => {
  ctx = { config, db: createPool(config.databaseUrl), redis: await connectRedis(config.redisUrl) };
});
after(async () => {
  await ctx?.db.end();
  await ctx?.redis.quit();
});

/** Follows the provider's non-interactive authorize redirect; returns the callback URL. */
async function authorize(url) {
  const response = await fetch(url, { redirect: 'manual' });
  assert.equal(response.status, 302, `authorize answers with a redirect (got ${response.status})`);
  const location = response.headers.get('location');
  assert.ok(location.startsWith(`${config.oauth.redirectUri}?`), `redirect goes to the callback URL: ${location}`);
  return location;
}

async function rowCount(sql, params) {
  const { rows } = await ctx.db.query(sql, params);
  return Number(rows[0].count);
}

/** Checks what every successful login must leave behind: the user row and a live session. */
async function assertLoggedIn(result, { provider, method }) {
  const { rows } = await ctx.db.query('SELECT * FROM users WHERE id = $1', [result.user.id]);
  assert.equal(rows.length, 1, 'the user is stored in postgres');
  assert.equal(rows[0].email, result.user.email);
  const live = await getSession(ctx, result.session.token);
  assert.ok(live, 'the session is in redis');
  assert.equal(live.userId, result.user.id);
  assert.equal(live.method, method);
  const ttl = await ctx.redis.ttl(`session:${result.session.token}`);
  assert.ok(ttl > 0 && ttl <= config.sessionTtlSeconds, `the session expires (ttl ${ttl})`);
  assert.equal(await rowCount('SELECT count(*) FROM sessions WHERE id = $1 AND user_id = $2 AND method = $3', [result.session.token, result.user.id, method]), 1);
  if (provider) {
    assert.equal(await rowCount('SELECT count(*) FROM identities WHERE provider = $1 AND subject = $2 AND user_id = $3', [provider, result.profile.subject, result.user.id]), 1);
  }
}

async function oauthLoginTwice(provider) {
  const existed = (await rowCount('SELECT count(*) FROM users WHERE email = $1', [OAUTH_USER])) > 0;
  const start = await beginOAuthLogin(ctx, provider);
  const authorizeUrl = new URL(start.url);
  assert.equal(authorizeUrl.searchParams.get('code_challenge_method'), 'S256', 'PKCE S256 is used');
  assert.match(authorizeUrl.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(authorizeUrl.searchParams.get('state'), start.state);
  const callback = await authorize(start.url);
  const first = await completeOAuthLogin(ctx, callback);
  assert.equal(first.provider, provider);
  assert.equal(first.profile.email, OAUTH_USER);
  assert.equal(first.created, !existed, 'the first login creates the user (or links the existing one)');
  await assertLoggedIn(first, { provider, method: provider });
  await assert.rejects(completeOAuthLogin(ctx, callback), (err) => err instanceof AuthError && err.status === 400, 'a replayed callback (state already used) is refused');

  const second = await completeOAuthLogin(ctx, await authorize((await beginOAuthLogin(ctx, provider)).url));
  assert.equal(second.created, false, 'the second login finds the user');
  assert.equal(second.user.id, first.user.id);
  assert.notEqual(second.session.token, first.session.token, 'each login opens its own session');
  assert.equal(await rowCount('SELECT count(*) FROM users WHERE email = $1', [OAUTH_USER]), 1, 'no duplicate user');
  return first;
}

const scenarios = {
  'google-oauth': async (t) => {
    const first = await oauthLoginTwice('google');
    await t.test('id_token claims verified against the issuer and client', () => {
      const claims = first.profile.idTokenClaims;
      assert.equal(claims.iss, issuerUrl(config, 'google'));
      const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      assert.ok(aud.includes(config.oauth.clientId), `aud ${claims.aud}`);
      assert.equal(claims.email, OAUTH_USER);
      assert.equal(claims.sub, first.profile.subject);
    });
    await t.test('a tampered or foreign id_token is rejected by the JWKS check', async () => {
      const configured = await providerConfig(config, 'google');
      const verifier = oidc.randomPKCECodeVerifier();
      const nonce = oidc.randomNonce();
      const state = oidc.randomState();
      const url = oidc.buildAuthorizationUrl(configured, {
        redirect_uri: config.oauth.redirectUri, scope: 'openid email', state, nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      });
      const tokens = await oidc.authorizationCodeGrant(configured, new URL(await authorize(url.href)), {
        pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce,
      });
      const claims = await verifyIdToken(config, 'google', tokens.id_token, { nonce });
      assert.equal(claims.email, OAUTH_USER);
      const [h, p, s] = tokens.id_token.split('.');
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
      const forged = [h, Buffer.from(JSON.stringify({ ...payload, email: 'mallory@example.com' })).toString('base64url'), s].join('.');
      await assert.rejects(verifyIdToken(config, 'google', forged), /signature/i);
      const otherClient = { ...config, oauth: { ...config.oauth, clientId: 'some-other-client' } };
      await assert.rejects(verifyIdToken(otherClient, 'google', tokens.id_token), /aud/i);
    });
    await t.test('the provider enforces PKCE: a wrong code_verifier gets no tokens', async () => {
      const start = await beginOAuthLogin(ctx, 'google');
      const callback = await authorize(start.url);
      await ctx.redis.set(`oauth:pending:${start.state}`, JSON.stringify({
        provider: 'google', codeVerifier: oidc.randomPKCECodeVerifier(), nonce: new URL(start.url).searchParams.get('nonce'),
      }));
      await assert.rejects(completeOAuthLogin(ctx, callback), (err) => err instanceof AuthError && err.error === 'invalid_grant' && /code_verifier/.test(err.message));
    });
    await t.test('an unknown login_hint is refused by the provider', async () => {
      const start = await beginOAuthLogin(ctx, 'google', { loginHint: 'nobody@example.com' });
      await assert.rejects(completeOAuthLogin(ctx, await authorize(start.url)), /provider refused the login/);
    });
  },
  'github-oauth': async (t) => {
    const first = await oauthLoginTwice('github');
    const authorizeUrl = new URL((await beginOAuthLogin(ctx, 'github')).url);
    assert.equal(authorizeUrl.pathname, new URL(`${issuerUrl(config, 'github')}/login/oauth/authorize`).pathname);
    assert.ok(first.profile.login, 'the GitHub login name comes from /github/user');
    assert.match(first.profile.subject, /^\d+$/, 'the subject is the numeric GitHub user id');
    await t.test('a forged code is refused by the access_token endpoint', async () => {
      const start = await beginOAuthLogin(ctx, 'github');
      const forged = `${config.oauth.redirectUri}?code=not-a-real-code&state=${start.state}`;
      await assert.rejects(completeOAuthLogin(ctx, forged), /github token exchange failed: bad_verification_code/);
    });
  },
  'email-password': async (t) => {
    const seeded = testUsers[0];
    const { rows } = await ctx.db.query('SELECT password_hash FROM users WHERE email = $1', [seeded.email]);
    assert.equal(rows.length, 1, `${seeded.email} was created by create-test-users.sh`);
    assert.match(rows[0].password_hash, /^scrypt\$16384\$8\$1\$/, 'the password is stored as an scrypt hash');
    assert.ok(!rows[0].password_hash.includes(seeded.password), 'not in clear text');
    assert.equal(await verifyPassword(seeded.password, rows[0].password_hash), true);

    const result = await loginWithPassword(ctx, seeded.email.toUpperCase(), seeded.password);
    assert.equal(result.user.email, seeded.email);
    await assertLoggedIn(result, { method: 'password' });

    await t.test('a wrong password or unknown account is refused and opens no session', async () => {
      const before = await rowCount('SELECT count(*) FROM sessions', []);
      const refused = (err) => err instanceof AuthError && err.status === 401 && err.message === 'invalid email or password';
      await assert.rejects(loginWithPassword(ctx, seeded.email, `${seeded.password}x`), refused);
      await assert.rejects(loginWithPassword(ctx, seeded.email, testUsers[1].password), refused);
      await assert.rejects(loginWithPassword(ctx, 'nobody@example.com', seeded.password), refused);
      assert.equal(await rowCount('SELECT count(*) FROM sessions', []), before);
    });
    await t.test('sign-up stores a hash that logs in; a second sign-up is refused', async () => {
      const email = `new.user.${Date.now()}@example.com`;
      const user = await signUp(ctx, { email, password: 'a-new-password', name: 'New' });
      assert.match(user.password_hash, /^scrypt\$/);
      const login = await loginWithPassword(ctx, email, 'a-new-password');
      assert.equal(login.user.id, user.id);
      await assert.rejects(signUp(ctx, { email: email.toUpperCase(), password: 'whatever-else' }), (err) => err.status === 409);
    });
  },
};

if (scenario && !scenarios[scenario]) {
  test(`auth scenario ${scenario}`, () => assert.fail(`unknown auth scenario "${scenario}" (known: ${Object.keys(scenarios).join(', ')})`));
}
for (const [name, run] of Object.entries(scenarios)) {
  if (!scenario || scenario === name) test(`auth: ${name}`, run);
}
