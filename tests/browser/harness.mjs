// What the browser scripts share: the static server (scripts/serve.py on 127.0.0.1, cross-origin isolated),
// Debian's Chromium through playwright-core, the native CLI for reference numbers, and a check that records
// failures.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '../..');
export const shots = path.join(here, 'screenshots');
// The committed sample texts (samples/README.md); the browser tests need nothing from the shared data.
export const samplesDir = path.join(root, 'samples');

/// The samples' words in a seeded random order, lines of 10 to 40 words, cut to `bytes` at a character's end.
export function bigText(bytes) {
  const words = readdirSync(samplesDir).filter((f) => f.endsWith('.txt'))
    .flatMap((f) => readFileSync(path.join(samplesDir, f), 'utf8').split(/\s+/)).filter((w) => w.length > 0);
  let seed = 0x2545f491;
  const next = () => {
    seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  const parts = [];
  let size = 0;
  while (size < bytes + 64) {
    const n = 10 + Math.floor(next() * 30);
    const line = Array.from({ length: n }, () => words[Math.floor(next() * words.length)]).join(' ') + '\n';
    parts.push(line);
    size += Buffer.byteLength(line);
  }
  const buf = Buffer.from(parts.join('')).subarray(0, bytes);
  // Cut back to a character's end: a UTF-8 continuation byte (10xxxxxx) does not begin one.
  let end = buf.length;
  while (end > 0 && (buf[end] & 0xc0) === 0x80) end -= 1;
  return buf.subarray(0, end).toString('utf8');
}

const golf = path.join(root, 'target/release/golf');

export const failures = [];
export const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};

/// Serves `dir` (the built page by default) on a free port of 127.0.0.1; `plain`: without the cross-origin
/// isolation headers, as GitHub Pages serves.
export function startServer(dir = path.join(root, 'dist'), { plain = false } = {}) {
  const server = spawn('python3', [path.join(root, 'scripts/serve.py'), '--dir', dir, '--port', '0', ...(plain ? ['--plain'] : [])],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    server.stdout.on('data', (d) => {
      const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(d.toString());
      if (m) resolve({ server, url: m[0] });
    });
    server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

/// Headless Chromium; `extra` adds flags (`--enable-unsafe-webgpu` gives it a WebGPU adapter: SwiftShader, on the CPU).
export function launch(extra = []) {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', ...extra],
  });
}

/// `golf ARGS... FILE` on `text` written to a temporary file; for `score --json`, the parsed object.
export function golfOn(text, args) {
  const dir = mkdtempSync(path.join(tmpdir(), 'golf-'));
  const file = path.join(dir, 'text.txt');
  writeFileSync(file, text, 'utf8');
  return execFileSync(golf, [...args, file], { maxBuffer: 1 << 28 }).toString();
}

export function nativeScore(text, golfer = 'gzip', extra = []) {
  return JSON.parse(golfOn(text, ['score', '--golfer', golfer, '--json', ...extra]));
}

export function golfRun(args) {
  return execFileSync(golf, args, { maxBuffer: 1 << 28 }).toString();
}

/// Records requests that leave the server's origin and console errors, for the final checks.
export function watch(page, url, outside, consoleErrors) {
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(url) && !u.startsWith('data:') && !u.startsWith('blob:')) outside.push(u);
  });
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
}

/// One test script: a server and a browser for `body({ browser, url, watch, outside })`, where `watch(page, base)`
/// records the page's requests that leave `base` (the server by default) and its console errors; then the checks
/// every script ends with (no request left 127.0.0.1, no console errors) and the summary.
export async function session(name, body, { flags = [] } = {}) {
  mkdirSync(shots, { recursive: true });
  const { server, url } = await startServer();
  const browser = await launch(flags);
  const outside = [];
  const consoleErrors = [];
  const watchPage = (page, base = url) => {
    watch(page, base, outside, consoleErrors);
    return page;
  };
  try {
    await body({ browser, url, watch: watchPage, outside });
    check(outside.length === 0, `no request left 127.0.0.1 ${outside.length ? JSON.stringify(outside) : ''}`);
    check(consoleErrors.length === 0, `no console errors ${consoleErrors.length ? JSON.stringify(consoleErrors) : ''}`);
  } finally {
    await browser.close();
    server.kill();
  }
  finish(name);
}

