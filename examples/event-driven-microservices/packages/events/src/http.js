// A small JSON HTTP server on node:http: routes are `[method, pattern, handler]`, a handler
// gets `{ params, query, body, headers, req }` and returns `{ status, body, headers }`.
// Every response says which instance answered (`X-Instance`: the address it was reached at),
// which shows the gateway spreading requests over a service's replicas.
import http from 'node:http';

/** An error with an HTTP status, answered as `{ error }`. */
export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  if (chunks.length === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
}

function compile(pattern) {
  const names = [];
  const source = pattern
    .split('/')
    .map((part) => {
      if (part.startsWith(':')) {
        names.push(part.slice(1));
        return '([^/]+)';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { regex: new RegExp(`^${source === '' ? '/' : source}/?$`), names };
}

/** An http.Server answering `routes`; errors become JSON with their status (500 otherwise). */
export function createServer(routes, { log = console } = {}) {
  const table = routes.map(([method, pattern, handler]) => ({ method, handler, ...compile(pattern) }));
  return http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://service');
    const send = (status, body, headers = {}) => {
      const text = body === undefined ? '' : JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'x-instance': req.socket.localAddress ?? 'unknown',
        ...headers,
      });
      res.end(text);
    };
    try {
      let pathMatched = false;
      for (const route of table) {
        const m = route.regex.exec(url.pathname);
        if (!m) continue;
        pathMatched = true;
        if (route.method !== req.method) continue;
        const params = Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
        const body = ['POST', 'PUT', 'PATCH'].includes(req.method) ? await readJson(req) : undefined;
        const out = await route.handler({ params, query: url.searchParams, body, headers: req.headers, req });
        send(out.status ?? 200, out.body, out.headers);
        return;
      }
      send(pathMatched ? 405 : 404, { error: pathMatched ? 'method not allowed' : 'not found' });
    } catch (err) {
      if (err instanceof HttpError) {
        send(err.status, { error: err.message });
      } else {
        log.error?.(`${req.method} ${url.pathname}: ${err.stack ?? err}`);
        send(500, { error: err.message });
      }
    }
  });
}

/** Listens on `HOST:PORT` (set by vers for every instance), resolving once listening. */
export function listen(server, env = process.env) {
  const host = env.HOST ?? '0.0.0.0';
  const port = Number(env.PORT ?? 3000);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve({ host, port }));
  });
}

/** Stops `cleanup` work and exits on SIGTERM/SIGINT. */
export function onShutdown(cleanup, log = console) {
  const stop = async (signal) => {
    log.info?.(`${signal}: stopping`);
    try {
      await cleanup();
    } finally {
      process.exit(0);
    }
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
