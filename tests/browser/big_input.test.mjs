// Bad and big inputs on the page (headless Chromium; gzip, and the AR golfer where a neural one is needed):
// - the largest text the page accepts (4 MiB, built here from samples/ in a random order, so that gzip finds few
//   repeats and charges over a million symbols): scoring it with gzip and drawing its heatmap, table, charts and
//   difference map; the compact view ticked and scrolled; keys and clicks in the text box (which shows such a
//   text's start, read-only: Chromium's text box takes 100-260 ms a key at 4 MB); a new colour scale; scoring it
//   again; then typing in the longest text the box edits (256 KiB): no main-thread task does over 50 ms of work in
//   any of it (the page's rule, read from Chromium's trace: harness.mjs recordLongTasks);
// - Score with no golfer ticked says so, and scores nothing;
// - a golfer unticked and ticked again right after Score (while its score is under way) is scored, not left
//   "cancelled";
// - crafted bad artifacts (the probe's zip whose headers claim 4 GB, bytes that are no container, a damaged zlib
//   stream) are refused as "FILE was not imported: REASON", with no remedy that does not apply;
// - no request leaves 127.0.0.1; no console error.
import { bigText, check, dom, openSettings, recordLongTasks, session, taskPhase } from './harness.mjs';

/// The page's limit on a text (crates/golf-web/src/share.rs MAX_TEXT_BYTES).
const MAX_TEXT_BYTES = 4 << 20;
/// The longest text the text box edits, in UTF-16 units (crates/golf-web/src/app/picker.rs EDIT_MAX_UNITS).
const EDIT_MAX_UNITS = 256 * 1024;

/// A zip of one stored entry `name` holding `data`, whose headers claim `claimed` bytes (a stranger's file).
function zipClaiming(name, data, claimed) {
  const n = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt32LE(claimed, 18);
  local.writeUInt32LE(claimed, 22);
  local.writeUInt16LE(n.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt32LE(claimed, 20);
  central.writeUInt32LE(claimed, 24);
  central.writeUInt16LE(n.length, 28);
  const body = Buffer.concat([local, n, data]);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + n.length, 12);
  end.writeUInt32LE(body.length, 16);
  return Buffer.concat([body, central, n, end]);
}

/// The page's clock once the frame after the current one is drawn (every task before it is over).
const afterFrames = (page) =>
  page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => r(performance.now()))))));

async function open(page, url) {
  await page.goto(url);
  await page.waitForSelector('#app[data-ready="true"]', { state: 'attached', timeout: 120_000 });
  await openSettings(page);
}

