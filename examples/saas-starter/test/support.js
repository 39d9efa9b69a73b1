// Helpers shared by the test suites: polling, the scenario a branch selects, the seeded test
// users and a small MailHog API client that decodes MIME parts.
import { readFileSync } from 'node:fs';

/** The users created by scripts/create-test-users.sh. */
export const testUsers = JSON.parse(readFileSync(new URL('../scripts/test-users.json', import.meta.url), 'utf8'));

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes; returns that value. */
export async function waitFor(fn, { timeoutMs = 5000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * The scenario to run: `explicit` (the suite's own variable, e.g. BILLING_SCENARIO) if set,
 * else derived from VERS_BRANCH by `fromBranch`, else null (run every scenario).
 */
export function selectedScenario(explicit, fromBranch = (b) => b) {
  if (explicit) return explicit;
  if (process.env.VERS_BRANCH) return fromBranch(process.env.VERS_BRANCH);
  return null;
}

function decodeQuotedPrintable(text) {
  const bytes = [];
  const soft = text.replace(/=\r?\n/g, '');
  for (let i = 0; i < soft.length; i += 1) {
    const hex = soft.slice(i + 1, i + 3);
    if (soft[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(soft[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function header(headers, name) {
  const key = Object.keys(headers ?? {}).find((k) => k.toLowerCase() === name.toLowerCase());
  return key ? String(headers[key][0] ?? '') : '';
}

function decodeBody(headers, body) {
  const encoding = header(headers, 'Content-Transfer-Encoding').toLowerCase();
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(body);
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  return body;
}

function collectParts(mime, out) {
  for (const part of mime?.Parts ?? []) {
    if (part.MIME?.Parts?.length) collectParts(part.MIME, out);
    else out.push(part);
  }
  return out;
}

/** `{ subject, to, text, html }` of a MailHog API message, with bodies decoded. */
export function readMessage(message) {
  const headers = message.Content.Headers;
  const result = { subject: header(headers, 'Subject'), to: header(headers, 'To'), text: '', html: '' };
  const parts = collectParts(message.MIME, []);
  if (parts.length === 0) parts.push({ Headers: headers, Body: message.Content.Body });
  for (const part of parts) {
    const type = header(part.Headers, 'Content-Type').toLowerCase();
    const body = decodeBody(part.Headers, part.Body);
    if (type.startsWith('text/html')) result.html += body;
    else if (type.startsWith('text/plain') || type === '') result.text += body;
  }
  return result;
}

/** A client of the MailHog HTTP API at `apiUrl`. */
export function mailhog(apiUrl) {
  const get = async (path) => {
    const response = await fetch(`${apiUrl}${path}`);
    if (!response.ok) throw new Error(`MailHog ${path}: HTTP ${response.status}`);
    return response.json();
  };
  return {
    /** Messages whose recipient matches `address` (v2 search). */
    to: (address) => get(`/api/v2/search?kind=to&query=${encodeURIComponent(address)}`),
    /** All messages (v2). */
    all: () => get('/api/v2/messages'),
  };
}
