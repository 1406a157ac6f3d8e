// SmolLM2 in headless Chromium, side by side in one browser session: this project's page (`?bench=smollm2`: prefill
// of 512 positions on ONNX Runtime Web, then 64 greedy tokens decoded by golf-llama) against wllama 3.8.1
// (llama.cpp compiled to wasm) on the same GGUF, 1 and 2 threads, cross-origin isolated. Prints numbers and ratios;
// asserts nothing about them. wllama is a benchmark-only npm package (tests/browser/peers/), installed here on
// first use and never part of dist/.
// Usage: node tests/browser/bench_peers.mjs   (after the page is built: bash scripts/serve.sh or scripts/test.sh)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launch, root, samplesDir, startServer } from './harness.mjs';

const peers = path.join(root, 'tests/browser/peers');
const esm = path.join(peers, 'node_modules/@wllama/wllama/esm');
if (!existsSync(esm)) execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: peers, stdio: 'inherit' });
const gguf = path.join(root, '.cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf');
if (!existsSync(gguf)) throw new Error(`${gguf} is missing: python scripts/smollm2/build.py unpacks it`);

// The peer's site: its page, its files and the GGUF (links into a temporary folder).
const site = mkdtempSync(path.join(tmpdir(), 'wllama-'));
symlinkSync(esm, path.join(site, 'wllama'));
symlinkSync(gguf, path.join(site, 'model.gguf'));
symlinkSync(path.join(samplesDir, 'fineweb-val-first-docs.txt'), path.join(site, 'sample.txt'));
writeFileSync(path.join(site, 'index.html'), `<!doctype html><meta charset="utf-8"><pre id="result"></pre>
<script type="module">
import { Wllama } from './wllama/index.js';
const out = document.getElementById('result');
const threads = Number(new URLSearchParams(location.search).get('threads'));
try {
  const w = new Wllama({ default: './wllama/wasm/wllama.wasm' }, { suppressNativeLog: true, allowOffline: true });
  await w.loadModelFromUrl(new URL('model.gguf', location.href).href,
    { n_threads: threads, n_gpu_layers: 0, n_ctx: 2048, n_batch: 512, n_ubatch: 512, useCache: false });
  const greedy = { temperature: 0, top_k: 1, ignore_eos: true, cache_prompt: false };
  // Prefill: about 512 tokens of the same FineWeb text our benchmark scores (llama.cpp computes the head at the
  // last position only); decode: 64 tokens after the same prompt as ours.
  const text = await (await fetch('sample.txt')).text();
  const prefill = await w.createCompletion({ prompt: text.slice(0, 2300), max_tokens: 1, ...greedy });
  const decode = await w.createCompletion({ prompt: 'The history of the city', max_tokens: 65, ...greedy });
  out.textContent = JSON.stringify({ prefill: prefill.timings, decode: decode.timings });
} catch (e) {
  out.textContent = 'error: ' + e;
}
out.dataset.done = 'true';
</script>`);

const ours = await startServer();
const theirs = await startServer(site);
const browser = await launch();
const rows = [];
try {
  const context = await browser.newContext();
  for (const threads of [1, 2]) {
    const page = await context.newPage();
    await page.goto(`${ours.url}?bench=smollm2&threads=${threads}`);
    await page.waitForSelector('#bench-result[data-done="true"]', { timeout: 600_000 });
    const text = await page.textContent('#bench-result');
    if (!text.startsWith('{')) throw new Error(`our page: ${text}`);
    const us = JSON.parse(text);
    await page.goto(`${theirs.url}?threads=${threads}`);
    await page.waitForSelector('#result[data-done="true"]', { timeout: 600_000 });
    const peerText = await page.textContent('#result');
    if (!peerText.startsWith('{')) throw new Error(`wllama: ${peerText}`);
    const peer = JSON.parse(peerText);
    await page.close();
    rows.push({ threads, isolated: us.isolated, us, peer });
  }
} finally {
  await browser.close();
  ours.server.kill();
  theirs.server.kill();
}

console.log(`SmolLM2-135M-Instruct in headless Chromium, same GGUF, same session (${process.env.GOLF_MACHINE || 'this machine'}):`);
for (const { threads, isolated, us, peer } of rows) {
  const d = peer.decode.predicted_per_token_ms;
  const p = peer.prefill.prompt_per_second;
  console.log(`  ${threads} thread(s)${isolated ? ', cross-origin isolated' : ''}:`);
  console.log(`    decode   ours ${us.decode_ms_per_token.toFixed(2).padStart(7)} ms/token   wllama ${d.toFixed(2).padStart(7)} ms/token` +
    `   ratio ${(us.decode_ms_per_token / d).toFixed(2)}x (ours / wllama's time)`);
  console.log(`    prefill  ours ${us.prefill_tokens_per_s.toFixed(1).padStart(7)} tokens/s   wllama ${p.toFixed(1).padStart(7)} tokens/s` +
    `   ratio ${(us.prefill_tokens_per_s / p).toFixed(2)}x (ours / wllama's speed; ${us.prefill_tokens} vs ${peer.prefill.prompt_n} tokens)`);
  if (us.graph_decode_ms_per_token != null) {
    console.log(`    (ours decoding on the ONNX graph instead: ${us.graph_decode_ms_per_token.toFixed(2)} ms/token)`);
  }
}
