// Headless Chromium against the built page (dist/), served by scripts/serve.py on 127.0.0.1.
// Checks: each golfer's bpb shown equals `golf score --json` on the same text (gzip exactly, AR to 1e-4,
// under both byte counts); hover shows a byte's bits (and the AR token's rank and top-10); pasted markup stays
// text; generation streams for gzip and AR; no request leaves 127.0.0.1; no console error.
// Saves screenshots to tests/browser/screenshots/.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const golf = path.join(root, 'target/release/golf');
const shots = path.join(here, 'screenshots');
mkdirSync(shots, { recursive: true });

const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};

function startServer() {
  const server = spawn('python3', [path.join(root, 'scripts/serve.py'), '--dir', path.join(root, 'dist'), '--port', '0'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    server.stdout.on('data', (d) => {
      const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(d.toString());
      if (m) resolve({ server, url: m[0] });
    });
    server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

function nativeScore(text, golfer = 'gzip') {
  const dir = mkdtempSync(path.join(tmpdir(), 'golf-'));
  const file = path.join(dir, 'text.txt');
  writeFileSync(file, text, 'utf8');
  return JSON.parse(execFileSync(golf, ['score', '--golfer', golfer, '--json', file], { maxBuffer: 1 << 28 }));
}

const { server, url } = await startServer();
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  const outside = [];
  const consoleErrors = [];
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(url) && !u.startsWith('data:') && !u.startsWith('blob:')) outside.push(u);
  });
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  await page.goto(url);
  await page.waitForSelector('#panel-gzip[data-scored="true"]', { timeout: 60_000 });
  // The AR golfer loads ONNX Runtime Web and its model from this site, then scores the same text.
  await page.waitForSelector('#panel-ar[data-scored="true"]', { timeout: 180_000 });

  // 1. The default text's bpb equals the native CLI's on the same text.
  const text = await page.inputValue('#text');
  check(text.length > 1000, `default text is loaded (${text.length} chars)`);
  const shown = Number(await page.getAttribute('#bpb-gzip', 'data-bpb'));
  const native = nativeScore(text);
  check(Math.abs(shown - native.bpb) < 1e-12, `browser bpb ${shown} equals native ${native.bpb}`);
  check((await page.textContent('#bpb-gzip')) === native.bpb.toFixed(4), 'the shown bpb is rounded from it');
  const arNative = nativeScore(text, 'ar');
  const arShown = Number(await page.getAttribute('#bpb-ar', 'data-bpb'));
  const arGolf = Number(await page.getAttribute('#golf-bpb-ar', 'data-bpb'));
  check(Math.abs(arShown - arNative.bpb) / arNative.bpb < 1e-4, `AR browser bpb ${arShown} equals native ${arNative.bpb}`);
  check(Math.abs(arGolf - arNative.golf_bpb) / arNative.golf_bpb < 1e-4,
    `AR browser Parameter Golf bpb ${arGolf} equals native ${arNative.golf_bpb}`);
  console.log(`     AR: ${await page.textContent('#status-ar')}`);

  // Time to score the default text again, from click to the new result.
  await page.evaluate(() => document.querySelector('#panel-gzip').removeAttribute('data-scored'));
  const t0 = Date.now();
  await page.click('#score');
  await page.waitForSelector('#panel-gzip[data-scored="true"]');
  const clickToResult = Date.now() - t0;
  await page.waitForSelector('#panel-ar[data-scored="true"]', { timeout: 180_000 });
  const status = await page.textContent('#status-gzip');
  console.log(`     rescoring the default text: ${clickToResult} ms from click to result (${status})`);

  // 2. Hovering a character shows its bits and its symbol.
  const cells = await page.locator('#heatmap-gzip span[data-i]').count();
  check(cells === [...text].length, `one heatmap cell per character (${cells})`);
  await page.hover('#heatmap-gzip span[data-i="200"]');
  const hover = await page.textContent('#hover-gzip');
  check(/\(byte \d+\): \d+\.\d\d bits .* its symbol covers/.test(hover), `hover text: ${hover}`);
  await page.hover('#heatmap-ar span[data-i="200"]');
  const arHover = await page.textContent('#hover-ar');
  check(/token .* bits, rank \d+.* top: /.test(arHover), `AR hover text: ${arHover.slice(0, 160)}`);
  await page.screenshot({ path: path.join(shots, 'bits-per-byte.png'), fullPage: true });

  // 3. Pasted markup is rendered as text, never parsed.
  await page.evaluate(() => document.querySelector('#panel-ar').removeAttribute('data-scored'));
  const evil = '<img src="http://198.51.100.7/x.png" onerror="console.error(\'injected\')"><b>bold</b> & <script>console.error(1)</script>';
  await page.fill('#text', evil);
  await page.evaluate(() => document.querySelector('#panel-gzip').removeAttribute('data-scored'));
  await page.click('#score');
  await page.waitForSelector('#panel-gzip[data-scored="true"]');
  const heat = await page.$eval('#heatmap-gzip', (el) => ({ text: el.textContent, tags: el.querySelectorAll('img,b,script').length }));
  check(heat.text === evil && heat.tags === 0, 'pasted markup shows as text and creates no elements');
  check(Number(await page.getAttribute('#bpb-gzip', 'data-bpb')) === nativeScore(evil).bpb, 'markup text bpb equals native');

  // 4. An empty text gets a clear error, not a crash.
  await page.fill('#text', '');
  await page.click('#score');
  await page.waitForSelector('#error:not([hidden])');
  check(/empty/.test(await page.textContent('#error')), 'empty text shows an error banner');

  // 5. Generation streams into the output box.
  await page.fill('#prompt', 'The adrenal glands are');
  await page.fill('#max-bytes', '120');
  await page.click('#generate');
  await page.waitForSelector('#gen-output[data-done="true"]', { timeout: 60_000 });
  const generated = await page.textContent('#gen-output');
  const pieces = await page.locator('#gen-output span:not(.prompt)').count();
  check(generated.startsWith('The adrenal glands are') && generated.length > 'The adrenal glands are'.length,
    `generation appended text (${generated.length - 22} chars in ${pieces} streamed pieces)`);
  check(pieces > 5, 'generation streamed in many pieces');
  console.log(`     gzip: ${await page.textContent('#gen-status')}`);
  await page.selectOption('#gen-golfer', { label: 'AR (Parameter Golf baseline, int8)' });
  await page.fill('#max-bytes', '100');
  await page.click('#generate');
  await page.waitForSelector('#gen-output[data-done="true"]', { timeout: 120_000 });
  const arText = await page.textContent('#gen-output');
  const arPieces = await page.locator('#gen-output span:not(.prompt)').count();
  check(arText.startsWith('The adrenal glands are') && arPieces > 5, `AR generation streamed ${arPieces} tokens`);
  console.log(`     AR: ${await page.textContent('#gen-status')}: ${JSON.stringify(arText.slice(0, 120))}`);
  await page.screenshot({ path: path.join(shots, 'generation.png'), fullPage: true });

  check(outside.length === 0, `no request left 127.0.0.1 ${outside.length ? JSON.stringify(outside) : ''}`);
  check(consoleErrors.length === 0, `no console errors ${consoleErrors.length ? JSON.stringify(consoleErrors) : ''}`);
} finally {
  await browser.close();
  server.kill();
}
if (failures.length) {
  console.error(`${failures.length} browser check(s) failed`);
  process.exit(1);
}
console.log('browser tests passed; screenshots in tests/browser/screenshots/');
