// Links anyone can craft, and a host that serves the page wrong (the bad-input probe's findings; the decoder's
// rules are tested natively in crates/golf-web/src/share.rs and params.rs). A share link's settings are taken only
// where the controls can show them, and what was not taken is said; a link with its text 385 times is refused
// before any is inflated; a cut-off link says so in a visitor's words; a long text is shown and waits for the
// visitor's click; `?threads=64` gets the machine's cores; `.mjs` served as text/plain is named, with the fix.
// Most pages load no neural golfer (`?golfers=none`): gzip is enough to show what a link did.
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { check, open, root, samplesDir, scored, session } from './harness.mjs';

const base64url = (bytes) => Buffer.from(bytes).toString('base64url');
/// A share link's fragment for `text` (raw DEFLATE, base64url: what the page's own links hold), plus `extra`.
const fragment = (text, extra = '') => `t=${base64url(deflateRawSync(Buffer.from(text, 'utf8'), { level: 9 }))}${extra}`;
const banner = (page) => page.$eval('#error', (e) => (e.hidden ? '' : e.textContent));
const SAMPLE = readFileSync(path.join(samplesDir, 'fineweb-val-first-docs.txt'), 'utf8');

/// dist/ served as a host that does not know `.mjs` would: as text/plain (Python's old default, some CDNs).
function plainMjsServer() {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/plain', '.wasm': 'application/wasm',
    '.css': 'text/css', '.json': 'application/json' };
  const dist = path.join(root, 'dist');
  const server = createServer(async (req, res) => {
    const file = path.join(dist, decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/\/$/, '/index.html'));
    if (!file.startsWith(dist)) return res.writeHead(403).end();
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'Content-Type': types[path.extname(file)] ?? 'application/octet-stream',
        'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp',
        'Cache-Control': 'no-cache' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () =>
    resolve({ server, url: `http://127.0.0.1:${server.address().port}/` })));
}

