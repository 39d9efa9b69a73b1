// Helpers of the checkpoint scripts: the seed data, a tiny PNG encoder for product images,
// and the downloadable files of the digital products.
import { readFileSync } from 'node:fs';
import zlib from 'node:zlib';

/** scripts/catalog.json: categories, products, tax rates, promo codes. */
export const catalogData = JSON.parse(readFileSync(new URL('./catalog.json', import.meta.url), 'utf8'));
/** scripts/test-users.json. */
export const testUsers = JSON.parse(readFileSync(new URL('./test-users.json', import.meta.url), 'utf8'));

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A `size`×`size` PNG filled with the colour derived from `seed`. */
export function productImage(seed, size = 8) {
  let h = 0;
  for (const c of seed) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  const rgb = [h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff];
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour
  const row = Buffer.from([0, ...Array.from({ length: size }, () => rgb).flat()]);
  const raw = Buffer.concat(Array.from({ length: size }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The file a buyer of the digital product `product` downloads. */
export function digitalAsset(product) {
  return `${product.name}\n${'='.repeat(product.name.length)}\n\n${product.description}\n\nSKU ${product.sku}. Licensed to the buyer for personal use.\n`;
}

/** The S3 key of a product's image. */
export const imageKey = (sku) => `products/${sku.toLowerCase()}.png`;

/** Calls the app's API; returns `{status, body}`. */
export async function api(method, path, body) {
  const base = process.env.APP_URL ?? 'http://app:3000';
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}
