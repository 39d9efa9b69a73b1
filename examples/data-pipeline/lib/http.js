// A tiny JSON HTTP server for the workers (`node:http`): routes are `"METHOD /path"` keys or
// a prefix ending in `*`. Every worker listens on HOST:PORT, which vers sets per replica.
import http from 'node:http';

/** Reads and parses a JSON request body (empty body: `{}`). */
async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    const err = new Error('request body is not JSON');
    err.status = 400;
    throw err;
  }
}

/** Starts a server; a handler returns `[status, body]` or a body (200). */
export function serve(routes, { host = process.env.HOST ?? '0.0.0.0', port = Number(process.env.PORT ?? 3000), log = console } = {}) {
  const server = http.createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const key = `${req.method} ${path}`;
    let handler = routes[key];
    let param;
    if (!handler) {
      for (const [route, h] of Object.entries(routes)) {
        if (route.endsWith('*') && key.startsWith(route.slice(0, -1))) {
          handler = h;
          param = decodeURIComponent(key.slice(route.length - 1));
          break;
        }
      }
    }
    let status = 200;
    let body;
    try {
      if (!handler) {
        status = 404;
        body = { error: `no route ${key}` };
      } else {
        const out = await handler({ body: req.method === 'POST' ? await readJson(req) : {}, param, url: req.url });
        if (Array.isArray(out)) [status, body] = out;
        else body = out;
      }
    } catch (err) {
      status = err.status ?? 500;
      body = { error: err.message };
      if (status >= 500) log.error(`${key}: ${err.stack}`);
    }
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

/** Stops on SIGTERM/SIGINT: runs `stop`, then exits; after `graceMs` it exits regardless. */
export function stopOnSignal(stop, { graceMs = 3000, log = console } = {}) {
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.once(sig, async () => {
      log.log(`${sig}: stopping`);
      // A dependency that is gone (Redis down) must not keep the worker alive.
      setTimeout(() => process.exit(0), graceMs).unref();
      try {
        await stop();
      } finally {
        process.exit(0);
      }
    });
  }
}
