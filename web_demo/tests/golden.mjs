// Drives the built web demo in headless Chromium (playwright-core) and checks it against the golden set.
//
//   node web_demo/tests/golden.mjs --url http://127.0.0.1:PORT/ --golden tests/golden/iqlite.json \
//       --images tests/golden/images --out DIR [--corrupt FILE] [--repeat N] [--chromium /usr/bin/chromium]
//
// Loads the page, picks the golden images (and a corrupt file) through the page's file input, waits for every
// tile to be done, compares each tile's raw uint8 output with the golden JSON and its star rendering with the
// expected half stars, its raw flaw statistics (data-flaw-raw) with the golden flaw_raw and the flaw reasons it
// names (data-reasons, and the rendered list's codes and texts, against the sidecar's texts) with the golden
// reasons, checks the corrupt file's tile shows an error and that a photo picked afterwards still scores,
// saves DIR/screenshot.png and writes DIR/results.json. Exit 0 only if everything matched.
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

function parseArgs(argv) {
  const args = { repeat: 1, chromium: '/usr/bin/chromium', corrupt: null };
  for (let i = 2; i < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1];
  for (const key of ['url', 'golden', 'images', 'out']) {
    if (!args[key]) throw new Error(`missing --${key}`);
  }
  args.repeat = Number(args.repeat);
  return args;
}

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TIMEOUT = 45000;

async function waitScored(page, count) {
  await page.waitForFunction(
    (n) => Number(document.body.dataset.scored || 0) >= n && document.body.dataset.pending === '0',
    count, { timeout: TIMEOUT });
}

/** The tile's flaw statistics and reasons against the golden entry (and the sidecar's texts). */
function checkReasons(tile, entry, texts, sidecar, failures) {
  if (entry.flaw_raw === undefined) {  // a golden set made for a model without the flaw output
    if (tile.flawRaw !== null || tile.reasons !== '' || tile.shown.length || tile.noneShown) {
      failures.push(`${tile.name}: the golden set has no flaw_raw, yet the tile shows flaw statistics `
        + `"${tile.flawRaw}" / reasons "${tile.reasons}"`);
    }
    return;
  }
  if (!sidecar.flaw_output || !sidecar.flaw_reasons) {
    failures.push(`${tile.name}: the golden set has flaw_raw, the sidecar has no flaw_output/flaw_reasons`);
    return;
  }
  const wantRaw = entry.flaw_raw.join(',');
  if (tile.flawRaw !== wantRaw) {
    failures.push(`${tile.name}: data-flaw-raw "${tile.flawRaw}", golden flaw_raw "${wantRaw}"`);
  }
  const want = entry.reasons.join(';');
  if (tile.reasons !== want) {
    failures.push(`${tile.name}: data-reasons "${tile.reasons}", golden reasons "${want}"`);
  }
  const shownCodes = tile.shown.map((r) => r.code).join(';');
  if (shownCodes !== want) {
    failures.push(`${tile.name}: the list under the stars shows "${shownCodes}", golden reasons "${want}"`);
  }
  for (const r of tile.shown) {
    if (!(r.code in texts)) failures.push(`${tile.name}: shows reason ${r.code}, which the sidecar does not have`);
    else if (r.text !== texts[r.code]) {
      failures.push(`${tile.name}: reason ${r.code} reads "${r.text}", the sidecar's text is "${texts[r.code]}"`);
    }
    if (r.code in texts && !(tile.label || '').includes(texts[r.code])) {
      failures.push(`${tile.name}: aria-label "${tile.label}" does not say "${texts[r.code]}"`);
    }
  }
  if (tile.noneShown !== (entry.reasons.length ? 0 : 1)) {
    failures.push(`${tile.name}: ${tile.noneShown} "no flaw" line(s) for golden reasons "${want}"`);
  }
}

