// Email suite (depends_on: smtp). Sends each transactional mail through the app's mailer
// (nodemailer over SMTP to MailHog) and reads it back through the MailHog API: recipient,
// subject, sender and the decoded text and HTML bodies. The branch (VERS_BRANCH) picks the
// mail: welcome-email, password-reset or invoice-email; without one, all three run.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { loadConfig } from '../src/config.js';
import { createMailer, sendInvoiceEmail, sendPasswordResetEmail, sendWelcomeEmail } from '../src/mailer.js';
import { mailhog, readMessage, selectedScenario, waitFor } from './support.js';

const config = loadConfig();
const mailer = createMailer(config);
const api = mailhog(config.smtp.apiUrl);
const scenario = selectedScenario(process.env.EMAIL_SCENARIO);

after(() => mailer.transport.close());

function recipient(label) {
  return `${label}-${randomBytes(4).toString('hex')}@example.com`;
}

/** Sends with `sendFn` and returns the single message MailHog captured for `to`. */
async function sendAndFetch(to, sendFn) {
  const info = await sendFn();
  assert.deepEqual(info.accepted, [to], 'the SMTP server accepted the recipient');
  const found = await waitFor(async () => {
    const result = await api.to(to);
    return result.total >= 1 ? result : null;
  }, { what: `a message to ${to} in MailHog` });
  assert.equal(found.total, 1, `exactly one message to ${to}`);
  const message = found.items[0];
  assert.deepEqual(message.Raw.To, [to], 'SMTP envelope recipient');
  const read = readMessage(message);
  assert.ok(read.to.includes(to), `To header names ${to}: ${read.to}`);
  assert.ok(message.Raw.From.endsWith('@saas-starter.test'), `envelope sender ${message.Raw.From}`);
  return read;
}

const scenarios = {
  'welcome-email': async () => {
    const to = recipient('welcome');
    const mail = await sendAndFetch(to, () => sendWelcomeEmail(mailer, { email: to, name: 'Erin Example' }));
    assert.equal(mail.subject, 'Welcome to SaaS Starter');
    assert.match(mail.text, /Hi Erin Example,/);
    assert.ok(mail.text.includes(`your account ${to} is ready`), mail.text);
    assert.match(mail.html, new RegExp(`<strong>${to.replace(/[.]/g, '\\.')}</strong>`));
    assert.match(mail.html, /<a href="http:\/\/localhost:3000\/dashboard">Open your dashboard<\/a>/);
  },
  'password-reset': async () => {
    const to = recipient('reset');
    const token = randomBytes(24).toString('base64url');
    const mail = await sendAndFetch(to, () => sendPasswordResetEmail(mailer, { email: to, name: null }, token));
    assert.equal(mail.subject, 'Reset your SaaS Starter password');
    const link = `http://localhost:3000/reset-password?token=${token}`;
    assert.ok(mail.text.startsWith('Hi,'), mail.text);
    assert.ok(mail.text.includes(link), `text body carries the reset link: ${mail.text}`);
    assert.ok(mail.html.includes(`<a href="${link}">Reset your password</a>`), `html body carries the reset link: ${mail.html}`);
  },
  'invoice-email': async () => {
    const to = recipient('invoice');
    const invoice = { number: 'INV-0042', amountPaid: 2999, currency: 'usd', planName: 'Pro Plan' };
    const mail = await sendAndFetch(to, () => sendInvoiceEmail(mailer, { email: to, name: 'Ivy <Invoices>' }, invoice));
    assert.equal(mail.subject, 'Your SaaS Starter receipt INV-0042');
    assert.ok(mail.text.includes('we received $29.99 for Pro Plan (invoice INV-0042)'), mail.text);
    assert.ok(mail.html.includes('<td>Amount paid</td><td>$29.99</td>'), mail.html);
    assert.ok(mail.html.includes('Hi Ivy &lt;Invoices&gt;,'), `the name is HTML-escaped: ${mail.html}`);
  },
};

if (scenario && !scenarios[scenario]) {
  test(`email scenario ${scenario}`, () => assert.fail(`unknown email scenario "${scenario}" (known: ${Object.keys(scenarios).join(', ')})`));
}
for (const [name, run] of Object.entries(scenarios)) {
  if (!scenario || scenario === name) test(`email: ${name}`, run);
}