export function finish(what) {
  if (failures.length) {
    console.error(`${failures.length} ${what} check(s) failed`);
    process.exit(1);
  }
  console.log(`${what} tests passed`);
}

/// Opens the fold of settings, sharing, exports and the import row (`#settings`, closed when the page opens), as a
/// click on its summary does; by the page's own DOM calls, which cost nothing on a page of 200,000 elements.
export function openSettings(page) {
  return page.evaluate(() => {
    const fold = document.getElementById('settings');
    if (!fold.open) fold.querySelector('summary').click();
  });
}

/// Opens `url` in `page` and waits until the page says it has set itself up (`#app[data-ready]`: its panels have
/// their places, a link's text and settings and the URL's parameters are applied). The page sets itself up over a
/// few tasks after `load`, so nothing may be read before this. Then opens the settings' fold, whose controls the
/// tests use (`settings: false` leaves it as a visitor finds it).
export async function open(page, url, { timeout = 120_000, settings = true } = {}) {
  await page.goto(url);
  await page.waitForSelector('#app[data-ready="true"]', { state: 'attached', timeout });
  if (settings) await openSettings(page);
  return page;
}

/// `page.reload()`, then waits for the page's set-up as `open` does.
export async function reload(page, { timeout = 120_000, settings = true } = {}) {
  await page.reload();
  await page.waitForSelector('#app[data-ready="true"]', { state: 'attached', timeout });
  if (settings) await openSettings(page);
  return page;
}

/// Waits until golfer `id`'s panel has scored and its heatmap is drawn whole (the page draws it a part per task
/// after the score: `data-drawn`).
export async function scored(page, id, { timeout = 300_000 } = {}) {
  await page.waitForSelector(`#panel-${id}[data-scored="true"]`, { state: 'attached', timeout });
  await page.waitForSelector(`#heatmap-${id}[data-drawn="true"]`, { state: 'attached', timeout });
}

/// Waits until `fn(arg)`, evaluated in the page at every frame, returns something truthy and returns it; null if it
/// did not within `timeout` ms (the check that follows then fails and says what it saw).
export function until(page, fn, arg, { timeout = 60_000 } = {}) {
  return page.waitForFunction(fn, arg, { timeout, polling: 'raf' }).then((h) => h.jsonValue(), () => null);
}

/// The page's own DOM calls, for pages of hundreds of thousands of elements (a 4 MiB text's heatmaps). Playwright's
/// selectors (`waitForSelector`, `click`, `$eval`, `isVisible`...) walk every element of the document, each query,
/// in a world of their own (to look into shadow roots): on the 4 MiB page (207,000 elements) ten queries took 1.2 s
/// against 0.3 s with these calls, and the wrappers they left cost the page's next garbage collections 38-40 ms
/// each (0.1-0.2 ms after these calls), in whatever task of the page they landed: the test's work counted as the
/// page's.
export function dom(page) {
  const find = (selector) => page.evaluateHandle((s) => document.querySelector(s), selector).then((h) => {
    const e = h.asElement();
    if (!e) throw new Error(`no element matches ${selector}`);
    return e;
  });
  return {
    /// Waits until an element matches `selector` (polled at every frame).
    attached: (selector, { timeout = 300_000 } = {}) =>
      page.waitForFunction((s) => document.querySelector(s) !== null, selector, { timeout, polling: 'raf' })
        .then((h) => h.dispose(), (e) => { throw new Error(`waiting for ${selector}: ${e.message}`); }),
    /// The element, for Playwright's actions on it (which look at that element alone).
    element: find,
    /// A user's click on it (Playwright's checks that it is visible, stable and hit, on this one element).
    click: async (selector) => (await find(selector)).click(),
    check: async (selector) => (await find(selector)).check(),
    text: (selector) => page.evaluate((s) => document.querySelector(s)?.textContent ?? null, selector),
    visible: (selector) => page.evaluate((s) => document.querySelector(s)?.checkVisibility() ?? false, selector),
  };
}

/// The page's rule: no main-thread task does more than a frame's budget of work.
export const TASK_LIMIT_MS = 50;

