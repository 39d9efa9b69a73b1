// The mails, free of I/O: subject, text and HTML of each template, and which mail an event asks
// for. An unknown template or missing field is a permanent error (the event is dead-lettered).

const escapeHtml = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function permanent(message) {
  const err = new Error(message);
  err.permanent = true;
  return err;
}

function need(data, fields, template) {
  for (const f of fields) {
    if (data?.[f] === undefined || data[f] === null || data[f] === '') throw permanent(`${template}: ${f} is missing`);
  }
}

const itemLines = (items) => items.map((i) => `${i.quantity} x ${i.sku}`);

const TEMPLATES = {
  welcome(d) {
    need(d, ['name', 'email'], 'welcome');
    return {
      subject: `Welcome to Event Shop, ${d.name}`,
      text: `Hi ${d.name},\n\nyour account ${d.email} is ready.\n`,
      html: `<p>Hi ${escapeHtml(d.name)},</p><p>your account <strong>${escapeHtml(d.email)}</strong> is ready.</p>`,
    };
  },
  'order-confirmed'(d) {
    need(d, ['orderId', 'items'], 'order-confirmed');
    const lines = itemLines(d.items);
    return {
      subject: `Order #${d.orderId} confirmed`,
      text: `Your order #${d.orderId} is confirmed and its items are reserved:\n${lines.join('\n')}\n`,
      html: `<p>Your order #${d.orderId} is confirmed and its items are reserved:</p><ul>${lines.map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul>`,
    };
  },
  'order-cancelled'(d) {
    need(d, ['orderId', 'items'], 'order-cancelled');
    return {
      subject: `Order #${d.orderId} cancelled`,
      text: `Your order #${d.orderId} is cancelled; its reserved items were released:\n${itemLines(d.items).join('\n')}\n`,
      html: `<p>Your order #${d.orderId} is cancelled; its reserved items were released.</p>`,
    };
  },
  'order-rejected'(d) {
    need(d, ['orderId', 'reason'], 'order-rejected');
    return {
      subject: `Order #${d.orderId} could not be fulfilled`,
      text: `We could not reserve your order #${d.orderId}: ${d.reason}.\n`,
      html: `<p>We could not reserve your order #${d.orderId}: ${escapeHtml(d.reason)}.</p>`,
    };
  },
  reorder(d) {
    need(d, ['sku', 'name', 'stock', 'reorderLevel'], 'reorder');
    return {
      subject: `Reorder ${d.sku}: ${d.stock} left`,
      text: `Stock of ${d.name} (${d.sku}) fell to ${d.stock}, at or below its reorder level of ${d.reorderLevel}. Please reorder.\n`,
      html: `<p>Stock of ${escapeHtml(d.name)} (${escapeHtml(d.sku)}) fell to ${d.stock}, at or below its reorder level of ${d.reorderLevel}. Please reorder.</p>`,
    };
  },
};

/** The template names. */
export const TEMPLATE_NAMES = Object.keys(TEMPLATES);

/** `{ subject, text, html }` of `template` with `data`. */
export function render(template, data) {
  const fn = Object.hasOwn(TEMPLATES, template) ? TEMPLATES[template] : null;
  if (!fn) throw permanent(`unknown template ${JSON.stringify(template)}`);
  return fn(data);
}

/**
 * The mail an event asks for — `{ to, template, data }` — or null for events that ask for none.
 * UserRegistered (user-events) is a welcome mail; NotificationRequested names its own.
 */
export function mailFor(event) {
  if (event.type === 'UserRegistered') {
    return { to: event.data.email, template: 'welcome', data: event.data };
  }
  if (event.type === 'NotificationRequested') {
    if (typeof event.data.to !== 'string' || !event.data.to.includes('@')) throw permanent('NotificationRequested without a recipient');
    return { to: event.data.to, template: event.data.template, data: event.data.data };
  }
  return null;
}
