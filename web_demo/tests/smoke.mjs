// Loads a built web demo in headless Chromium (playwright-core), picks some photos and reports every tile:
// for a model with no golden set (e.g. one without the flaw statistics output, which must show no reasons).
//
//   node web_demo/tests/smoke.mjs --url http://127.0.0.1:PORT/ --out DIR [--chromium /usr/bin/chromium] FILE...
//
// Writes DIR/results.json ({ready, meta, tiles: [{name, state, raw, stars, flawRaw, reasons, shown, noneShown,
// label, error}], consoleErrors}); exit 0 if the page loaded the model and scored every photo.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TIMEOUT = 45000;

function parseArgs(argv) {
  const args = { chromium: '/usr/bin/chromium', files: [] };
  for (let i = 2; i < argv.length; i++) {
    if (argv[i].startsWith('--')) args[argv[i].slice(2)] = argv[++i];
    else args.files.push(argv[i]);
  }
  if (!args.url || !args.out || !args.files.length) throw new Error('needs --url, --out and at least one FILE');
  return args;
}

async function main() {
  const args = parseArgs(process.argv);
  const profile = mkdtempSync(join(tmpdir(), 'iqlite-chromium-'));
  const consoleErrors = [];
  const context = await chromium.launchPersistentContext(profile, { executablePath: args.chromium,
    headless: true, args: FLAGS, viewport: { width: 1000, height: 900 } });
  try {
    const page = context.pages()[0] || await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    await page.goto(args.url, { timeout: TIMEOUT });
    await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: TIMEOUT });
    const ready = await page.evaluate(() => document.body.dataset.ready);
    let tiles = [];
    if (ready === '1') {
      await page.setInputFiles('#files', args.files);
      await page.waitForFunction((n) => Number(document.body.dataset.scored || 0) >= n
        && document.body.dataset.pending === '0', args.files.length, { timeout: TIMEOUT });
      tiles = await page.$$eval('#grid .tile', (els) => els.map((el) => ({
        name: el.dataset.name, state: el.dataset.state,
        raw: el.dataset.raw === undefined ? null : Number(el.dataset.raw),
        stars: el.dataset.stars === undefined ? null : Number(el.dataset.stars),
        flawRaw: el.dataset.flawRaw === undefined ? null : el.dataset.flawRaw,
        reasons: el.dataset.reasons === undefined ? null : el.dataset.reasons,
        shown: Array.from(el.querySelectorAll('.reasons li'), (li) => ({ code: li.dataset.code || null,
          text: li.textContent })),
        noneShown: el.querySelectorAll('.reasons-none').length,
        label: el.getAttribute('aria-label'), error: el.dataset.error || null,
      })));
    }
    const meta = await page.evaluate(() => document.getElementById('meta').innerText);
    const status = await page.textContent('#status');
    writeFileSync(join(args.out, 'results.json'), JSON.stringify({ ready, status, meta, tiles, consoleErrors },
      null, 2));
    const scored = tiles.filter((t) => t.state === 'done').length;
    console.log(`ready ${ready} (${status}); ${scored} of ${args.files.length} photos scored`);
    process.exitCode = ready === '1' && scored === args.files.length ? 0 : 1;
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((err) => { console.error(`error: ${err.stack || err}`); process.exit(2); });