// The page's long tasks are those its long-task observer reports (over 50 ms by the wall clock). The wall clock
// also counts the time other threads and processes held the cores (the page's four workers, a busy machine): with
// one core busy a cold-start task took 67 ms. So each one's own CPU time is read from Chromium's trace (the
// `toplevel` category's task events: `dur` the wall time, `tdur` the thread's time on a CPU), and the rule is
// checked on that. (DevTools' timeline categories would add work to every style and layout change.) A browser
// traces one recording at a time.
// `GOLF_TRACE_CATEGORIES=devtools.timeline,v8.execute` adds categories to find what a long task did: each task over
// the limit (or over GOLF_TRACE_OVER ms) is then printed with its steps (style, layout, paint, script) of over a
// millisecond. They add work of their own, so the verdicts of such a run are not the page's.
const TRACE_CATEGORIES = ['toplevel', 'blink.user_timing', ...(process.env.GOLF_TRACE_CATEGORIES ?? '').split(',').filter(Boolean)];
export const TASK_EVENT = 'ThreadControllerImpl::RunTask';
const tracing = new WeakMap(); // browser -> { page, tasks }

/// Records the long tasks of `page` from its first script on (call it before `open`), and every main-thread
/// task's wall and CPU time from Chromium's trace.
export async function recordLongTasks(page) {
  await page.addInitScript(() => {
    window.longTasks = [];
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.longTasks.push({ start: e.startTime, ms: e.duration });
    });
    observer.observe({ type: 'longtask', buffered: true });
    // Entries reach the observer's callback a while after their task; `takeRecords` has them as soon as the task
    // is over, so a read misses no task that ended before it.
    window.takeLongTasks = () => {
      for (const e of observer.takeRecords()) window.longTasks.push({ start: e.startTime, ms: e.duration });
      return window.longTasks;
    };
  });
  const browser = page.context().browser();
  if (tracing.get(browser)) await browser.stopTracing();
  tracing.set(browser, { page, tasks: [] });
  await browser.startTracing(undefined, { categories: TRACE_CATEGORIES });
}

/// The long tasks that started between `from` and `to` (the page's `performance.now()`): `{ start, ms, cpu, traced }`,
/// `ms` the wall time the observer reports, `cpu` the task's own CPU time in the trace and whatever the observer
/// counts past its end (`traced` false: no such task in the trace, and all its wall time counted).
export async function longTasks(page, from, to) {
  const browser = page.context().browser();
  const rec = tracing.get(browser);
  if (!rec || rec.page !== page) throw new Error('longTasks: recordLongTasks(page) was not called for this page');
  // A mark whose time on the page's clock is known places the trace's clock; the trace so far is read (a
  // recording is read only when it stops) and a new one goes on at once.
  const mark = `golf-clock-${Date.now()}`;
  const [at, long] = await page.evaluate((m) => [performance.mark(m).startTime, window.takeLongTasks()], mark);
  const events = JSON.parse((await browser.stopTracing()).toString()).traceEvents;
  await browser.startTracing(undefined, { categories: TRACE_CATEGORIES });
  const sync = events.find((e) => e.name === mark);
  if (!sync) throw new Error(`longTasks: the mark ${mark} is not in Chromium's trace`);
  const offset = sync.ts / 1e3 - at; // trace clock (ms) minus page clock
  const main = events.filter((e) => e.pid === sync.pid && e.tid === sync.tid && e.ph === 'X');
  for (const e of main) {
    if (e.name === TASK_EVENT && e.dur > 20e3) {
      rec.tasks.push({ start: e.ts / 1e3 - offset, ms: e.dur / 1e3, cpu: (e.tdur ?? e.dur) / 1e3 });
      if (process.env.GOLF_TRACE_CATEGORIES && (e.tdur ?? e.dur) > Number(process.env.GOLF_TRACE_OVER ?? TASK_LIMIT_MS) * 1e3) {
        const steps = main.filter((k) => k !== e && k.ts >= e.ts && k.ts + k.dur <= e.ts + e.dur && k.dur > 1e3)
          .map((k) => `+${((k.ts - e.ts) / 1e3).toFixed(1)} ${k.name} ${(k.dur / 1e3).toFixed(1)} ms ` +
            `(${((k.tdur ?? 0) / 1e3).toFixed(1)} cpu) ${JSON.stringify(k.args ?? {}).slice(0, 160)}`);
        console.log(`     task at ${((e.ts / 1e3 - offset) / 1e3).toFixed(2)} s, ${(e.tdur / 1e3).toFixed(0)} ms of work:\n       ${steps.join('\n       ')}`);
      }
    }
  }
  return long.filter((t) => t.start >= from && t.start <= to).map((t) => {
    // The trace's task that began when the observer's did (the two clocks agree to well under a millisecond). The
    // observer's duration can run past the trace's task by a few ms (70 against 60): that part, not in the task's
    // CPU time, is counted as work too.
    const same = rec.tasks.filter((r) => Math.abs(r.start - t.start) < 2)
      .sort((a, b) => Math.abs(a.start - t.start) - Math.abs(b.start - t.start))[0];
    if (!same) return { ...t, cpu: t.ms, traced: false };
    return { ...t, cpu: same.cpu + Math.max(0, t.ms - same.ms), traced: true };
  });
}

