// Change data capture from a logical replication slot with the `test_decoding` output plugin.
// A line looks like:
//   table public.orders: UPDATE: old-key: id[integer]:5 customer_id[integer]:3 … new-tuple: id[integer]:5 …
//   table public.order_items: DELETE: order_id[integer]:7 line_no[integer]:1 product_id[integer]:9 …
// (with REPLICA IDENTITY FULL, UPDATE and DELETE carry the whole old row).

const COLUMN = /([A-Za-z_][A-Za-z0-9_]*|"(?:[^"]|"")+")\[([^\]]+)\]:('(?:[^']|'')*'|\S+)/g;

/** Parses the columns of one tuple text into `{name: value}` (numbers as numbers, `null`). */
export function parseTuple(text) {
  const row = {};
  for (const [, rawName, type, rawValue] of text.matchAll(COLUMN)) {
    const name = rawName.startsWith('"') ? rawName.slice(1, -1).replaceAll('""', '"') : rawName;
    let value;
    if (rawValue === 'null') value = null;
    else if (rawValue.startsWith("'")) value = rawValue.slice(1, -1).replaceAll("''", "'");
    else if (/^(integer|bigint|smallint|numeric)/.test(type)) value = Number(rawValue);
    else value = rawValue;
    row[name] = value;
  }
  return row;
}

/** Parses one test_decoding line; `null` for BEGIN/COMMIT. */
export function parseChange(line) {
  const m = /^table ([^:]+): (INSERT|UPDATE|DELETE): (.*)$/s.exec(line);
  if (!m) return null;
  const [, qualified, op, rest] = m;
  const table = qualified.split('.').pop().replaceAll('"', '');
  let oldText = '';
  let newText = rest;
  if (op === 'DELETE') {
    oldText = rest;
    newText = '';
  } else if (rest.startsWith('old-key: ')) {
    const at = rest.indexOf(' new-tuple: ');
    oldText = rest.slice('old-key: '.length, at);
    newText = rest.slice(at + ' new-tuple: '.length);
  }
  return { table, op, old: oldText ? parseTuple(oldText) : null, new: newText ? parseTuple(newText) : null };
}

/**
 * The entities a list of changes touches: customer ids, product ids, and order ids whose
 * customer must be looked up in the source (lines of orders that were not themselves changed).
 */
export function affected(changes) {
  const customers = new Set();
  const products = new Set();
  const orders = new Set();
  for (const c of changes) {
    for (const row of [c.old, c.new]) {
      if (!row) continue;
      switch (c.table) {
        case 'customers':
          customers.add(row.id);
          break;
        case 'orders':
          customers.add(row.customer_id);
          break;
        case 'order_items':
          orders.add(row.order_id);
          products.add(row.product_id);
          break;
        case 'products':
          products.add(row.id);
          break;
        default:
          break;
      }
    }
  }
  return { customers, products, orders };
}