async function main() {
  const args = parseArgs(process.argv);
  const golden = JSON.parse(readFileSync(args.golden, 'utf8'));
  const names = Object.keys(golden.images).sort();
  const files = names.map((n) => join(args.images, golden.images[n].file));
  const profile = mkdtempSync(join(tmpdir(), 'iqlite-chromium-'));
  const failures = [];
  const offOrigin = [];
  const consoleErrors = [];
  // A fresh user-data directory (playwright passes it as --user-data-dir).
  const context = await chromium.launchPersistentContext(profile, { executablePath: args.chromium,
    headless: true, args: FLAGS, viewport: { width: 1000, height: 900 } });
  const version = context.browser() ? context.browser().version() : 'unknown';
  try {
    const page = context.pages()[0] || await context.newPage();
    const origin = new URL(args.url).origin;
    page.on('request', (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith('blob:')
      && !r.url().startsWith('data:')) offOrigin.push(r.url()); });
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));

    const t0 = Date.now();
    await page.goto(args.url, { timeout: TIMEOUT });
    await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: TIMEOUT });
    const ready = await page.evaluate(() => document.body.dataset.ready);
    if (ready !== '1') {
      throw new Error(`page did not load the model: ${await page.textContent('#status')}`);
    }
    const loadWallMs = Date.now() - t0;
    const env = await page.evaluate(() => ({
      loadMs: Number(document.body.dataset.loadMs), threads: document.body.dataset.threads,
      crossOriginIsolated: self.crossOriginIsolated, meta: document.getElementById('meta').innerText,
    }));
    // The sidecar the page read: the reason texts each code must show.
    const sidecar = await page.evaluate(async () => (await fetch('./model/iqlite.json')).json());
    const texts = Object.fromEntries(((sidecar.flaw_reasons || {}).reasons || []).map((r) => [r.code, r.text]));

    const picks = [];
    for (let r = 0; r < args.repeat; r++) picks.push(...files);
    if (args.corrupt) picks.push(args.corrupt);
    await page.setInputFiles('#files', picks);
    await waitScored(page, picks.length);
    // The page keeps working after a bad file: one more photo scores.
    await page.setInputFiles('#files', [files[0]]);
    await waitScored(page, picks.length + 1);

    const tiles = await page.$$eval('#grid .tile', (els) => els.map((el) => ({
      name: el.dataset.name, state: el.dataset.state, raw: el.dataset.raw === undefined ? null : Number(el.dataset.raw),
      stars: el.dataset.stars === undefined ? null : Number(el.dataset.stars), inferMs: Number(el.dataset.inferMs),
      prepMs: Number(el.dataset.prepMs), inputSha256: el.dataset.inputSha256 || null, error: el.dataset.error || null, label: el.getAttribute('aria-label'),
      full: el.querySelectorAll('.stars .full').length, half: el.querySelectorAll('.stars .half').length,
      flawRaw: el.dataset.flawRaw === undefined ? null : el.dataset.flawRaw,
      reasons: el.dataset.reasons === undefined ? null : el.dataset.reasons,
      shown: Array.from(el.querySelectorAll('.reasons li'), (li) => ({ code: li.dataset.code || null,
        text: li.textContent })),
      noneShown: el.querySelectorAll('.reasons-none').length,
    })));
    const byFile = Object.fromEntries(names.map((n) => [golden.images[n].file, n]));
    for (const tile of tiles) {
      if (args.corrupt && tile.name === args.corrupt.split('/').pop()) {
        if (tile.state !== 'error' || !tile.error) failures.push(`corrupt file tile: state ${tile.state}, no error`);
        continue;
      }
      const key = byFile[tile.name];
      if (!key) { failures.push(`unexpected tile ${tile.name}`); continue; }
      const want = golden.images[key].raw_output;
      const score = golden.output_scale * (want - golden.output_zero_point);
      const stars = Math.min(5, Math.max(0, Math.floor(score * 2 + 0.5) / 2));
      if (tile.state !== 'done') failures.push(`${tile.name}: state ${tile.state} (${tile.error})`);
      else if (tile.raw !== want) failures.push(`${tile.name}: raw ${tile.raw}, golden ${want}`);
      if (tile.state === 'done' && tile.inputSha256 !== golden.images[key].input_sha256) {
        failures.push(`${tile.name}: model input differs from Python's (sha256 ${tile.inputSha256})`);
      }
      if (tile.stars !== stars || tile.full !== Math.floor(stars) || tile.half !== (stars % 1 ? 1 : 0)
          || !tile.label.includes(`${stars} of 5 stars`)) {
        failures.push(`${tile.name}: stars ${tile.stars} (${tile.full} full, ${tile.half} half, "${tile.label}"), `
          + `expected ${stars}`);
      }
      if (tile.state === 'done') checkReasons(tile, golden.images[key], texts, sidecar, failures);
    }
    if (offOrigin.length) failures.push(`requests off the page's origin: ${offOrigin.join(', ')}`);
    await page.screenshot({ path: join(args.out, 'screenshot.png'), fullPage: true });
    const results = { url: args.url, loadWallMs, ...env, tiles, failures, consoleErrors,
      chromium: version };
    writeFileSync(join(args.out, 'results.json'), JSON.stringify(results, null, 2));
    const done = tiles.filter((t) => t.state === 'done');
    console.log(`chromium ${version}: model loaded in ${env.loadMs} ms (threads ${env.threads}); `
      + `${done.length} tiles scored, ${failures.length} failures`);
    for (const f of failures) console.log(`FAIL ${f}`);
    process.exitCode = failures.length ? 1 : 0;
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((err) => { console.error(`error: ${err.stack || err}`); process.exit(2); });
