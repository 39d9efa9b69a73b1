// Sign-up and login: email + password (scrypt hashes), OpenID Connect providers
// (authorization code + PKCE through openid-client, id_token verified with jose against the
// provider's JWKS) and GitHub's OAuth endpoints. Every successful login ends in a user row in
// PostgreSQL and a session in Redis.
import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import {
  findUserByEmail,
  findUserByIdentity,
  insertUser,
  linkIdentity,
  normalizeEmail,
} from './db.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { createSession } from './sessions.js';

const PENDING_PREFIX = 'oauth:pending:';
const PENDING_TTL_SECONDS = 600;

/** A login or sign-up refused for a reason the user may be told (HTTP `status`). */
export class AuthError extends Error {
  constructor(message, status = 401) {
    super(message);
    this.name = 'AuthError';
    this.status = status;
  }
}

const discovered = new Map();
const keySets = new Map();

/** The issuer URL of `provider` (`google` → `http://oauth:8080/google`). */
export function issuerUrl(config, provider) {
  return `${config.oauth.issuerBase}/${provider}`;
}

/** The openid-client configuration of an OIDC provider, discovered once per process. */
export async function providerConfig(config, provider) {
  const issuer = issuerUrl(config, provider);
  if (!discovered.has(issuer)) {
    const options = issuer.startsWith('http:') ? { execute: [oidc.allowInsecureRequests] } : {};
    const pending = oidc
      .discovery(new URL(issuer), config.oauth.clientId, config.oauth.clientSecret, undefined, options)
      .catch((err) => {
        discovered.delete(issuer);
        throw err;
      });
    discovered.set(issuer, pending);
  }
  return discovered.get(issuer);
}

/**
 * Verifies an id_token's RS256 signature against the provider's JWKS and its `iss`, `aud`
 * and expiry; returns the claims. Throws on any mismatch.
 */
export async function verifyIdToken(config, provider, idToken, { nonce } = {}) {
  const server = (await providerConfig(config, provider)).serverMetadata();
  if (!keySets.has(server.jwks_uri)) keySets.set(server.jwks_uri, createRemoteJWKSet(new URL(server.jwks_uri)));
  const { payload } = await jwtVerify(idToken, keySets.get(server.jwks_uri), {
    issuer: server.issuer,
    audience: config.oauth.clientId,
    algorithms: ['RS256'],
  });
  if (nonce !== undefined && payload.nonce !== nonce) throw new AuthError('id_token nonce mismatch');
  return payload;
}

/** Creates an account with a password. */
export async function signUp(ctx, { email, password, name }) {
  if (!email || !String(email).includes('@')) throw new AuthError('a valid email is required', 400);
  if (await findUserByEmail(ctx.db, email)) throw new AuthError('an account with this email exists', 409);
  const passwordHash = await hashPassword(password).catch((err) => {
    throw new AuthError(err.message, 400);
  });
  return insertUser(ctx.db, { email, name, passwordHash });
}

/** Checks an email + password; returns `{ user, session }` or throws AuthError. */
export async function loginWithPassword(ctx, email, password) {
  const user = await findUserByEmail(ctx.db, email);
  // Hash even when the user is missing so both failures take the same time.
  const stored = user?.password_hash ?? 'scrypt$16384$8$AAAAAAAAAAAAAAAAAAAAAA==$AA==';
  const ok = await verifyPassword(password, stored);
  if (!user || !user.password_hash || !ok) throw new AuthError('invalid email or password');
  const session = await createSession(sessionStores(ctx), user.id, 'password');
  return { user, session };
}

/**
 * Starts a provider login: stores the PKCE verifier, state and nonce in Redis and returns
 * the URL to send the browser to.
 */
export async function beginOAuthLogin(ctx, provider, { loginHint } = {}) {
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const codeChallenge = await oidc.calculatePKCECodeChallenge(codeVerifier);
  const state = oidc.randomState();
  const params = {
    redirect_uri: ctx.config.oauth.redirectUri,
    state,
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
  };
  if (loginHint) params.login_hint = loginHint;
  let url;
  let nonce;
  if (provider === 'github') {
    url = new URL(`${issuerUrl(ctx.config, 'github')}/login/oauth/authorize`);
    for (const [k, v] of Object.entries({ client_id: ctx.config.oauth.clientId, scope: 'read:user user:email', ...params })) {
      url.searchParams.set(k, v);
    }
  } else {
    nonce = oidc.randomNonce();
    const config = await providerConfig(ctx.config, provider);
    url = oidc.buildAuthorizationUrl(config, { ...params, scope: 'openid email profile', nonce });
  }
  await ctx.redis.set(PENDING_PREFIX + state, JSON.stringify({ provider, codeVerifier, nonce }), {
    EX: PENDING_TTL_SECONDS,
  });
  return { url: url.href, state };
}

/**
 * Finishes a provider login from the callback URL the provider redirected to: redeems the
 * code (with the PKCE verifier), verifies who logged in, finds or creates the user and
 * opens a session. Returns `{ user, session, provider, profile, created }`.
 */
