// Diagnostic (not a test): a cold start with a Chrome trace; prints the main thread's tasks over 40 ms and what ran in them.
import { writeFileSync, readFileSync } from 'node:fs';
import { launch, startServer } from './harness.mjs';
const { server, url } = await startServer();
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  await page.addInitScript(() => {
    window.longTasks = [];
    new PerformanceObserver((l) => { for (const e of l.getEntries()) window.longTasks.push({ start: e.startTime, ms: e.duration }); })
      .observe({ type: 'longtask', buffered: true });
  });
  await browser.startTracing(page, { categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'v8.wasm', 'blink', 'loading', 'toplevel', 'disabled-by-default-v8.compile'] });
  const t0 = Date.now();
  await page.goto(url + (process.argv[2] || ''));
  for (const id of ['gzip', 'ar', 'mdlm', 'smollm2']) await page.waitForSelector(`#panel-${id}[data-scored="true"]`, { timeout: 600_000 });
  console.log('all scored in', (Date.now() - t0) / 1e3, 's');
  const buf = await browser.stopTracing();
  writeFileSync('/tmp/diag/trace.json', buf);
  console.log('longtasks', JSON.stringify(await page.evaluate(() => window.longTasks)));
} finally { await browser.close(); server.kill(); }
const trace = JSON.parse(readFileSync('/tmp/diag/trace.json')).traceEvents;
const main = trace.find((e) => e.name === 'thread_name' && e.args.name === 'CrRendererMain');
const evs = trace.filter((e) => e.pid === main.pid && e.tid === main.tid && e.ph === 'X');
const tasks = evs.filter((e) => (e.name === 'RunTask' || e.name === 'ThreadControllerImpl::RunTask') && e.dur > 40000);
for (const t of tasks) {
  const inner = evs.filter((e) => e.ts >= t.ts && e.ts + e.dur <= t.ts + t.dur && e !== t && e.dur > 3000);
  console.log(`task ${(t.dur / 1e3).toFixed(0)} ms at ${(t.ts / 1e3).toFixed(0)}:`);
  for (const e of inner.slice(0, 25)) console.log(`   ${e.name} ${(e.dur / 1e3).toFixed(1)} ms +${((e.ts - t.ts) / 1e3).toFixed(0)} ${JSON.stringify(e.args?.data?.url || e.args?.data?.functionName || e.args?.data?.scriptName || '').slice(0, 80)}`);
}
