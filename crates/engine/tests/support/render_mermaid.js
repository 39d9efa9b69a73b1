// Renders every mermaid diagram of the Markdown files given as arguments with mermaid.js in
// Chromium (Debian's, driven by playwright-core) and prints one JSON line per diagram:
// {"file", "index", "ok", "error"}. Exits 1 when any diagram fails to parse or render.
//
// VERS_BROWSER_DIR (default /var/cache/vers/browser) holds node_modules/playwright-core and
// mermaid/node_modules/mermaid (scripts/setup.sh installs both); CHROMIUM the browser.
'use strict';
const fs = require('fs');
const path = require('path');

const dir = process.env.VERS_BROWSER_DIR || '/var/cache/vers/browser';
const { chromium } = require(path.join(dir, 'node_modules', 'playwright-core'));
const mermaidJs = path.join(dir, 'mermaid', 'node_modules', 'mermaid', 'dist', 'mermaid.min.js');

function blocks(markdown) {
  const out = [];
  let cur = null;
  for (const line of markdown.split('\n')) {
    if (cur === null && line.trim().startsWith('```mermaid')) cur = [];
    else if (cur !== null && line.trim().startsWith('```')) { out.push(cur.join('\n')); cur = null; }
    else if (cur !== null) cur.push(line);
  }
  return out;
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  let failed = 0;
  let total = 0;
  try {
    const page = await browser.newPage();
    await page.setContent('<!doctype html><html><body><div id="out"></div></body></html>');
    await page.addScriptTag({ path: mermaidJs });
    await page.evaluate(() => window.mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' }));
    for (const file of process.argv.slice(2)) {
      const diagrams = blocks(fs.readFileSync(file, 'utf8'));
      for (let i = 0; i < diagrams.length; i++) {
        total++;
        const result = await page.evaluate(async ({ text, id }) => {
          try {
            await window.mermaid.parse(text);
            const { svg } = await window.mermaid.render(id, text);
            if (!svg.includes('<svg')) return { ok: false, error: 'no svg produced' };
            if (svg.includes('Syntax error')) return { ok: false, error: 'syntax error drawn' };
            return { ok: true, bytes: svg.length };
          } catch (e) {
            return { ok: false, error: String((e && e.message) || e) };
          }
        }, { text: diagrams[i], id: `d${total}` });
        if (!result.ok) failed++;
        console.log(JSON.stringify({ file, index: i, ...result }));
      }
    }
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify({ total, failed }));
  process.exit(failed ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(2); });
