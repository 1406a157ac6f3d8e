// The page on a host that sends no cross-origin isolation headers (GitHub Pages, GitLab Pages, any plain static
// server: `serve.py --plain`), from a sub-path, as a visitor meets it, against today's isolated server:
// (c) isolated server: the service worker never registers and the page never reloads (the reference bpb);
// (a) service workers blocked: single-threaded, the page says so in one line, every bpb equal to the isolated run's;
// (b) service workers allowed: exactly one reload, before any model request, then isolated with threads; a second
//     navigation does not reload; `?coi=0` turns the worker off (one reload), single-threaded and said;
// (e) after that visit, offline (`setOffline`): a reload opens the page and all four golfers score the text;
// (d) no request leaves the origin (the session's check).
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { check, open, root, scored, session, startServer } from './harness.mjs';

const GOLFERS = ['gzip', 'ar', 'mdlm', 'smollm2'];
// The app shell the service worker keeps (scripts/seal_shell.py wrote it into dist/sw.js).
const SHELL = JSON.parse(/const SHELL = (\{[^;]*\});/.exec(readFileSync(path.join(root, 'dist/sw.js'), 'utf8'))[1]);

/// Every golfer's bpb once all four have scored.
async function allScored(page) {
  for (const id of GOLFERS) await scored(page, id, { timeout: 600_000 });
  return Object.fromEntries(await Promise.all(GOLFERS.map(async (id) => [id, Number(await page.getAttribute(`#bpb-${id}`, 'data-bpb'))])));
}

const isolated = (page) => page.evaluate(() => self.crossOriginIsolated);
const runsOn = (page, id) => page.textContent(`#runs-on-${id}`);
const registered = (page) => page.evaluate(async () => (await navigator.serviceWorker.getRegistration()) !== undefined);

/// The documents `page` has had in this tab (each one's `performance.timeOrigin`, kept in sessionStorage by a
/// script that runs first in every document), and its model requests (finished ones, with when each started).
async function journal(page) {
  await page.addInitScript(() => {
    const docs = JSON.parse(sessionStorage.getItem('test-documents') ?? '[]');
    sessionStorage.setItem('test-documents', JSON.stringify([...docs, performance.timeOrigin]));
  });
  const models = [];
  page.on('requestfinished', (r) => { if (/\/models\//.test(r.url())) models.push({ url: r.url(), at: r.timing().startTime }); });
  return {
    documents: () => page.evaluate(() => JSON.parse(sessionStorage.getItem('test-documents') ?? '[]')),
    models,
  };
}

await session('hosting (browser)', async ({ browser, url, watch }) => {
  // (c) Today's isolated server.
  const isoContext = await browser.newContext();
  const iso = watch(await isoContext.newPage());
  const isoJournal = await journal(iso);
  await open(iso, url);
  const reference = await allScored(iso);
  const isoDocs = (await isoJournal.documents()).length;
  check((await isolated(iso)) && !(await registered(iso)) && isoDocs === 1,
    `isolated server: isolated, no service worker, no reload (${isoDocs} document)`);
  check(await iso.isHidden('#isolation'), 'isolated server: no single-threaded note');
  await isoContext.close();

  // The same build on a plain server, from a sub-path.
  const site = mkdtempSync(path.join(tmpdir(), 'golf-site-'));
  symlinkSync(path.join(root, 'dist'), path.join(site, 'four-golfers'));
  const { server, url: host } = await startServer(site, { plain: true });
  const base = `${host}four-golfers/`;
  // Threads may change the order of a sum in ONNX Runtime's kernels on another machine: equal within 1e-5 (so far
  // they have been equal to the last digit).
  const same = (bpb, what) => {
    const worst = Math.max(...GOLFERS.map((id) => Math.abs(bpb[id] - reference[id]) / reference[id]));
    check(GOLFERS.every((id) => bpb[id] > 0) && worst <= 1e-5,
      `${what}: every bpb equals the isolated run's (${GOLFERS.map((id) => `${id} ${bpb[id]}`).join(', ')}; worst relative difference ${worst.toExponential(1)})`);
  };
  try {
    // (a) Service workers blocked.
    const blockedContext = await browser.newContext({ serviceWorkers: 'block' });
    const blocked = watch(await blockedContext.newPage(), host);
    await open(blocked, base);
    same(await allScored(blocked), 'service workers blocked');
    const note = await blocked.textContent('#isolation');
    check(!(await isolated(blocked)) && (await blocked.isVisible('#isolation')) && /^Single-threaded here: /.test(note),
      `service workers blocked: not isolated, and the page says so: "${note}"`);
    check(/1 thread\b/.test(await runsOn(blocked, 'ar')), `service workers blocked: one thread ("${await runsOn(blocked, 'ar')}")`);
    await blockedContext.close();

    // (b) Service workers allowed: one reload, before any model request, then threads.
    const context = await browser.newContext();
    const page = watch(await context.newPage(), host);
    const tab = await journal(page);
    await open(page, `${base}?threads=2`);
    const bpb = await allScored(page);
    const docs = await tab.documents();
    const early = tab.models.filter((m) => m.at < docs[docs.length - 1]);
    check(docs.length === 2 && tab.models.length > 0 && early.length === 0,
      `service worker: exactly one reload (${docs.length} documents), before any of the ${tab.models.length} model requests (${early.length} before it)`);
    check((await isolated(page)) && (await page.isHidden('#isolation')) && /2 threads/.test(await runsOn(page, 'ar')),
      `service worker: isolated, ${await runsOn(page, 'ar')}`);
    same(bpb, 'service worker');
    // The app shell is kept once the page has loaded (the worker says nothing: the test reads its cache).
    const kept = await page.waitForFunction(async (n) => (await (await caches.open('four-golfers-shell')).keys()).length === n,
      Object.keys(SHELL).length, { timeout: 120_000, polling: 500 }).then(() => true, () => false);
    check(kept, `the service worker kept the ${Object.keys(SHELL).length} files of the app shell`);

    // A second navigation: controlled from the start, so no reload.
    await open(page, base);
    check((await tab.documents()).length === 3 && (await isolated(page)), 'a second navigation does not reload and is isolated');

    // (e) Offline: the page opens and all four golfers score from what the visit kept.
    await context.setOffline(true);
    await page.reload();
    await page.waitForSelector('#app[data-ready="true"]', { state: 'attached', timeout: 120_000 });
    same(await allScored(page), 'offline reload');
    check(await isolated(page), 'offline: still isolated (the kept files get the headers too)');
    await context.setOffline(false);

    // ?coi=0: the worker is unregistered and the page reloads once without it.
    const beforeOff = (await tab.documents()).length;
    await open(page, `${base}?coi=0`);
    const why = await page.getAttribute('#isolation', 'data-why');
    const off = (await tab.documents()).length - beforeOff;
    check(!(await isolated(page)) && !(await registered(page)) && /\?coi=0/.test(why ?? '') && off === 2,
      `?coi=0: no service worker, single-threaded, said ("${why}"), in ${off} documents (one reload)`);
    await context.close();
  } finally {
    server.kill();
  }
});
