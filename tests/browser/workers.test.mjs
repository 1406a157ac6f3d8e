// The page's golfers each run in a Web Worker. Over a cold start (all four golfers loading and scoring the default
// text), the rendering of what is off screen once that work is done (for full-page captures), the MDLM chain rule
// and a 32-token race of all four (then that rendering again), no long task may do over 50 ms of work (each task the
// long-task observer reports, by its own CPU time in Chromium's trace; the wall clock is printed beside it), and each golfer's time from navigation to its bpb (printed,
// not compared: which golfer is first depends on the machine). Then a worker killed mid-score (the test makes it
// throw) leaves the other panels scoring and its own saying so.
import { check, open, raceOnly, recordLongTasks, scored, session, taskPhase } from './harness.mjs';

const GOLFERS = ['gzip', 'ar', 'mdlm', 'smollm2'];

await session('workers (browser)', async ({ browser, url, watch }) => {
  const page = watch(await browser.newPage({ viewport: { width: 1200, height: 1000 } }));
  await recordLongTasks(page);
  await page.addInitScript(() => {
    // When each panel first showed its bits per byte, and first showed scoring progress, from navigation.
    window.scoredAt = {};
    window.progressAt = {};
    new MutationObserver((changes) => {
      for (const c of changes) {
        const id = c.target.id?.replace('panel-', '');
        const first = (seen) => { if (!(id in seen)) seen[id] = performance.now(); };
        if (c.attributeName === 'data-scored' && c.target.getAttribute('data-scored') === 'true') first(window.scoredAt);
        if (c.attributeName === 'data-progress' && c.target.hasAttribute('data-progress')) first(window.progressAt);
      }
    }).observe(document, { attributes: true, attributeFilter: ['data-scored', 'data-progress'], subtree: true });
  });
  const now = () => page.evaluate(() => performance.now());
  const phases = [];
  // A phase ends when the frame after its last change is drawn. The cold start's begins at navigation (0 on the
  // new page's clock).
  const phase = async (name, body, { fromNavigation = false } = {}) =>
    phases.push(await taskPhase(page, name, fromNavigation ? 0 : await now(), body));
  // With nothing at work, the page renders what is off screen (for a full-page capture), a frame's share at a
  // time: part of the phase whose work ended (read between two phases, its tasks would not be counted).
  const revealed = () => page.waitForSelector('#app[data-revealed="true"]', { state: 'attached', timeout: 120_000 });

  await phase('cold start: all four load and score the default text; what is off screen is rendered', async () => {
    await open(page, url);
    for (const id of GOLFERS) await scored(page, id, { timeout: 600_000 });
    await revealed();
  }, { fromNavigation: true });
  const at = await page.evaluate(() => window.scoredAt);
  console.log(`     time to each bpb: ${GOLFERS.map((id) => `${id} ${(at[id] / 1e3).toFixed(1)} s`).join(', ')}`);
  check(GOLFERS.every((id) => at[id] > 0), 'every golfer showed its bpb');
  // Each golfer scores in its own worker as soon as it is ready (which of SmolLM2 and MDLM starts first depends on
  // the machine, so it is printed, not checked).
  const progressAt = await page.evaluate(() => window.progressAt);
  console.log(`     first scoring progress: ${GOLFERS.filter((id) => id in progressAt).map((id) => `${id} ${(progressAt[id] / 1e3).toFixed(1)} s`).join(', ')}`);
  const workers = await Promise.all(page.workers().map(async (w) => ({ w, name: await w.evaluate(() => self.name) })));
  check(GOLFERS.every((id) => workers.some((w) => w.name === id)), `one worker per golfer (${workers.map((w) => w.name).join(', ')})`);

  await phase('the MDLM chain rule (left to right); what is off screen is rendered again', async () => {
    await page.evaluate(() => document.querySelector('#panel-mdlm').removeAttribute('data-scored'));
    await page.selectOption('#estimator-mdlm', 'l2r');
    await scored(page, 'mdlm', { timeout: 600_000 });
    await revealed();
  });

  await phase('a 32-token race of all four; what is off screen is rendered again', async () => {
    await raceOnly(page, GOLFERS);
    await page.fill('#max-tokens', '32');
    await page.fill('#prompt', 'The history of the city');
    await page.click('#generate');
    await page.waitForSelector('#lanes[data-done="true"]', { timeout: 600_000 });
    await revealed();
  });
  for (const id of GOLFERS) {
    const tokens = Number(await page.getAttribute(`#lane-${id}`, 'data-tokens'));
    check(tokens > 0 && !(await page.getAttribute(`#lane-${id}`, 'data-error')), `${id}'s lane wrote ${tokens} tokens`);
  }

  // A worker that dies mid-score: its panel says so, the others score on.
  await page.evaluate(() => { for (const p of document.querySelectorAll('.panel')) p.removeAttribute('data-scored'); });
  await page.selectOption('#estimator-mdlm', 'nelbo');
  await page.click('#score');
  await page.waitForSelector('#panel-mdlm[data-progress]', { timeout: 300_000 });
  const mdlm = workers.find((w) => w.name === 'mdlm');
  await mdlm.w.evaluate(() => { setTimeout(() => { throw new Error('killed by the test'); }); });
  await page.waitForSelector('#panel-mdlm[data-worker-failed="true"]', { timeout: 120_000 });
  const said = await page.textContent('#status-mdlm');
  check(/stopped: its worker stopped/.test(said), `the killed worker's panel says so: "${said}"`);
  for (const id of ['gzip', 'ar', 'smollm2']) {
    const ok = await page.waitForSelector(`#panel-${id}[data-scored="true"]`, { timeout: 600_000 }).then(() => true, () => false);
    check(ok, `${id} scored on after MDLM's worker died`);
  }
  // The next score starts it again, from the same files.
  await page.evaluate(() => document.querySelector('#panel-mdlm').removeAttribute('data-scored'));
  await page.click('#score');
  const again = await page.waitForSelector('#panel-mdlm[data-scored="true"]', { timeout: 600_000 }).then(() => true, () => false);
  check(again && !(await page.getAttribute('#panel-mdlm', 'data-worker-failed')),
    `the next score started MDLM's worker again and it scored (${await page.textContent('#status-mdlm')})`);
  // The page's thread only draws (the golfers run in workers; charts draw outside the page): over the whole
  // session, cold start included, no task of it does more than a frame budget of work (50 ms).
  for (const p of phases) check(p.rule.ok, `${p.name}: ${p.rule.words}`);
});
