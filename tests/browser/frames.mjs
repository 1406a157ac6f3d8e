// What the browser's rendering frames cost while the compact view of a 4 MiB text is drawn and redrawn, step by step
// from Chromium's trace: style, layout, pre-paint, paint. A diagnostic, not a test: it prints numbers.
//   node tests/browser/frames.mjs                 the compact view scrolled to its middle (its first drawing there,
//                                                 as big_input.test.mjs does), then redrawn three times (a new
//                                                 colour scale)
//   FRAMES_CSS='#compact .hb{...}' node ...       the same with a style sheet added, to try a change without a build
// A busy core (as GOLF_STRESS=1 keeps one) roughly doubles these frames' work on a 2-core VM; the page's rule is
// 50 ms a task.
import { bigText, dom, openSettings, session, TASK_EVENT } from './harness.mjs';

const REDRAWS = 3;
const STEPS = { style: 'UpdateLayoutTree', layout: 'Layout', prepaint: 'PrePaint', paint: 'Paint', script: 'FunctionCall' };

const frames = (page) =>
  page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r)))));

/// Traces `body` and prints its rendering frames: how many, the worst and the median, by step.
async function measure(browser, page, what, body) {
  await frames(page);
  await browser.startTracing(page, { categories: ['toplevel', 'devtools.timeline'] });
  await body();
  await frames(page);
  const events = JSON.parse((await browser.stopTracing()).toString()).traceEvents;
  // The renderer's main thread: where the page's frames are pre-painted.
  const anchor = events.find((e) => e.name === 'PrePaint' && e.ph === 'X');
  if (!anchor) throw new Error('no PrePaint in the trace: nothing was drawn');
  const main = events.filter((e) => e.ph === 'X' && e.pid === anchor.pid && e.tid === anchor.tid);
  const within = (name, t) => main.filter((k) => k.name === name && k.ts >= t.ts && k.ts + k.dur <= t.ts + t.dur)
    .reduce((sum, k) => sum + (k.tdur ?? 0), 0) / 1e3;
  const rendering = main.filter((e) => e.name === TASK_EVENT && (e.tdur ?? 0) > 5e3)
    .map((t) => ({ work: t.tdur / 1e3, ...Object.fromEntries(Object.entries(STEPS).map(([k, n]) => [k, within(n, t)])) }))
    .filter((r) => r.prepaint + r.layout + r.paint > 2)
    .sort((a, b) => b.work - a.work);
  const show = (r) => Object.entries(r).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ');
  const median = rendering[Math.floor(rendering.length / 2)];
  console.log(`${what}: ${rendering.length} frames; worst: ${rendering[0] ? show(rendering[0]) : '-'} ms; ` +
    `median: ${median ? show(median) : '-'} ms`);
}

await session('frames', async ({ browser, url }) => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  // The page's own DOM calls (harness.mjs `dom`): Playwright's selectors would add garbage to the frames measured.
  const $ = dom(page);
  await page.goto(`${url}?golfers=none`);
  await $.attached('#app[data-ready="true"]', { timeout: 120_000 });
  await openSettings(page);
  await $.attached('#panel-gzip[data-scored="true"]', { timeout: 120_000 });
  await page.evaluate((t) => {
    const e = document.getElementById('text');
    e.value = t;
    e.dispatchEvent(new Event('input', { bubbles: true }));
  }, bigText(4 << 20));
  await page.evaluate(() => document.getElementById('panel-gzip').removeAttribute('data-scored'));
  await $.click('#score');
  await $.attached('#panel-gzip[data-scored="true"]');
  await $.check('#view-compact');
  // Every drawing done: what is measured is the compact view's alone.
  for (const id of ['heatmap-gzip', 'diff-heatmap', 'compact-text']) await $.attached(`#${id}[data-drawn="true"]`);
  if (process.env.FRAMES_CSS) await page.addStyleTag({ content: process.env.FRAMES_CSS });
  await measure(browser, page, 'scrolled to its middle (first drawing there)', async () => {
    await page.evaluate(() => {
      document.getElementById('compact-text').removeAttribute('data-drawn');
      const c = document.getElementById('compact');
      c.scrollIntoView({ block: 'start' });
      c.scrollTop = c.scrollHeight / 2;
    });
    await $.attached('#compact-text[data-drawn="true"]');
  });
  const shape = await page.evaluate(() => ({
    elements: document.getElementsByTagName('*').length,
    compactElements: document.querySelectorAll('#compact *').length,
    compactDrawn: document.querySelectorAll('#compact-text .cc').length,
  }));
  console.log(`page: ${JSON.stringify(shape)}${process.env.FRAMES_CSS ? `; added style: ${process.env.FRAMES_CSS}` : ''}`);

  for (let redraw = 1; redraw <= REDRAWS; redraw += 1) {
    await measure(browser, page, `redraw ${redraw}`, async () => {
      await page.evaluate((v) => {
        for (const id of ['heatmap-gzip', 'compact-text', 'diff-heatmap']) document.getElementById(id).removeAttribute('data-drawn');
        const e = document.getElementById('scale');
        e.value = String(v);
        e.dispatchEvent(new Event('input'));
      }, redraw % 2 ? 3 : 6);
      for (const id of ['heatmap-gzip', 'diff-heatmap', 'compact-text']) await $.attached(`#${id}[data-drawn="true"]`);
    });
  }
  await page.close();
});
