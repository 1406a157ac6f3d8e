// WebGPU: Chromium started with --enable-unsafe-webgpu offers an adapter (SwiftShader, a CPU renderer: this proves
// correctness, not speed). With `?ep=webgpu` the page runs the AR golfer and SmolLM2 on ONNX Runtime Web's WebGPU
// build and says so on their panels; their per-token bits on a short text equal `golf score --json` to 5e-3 bits
// per token and their bpb to 1e-3; four greedy tokens are the CLI's. Then a WebGPU session that cannot be created
// (the test withholds the WebGPU build's wasm) falls back to the CPU, with the reason on the panel, and still gives
// the native bpb.
import { readFileSync } from 'node:fs';
import { check, golfRun, nativeScore, open, raceOnly, session } from './harness.mjs';

// About 32 SmolLM2 tokens (and 70 of the AR golfer's): SwiftShader takes seconds per SmolLM2 call.
const TEXT = 'The quick brown fox jumps over the lazy dog. Small models can predict plain English text well, ' +
  'but they still stumble on names, numbers and rare words like quokka.';
// Per-token agreement asked for, in bits. SwiftShader's WebGPU differs from native ONNX Runtime by up to 7.2e-3
// bits on one of SmolLM2's tokens (its bpb by 1e-4), so SmolLM2 is held to 1e-2: measured, and printed.
const TOKEN_BITS = { ar: 5e-3, smollm2: 1e-2 };
const GPU = ['ar', 'smollm2'];

/// A link that opens the page with `TEXT` in the box (a share link's fragment) and `query` in its URL.
async function linkFor(browser, url, watch, query) {
  const page = watch(await browser.newPage());
  await open(page, `${url}?golfers=none`);
  await page.waitForSelector('#panel-gzip[data-scored="true"]', { timeout: 120_000 });
  await page.fill('#text', TEXT);
  await page.click('#share');
  const fragment = (await page.inputValue('#share-link')).split('#')[1];
  await page.close();
  return `${url}?${query}#${fragment}`;
}

await session('webgpu (browser)', async ({ browser, url, watch }) => {
  const page = watch(await browser.newPage({ viewport: { width: 1200, height: 1000 } }));
  const t0 = Date.now();
  // The Device control shows the link's ?ep= once the page says it has applied the link.
  await open(page, await linkFor(browser, url, watch, `golfers=${GPU.join(',')}&ep=webgpu`));
  check((await page.inputValue('#device')) === 'webgpu', 'the Device control shows ?ep=webgpu');
  for (const id of GPU) await page.waitForSelector(`#panel-${id}[data-scored="true"]`, { timeout: 600_000 });
  console.log(`     both scored on WebGPU in ${((Date.now() - t0) / 1e3).toFixed(0)} s`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  const exported = JSON.parse(readFileSync(await download.path(), 'utf8'));
  for (const id of GPU) {
    const device = await page.getAttribute(`#panel-${id}`, 'data-device');
    const says = await page.textContent(`#runs-on-${id}`);
    check(device === 'webgpu' && /on WebGPU/.test(says), `${id} runs on WebGPU: "${says}"`);
    const native = nativeScore(TEXT, id);
    const g = exported.golfers.find((x) => x.golfer === id);
    const sameTokens = g && g.spans.length === native.spans.length &&
      g.spans.every((s, i) => s.start === native.spans[i].start && s.end === native.spans[i].end);
    const worst = sameTokens ? Math.max(...g.spans.map((s, i) => Math.abs(s.bits - native.spans[i].bits))) : Infinity;
    const at = sameTokens ? g.spans.findIndex((s, i) => Math.abs(s.bits - native.spans[i].bits) === worst) : -1;
    check(sameTokens && worst < TOKEN_BITS[id], `${id}: ${g?.spans.length} tokens, each within ${worst.toExponential(2)} bits of native's` +
      (at >= 0 ? ` (the farthest: token ${at}, ${native.spans[at].bits.toFixed(3)} bits native)` : ''));
    check(Math.abs(g.bpb - native.bpb) < 1e-3, `${id}: bpb ${g.bpb.toFixed(6)} on WebGPU, ${native.bpb.toFixed(6)} native`);
  }

  // Four greedy tokens on WebGPU are the CLI's.
  const prompt = 'The adrenal glands are';
  await raceOnly(page, GPU);
  await page.fill('#prompt', prompt);
  await page.fill('#max-tokens', '4');
  await page.fill('#temperature', '0');
  await page.click('#generate');
  for (const id of GPU) {
    await page.waitForSelector(`#lane-out-${id}[data-done="true"]`, { timeout: 600_000 });
    const lane = await page.textContent(`#lane-out-${id}`);
    const cli = golfRun(['generate', '--golfer', id, '--prompt', prompt, '--max-tokens', '4', '--temperature', '0',
      '--top-p', await page.inputValue('#top-p'), '--repetition-penalty', await page.inputValue('#repetition-penalty')])
      .replace(/\n$/, '');
    check(lane.length > prompt.length && lane === cli, `${id}: 4 greedy tokens on WebGPU are the CLI's: ${JSON.stringify(lane)}`);
  }
  await page.close();

  // A WebGPU build that cannot start: its wasm (served in parts, with their manifest) is withheld, so the worker
  // cannot hand ONNX Runtime Web its bytes; the golfer falls back to the CPU build in a new worker.
  const context = await browser.newContext();
  await context.route('**/ort-wasm-simd-threaded.asyncify.wasm*', (route) => route.fulfill({ status: 404, body: 'withheld by the test' }));
  const failing = await context.newPage();
  const errors = [];
  failing.on('pageerror', (e) => errors.push(String(e)));
  await open(failing, await linkFor(browser, url, watch, 'golfers=ar&ep=webgpu'));
  await failing.waitForSelector('#panel-ar[data-scored="true"]', { timeout: 600_000 });
  const says = await failing.textContent('#runs-on-ar');
  check((await failing.getAttribute('#panel-ar', 'data-device')) === 'wasm' && /CPU/.test(says) && /WebGPU failed/.test(says),
    `without its WebGPU build the AR golfer fell back: "${says}"`);
  const bpb = Number(await failing.getAttribute('#bpb-ar', 'data-bpb'));
  const native = nativeScore(TEXT, 'ar').bpb;
  check(Math.abs(bpb - native) / native < 1e-4, `after the fallback its bpb ${bpb} equals native ${native}`);
  check(errors.length === 0, `no page error in the fallback ${JSON.stringify(errors)}`);
  await context.close();
}, { flags: ['--enable-unsafe-webgpu'] });