await session('links (browser)', async ({ browser, url, watch }) => {
  // A page per link: a new fragment on an open page does not load it again.
  let page = null;
  const load = async (href) => {
    await page?.close();
    page = watch(await browser.newPage());
    return open(page, href);
  };

  // 1. k=1024 passed the old check (1..=1024) but the slider stops at 128; s=0.0001 passed "above 0" and made
  //    every character dark. Neither is taken now, and the banner says both, with the controls' ranges.
  await load(`${url}?golfers=none#${fragment('Hello, golfers.', '&k=1024&s=0.0001')}`);
  let said = await banner(page);
  check(/NELBO's K "1024" \(masking rates, from 1 to 128\)/.test(said) &&
    /colour scale "0.0001" \(the scale goes from 1 to 24 bits per byte/.test(said),
  `a link's K and scale outside the controls are said: "${said}"`);
  const shown = await page.evaluate(() => [document.querySelector('#scale').value,
    document.querySelector('#scale-value').textContent, document.querySelector('#app').dataset.nelboK,
    document.querySelector('#legend').lastElementChild?.textContent]);
  check(JSON.stringify(shown) === JSON.stringify(['12', '12', '32', '≥12.0']),
    `... and the page's own scale and K are used: ${JSON.stringify(shown)}`);
  // In range: taken as given, and the next share link says the same.
  await load(`${url}?golfers=none#${fragment('Hello, golfers.', '&k=100&s=20')}`);
  said = await banner(page);
  const taken = await page.evaluate(() => [document.querySelector('#scale').value,
    document.querySelector('#app').dataset.nelboK, document.querySelector('#legend').lastElementChild?.textContent]);
  await page.click('#share');
  const again = (await page.inputValue('#share-link')).split('#')[1];
  check(said === '' && JSON.stringify(taken) === JSON.stringify(['20', '100', '≥20.0']) &&
    /&s=20&/.test(again) && /&k=100(&|$)/.test(again),
  `a link's K = 100 and scale 20 are taken and shared again (${JSON.stringify(taken)}, ${again.slice(-30)}) ${said}`);

  // 2. The fuzzer's link: its text 385 times, each inflating to megabytes. Refused before any is inflated: the
  //    box keeps the default text and the banner says why.
  const bomb = fragment('\0'.repeat(3 << 20));
  const repeated = Array(385).fill(bomb).join('&');
  check(repeated.length < 2 << 20, `the repeated link is ${(repeated.length / 1e6).toFixed(2)} MB (Chromium opens 2 MB)`);
  await load(`${url}?golfers=none#${repeated}`);
  said = await banner(page);
  const text = await page.inputValue('#text');
  check(/holds 385 texts where a share link holds one/.test(said) && !text.includes('\0') && text.length < 100_000,
    `a link with its text 385 times is refused, the default text kept: "${said.slice(0, 90)}…"`);

  // 3. A link cut off mid-text (at whole base64 quads, so that the inflater is what finds it): the visitor reads
  //    that, not the inflater's words ("malformed DEFLATE stream at bit …": those come last, in brackets).
  const whole = fragment(SAMPLE);
  await load(`${url}?golfers=none#${whole.slice(0, 2 + 4 * Math.floor(whole.length / 8))}`);
  said = await banner(page);
  const detailAt = said.indexOf('(Detail:');
  check(said.startsWith('This link is cut off or damaged') && detailAt > 0 && !/DEFLATE|bit \d/.test(said.slice(0, detailAt)),
    `a cut-off link says so in a visitor's words: "${said}"`);

  // 4. A link's text over 100,000 bytes is shown, and nothing scores it until the visitor asks.
  const long = SAMPLE.repeat(Math.ceil(150_000 / SAMPLE.length));
  await load(`${url}?golfers=none#${fragment(long)}`);
  await page.waitForSelector('#panel-gzip[data-held="true"]', { state: 'attached', timeout: 120_000 });
  const waiting = await page.evaluate(() => [document.querySelector('#text').value.length,
    document.querySelector('#panel-gzip').hasAttribute('data-scored'), document.querySelector('#link-ask')?.textContent]);
  check(waiting[0] === long.length && !waiting[1] && /long \(1\d\d KB\).*not scored yet/.test(waiting[2]),
    `a ${(Buffer.byteLength(long) / 1e3).toFixed(0)} KB link is shown and waits: ${JSON.stringify(waiting).slice(0, 160)}`);
  await page.click('#link-ask-score');
  await scored(page, 'gzip');
  check(!(await page.$('#link-ask')) && !(await page.getAttribute('#panel-gzip', 'data-held')),
    '... and "Score this text" scores it');

  // 5. ?threads=64 started 65 workers on 2 cores: each golfer gets at most the cores, and the page says so.
  await load(`${url}?golfers=ar&threads=64#${fragment('A short text.')}`);
  said = await banner(page);
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const most = Math.max(1, Math.min(cores, 16));
  await page.waitForSelector('#panel-ar[data-device]', { state: 'attached', timeout: 300_000 });
  const runsOn = await page.textContent('#runs-on-ar');
  const threads = Number(/wasm, (\d+) thread/.exec(runsOn)?.[1]);
  check(threads <= most && new RegExp(`asks for 64 threads per golfer.*uses ${most}\\.`).test(said),
    `?threads=64 on ${cores} cores: "${runsOn}"; "${said}"`);
  await page.close();

  // 6. A host serving .mjs as text/plain: ONNX Runtime Web says only "no available backend found"; the page names
  //    the file, its type and the fix. (A page of its own: the browser logs the refused module script as an error.)
  const plain = await plainMjsServer();
  try {
    const host = await browser.newPage();
    await open(host, `${plain.url}?golfers=ar`);
    await host.waitForSelector('#download-ar[data-error="true"]', { state: 'attached', timeout: 300_000 });
    said = await banner(host);
    check(/sends ort\/ort-wasm-simd-threaded\.mjs as text\/plain; it must be served as JavaScript \(text\/javascript\)/.test(said),
      `.mjs served as text/plain is named with the fix: "${said}"`);
    await scored(host, 'gzip');
    const gzip = Number(await host.getAttribute('#bpb-gzip', 'data-bpb'));
    check(gzip > 0 && gzip < 8, `... and gzip still scores: ${gzip} bits per byte`);
    await host.close();
  } finally {
    plain.server.close();
  }
});
