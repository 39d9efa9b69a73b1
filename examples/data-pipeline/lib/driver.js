// Driving the pipeline over the workers' HTTP APIs (used by the scripts and the tests):
// start an extraction on etl-extract, then wait until etl-load has finalised the run.

/** etl-extract's base URL. */
export const extractUrl = () => process.env.ETL_EXTRACT_URL ?? 'http://etl-extract:3000';
/** etl-load's base URL. */
export const loadUrl = () => process.env.ETL_LOAD_URL ?? 'http://etl-load:3000';

async function json(res, what) {
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${what}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
  }
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status}: ${body.error ?? text}`);
  return body;
}

/** Asks etl-extract for an extraction run; returns what it sent. */
export async function startRun(mode) {
  const res = await fetch(`${extractUrl()}/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ mode }),
  });
  return json(res, `POST ${extractUrl()}/runs ${mode}`);
}

/** Polls etl-load until the run is finalised; returns its state. */
export async function waitForRun(run, { timeoutMs = 120000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let state = {};
  while (Date.now() < deadline) {
    const res = await fetch(`${loadUrl()}/runs/${encodeURIComponent(run)}`);
    if (res.status !== 404) state = await json(res, `GET /runs/${run}`);
    if (state.status === 'done' || state.status === 'done-with-errors') return state;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`run ${run} not finished after ${timeoutMs} ms: ${JSON.stringify(state)}`);
}

/** A whole ETL run: extraction, then transformation and loading to the end. */
export async function runEtl(mode) {
  const started = Date.now();
  const extracted = await startRun(mode);
  const state = await waitForRun(extracted.run);
  return { ...extracted, state, ms: Date.now() - started };
}
