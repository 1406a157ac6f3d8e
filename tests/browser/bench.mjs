// Speed of the neural golfers in headless Chromium: the page's `?bench=ID&threads=N` mode runs the same
// measurement as `golf bench --golfer ID` (prefill tokens/s on 512 tokens, decode ms/token over 64 tokens), with
// ONNX Runtime Web on 1 thread and on 2 threads (the page is served cross-origin isolated, so threads work).
// Prints numbers; asserts nothing about them. Usage: node tests/browser/bench.mjs [ID ...] (default: smollm2 ar)
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const golfers = process.argv.slice(2).length ? process.argv.slice(2) : ['smollm2', 'ar'];

const server = spawn('python3', [path.join(root, 'scripts/serve.py'), '--dir', path.join(root, 'dist'), '--port', '0'],
  { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve, reject) => {
  server.stdout.on('data', (d) => {
    const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(d.toString());
    if (m) resolve(m[0]);
  });
  server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
});
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const context = await browser.newContext();
  for (const id of golfers) {
    for (const threads of [1, 2]) {
      const page = await context.newPage();
      await page.goto(`${url}?bench=${id}&threads=${threads}`);
      await page.waitForSelector('#bench-result[data-done="true"]', { timeout: 600_000 });
      const text = await page.textContent('#bench-result');
      if (!text.startsWith('{')) throw new Error(`${id}: ${text}`);
      const r = JSON.parse(text);
      console.log(`${id} in Chromium, ONNX Runtime Web ${r.threads} thread(s)${r.isolated ? ', cross-origin isolated' : ''}:`);
      console.log(`  prefill ${r.prefill_tokens} tokens   ${r.prefill_tokens_per_s.toFixed(1).padStart(8)} tokens/s`);
      console.log(`  decode ${r.decode_tokens} tokens     ${r.decode_ms_per_token.toFixed(2).padStart(8)} ms/token`);
      await page.close();
    }
  }
} finally {
  await browser.close();
  server.kill();
}