export async function completeOAuthLogin(ctx, callbackUrl) {
  const url = new URL(callbackUrl);
  const error = url.searchParams.get('error');
  if (error) throw new AuthError(`provider refused the login: ${error}`);
  const state = url.searchParams.get('state');
  const key = PENDING_PREFIX + state;
  const raw = state ? await ctx.redis.getDel(key) : null;
  if (!raw) throw new AuthError('unknown or expired login state', 400);
  const pending = JSON.parse(raw);
  let profile;
  try {
    profile =
      pending.provider === 'github' ? await githubProfile(ctx, url, pending) : await oidcProfile(ctx, url, pending);
  } catch (err) {
    if (err instanceof AuthError) throw err;
    // openid-client reports the provider's OAuth error (e.g. invalid_grant) in `error`.
    if (err.error) {
      const failure = new AuthError(`${pending.provider} login failed: ${err.error}${err.error_description ? ` (${err.error_description})` : ''}`);
      failure.error = err.error;
      throw failure;
    }
    throw err;
  }
  const { user, created } = await findOrCreateUser(ctx, profile);
  const session = await createSession(sessionStores(ctx), user.id, pending.provider);
  return { user, session, provider: pending.provider, profile, created };
}

async function oidcProfile(ctx, url, pending) {
  const config = await providerConfig(ctx.config, pending.provider);
  const tokens = await oidc.authorizationCodeGrant(config, url, {
    pkceCodeVerifier: pending.codeVerifier,
    expectedState: url.searchParams.get('state'),
    expectedNonce: pending.nonce,
    idTokenExpected: true,
  });
  const claims = await verifyIdToken(ctx.config, pending.provider, tokens.id_token, { nonce: pending.nonce });
  const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
  if (!info.email) throw new AuthError('the provider did not share an email address');
  return {
    provider: pending.provider,
    subject: claims.sub,
    email: info.email,
    emailVerified: info.email_verified === true || claims.email_verified === true,
    name: info.name ?? claims.name ?? null,
    idTokenClaims: claims,
  };
}

async function githubProfile(ctx, url, pending) {
  const base = issuerUrl(ctx.config, 'github');
  const response = await fetch(`${base}/login/oauth/access_token`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: ctx.config.oauth.clientId,
      client_secret: ctx.config.oauth.clientSecret,
      code: url.searchParams.get('code') ?? '',
      redirect_uri: ctx.config.oauth.redirectUri,
      code_verifier: pending.codeVerifier,
    }),
  });
  const token = await response.json();
  if (!response.ok || token.error || !token.access_token) {
    throw new AuthError(`github token exchange failed: ${token.error ?? response.status}`);
  }
  const userResponse = await fetch(`${base}/user`, {
    headers: { accept: 'application/vnd.github+json', authorization: `Bearer ${token.access_token}` },
  });
  const user = await userResponse.json();
  if (!userResponse.ok) throw new AuthError(`github /user failed: ${user.message ?? userResponse.status}`);
  if (!user.email) throw new AuthError('the GitHub account has no public email');
  return {
    provider: 'github',
    subject: String(user.id),
    email: user.email,
    emailVerified: true,
    name: user.name ?? user.login,
    login: user.login,
  };
}

/** The user behind a provider profile: linked identity, else verified email, else a new user. */
export async function findOrCreateUser(ctx, profile) {
  const linked = await findUserByIdentity(ctx.db, profile.provider, profile.subject);
  if (linked) {
    await linkIdentity(ctx.db, { ...profile, userId: linked.id });
    return { user: linked, created: false };
  }
  let user = profile.emailVerified ? await findUserByEmail(ctx.db, profile.email) : null;
  const created = !user;
  if (!user) {
    if (await findUserByEmail(ctx.db, profile.email)) {
      throw new AuthError('an account with this email exists; log in with it first', 409);
    }
    user = await insertUser(ctx.db, { email: normalizeEmail(profile.email), name: profile.name });
  }
  await linkIdentity(ctx.db, { ...profile, userId: user.id });
  return { user, created };
}

function sessionStores(ctx) {
  return { db: ctx.db, redis: ctx.redis, ttlSeconds: ctx.config.sessionTtlSeconds };
}

const RESET_PREFIX = 'password-reset:';
const RESET_TTL_SECONDS = 3600;

/**
 * Issues a one-hour password-reset token for the account `email` (stored in Redis).
 * Returns `{ user, token }`, or null when there is no such account.
 */
export async function requestPasswordReset(ctx, email) {
  const user = await findUserByEmail(ctx.db, email);
  if (!user) return null;
  const token = oidc.randomState();
  await ctx.redis.set(RESET_PREFIX + token, user.id, { EX: RESET_TTL_SECONDS });
  return { user, token };
}

/** Sets a new password with a reset token (single use). Returns the user id. */
export async function resetPassword(ctx, token, newPassword) {
  const userId = token ? await ctx.redis.getDel(RESET_PREFIX + token) : null;
  if (!userId) throw new AuthError('invalid or expired reset token', 400);
  const passwordHash = await hashPassword(newPassword).catch((err) => {
    throw new AuthError(err.message, 400);
  });
  await ctx.db.query('UPDATE users SET password_hash = $2 WHERE id = $1', [userId, passwordHash]);
  return userId;
}
