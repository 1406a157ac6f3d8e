// Speed of the neural golfers in headless Chromium: the page's `?bench=ID&threads=N` mode runs the same
// measurement as `golf bench --golfer ID` (AR and SmolLM2: prefill tokens/s on 512 tokens, decode ms/token over 64
// tokens; the diffusion golfer: tokens/s under a chain rule and under NELBO on one window), with
// ONNX Runtime Web on 1 thread and on 2 threads (the page is served cross-origin isolated, so threads work).
// Prints numbers; asserts nothing about them. Usage: node tests/browser/bench.mjs [ID ...] (default: smollm2 ar mdlm)
import { launch, startServer } from './harness.mjs';

const golfers = process.argv.slice(2).length ? process.argv.slice(2) : ['smollm2', 'ar', 'mdlm'];
const { server, url } = await startServer();
const browser = await launch();
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
