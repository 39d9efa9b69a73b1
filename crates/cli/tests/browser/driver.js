// Drives Debian's Chromium through playwright-core for the dashboard's end-to-end test: reads
// one JSON command per line on stdin, answers one JSON line per command on stdout
// ({ok: true, value} or {ok: false, error}). Console errors and page errors are collected
// for the `errors` command. Usage: node driver.js (PLAYWRIGHT_CORE, CHROMIUM: where they are).
"use strict";
const readline = require("readline");
const { chromium } = require(process.env.PLAYWRIGHT_CORE || "/var/cache/vers/browser/node_modules/playwright-core");

let browser, context, page;
const errors = [];

async function ensurePage(width, height) {
  if (!browser) {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      headless: true,
      // Tests run as root, where Chromium's sandbox cannot start.
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
  }
  if (!page) {
    context = await browser.newContext({ viewport: { width: width || 1400, height: height || 900 } });
    page = await context.newPage();
    page.on("console", (m) => { if (m.type() === "error") errors.push("console: " + m.text()); });
    page.on("pageerror", (e) => errors.push("page: " + e.message));
    page.on("dialog", (d) => { errors.push("unexpected native dialog: " + d.message()); d.dismiss(); });
  }
  return page;
}

const commands = {
  // Loads a URL; answers the HTTP status.
  async open(c) {
    const p = await ensurePage(c.width, c.height);
    const r = await p.goto(c.url, { waitUntil: "load" });
    return r ? r.status() : 0;
  },
  // A fresh context (another tab) loading a URL without keeping it: its status and text.
  async probe(c) {
    await ensurePage();
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    const r = await p.goto(c.url);
    const text = await p.textContent("body").catch(() => "");
    await ctx.close();
    return { status: r ? r.status() : 0, text };
  },
  async wait(c) {
    await page.waitForSelector(c.selector, { timeout: c.timeout || 10000, state: c.state || "attached" });
    return true;
  },
  async waitText(c) {
    await page.waitForFunction(
      ([sel, text]) => { const e = document.querySelector(sel); return !!e && e.textContent.includes(text); },
      [c.selector, c.text], { timeout: c.timeout || 10000, polling: 20 });
    return true;
  },
  async text(c) { return page.textContent(c.selector); },
  async count(c) { return page.locator(c.selector).count(); },
  async attr(c) { return page.getAttribute(c.selector, c.name); },
  async click(c) { await page.click(c.selector, { timeout: c.timeout || 10000 }); return true; },
  async fill(c) { await page.fill(c.selector, c.value); return true; },
  async select(c) { await page.selectOption(c.selector, c.value); return true; },
  async eval(c) { return page.evaluate(c.js); },
  async screenshot(c) {
    if (c.width) await page.setViewportSize({ width: c.width, height: c.height });
    await page.screenshot({ path: c.path, fullPage: !!c.fullPage });
    return true;
  },
  async viewport(c) { await page.setViewportSize({ width: c.width, height: c.height }); return true; },
  async errors() { return errors.slice(); },
  async close() { if (browser) await browser.close(); browser = null; return true; },
};

const rl = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
rl.on("line", (line) => {
  queue = queue.then(async () => {
    let answer;
    try {
      const c = JSON.parse(line);
      const f = commands[c.cmd];
      if (!f) throw new Error("unknown command " + c.cmd);
      answer = { ok: true, value: await f(c) };
    } catch (e) {
      answer = { ok: false, error: String(e && e.message || e) };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
  });
});
rl.on("close", () => { queue.then(() => browser && browser.close()).then(() => process.exit(0)); });
