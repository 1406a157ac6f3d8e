// Time from navigation to each golfer's bpb (the default text), in one run, each in a fresh browser profile (the
// models downloaded from the local server): on the isolated server (scripts/serve.py), on a plain host
// (`serve.py --plain`, from a sub-path, as GitHub Pages serves) with the page's service worker (which reloads the
// page once, then gives it threads), and on the plain host with service workers blocked (single-threaded). Then
// a second visit to each (the models from Cache Storage). `?threads=N` is passed on (default: the page's own
// choice, half the cores, 1 to 4). Prints numbers; asserts nothing about them.
// Usage: node tests/browser/bench_hosting.mjs [--threads N]
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launch, root, startServer } from './harness.mjs';

const GOLFERS = ['gzip', 'ar', 'mdlm', 'smollm2'];
const t = process.argv.indexOf('--threads');
const query = t > 0 ? `?threads=${Number(process.argv[t + 1])}` : '';

const isolatedServer = await startServer();
const site = mkdtempSync(path.join(tmpdir(), 'golf-site-'));
symlinkSync(path.join(root, 'dist'), path.join(site, 'four-golfers'));
const plainServer = await startServer(site, { plain: true });
const browser = await launch();

/// Seconds from the start of the navigation to each golfer's bpb, and the page's state at the end.
async function visit(context, url) {
  const page = await context.newPage();
  // When each panel first showed its bits per byte, by the wall clock (a reload starts a new page clock).
  await page.addInitScript(() => {
    window.scoredAt = {};
    new MutationObserver((changes) => {
      for (const c of changes) {
        const id = c.target.id?.replace('panel-', '');
        if (c.target.getAttribute('data-scored') === 'true' && !(id in window.scoredAt)) {
          window.scoredAt[id] = performance.timeOrigin + performance.now();
        }
      }
    }).observe(document, { attributes: true, attributeFilter: ['data-scored'], subtree: true });
  });
  const start = Date.now();
  await page.goto(url);
  for (const id of GOLFERS) {
    await page.waitForSelector(`#panel-${id}[data-scored="true"]`, { state: 'attached', timeout: 600_000 });
  }
  const state = await page.evaluate(() => ({
    at: window.scoredAt,
    isolated: self.crossOriginIsolated,
    reloaded: performance.getEntriesByType('navigation')[0]?.type === 'reload',
  }));
  const threads = /(\d+) threads?/.exec(await page.textContent('#runs-on-ar'))?.[1] ?? '?';
  await page.close();
  return { ...state, threads, seconds: Object.fromEntries(GOLFERS.map((id) => [id, (state.at[id] - start) / 1e3])) };
}

const setups = [
  ['isolated server (serve.py)', {}, `${isolatedServer.url}${query}`],
  ['plain host + service worker', {}, `${plainServer.url}four-golfers/${query}`],
  ['plain host, no service worker', { serviceWorkers: 'block' }, `${plainServer.url}four-golfers/${query}`],
];
try {
  console.log(`time from navigation to each golfer's bpb (s), fresh profile, then a second visit${query ? ` (${query})` : ''}:`);
  console.log(`  ${'setup'.padEnd(32)} ${'visit'.padEnd(6)} ${GOLFERS.map((g) => g.padStart(8)).join('')}  isolated  threads  reloaded`);
  for (const [name, options, url] of setups) {
    const context = await browser.newContext(options);
    for (const which of ['first', 'second']) {
      const v = await visit(context, url);
      console.log(`  ${name.padEnd(32)} ${which.padEnd(6)} ${GOLFERS.map((g) => v.seconds[g].toFixed(1).padStart(8)).join('')}  ` +
        `${String(v.isolated).padEnd(8)}  ${String(v.threads).padEnd(7)}  ${v.reloaded}`);
    }
    await context.close();
  }
} finally {
  await browser.close();
  isolatedServer.server.kill();
  plainServer.server.kill();
}
