// Transactional mail over SMTP (MailHog inside vers): order confirmation with the invoice
// attached and the download links of digital goods, payment failure, shipment notice.
import nodemailer from 'nodemailer';
import { escapeHtml, formatCents } from './money.js';

/** A nodemailer transport for `config.smtp`. */
export function createMailer(config) {
  const transport = nodemailer.createTransport({ host: config.smtp.host, port: config.smtp.port, secure: false, ignoreTLS: true });
  return { transport, from: config.smtp.from };
}

/** Order confirmation: totals, lines, download links; the invoice as an HTML attachment. */
export async function sendOrderConfirmation(mailer, { user, order, lines, invoiceHtml, downloads }) {
  const items = lines.map((l) => `${l.quantity} x ${l.name} (${l.sku})  ${formatCents(l.unit_price_cents * l.quantity)}`);
  const links = downloads.map((d) => `${d.name}: ${d.url}`);
  const text = [
    `Hi ${user.name},`,
    '',
    `thank you for order ${order.number}. We charged ${formatCents(order.total_cents)} to your card.`,
    '',
    ...items,
    '',
    ...(links.length ? ['Your downloads:', ...links, ''] : []),
    'Your invoice is attached.',
  ].join('\n');
  const html = `<p>Hi ${escapeHtml(user.name)},</p><p>thank you for order ${order.number}. We charged <strong>${formatCents(order.total_cents)}</strong> to your card.</p>`
    + `<ul>${lines.map((l) => `<li>${l.quantity} x ${escapeHtml(l.name)}</li>`).join('')}</ul>`
    + (downloads.length ? `<p>Your downloads:</p><ul>${downloads.map((d) => `<li><a href="${escapeHtml(d.url)}">${escapeHtml(d.name)}</a></li>`).join('')}</ul>` : '');
  return mailer.transport.sendMail({
    from: mailer.from,
    to: user.email,
    subject: `Order ${order.number} confirmed`,
    text,
    html,
    attachments: [{ filename: `invoice-${order.number}.html`, content: invoiceHtml, contentType: 'text/html' }],
  });
}

/** The card was declined: say so, and that nothing was charged. */
export async function sendPaymentFailed(mailer, { user, order, reason }) {
  return mailer.transport.sendMail({
    from: mailer.from,
    to: user.email,
    subject: `Payment for order ${order.number} failed`,
    text: `Hi ${user.name},\n\nyour payment of ${formatCents(order.total_cents)} for order ${order.number} did not go through (${reason}). Nothing was charged.\n`,
  });
}

/** A parcel left the warehouse. */
export async function sendShipmentNotice(mailer, { user, order, shipment, lines }) {
  return mailer.transport.sendMail({
    from: mailer.from,
    to: user.email,
    subject: `Order ${order.number} shipped: ${shipment.tracking_number}`,
    text: [
      `Hi ${user.name},`,
      '',
      `a parcel of order ${order.number} is on its way with ${shipment.carrier}, tracking number ${shipment.tracking_number}:`,
      ...lines.map((l) => `${l.quantity} x ${l.name}`),
      '',
    ].join('\n'),
  });
}
