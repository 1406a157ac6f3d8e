// Speed of the neural golfers in headless Chromium: the page's `?bench=ID&threads=N` mode runs the same
// measurement as `golf bench --golfer ID` (AR and SmolLM2: prefill tokens/s on 512 tokens, decode ms/token over 64
// tokens; the diffusion golfer: tokens/s under a chain rule and under NELBO on one window), with
// ONNX Runtime Web on 1 thread and on 2 threads (the page is served cross-origin isolated, so threads work).
// `race`: the page's race of all four golfers (64 tokens each, as page.test.mjs runs it), with each lane's
// tokens/s, its time to first token, when it finished, and how many tokens SmolLM2 had written when gzip and the
// AR golfer were done (each lane moves at its own speed); and each lane's stated tokens/s against the page's clock
// from the click to the lane's end.
// Prints numbers; asserts nothing about them. Usage: node tests/browser/bench.mjs [ID ... | race]
// (default: smollm2 ar mdlm)
import { launch, open, startClockedRace, startServer } from './harness.mjs';

const golfers = process.argv.slice(2).length ? process.argv.slice(2) : ['smollm2', 'ar', 'mdlm'];
const { server, url } = await startServer();
const browser = await launch();

async function race(context) {
  const page = await context.newPage();
  await open(page, url);
  const all = ['gzip', 'ar', 'mdlm', 'smollm2'];
  for (const id of all) await page.waitForSelector(`#panel-${id}[data-scored="true"]`, { state: 'attached', timeout: 600_000 });
  await startClockedRace(page, all);
  await page.waitForSelector('#lanes[data-done="true"]', { timeout: 600_000 });
  const clock = await page.evaluate(() => window.raceClock);
  const lanes = await page.$$eval('.lane', (ls) => ls.map((l) => ({
    id: l.id, tokens: Number(l.dataset.tokens), tps: Number(l.dataset.tokensPerS), ttft: Number(l.dataset.ttftMs),
  })));
  console.log('race of all four in Chromium, 64 tokens each:');
  for (const l of lanes) {
    const done = clock.done[l.id];
    const wallS = (done.at - clock.start) / 1e3;
    const seen = l.tokens / wallS;
    console.log(`  ${l.id.replace('lane-', '').padEnd(8)} ${String(l.tokens).padStart(3)} tokens  ${l.tps.toFixed(1).padStart(7)} tokens/s stated, ` +
      `${seen.toFixed(1).padStart(7)} by the page's clock (${(100 * (l.tps / seen - 1)).toFixed(1)} %)  first token ${l.ttft.toFixed(0)} ms  ` +
      `done at ${wallS.toFixed(2)} s, when SmolLM2 had written ${done.smollm2}`);
  }
  await page.close();
}

try {
  const context = await browser.newContext();
  for (const id of golfers) {
    if (id === 'race') {
      await race(context);
      continue;
    }
    for (const threads of [1, 2]) {
      const page = await context.newPage();
      await open(page, `${url}?bench=${id}&threads=${threads}`);
      await page.waitForSelector('#bench-result[data-done="true"]', { timeout: 600_000 });
      const text = await page.textContent('#bench-result');
      if (!text.startsWith('{')) throw new Error(`${id}: ${text}`);
      const r = JSON.parse(text);
      console.log(`${id} in Chromium, ONNX Runtime Web ${r.threads} thread(s)${r.isolated ? ', cross-origin isolated' : ''}:`);
      if (r.chain_tokens_per_s !== undefined) {
        // The diffusion golfer: windows of r.window tokens; one model call per token under a chain rule.
        console.log(`  chain rule ${r.chain_tokens} reveals   ${r.chain_tokens_per_s.toFixed(1).padStart(8)} tokens/s`);
        console.log(`  NELBO K=${r.nelbo_steps}, ${r.nelbo_tokens} tokens ${r.nelbo_tokens_per_s.toFixed(1).padStart(8)} tokens/s`);
      } else {
        console.log(`  prefill ${r.prefill_tokens} tokens   ${r.prefill_tokens_per_s.toFixed(1).padStart(8)} tokens/s`);
        if (r.graph_decode_ms_per_token != null) {
          // SmolLM2: golf-llama's 4-bit kernels, and the same decode on the ONNX graph, in the same run.
          console.log(`  decode ${r.decode_tokens} tokens     ${r.decode_ms_per_token.toFixed(2).padStart(8)} ms/token  (golf-llama)`);
          const g = r.graph_decode_ms_per_token;
          console.log(`  decode on the graph  ${g.toFixed(2).padStart(8)} ms/token  (ONNX Runtime Web; ${(g / r.decode_ms_per_token).toFixed(2)}x golf-llama's time)`);
        } else {
          console.log(`  decode ${r.decode_tokens} tokens     ${r.decode_ms_per_token.toFixed(2).padStart(8)} ms/token`);
        }
      }
      await page.close();
    }
  }
} finally {
  await browser.close();
  server.kill();
}
