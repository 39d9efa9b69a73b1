// Transactional email over SMTP with nodemailer: the welcome mail, the password-reset mail
// and the invoice receipt, each with a plain-text and an HTML body.
import nodemailer from 'nodemailer';

/** An SMTP transport for the configured server (MailHog inside vers). */
export function createMailer(config) {
  const transport = nodemailer.createTransport({
    host: config.smtp.host,
    port: config.smtp.port,
    secure: false,
    ignoreTLS: true,
    connectionTimeout: 5000,
  });
  return { transport, from: config.smtp.from, publicUrl: config.publicUrl };
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function formatAmount(cents, currency) {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() }).format(cents / 100);
}

function greeting(user) {
  return user.name ? `Hi ${user.name},` : 'Hi,';
}

/** Subject and bodies of the welcome mail. */
export function welcomeMessage(mailer, user) {
  const url = `${mailer.publicUrl}/dashboard`;
  return {
    subject: 'Welcome to SaaS Starter',
    text: `${greeting(user)}\n\nyour account ${user.email} is ready. Start here: ${url}\n`,
    html: `<p>${escapeHtml(greeting(user))}</p><p>Your account <strong>${escapeHtml(user.email)}</strong> is ready.</p><p><a href="${escapeHtml(url)}">Open your dashboard</a></p>`,
  };
}

/** Subject and bodies of the password-reset mail carrying `token`. */
export function passwordResetMessage(mailer, user, token) {
  const url = `${mailer.publicUrl}/reset-password?token=${encodeURIComponent(token)}`;
  return {
    subject: 'Reset your SaaS Starter password',
    text: `${greeting(user)}\n\nreset your password within one hour: ${url}\nIf you did not ask for this, ignore this mail.\n`,
    html: `<p>${escapeHtml(greeting(user))}</p><p><a href="${escapeHtml(url)}">Reset your password</a> within one hour.</p><p>If you did not ask for this, ignore this mail.</p>`,
  };
}

/** Subject and bodies of the receipt for a paid invoice `{ number, amountPaid, currency, planName }`. */
export function invoiceMessage(mailer, user, invoice) {
  const amount = formatAmount(invoice.amountPaid, invoice.currency);
  return {
    subject: `Your SaaS Starter receipt ${invoice.number}`,
    text: `${greeting(user)}\n\nwe received ${amount} for ${invoice.planName} (invoice ${invoice.number}). Thank you!\n`,
    html: `<p>${escapeHtml(greeting(user))}</p><table><tr><td>Invoice</td><td>${escapeHtml(invoice.number)}</td></tr><tr><td>Plan</td><td>${escapeHtml(invoice.planName)}</td></tr><tr><td>Amount paid</td><td>${escapeHtml(amount)}</td></tr></table><p>Thank you!</p>`,
  };
}

async function send(mailer, user, message) {
  return mailer.transport.sendMail({ from: mailer.from, to: user.email, ...message });
}

/** Sends the welcome mail to `user` (`{ email, name }`). */
export function sendWelcomeEmail(mailer, user) {
  return send(mailer, user, welcomeMessage(mailer, user));
}

/** Sends the password-reset mail with `token` to `user`. */
export function sendPasswordResetEmail(mailer, user, token) {
  return send(mailer, user, passwordResetMessage(mailer, user, token));
}

/** Sends the receipt for `invoice` to `user`. */
export function sendInvoiceEmail(mailer, user, invoice) {
  return send(mailer, user, invoiceMessage(mailer, user, invoice));
}
