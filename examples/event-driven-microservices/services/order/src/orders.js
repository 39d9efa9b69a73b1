// The rules of an order, free of I/O: what a valid order is, and how inventory events move
// its status.
import { HttpError } from '@edm/events';

/** Order statuses. `pending` until inventory answers. */
export const STATUS = Object.freeze({
  pending: 'pending',
  confirmed: 'confirmed',
  rejected: 'rejected',
  cancelled: 'cancelled',
});

const SKU = /^[A-Z0-9][A-Z0-9-]{0,31}$/;

/** The normalised `{ userId, items }` of an order body (items merged by SKU), or a 400. */
export function validateNewOrder(body) {
  if (body === null || typeof body !== 'object') throw new HttpError(400, 'a JSON object is required');
  const userId = Number(body.userId);
  if (!Number.isSafeInteger(userId) || userId <= 0) throw new HttpError(400, 'userId must be a positive integer');
  if (!Array.isArray(body.items) || body.items.length === 0) throw new HttpError(400, 'items must be a non-empty list');
  const merged = new Map();
  for (const item of body.items) {
    const sku = typeof item?.sku === 'string' ? item.sku.trim().toUpperCase() : '';
    const quantity = Number(item?.quantity);
    if (!SKU.test(sku)) throw new HttpError(400, `not a SKU: ${JSON.stringify(item?.sku)}`);
    if (!Number.isSafeInteger(quantity) || quantity <= 0 || quantity > 1000) {
      throw new HttpError(400, `quantity of ${sku} must be an integer from 1 to 1000`);
    }
    merged.set(sku, (merged.get(sku) ?? 0) + quantity);
  }
  return { userId, items: [...merged].map(([sku, quantity]) => ({ sku, quantity })) };
}

/** Whether an order in `status` can be cancelled. */
export const canCancel = (status) => status === STATUS.pending || status === STATUS.confirmed;

/**
 * The status an order in `current` moves to on inventory event `type`, or null when the
 * event changes nothing (a late reservation of a cancelled order, a repeated event).
 */
export function nextStatus(current, type) {
  if (type === 'InventoryReserved' && current === STATUS.pending) return STATUS.confirmed;
  if (type === 'InventoryRejected' && current === STATUS.pending) return STATUS.rejected;
  return null;
}

/** The public form of an orders row. */
export function publicOrder(row) {
  return {
    id: Number(row.id),
    userId: Number(row.user_id),
    email: row.email,
    status: row.status,
    items: row.items,
    reason: row.reason ?? null,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** An Idempotency-Key header value, checked (1–100 visible ASCII characters), or null. */
export function idempotencyKey(headers) {
  const key = headers['idempotency-key'];
  if (key === undefined) return null;
  if (!/^[\x21-\x7e]{1,100}$/.test(key)) throw new HttpError(400, 'Idempotency-Key must be 1 to 100 visible characters');
  return key;
}