/// The page's rule on its long tasks (from `longTasks`): the check's verdict and its words. `limit` is the most
/// work a task may do (TASK_LIMIT_MS unless a check allows more).
export function taskRule(tasks, limit = TASK_LIMIT_MS) {
  const over = tasks.filter((t) => t.cpu > limit);
  const shown = tasks.map((t) => `${t.ms.toFixed(0)} ms at ${(t.start / 1e3).toFixed(2)} s, ` +
    (t.traced ? `${t.cpu.toFixed(0)} ms of it its own work` : 'not in the trace: all of it counted as its work'));
  return {
    ok: over.length === 0,
    // A failed check says how many tasks broke the rule (the words of a pass read as one on a FAIL line).
    words: `${over.length ? `${over.length} long task(s)` : 'no long task'} did over ${limit} ms of work (${tasks.length} over ${TASK_LIMIT_MS} ms by the wall clock` +
      `${tasks.length ? `: ${shown.join('; ')}` : ''})`,
  };
}

/// Runs `body` as one phase of a test: its long tasks from `t0` (the page's clock) to `end()` (once the frames
/// that show its last change are drawn), printed and judged by the page's rule: `{ name, rule }`.
export async function taskPhase(page, name, t0, body, end = () => afterNextFrame(page)) {
  await body();
  const t1 = await end();
  const rule = taskRule(await longTasks(page, t0, t1));
  console.log(`     ${name}: ${((t1 - t0) / 1e3).toFixed(1)} s; ${rule.words}`);
  return { name, rule };
}

/// The page's `performance.now()` once the frame after the current one is drawn: every task of the frame in
/// which the page showed something is over (and, with `longTasks`, counted).
export function afterNextFrame(page) {
  return page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now())))));
}

/// Ticks exactly the race lanes of `ids`.
export async function raceOnly(page, ids) {
  await page.$$eval('#race-golfers input', (inputs, want) => {
    for (const i of inputs) i.checked = want.includes(i.id.replace('race-', ''));
  }, ids);
}

/// Sets up a race of `ids` (64 tokens of 'The adrenal glands are' at temperature 0.8) and starts it, with the
/// page's own clock on it: `window.raceClock` holds the click that started it (seen before any of the page's
/// listeners) and, for each lane, when it said it was done (`at`) and how many tokens SmolLM2's lane had then.
export async function startClockedRace(page, ids) {
  await raceOnly(page, ids);
  await page.fill('#prompt', 'The adrenal glands are');
  await page.fill('#temperature', '0.8');
  await page.fill('#max-tokens', '64');
  await page.fill('#max-bytes', '4000');
  await page.evaluate(() => {
    const race = { start: null, done: {} };
    window.raceClock = race;
    document.addEventListener('click', (e) => {
      if (e.target.id === 'generate' && race.start === null) race.start = performance.now();
    }, { capture: true });
    new MutationObserver(() => {
      const at = performance.now();
      const smollm2 = Number(document.querySelector('#lane-smollm2')?.dataset.tokens ?? 0);
      for (const l of document.querySelectorAll('#lanes .lane[data-done]')) {
        if (!(l.id in race.done)) race.done[l.id] = { at, smollm2 };
      }
    }).observe(document.getElementById('lanes'), { subtree: true, attributes: true, attributeFilter: ['data-done'] });
  });
  await page.click('#generate');
}