await session('big input (browser)', async ({ browser, url, watch }) => {
  // 1. Ticking: Score with nothing ticked; a golfer unticked and ticked again while it scores.
  {
    const page = watch(await browser.newPage({ viewport: { width: 1200, height: 1000 } }));
    await open(page, `${url}?golfers=ar`);
    for (const id of ['gzip', 'ar']) {
      await page.waitForSelector(`#panel-${id}[data-scored="true"]`, { state: 'attached', timeout: 300_000 });
    }
    await page.$$eval('#score-golfers input:checked', (inputs) => inputs.forEach((i) => i.click()));
    await page.click('#score');
    const said = await page.waitForFunction(() => {
      const e = document.querySelector('#error');
      return !e.hidden && e.textContent;
    }, null, { timeout: 10_000 }).then((h) => h.jsonValue(), () => '');
    const untouched = await page.$$eval('.panel', (ps) => ps.every((p) => p.dataset.scored === 'true'));
    check(/tick at least one golfer/i.test(said) && untouched, `Score with nothing ticked says so: "${said}"; no panel was touched: ${untouched}`);
    await page.$$eval('#score-golfers input:not(:checked)', (inputs) => inputs.forEach((i) => i.click()));

    // Score, and in the same task as the score's start (so before the worker can answer), untick and tick AR.
    const statusThen = await page.evaluate(() => new Promise((resolve) => {
      const panel = document.querySelector('#panel-ar');
      const box = document.querySelector('#score-ar');
      const observer = new MutationObserver(() => {
        if (panel.hasAttribute('data-scored')) return;
        observer.disconnect();
        box.click();
        const status = document.querySelector('#status-ar').textContent;
        box.click();
        resolve(status);
      });
      observer.observe(panel, { attributes: true, attributeFilter: ['data-scored'] });
      document.querySelector('#score').click();
    }));
    const rescored = await page.waitForSelector('#panel-ar[data-scored="true"]', { state: 'attached', timeout: 120_000 })
      .then(() => true, () => false);
    const status = await page.textContent('#status-ar');
    check(statusThen === 'cancelled' && rescored && /bits for \d+ bytes/.test(status),
      `AR unticked mid-score ("${statusThen}") and ticked again is scored: ${rescored} ("${status}")`);

    // 2. Crafted bad artifacts: each is refused, naming the file and the reason.
    const junk = Buffer.alloc(300);
    for (let i = 0; i < junk.length; i += 1) junk[i] = (i * 73 + 11) & 0xff;
    const artifacts = [
      // The probe's: a stored archive/data.pkl whose headers claim 0xFFFFFFFE bytes.
      ['claims-4gb.ptz', zipClaiming('archive/data.pkl', Buffer.from('\x80\x02}q\x00.'), 0xfffffffe)],
      ['noise.ptz', junk],
      ['cut-zlib.ptz', Buffer.concat([Buffer.from([0x78, 0x9c]), junk.subarray(0, 40)])],
    ];
    for (const [name, buffer] of artifacts) {
      await page.evaluate(() => {
        document.querySelector('#import-status').removeAttribute('data-state');
        document.querySelector('#error').hidden = true;
      });
      await page.setInputFiles('#import-file', { name, mimeType: 'application/octet-stream', buffer });
      const state = await page.waitForSelector('#import-status[data-state="refused"], #import-status[data-state="done"]',
        { state: 'attached', timeout: 60_000 }).then((e) => e.getAttribute('data-state'), () => 'none');
      const error = await page.textContent('#error');
      const prefix = `${name} was not imported: `;
      const reason = error.startsWith(prefix) ? error.slice(prefix.length) : '';
      check(state === 'refused' && reason.length > 10 && !/starts again|unreachable/i.test(error),
        `${name} (${buffer.length} bytes) is refused by name and reason: "${error}"`);
    }
    check((await page.$$('#panels > .panel[data-local]')).length === 0, 'no panel was added for them');
    await page.close();
  }

  // 3. The largest text the page accepts, with gzip: no main-thread task does over 50 ms of work.
  {
    const page = watch(await browser.newPage({ viewport: { width: 1200, height: 1000 } }));
    await recordLongTasks(page);
    await open(page, `${url}?golfers=none`);
    // Every read and action on this page goes through its own DOM calls (harness.mjs `dom`): Playwright's selectors
    // walk its 200,000 elements each time, and the garbage they leave lands in the page's tasks.
    const $ = dom(page);
    await $.attached('#panel-gzip[data-scored="true"]', { timeout: 120_000 });
    const text = bigText(MAX_TEXT_BYTES);
    // The text goes in as a paste would (the browser's own work on a 4 MB textarea is not the page's).
    await page.evaluate((t) => {
      const e = document.getElementById('text');
      e.value = t;
      e.dispatchEvent(new Event('input', { bubbles: true }));
    }, text);
    await afterFrames(page);
    const phases = [];
    const phase = async (name, body) =>
      phases.push(await taskPhase(page, name, await afterFrames(page), body, () => afterFrames(page)));

    await phase('gzip scores 4 MiB; its heatmap, table, charts and difference map', async () => {
      await page.evaluate(() => {
        for (const id of ['panel-gzip', 'heatmap-gzip', 'results', 'diff-heatmap']) {
          for (const a of ['data-scored', 'data-drawn', 'data-render-ms']) document.getElementById(id).removeAttribute(a);
        }
      });
      await $.click('#score');
      for (const sel of ['#panel-gzip[data-scored="true"]', '#heatmap-gzip[data-drawn="true"]', '#results[data-render-ms]', '#diff-heatmap[data-drawn="true"]']) {
        await $.attached(sel);
      }
    });
    const status = await $.text('#status-gzip');
    const bytes = Buffer.byteLength(text);
    check(status.includes(`for ${bytes} bytes`), `gzip scored all ${bytes} bytes: ${status}`);
    const cut = await $.text('#note-gzip');
    check(/Showing the first 100000 characters/.test(cut), `the heatmap says it shows the first characters: ${cut}`);
    const summary = await $.text('#diff-summary');
    // Characters as the page counts them (grapheme clusters), a line at a time (Intl.Segmenter over 4 MB at once
    // takes minutes); the text has no CRLF, so no cluster spans a line break.
    const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });
    let chars = 0;
    for (const line of text.split('\n')) chars += 1 + [...segmenter.segment(line)].length;
    chars -= 1;
    check(summary.includes(`over ${bytes} bytes`) && summary.includes(`of ${chars} characters`),
      `the difference covers the whole text (${chars} characters): ${summary}`);

    await phase('the compact view is ticked', async () => {
      await $.check('#view-compact');
      await $.attached('#compact-text[data-drawn="true"]');
    });
    // The compact view of a long text draws what is near its view, and the rest as it is scrolled to (counted in
    // the page: a handle to each of 100,000 elements would burden its garbage collector).
    const compactCells = () => page.evaluate(() => {
      const cells = document.querySelectorAll('#compact .cc');
      return { n: cells.length, last: cells.length ? Number(cells[cells.length - 1].dataset.i) : -1 };
    });
    const first = await compactCells();
    check(first.n > 500 && first.n < 40_000 && (await page.evaluate(() => document.querySelector('#compact .cc[data-i="0"]') !== null)),
      `the compact view draws the characters near its view (${first.n})`);
    await phase('the compact view is scrolled to its middle', async () => {
      await page.evaluate(() => document.getElementById('compact-text').removeAttribute('data-drawn'));
      await page.evaluate(() => {
        const c = document.getElementById('compact');
        c.scrollIntoView({ block: 'start' });
        c.scrollTop = c.scrollHeight / 2;
      });
      await $.attached('#compact-text[data-drawn="true"]', { timeout: 120_000 });
    });
    const middle = await page.evaluate(() => {
      const box = document.getElementById('compact').getBoundingClientRect();
      // The character at the middle of the box (probed across it: between lines there is only the block).
      for (let y = box.top + box.height / 2; y < box.bottom; y += 4) {
        for (let x = box.left + 10; x < box.right - 10; x += 6) {
          const at = document.elementFromPoint(x, y)?.closest('.cc');
          if (at) return Number(at.dataset.i);
        }
      }
      return -1;
    });
    check(middle > 30_000, `scrolled to its middle, the compact view shows its characters there (character ${middle})`);

    // Chromium's text box takes 80-260 ms a key on a text this long: the page shows its start, read-only, in the
    // box's place; keys and clicks there cost nothing.
    const preview = await $.visible('#text-preview') && !(await $.visible('#text'));
    const note = await $.text('#text-note');
    check(preview && /4\.\d MB/.test(note), `a 4 MiB text is shown by its start, read-only, and the page says why: ${note.trim().slice(0, 160)}`);
    await phase('keys and clicks in the text box', async () => {
      await $.click('#text-preview');
      await page.keyboard.press('Control+Home');
      await page.keyboard.type('Four', { delay: 30 });
      await page.keyboard.press('Control+End');
      await page.keyboard.type(' golfers', { delay: 30 });
    });
    check((await page.evaluate(() => document.getElementById('text').value)) === text, 'the text to score is unchanged');

    await phase('the colour scale changes (heatmap, compact view and difference map redrawn)', async () => {
      await page.evaluate(() => {
        for (const id of ['heatmap-gzip', 'compact-text', 'diff-heatmap']) document.getElementById(id).removeAttribute('data-drawn');
      });
      await page.evaluate(() => {
        const e = document.getElementById('scale');
        e.value = '6';
        e.dispatchEvent(new Event('input'));
      });
      for (const id of ['heatmap-gzip', 'compact-text']) {
        await $.attached(`#${id}[data-drawn="true"]`);
      }
    });

    await phase('Score again with the compact view shown', async () => {
      await page.evaluate(() => {
        for (const id of ['heatmap-gzip', 'compact-text', 'diff-heatmap']) document.getElementById(id).removeAttribute('data-drawn');
        document.getElementById('panel-gzip').removeAttribute('data-scored');
      });
      await $.click('#score');
      for (const sel of ['#panel-gzip[data-scored="true"]', '#heatmap-gzip[data-drawn="true"]', '#compact-text[data-drawn="true"]', '#diff-heatmap[data-drawn="true"]']) {
        await $.attached(sel);
      }
    });

    // The longest text the box edits, chosen as a file: typing there, at its start and its end.
    const editable = text.slice(0, EDIT_MAX_UNITS);
    await page.evaluate(() => document.getElementById('panel-gzip').removeAttribute('data-scored'));
    await (await $.element('#file')).setInputFiles({ name: 'half.txt', mimeType: 'text/plain', buffer: Buffer.from(editable) });
    await $.attached('#text:not([hidden])', { timeout: 60_000 });
    await $.attached('#panel-gzip[data-scored="true"]');
    await afterFrames(page);
    check(await $.visible('#text') && !(await $.visible('#text-preview')), `a text of ${EDIT_MAX_UNITS} characters is in the box, to edit`);
    await phase(`typing in the text box (${EDIT_MAX_UNITS} characters)`, async () => {
      await $.click('#text');
      await page.keyboard.press('Control+Home');
      await page.keyboard.type('Four', { delay: 30 });
      await page.keyboard.press('Control+End');
      await page.keyboard.type(' golfers', { delay: 30 });
    });
    const typed = await page.evaluate(() => document.getElementById('text').value);
    check(typed.startsWith('Four') && typed.endsWith(' golfers') && typed.length === editable.length + 12, 'what was typed is in the box');
    check(await page.evaluate(() => document.getElementById('panel-gzip').classList.contains('stale')), 'the edited text dims the old result');

    for (const p of phases) check(p.rule.ok, `${p.name}: ${p.rule.words}`);
    await page.close();
  }
});
