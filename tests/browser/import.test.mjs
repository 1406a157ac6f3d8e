// A participant's own golfer on the page (headless Chromium, the page with gzip only): a real GPU-trained entry
// from the shared data's artifacts/ is chosen in the page's import row and imported in the browser by the same
// Rust code as `golf import`:
// - a fifth panel appears whose bpb (both counts) equals the native import's `golf score --model` (1e-4);
// - its race lane streams the same text as `golf generate --model` with the same seed;
// - a reload keeps it (Cache Storage) and scores it again; a share link tells a browser without it which file to
//   drop; Remove takes it out of the page and out of storage;
// - the import runs in the golfer's worker: no main-thread task over 50 ms meanwhile;
// - an entry the importer cannot convert exactly (DigitalSword99's SwiGLU) is refused with the names it lacks;
// - no request leaves 127.0.0.1; no console error. Saves a screenshot.
import { appendFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { check, golfOn, golfRun, longTasks, open, raceOnly, recordLongTasks, reload, root, session, shots, taskRule } from './harness.mjs';

const data = process.env.GOLF_DATA || path.resolve(root, '../shared/data');
const artifacts = path.resolve(data, '../artifacts');
const entry = path.join(artifacts, 'samtruss-7x384-c839523/final_model.int8.ptz');
const foreign = path.join(artifacts, 'digitalsword99-swiglu-5f3e761/final_model.int8.ptz');
if (!existsSync(entry) || !existsSync(foreign)) {
  const why = `browser import.test.mjs: needs the shared artifacts (not found under ${artifacts})`;
  if (process.env.GOLF_SKIP_LOG) appendFileSync(process.env.GOLF_SKIP_LOG, `${why}\n`);
  console.log(`skipped: ${why}`);
  process.exit(0);
}

const rel = (a, b) => Math.abs(a - b) / Math.abs(b);
const ID = 'local-samtruss';

await session('Import (browser)', async ({ browser, url, watch }) => {
  const context = await browser.newContext({ viewport: { width: 1200, height: 1000 } });
  const page = watch(await context.newPage());
  await recordLongTasks(page);
  await open(page, `${url}?golfers=none`);
  await page.waitForSelector('#panel-gzip[data-scored="true"]', { timeout: 120_000 });
  const text = await page.inputValue('#text');

  // 1. Import the entry in the page; it scores the text as the native import does.
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'golf-import-')), 'samtruss');
  golfRun(['import', entry, '--name', 'samtruss', '--context', '512', '--out', dir]);
  const native = JSON.parse(golfOn(text, ['score', '--model', dir, '--json']));
  await page.fill('#import-name', 'samtruss');
  await page.fill('#import-context', '512');
  // The import (seconds of decompression and conversion) runs in the golfer's worker: the page never freezes.
  const importFrom = await page.evaluate(() => performance.now());
  const t0 = Date.now();
  await page.setInputFiles('#import-file', entry);
  await page.waitForSelector(`#panel-${ID}[data-scored="true"]`, { timeout: 300_000 });
  await page.waitForSelector(`#heatmap-${ID}[data-drawn="true"]`, { state: 'attached', timeout: 120_000 });
  // The frame that shows it is drawn too.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const imported = taskRule(await longTasks(page, importFrom, await page.evaluate(() => performance.now())));
  check(imported.ok, `while it imported, loaded and scored: ${imported.words}`);
  const shown = Number(await page.getAttribute(`#bpb-${ID}`, 'data-bpb'));
  const shownGolf = Number(await page.getAttribute(`#golf-bpb-${ID}`, 'data-bpb'));
  check(rel(shown, native.bpb) < 1e-4, `imported in the browser: bpb ${shown} = native import's ${native.bpb} (${((Date.now() - t0) / 1e3).toFixed(1)} s to import and score)`);
  check(rel(shownGolf, native.golf_bpb) < 1e-4, `Parameter Golf count: ${shownGolf} = ${native.golf_bpb}`);
  const title = await page.textContent(`#panel-${ID} h3`);
  const note = await page.textContent(`#local-note-${ID}`);
  check(title.includes('samtruss') && title.includes('imported'), `its panel is labelled: ${title}`);
  check(note.includes('activation relu2') && note.includes('RoPE base 10000') && !note.includes('context'),
    `the panel says what was assumed: ${note}`);
  check((await page.$$('#panels > .panel:not([hidden])')).length === 2, 'gzip and the imported golfer have panels');

  // 2. Its race lane streams what the CLI writes with the same seed.
  await raceOnly(page, [ID]);
  const prompt = 'The adrenal glands are';
  await page.fill('#prompt', prompt);
  await page.fill('#max-tokens', '24');
  await page.fill('#seed', '7');
  await page.click('#generate');
  await page.waitForSelector(`#lane-out-${ID}[data-done="true"]`, { timeout: 300_000 });
  const lane = await page.textContent(`#lane-out-${ID}`);
  const cli = golfRun(['generate', '--model', dir, '--prompt', prompt, '--max-tokens', '24', '--seed', '7',
    '--temperature', '0.8', '--top-p', '0.95', '--repetition-penalty', '1.1']).replace(/\n$/, '');
  check(lane.length > prompt.length && lane === cli, `its lane streamed the CLI's text: ${JSON.stringify(lane.slice(0, 120))}`);
  await page.screenshot({ path: path.join(shots, 'import.png'), fullPage: true });

  // 3. A share link names the file for a browser that does not have it.
  await page.click('#share');
  const link = await page.inputValue('#share-link');
  const stranger = watch(await (await browser.newContext()).newPage());
  await open(stranger, link);
  await stranger.waitForSelector('#panel-gzip[data-scored="true"]', { timeout: 120_000 });
  await stranger.waitForFunction(() => !document.getElementById('error').hidden, null, { timeout: 120_000 });
  const told = await stranger.textContent('#error');
  check(told.includes('final_model.int8.ptz') && told.includes('drop'), `a recipient is told which file to drop: ${told}`);

  // 4. A reload keeps it, and scores it again to the same number.
  await reload(page);
  await page.waitForSelector(`#panel-${ID}[data-scored="true"]`, { timeout: 300_000 });
  const again = Number(await page.getAttribute(`#bpb-${ID}`, 'data-bpb'));
  // Equal up to float rounding: the page sizes its scoring chunks by time, and the sums follow the chunks.
  check(rel(again, shown) < 1e-6, `after a reload it is there again with the same bpb (${again}; before ${shown})`);

  // 5. An entry it cannot convert exactly is refused, naming what it does not know.
  await page.setInputFiles('#import-file', foreign);
  await page.waitForSelector('#import-status[data-state="refused"]', { state: 'attached', timeout: 300_000 });
  const refusal = await page.textContent('#error');
  check(refusal.includes('pass_gate') && refusal.includes('blocks.N.mlp.gate_up.weight') && refusal.includes('blocks.N.mlp.fc.weight'),
    `DigitalSword99's entry is refused by name: ${refusal}`);
  check((await page.$$('#panels > .panel:not([hidden])')).length === 2, 'no panel was added for it');

  // 6. Remove takes it out of the page and out of the browser's storage.
  await page.click(`#remove-${ID}`);
  await page.waitForSelector(`#panel-${ID}[data-removed="true"]`, { state: 'attached' });
  // The page says so once the browser's storage is updated too (after the panel goes).
  await page.waitForFunction((id) => document.querySelector('#import-status').textContent === `${id} removed`, ID);
  const kept = await page.evaluate(async () => {
    const cache = await caches.open('four-golfers-local');
    const r = await cache.match(new URL('local/index.json', location.href).href);
    return r ? r.text() : null;
  });
  check(kept === '[]', `after Remove the browser keeps no golfer (index ${kept})`);
  await reload(page);
  await page.waitForSelector('#panel-gzip[data-scored="true"]', { timeout: 120_000 });
  check((await page.$(`#panel-${ID}`)) === null, 'and a reload does not bring it back');
});
