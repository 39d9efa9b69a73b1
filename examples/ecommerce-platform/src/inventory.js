// Stock of physical products in the `inventory` database: levels, holds taken at checkout
// (reserve → commit on payment, release on failure), adjustments and the movement ledger.
import { transaction } from './db.js';
import { badRequest, conflict, notFound } from './errors.js';

const REASONS = new Set(['restock', 'adjustment']);

function level(row) {
  return { sku: row.sku, on_hand: row.on_hand, reserved: row.reserved, available: row.on_hand - row.reserved };
}

/** Creates the stock row of a new physical product with its initial quantity. */
export async function createStock(ctx, sku, quantity) {
  await transaction(ctx.pools.inventory, async (client) => {
    await client.query('INSERT INTO stock (sku, on_hand) VALUES ($1, $2)', [sku, quantity]);
    if (quantity > 0) {
      await client.query("INSERT INTO stock_movements (sku, delta, reason) VALUES ($1, $2, 'initial')", [sku, quantity]);
    }
  });
}

/** Drops the stock of a deleted product (its ledger stays). */
export async function dropStock(ctx, sku) {
  await ctx.pools.inventory.query('DELETE FROM stock WHERE sku = $1', [sku]);
}

/** `{ sku, on_hand, reserved, available }`, or null for a SKU without stock (digital). */
export async function getStock(ctx, sku) {
  const { rows } = await ctx.pools.inventory.query('SELECT * FROM stock WHERE sku = $1', [sku]);
  return rows[0] ? level(rows[0]) : null;
}

/** Stock levels of many SKUs, as a map sku → level. */
export async function getStocks(ctx, skus) {
  const { rows } = await ctx.pools.inventory.query('SELECT * FROM stock WHERE sku = ANY($1)', [skus]);
  return new Map(rows.map((r) => [r.sku, level(r)]));
}

/** SKUs whose available quantity is below `threshold`, fewest first. */
export async function lowStock(ctx, threshold) {
  const { rows } = await ctx.pools.inventory.query(
    'SELECT * FROM stock WHERE on_hand - reserved < $1 ORDER BY on_hand - reserved, sku',
    [threshold],
  );
  return rows.map(level);
}

/** Adds `delta` (may be negative) to the stock on hand, with a ledger entry. */
export async function adjust(ctx, sku, delta, reason, ref = null) {
  if (!Number.isInteger(delta) || delta === 0) throw badRequest('invalid_delta', 'delta must be a non-zero integer');
  if (!REASONS.has(reason)) throw badRequest('invalid_reason', `reason must be one of ${[...REASONS].join(', ')}`);
  return transaction(ctx.pools.inventory, async (client) => {
    const { rows } = await client.query('SELECT * FROM stock WHERE sku = $1 FOR UPDATE', [sku]);
    if (!rows[0]) throw notFound(`stock of ${sku}`);
    const next = rows[0].on_hand + delta;
    if (next < rows[0].reserved) {
      throw conflict('insufficient_stock', `${sku} has ${rows[0].on_hand} on hand, ${rows[0].reserved} reserved`);
    }
    const updated = await client.query(
      'UPDATE stock SET on_hand = $2, updated_at = now() WHERE sku = $1 RETURNING *',
      [sku, next],
    );
    await client.query('INSERT INTO stock_movements (sku, delta, reason, ref) VALUES ($1, $2, $3, $4)', [sku, delta, reason, ref]);
    return level(updated.rows[0]);
  });
}

/**
 * Holds `items` ([{sku, quantity}]) for `ref` (an order id), all or nothing. Rows are locked
 * in SKU order so concurrent checkouts cannot deadlock or oversell.
 */
export async function reserve(ctx, ref, items) {
  const wanted = new Map();
  for (const { sku, quantity } of items) wanted.set(sku, (wanted.get(sku) ?? 0) + quantity);
  if (wanted.size === 0) return [];
  return transaction(ctx.pools.inventory, async (client) => {
    const skus = [...wanted.keys()].sort();
    const { rows } = await client.query('SELECT * FROM stock WHERE sku = ANY($1) ORDER BY sku FOR UPDATE', [skus]);
    const bySku = new Map(rows.map((r) => [r.sku, r]));
    for (const sku of skus) {
      const row = bySku.get(sku);
      const available = row ? row.on_hand - row.reserved : 0;
      if (available < wanted.get(sku)) {
        throw conflict('out_of_stock', `only ${available} of ${sku} available`, { sku, available, requested: wanted.get(sku) });
      }
    }
    const held = [];
    for (const sku of skus) {
      await client.query('UPDATE stock SET reserved = reserved + $2, updated_at = now() WHERE sku = $1', [sku, wanted.get(sku)]);
      const r = await client.query(
        "INSERT INTO reservations (ref, sku, quantity, status) VALUES ($1, $2, $3, 'held') RETURNING id",
        [ref, sku, wanted.get(sku)],
      );
      held.push({ id: r.rows[0].id, sku, quantity: wanted.get(sku) });
    }
    return held;
  });
}

async function settle(ctx, ref, status) {
  return transaction(ctx.pools.inventory, async (client) => {
    const { rows } = await client.query(
      "SELECT * FROM reservations WHERE ref = $1 AND status = 'held' ORDER BY sku FOR UPDATE",
      [ref],
    );
    for (const r of rows) {
      if (status === 'committed') {
        await client.query(
          'UPDATE stock SET on_hand = on_hand - $2, reserved = reserved - $2, updated_at = now() WHERE sku = $1',
          [r.sku, r.quantity],
        );
        await client.query("INSERT INTO stock_movements (sku, delta, reason, ref) VALUES ($1, $2, 'sale', $3)", [r.sku, -r.quantity, ref]);
      } else {
        await client.query('UPDATE stock SET reserved = reserved - $2, updated_at = now() WHERE sku = $1', [r.sku, r.quantity]);
      }
      await client.query('UPDATE reservations SET status = $2 WHERE id = $1', [r.id, status]);
    }
    return rows.length;
  });
}

/** Turns the holds of `ref` into sales (stock leaves the warehouse); returns how many. */
export const commit = (ctx, ref) => settle(ctx, ref, 'committed');

/** Gives the holds of `ref` back; returns how many. */
export const release = (ctx, ref) => settle(ctx, ref, 'released');

/** The reservations of `ref`. */
export async function reservations(ctx, ref) {
  const { rows } = await ctx.pools.inventory.query(
    'SELECT id, sku, quantity, status FROM reservations WHERE ref = $1 ORDER BY sku',
    [ref],
  );
  return rows;
}

/** The ledger of `sku`, oldest first. */
export async function movements(ctx, sku) {
  const { rows } = await ctx.pools.inventory.query(
    'SELECT delta, reason, ref, created_at FROM stock_movements WHERE sku = $1 ORDER BY id',
    [sku],
  );
  return rows;
}
