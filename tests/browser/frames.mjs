// What the browser's rendering frames cost while the compact view of a 4 MiB text is redrawn (a new colour scale),
// step by step from Chromium's trace: style, layout, pre-paint, paint. A diagnostic, not a test: it prints numbers.
//   node tests/browser/frames.mjs                 the compact view as big_input.test.mjs leaves it (scrolled to its
//                                                 middle), redrawn three times
//   FRAMES_CSS='#compact .hb{...}' node ...       the same with a style sheet added, to try a change without a build
// A busy core (as GOLF_STRESS=1 keeps one) roughly doubles these frames' work on a 2-core VM; the page's rule is
// 50 ms a task.
import { bigText, session, TASK_EVENT } from './harness.mjs';

const REDRAWS = 3;
const STEPS = { style: 'UpdateLayoutTree', layout: 'Layout', prepaint: 'PrePaint', paint: 'Paint', script: 'FunctionCall' };

const drawn = (page, id) => page.waitForSelector(`#${id}[data-drawn="true"]`, { state: 'attached', timeout: 300_000 });
const frames = (page) =>
  page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r)))));

await session('frames', async ({ browser, url }) => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  await page.goto(`${url}?golfers=none`);
  await page.waitForSelector('#app[data-ready="true"]', { state: 'attached', timeout: 120_000 });
  await page.waitForSelector('#panel-gzip[data-scored="true"]', { state: 'attached', timeout: 120_000 });
  await page.$eval('#text', (e, t) => {
    e.value = t;
    e.dispatchEvent(new Event('input', { bubbles: true }));
  }, bigText(4 << 20));
  await page.evaluate(() => document.getElementById('panel-gzip').removeAttribute('data-scored'));
  await page.click('#score');
  await page.waitForSelector('#panel-gzip[data-scored="true"]', { state: 'attached', timeout: 300_000 });
  await drawn(page, 'diff-heatmap');
  await page.check('#view-compact');
  await drawn(page, 'compact-text');
  await page.evaluate(() => document.getElementById('compact-text').removeAttribute('data-drawn'));
  await page.$eval('#compact', (c) => {
    c.scrollIntoView({ block: 'start' });
    c.scrollTop = c.scrollHeight / 2;
  });
  await drawn(page, 'compact-text');
  if (process.env.FRAMES_CSS) await page.addStyleTag({ content: process.env.FRAMES_CSS });
  const shape = await page.evaluate(() => ({
    elements: document.getElementsByTagName('*').length,
    compactElements: document.querySelectorAll('#compact *').length,
    compactDrawn: document.querySelectorAll('#compact-text .cc').length,
  }));
  console.log(`page: ${JSON.stringify(shape)}${process.env.FRAMES_CSS ? `; added style: ${process.env.FRAMES_CSS}` : ''}`);

  for (let redraw = 1; redraw <= REDRAWS; redraw += 1) {
    await frames(page);
    await browser.startTracing(page, { categories: ['toplevel', 'devtools.timeline'] });
    await page.evaluate(() => {
      for (const id of ['heatmap-gzip', 'compact-text', 'diff-heatmap']) document.getElementById(id).removeAttribute('data-drawn');
    });
    await page.$eval('#scale', (e, v) => { e.value = String(v); e.dispatchEvent(new Event('input')); }, redraw % 2 ? 3 : 6);
    for (const id of ['heatmap-gzip', 'diff-heatmap', 'compact-text']) await drawn(page, id);
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
    console.log(`redraw ${redraw}: ${rendering.length} frames; worst: ${rendering[0] ? show(rendering[0]) : '-'} ms; ` +
      `median: ${median ? show(median) : '-'} ms`);
  }
  await page.close();
});
