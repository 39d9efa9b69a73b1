// The rules of stock, free of I/O: products, why an order cannot be reserved, when stock is
// low, and which events a reservation, rejection or release produces.
import { HttpError, TOPICS, makeEvent } from '@edm/events';

const SERVICE = 'inventory-service';
const SKU = /^[A-Z0-9][A-Z0-9-]{0,31}$/;

/** The normalised product of a create/update body, or a 400. */
export function validateProduct(body) {
  if (body === null || typeof body !== 'object') throw new HttpError(400, 'a JSON object is required');
  const sku = typeof body.sku === 'string' ? body.sku.trim().toUpperCase() : '';
  const name = typeof body.name === 'string' ? body.name.trim() : '';
  const stock = Number(body.stock);
  const reorderLevel = Number(body.reorderLevel ?? 0);
  if (!SKU.test(sku)) throw new HttpError(400, 'sku must be letters, digits and dashes');
  if (!name) throw new HttpError(400, 'name is required');
  if (!Number.isSafeInteger(stock) || stock < 0) throw new HttpError(400, 'stock must be a whole number');
  if (!Number.isSafeInteger(reorderLevel) || reorderLevel < 0) throw new HttpError(400, 'reorderLevel must be a whole number');
  return { sku, name, stock, reorderLevel };
}

/** The items of an order event, checked; an error marked permanent (dead-lettered) otherwise. */
export function orderItems(data) {
  const items = data?.items;
  const valid =
    Number.isSafeInteger(data?.orderId) &&
    typeof data?.email === 'string' &&
    Array.isArray(items) &&
    items.length > 0 &&
    items.every((i) => typeof i?.sku === 'string' && Number.isSafeInteger(i?.quantity) && i.quantity > 0);
  if (!valid) {
    const err = new Error(`order event without a valid orderId, email and items: ${JSON.stringify(data)}`);
    err.permanent = true;
    throw err;
  }
  return items;
}

/** Why `quantity` of `product` (null when unknown) cannot be reserved. */
export function shortage(sku, quantity, product) {
  if (!product) return `unknown product ${sku}`;
  return `only ${product.stock} of ${sku} left, ${quantity} ordered`;
}

/** Whether a product went from above its reorder level to at or below it. */
export function crossedReorderLevel(stockBefore, stockAfter, reorderLevel) {
  return stockBefore > reorderLevel && stockAfter <= reorderLevel;
}

/** The public form of a products document. */
export function publicProduct(doc) {
  return { sku: doc._id, name: doc.name, stock: doc.stock, reserved: doc.reserved ?? 0, reorderLevel: doc.reorderLevel };
}

const notification = (template, to, data) => ({
  topic: TOPICS.notifications,
  key: to,
  event: makeEvent('NotificationRequested', SERVICE, { template, to, data }),
});

/** Events of a reservation of `order`; `low` lists products that crossed their reorder level. */
export function reservedEvents(order, low, purchasingEmail) {
  const records = [
    { topic: TOPICS.inventory, key: order.orderId, event: makeEvent('InventoryReserved', SERVICE, { orderId: order.orderId, items: order.items }) },
    notification('order-confirmed', order.email, { orderId: order.orderId, items: order.items }),
  ];
  for (const p of low) {
    const data = { sku: p.sku, name: p.name, stock: p.stock, reorderLevel: p.reorderLevel };
    records.push({ topic: TOPICS.inventory, key: p.sku, event: makeEvent('InventoryLow', SERVICE, data) });
    records.push(notification('reorder', purchasingEmail, data));
  }
  return records;
}

/** Events of an order that cannot be reserved. */
export function rejectedEvents(order, sku, reason) {
  return [
    { topic: TOPICS.inventory, key: order.orderId, event: makeEvent('InventoryRejected', SERVICE, { orderId: order.orderId, sku, reason }) },
    notification('order-rejected', order.email, { orderId: order.orderId, reason }),
  ];
}

/** Events of a released reservation (a cancelled order). */
export function releasedEvents(order) {
  return [
    { topic: TOPICS.inventory, key: order.orderId, event: makeEvent('InventoryReleased', SERVICE, { orderId: order.orderId, items: order.items }) },
    notification('order-cancelled', order.email, { orderId: order.orderId, items: order.items }),
  ];
}
