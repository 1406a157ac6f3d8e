// The page's shared views in headless Chromium (gzip and AR, so it runs in a minute or two):
// - the summary table has a row per golfer whose bpb equals `golf score --json`, and the three charts are drawn;
// - hovering a character highlights it in every panel and fills every panel's popover; arrow keys step tokens;
// - the colour-scale slider recolours the heatmaps;
// - the difference heatmap covers the text and its bits add up to A's minus B's;
// - the exported JSON equals the native JSON (every span, 1e-4), the CSV has a row per byte, a chart exports as PNG;
// - a share link opened in a new page shows the same text, settings and numbers; a damaged link says so;
// - a 100,000-character text is scored and drawn whole, and an edit of the text box then lands with no
//   main-thread task doing over 50 ms of work;
// - ?ep=webgpu where the browser has no adapter runs on the CPU and says why; Run on changed mid-race stops
//   the moved golfer's lane, saying why; an unknown ?ep= is said;
// - no request leaves 127.0.0.1; no console error. Saves a screenshot of the results.
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  afterNextFrame, check, dom, longTasks, nativeScore, open, raceOnly, recordLongTasks, root, samplesDir, scored, session, shots, taskRule,
  startServer, until,
} from './harness.mjs';

const rel = (a, b) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
// The colour of the bits-per-byte chart's corner (its paper) once something is drawn there, as "r,g,b".
const chartPaper = () => {
  const c = document.querySelector('#chart-bpb');
  const d = c && c.width ? c.getContext('2d').getImageData(2, 2, 1, 1).data : null;
  return d && d[3] ? `${d[0]},${d[1]},${d[2]}` : null;
};

await session('views (browser)', async ({ browser, url, watch }) => {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 1000 } });
  const page = await context.newPage();
  // Main-thread tasks (Chromium's trace), recorded from the start.
  await recordLongTasks(page);
  watch(page);
  await open(page, `${url}?golfers=ar`);
  for (const id of ['gzip', 'ar']) await scored(page, id, { timeout: 600_000 });
  await page.waitForSelector('#summary-ar');
  const text = await page.inputValue('#text');
  const native = { gzip: nativeScore(text, 'gzip'), ar: nativeScore(text, 'ar') };

  // 0. While gzip and AR score (and the page draws their results), no task does over 50 ms of work (the page's
  // rule). (Until the page has drawn them: both heatmaps whole, and the table and charts, whose drawing sets
  // `data-render-ms` on #results when it is over.)
  await page.evaluate(() => document.querySelector('#results').removeAttribute('data-render-ms'));
  const t0 = await page.evaluate(() => performance.now());
  await page.click('#score');
  for (const id of ['gzip', 'ar']) await scored(page, id, { timeout: 300_000 });
  await page.waitForSelector('#results[data-render-ms]', { state: 'attached', timeout: 120_000 });
  const t1 = await afterNextFrame(page);
  const scoring = taskRule(await longTasks(page, t0, t1));
  const renderMs = await page.$$eval('.panel, #results', (ps) => ps.map((p) => `${p.id} ${p.dataset.renderMs}`).join(', '));
  console.log(`     drawing: ${renderMs} ms`);
  check(scoring.ok, `while gzip and AR scored and their results were drawn (${((t1 - t0) / 1e3).toFixed(1)} s): ${scoring.words}`);

  // 1. The table and the charts.
  for (const id of ['gzip', 'ar']) {
    const shown = Number(await page.getAttribute(`#summary-${id}`, 'data-bpb'));
    check(rel(shown, native[id].bpb) < 1e-4, `summary row ${id}: ${shown} = native ${native[id].bpb}`);
  }
  const row = await page.$$eval('#summary-ar td', (tds) => tds.map((t) => t.textContent));
  // With the model charged a short text's number is large, written as a power of ten ("8.5 × 10³").
  const powerOfTen = (s) => {
    const m = /^(\d+\.\d) × 10([⁰¹²³⁴⁵⁶⁷⁸⁹]+)$/.exec(s);
    return m ? Number(m[1]) * 10 ** Number([...m[2]].map((c) => '⁰¹²³⁴⁵⁶⁷⁸⁹'.indexOf(c)).join('')) : Number(s);
  };
  const charged = powerOfTen(row[7]);
  const arBytes = JSON.parse(readFileSync(path.join(root, 'models/ar/golfer.json'), 'utf8')).artifact.bytes;
  const want = (native.ar.bits + 8 * arBytes) / native.ar.bytes;
  check(row.length === 8 && /MB$/.test(row[6]) && rel(charged, want) < 0.01, `AR row with its model charged: ${row.join(' | ')} (${want.toFixed(0)})`);
  for (const id of ['chart-bpb', 'chart-cumulative', 'chart-histogram']) {
    // A drawn chart has many distinct colours; a blank canvas has one.
    const colours = await page.$eval(`#${id}`, (c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const seen = new Set();
      for (let i = 0; i < d.length; i += 16) seen.add(`${d[i]},${d[i + 1]},${d[i + 2]}`);
      return seen.size;
    });
    check(colours > 20, `${id} is drawn (${colours} colours)`);
  }

  // 2. Hover highlights the character in every panel and fills every popover; the arrow key moves by a token.
  await page.hover('#heatmap-gzip span[data-i="300"]');
  const lit = await page.$$eval('.heatmap span.hl', (es) => es.map((e) => `${e.closest('.heatmap').id}:${e.dataset.i}`));
  check(lit.includes('heatmap-gzip:300') && lit.includes('heatmap-ar:300'), `highlighted in every panel: ${lit.join(', ')}`);
  const popAr = await page.textContent('#hover-ar');
  const popGzip = await page.textContent('#hover-gzip');
  check(/\(byte \d+\).*token .* rank \d+.* top: /.test(popAr) && /\(byte \d+\)/.test(popGzip),
    `both popovers show byte 300's character: ${popAr.slice(0, 100)} | ${popGzip.slice(0, 80)}`);
  // The pointer leaves the text first: focusing may scroll the page, and a pointer left over the text would then
  // hover (and highlight) whatever character comes under it.
  await page.mouse.move(0, 0);
  await page.focus('#heatmap-ar');
  await page.keyboard.press('ArrowRight');
  const moved = await page.$eval('#heatmap-ar span.hl', (e) => Number(e.dataset.i));
  check(moved > 300 && moved < 320, `ArrowRight moved to the next token (character ${moved})`);

  // 2b. The popover floats next to the character: pointing at a character in any panel describes that very
  //     character, and neither the popover nor the info lines move the text under the pointer.
  // Characters as the page counts them: grapheme clusters.
  const chars = [...new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(text)].map((g) => g.segment);
  const byteOf = (i) => Buffer.byteLength(chars.slice(0, i).join(''));
  for (const gid of ['gzip', 'ar']) {
    for (const i of [40, 1500, chars.length - 5]) {
      const cell = page.locator(`#heatmap-${gid} span[data-i="${i}"]`);
      await cell.scrollIntoViewIfNeeded();
      const box = await cell.boundingBox();
      const at = [box.x + box.width / 2, box.y + box.height / 2];
      const under = () => page.evaluate(([x, y]) => {
        const e = document.elementFromPoint(x, y);
        return e?.dataset?.i ? `${e.closest('.heatmap').id}:${e.dataset.i}` : `${e?.tagName}#${e?.id}`;
      }, at);
      const before = await under();
      const tops = await page.$$eval('.heatmap', (hs) => hs.map((h) => h.getBoundingClientRect().top));
      await page.mouse.move(...at);
      await until(page, (want) => document.querySelector('#popover:not([hidden])')?.textContent.includes(want), `(byte ${byteOf(i)}`);
      const after = await under();
      const said = (await page.textContent('#popover')) ?? '';
      const topsLater = await page.$$eval('.heatmap', (hs) => hs.map((h) => h.getBoundingClientRect().top));
      check(before === `heatmap-${gid}:${i}` && after === before && said.includes(`(byte ${byteOf(i)}`) && tops.join() === topsLater.join(),
        `${gid}, character ${i}: under the pointer before and after the popover (${before}, ${after}); it says ${JSON.stringify(said.slice(0, 60))}`);
    }
  }
  await page.mouse.move(5, 5);
  const hiddenAfterLeave = await page.$eval('#popover', (p) => p.hidden);
  check(hiddenAfterLeave, 'the popover goes when the pointer leaves the heatmap');

  // 3. The shared colour scale recolours the heatmaps.
  // (A redrawing is parsed outside the page and replaces the shown heatmap once complete: wait for it.)
  const colourOf10 = (differentFrom) => page.waitForFunction((other) => {
    const cell = document.querySelector('#heatmap-ar span[data-i="10"]');
    const done = document.querySelector('#heatmap-ar[data-drawn]');
    return cell && done && cell.style.background !== other ? cell.style.background : null;
  }, differentFrom, { timeout: 60_000 }).then((h) => h.jsonValue(), () => `still ${differentFrom}`);
  const before = await page.$eval('#heatmap-ar span[data-i="10"]', (e) => e.style.background);
  await page.$eval('#scale', (e) => { e.value = '4'; e.dispatchEvent(new Event('input')); });
  const after = await colourOf10(before);
  check(!after.startsWith('still'), `scale 12 -> 4 recolours (${before} -> ${after})`);

  // 3b. GLTR's view: coloured by rank, AR's characters take the colour of their token's rank bucket (the one in
  //     the popover), gzip's have no ranks; back to bits per byte, the colours come back.
  await page.selectOption('#colour-by', 'rank');
  const buckets = { 'rgb(155, 216, 138)': [1, 1], 'rgb(252, 227, 122)': [2, 10], 'rgb(247, 160, 106)': [11, 100], 'rgb(201, 167, 224)': [101, Infinity] };
  await page.waitForSelector('#heatmap-ar[data-drawn]', { state: 'attached' });
  await page.waitForSelector('#heatmap-gzip[data-drawn]', { state: 'attached' });
  const rankSeen = await page.$$eval('#heatmap-ar span[data-i]', (es) => [...new Set(es.map((e) => e.style.background))]);
  const gzipSeen = await page.$$eval('#heatmap-gzip span[data-i]', (es) => [...new Set(es.map((e) => e.style.background))]);
  let agree = 0;
  for (const i of [12, 300, 900, 2000]) {
    await page.hover(`#heatmap-ar span[data-i="${i}"]`);
    const rank = Number(/rank (\d+)/.exec(await page.textContent('#hover-ar'))?.[1]);
    const [lo, hi] = buckets[await page.$eval(`#heatmap-ar span[data-i="${i}"]`, (e) => e.style.background)] ?? [0, -1];
    if (rank >= lo && rank <= hi) agree += 1;
  }
  check(rankSeen.length >= 3 && rankSeen.every((c) => c in buckets) && gzipSeen.join() === 'rgb(221, 221, 221)' && agree === 4
    && /rank/.test(await page.textContent('#legend-label')),
    `by rank: AR in ${rankSeen.length} buckets, 4 of 4 hovered characters in their token's bucket (${agree}), gzip without ranks (${gzipSeen.join()})`);
  const byRank = await page.$eval('#heatmap-ar span[data-i="10"]', (e) => e.style.background);
  await page.selectOption('#colour-by', 'bits');
  const back = byRank === after ? after : await colourOf10(byRank);
  check(back === after, `back to bits per byte (${back})`);
  // Each redrawing leaves every character in its heatmap once, in order, and coloured: a long paragraph (the
  // default text's is 3,600 characters) is redrawn in place, a part a frame, over the earlier drawing.
  for (const gid of ['gzip', 'ar']) {
    await page.waitForSelector(`#heatmap-${gid}[data-drawn]`, { state: 'attached' });
    const seen = await page.$eval(`#heatmap-${gid}`, (h) => {
      const cells = [...h.querySelectorAll('span[data-i]')];
      return { ids: cells.map((e) => Number(e.dataset.i)), text: cells.map((e) => e.textContent).join(''), rest: h.querySelectorAll('.rest').length };
    });
    const inOrder = seen.ids.length === chars.length && seen.ids.every((v, k) => v === k);
    check(inOrder && seen.text === text && seen.rest === 0,
      `${gid}'s redrawn heatmap holds each of the ${chars.length} characters once, in order (${seen.ids.length} cells, ${seen.rest} uncoloured runs)`);
  }

  // 3c. The compact view: the text once, a bar per golfer under each character in its heatmap's colour; its
  //     popover lists every golfer's bits for the character.
  await page.check('#view-compact');
  // Once it shows a character per character of the text (it may be drawn in parts).
  const wantCells = chars.filter((c) => c !== '\n' && c !== '\r\n').length;
  await until(page, (n) => document.querySelectorAll('#compact .cc').length === n, wantCells);
  const compactNow = () => page.evaluate(() => {
    const ccs = [...document.querySelectorAll('#compact .cc')];
    const same = ccs.every((c) => {
      const i = c.dataset.i;
      const bars = [...c.querySelectorAll('i')].map((b) => b.style.background);
      const cells = ['gzip', 'ar'].map((g) => document.querySelector(`#heatmap-${g} span[data-i="${i}"]`)?.style.background);
      return bars.length === 2 && bars.join() === cells.join();
    });
    const bars = [...document.querySelectorAll('#compact .cc i')].map((b) => b.style.background).join();
    return { n: ccs.length, same, bars, heatmapShown: getComputedStyle(document.querySelector('#heatmap-ar')).display !== 'none' };
  });
  const compact = await compactNow();
  await page.hover('#compact .cc[data-i="300"]');
  const compactSaid = (await page.textContent('#popover')) ?? '';
  check(compact.n === wantCells && compact.same && !compact.heatmapShown
    && compactSaid.includes(`(byte ${byteOf(300)})`) && /gzip.*bits/.test(compactSaid) && /bits.*\n.*bits/s.test(compactSaid),
    `compact view: ${compact.n} characters (want ${wantCells}), bars in each heatmap's colours: ${compact.same}; popover ${JSON.stringify(compactSaid.slice(0, 90))}`);
  // A new scale recolours the bars where they stand (the cells are the same elements), each still its heatmap's
  // colour; then the scale goes back.
  const scaleChanged = async (value) => {
    const views = ['compact-text', 'heatmap-gzip', 'heatmap-ar'];
    await page.evaluate((ids) => { for (const id of ids) document.getElementById(id).removeAttribute('data-drawn'); }, views);
    await page.$eval('#scale', (e, v) => { e.value = v; e.dispatchEvent(new Event('input')); }, value);
    for (const id of views) await page.waitForSelector(`#${id}[data-drawn]`, { state: 'attached' });
  };
  const scaleWas = await page.inputValue('#scale');
  await page.$eval('#compact .cc[data-i="300"]', (c) => { c.dataset.probe = 'kept'; });
  await scaleChanged(scaleWas === '9' ? '5' : '9');
  const rescaled = await compactNow();
  const kept = await page.$eval('#compact .cc[data-i="300"]', (c) => c.dataset.probe === 'kept');
  check(rescaled.n === wantCells && rescaled.same && rescaled.bars !== compact.bars && kept,
    `a new scale recolours the compact view's bars in place (same cells: ${kept}), in each heatmap's colours: ${rescaled.same}`);
  await scaleChanged(scaleWas);
  check((await compactNow()).bars === compact.bars, 'the scale back, the bars have their first colours again');
  await page.uncheck('#view-compact');
  check(await page.isVisible('#heatmap-ar') && !(await page.isVisible('#compact')), 'back to the panels');

  // 4. The difference heatmap: by default two different golfers, here AR minus gzip.
  const pair = [await page.inputValue('#diff-a'), await page.inputValue('#diff-b')];
  check(pair[0] !== pair[1], `the difference starts with two golfers (${pair.join(' minus ')})`);
  await page.selectOption('#diff-a', 'ar');
  await page.selectOption('#diff-b', 'gzip');
  // Drawn a part per task: whole once it says so.
  await page.waitForSelector('#diff-heatmap[data-drawn="true"]');
  const diffCells = await page.locator('#diff-heatmap span[data-i]').count();
  const summary = await page.textContent('#diff-summary');
  const total = Number(/([+-]\d+) bits/.exec(summary)?.[1]);
  check(diffCells === chars.length && Math.abs(total - (native.ar.bits - native.gzip.bits)) <= 1,
    `difference heatmap: ${diffCells} characters; ${summary.slice(0, 90)}`);

  // 5. Exports.
  const [json] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  const exported = JSON.parse(readFileSync(await json.path(), 'utf8'));
  for (const id of ['gzip', 'ar']) {
    const g = exported.golfers.find((x) => x.golfer === id);
    const n = native[id];
    const spansMatch = g && g.spans.length === n.spans.length &&
      g.spans.every((s, i) => s.start === n.spans[i].start && s.end === n.spans[i].end && Math.abs(s.bits - n.spans[i].bits) < 1e-4 * Math.max(1, n.spans[i].bits));
    check(g && rel(g.bpb, n.bpb) < 1e-4 && g.bytes === n.bytes && spansMatch,
      `exported JSON for ${id} equals the native JSON (${g?.spans.length} spans)`);
  }
  const [csv] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
  const lines = readFileSync(await csv.path(), 'utf8').trimEnd().split('\n');
  check(lines[0] === 'byte,char,gzip,ar' && lines.length === Buffer.byteLength(text) + 1, `CSV: ${lines.length - 1} byte rows`);
  const [png] = await Promise.all([page.waitForEvent('download'), page.click('#png-chart-bpb')]);
  const pngBytes = readFileSync(await png.path());
  check(pngBytes.subarray(1, 4).toString() === 'PNG' && pngBytes.length > 5000, `chart PNG (${pngBytes.length} bytes)`);
  const paper = await page.evaluate(chartPaper);
  check(paper === '255,255,255', `in light mode the charts are drawn on white (${paper})`);
  await page.$eval('#scale', (e) => { e.value = '12'; e.dispatchEvent(new Event('input')); });
  await page.screenshot({ path: path.join(shots, 'results.png'), fullPage: true });
  // The layout holds at 800 px: nothing wider than the window.
  await page.setViewportSize({ width: 800, height: 900 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  check(overflow <= 800, `at 800 px wide the page is ${overflow} px wide`);
  // The first screen (800 x 900, scrolled to the top) shows results: the first panel's heading and its bits.
  const firstPanel = await page.evaluate(() => {
    window.scrollTo(0, 0);
    const r = document.querySelector('#bpb-gzip').getBoundingClientRect();
    return r.bottom;
  });
  check(firstPanel < 900, `at 800 x 900 the first panel's bits per byte is on the first screen (its bottom at ${firstPanel.toFixed(0)} px)`);
  await page.screenshot({ path: path.join(shots, 'narrow-800px.png') });
  await page.setViewportSize({ width: 1200, height: 1000 });

  // 6. A share link reproduces the view in a new page.
  const shared = 'Shared text: déjà vu 😀 — the cat sat on the mat. '.repeat(8);
  await page.fill('#text', shared);
  await page.click('#score');
  await scored(page, 'ar', { timeout: 300_000 });
  const bpbHere = Number(await page.getAttribute('#bpb-ar', 'data-bpb'));
  await page.$eval('#scale', (e) => { e.value = '7.5'; e.dispatchEvent(new Event('input')); });
  await page.click('#share');
  const link = await page.inputValue('#share-link');
  check(link.includes('#t=') && link.includes('&s=7.5&e=nelbo'), `share link made (${link.length} characters)`);
  const page2 = await context.newPage();
  watch(page2);
  await page2.emulateMedia({ colorScheme: 'dark' });
  await open(page2, link.replace('/#', '/?golfers=ar#'));
  await page2.waitForSelector('#panel-ar[data-scored="true"]', { timeout: 600_000 });
  const text2 = await page2.inputValue('#text');
  const bpb2 = Number(await page2.getAttribute('#bpb-ar', 'data-bpb'));
  const scale2 = await page2.inputValue('#scale');
  // The same to 1e-6: the page sizes its model calls by their speed, and float sums differ in the last digits.
  check(text2 === shared && rel(bpb2, bpbHere) < 1e-6 && scale2 === '7.5',
    `the link opens the same text, scale ${scale2} and AR bpb ${bpb2} (was ${bpbHere})`);
  // That page asked for dark mode: its charts use the page's dark panel colour (style.css), not white.
  const darkPaper = await until(page2, chartPaper);
  check(darkPaper === '30,32,38', `in dark mode the charts are drawn on the dark panel colour (${darkPaper})`);
  await page2.close();
  // A new page: changing only the fragment of an open page does not reload it.
  const page3 = await context.newPage();
  watch(page3);
  await open(page3, `${url}?golfers=ar#t=@@@`);
  const damaged = await page3.textContent('#error');
  check(/could not be read/.test(damaged) && (await page3.inputValue('#text')) === text,
    `a damaged link says so and shows the default text: ${damaged}`);
  await page3.close();
  // A link with one bad setting keeps its text and its other settings, and says which setting was ignored.
  const page5 = await context.newPage();
  watch(page5);
  await open(page5, `${link}&k=0`);
  const ignored = await page5.textContent('#error');
  const kept5 = { text: await page5.inputValue('#text'), scale: await page5.inputValue('#scale') };
  check(kept5.text === shared && kept5.scale === '7.5' && /NELBO's K[^;]*"0"/.test(ignored),
    `a link with a bad setting keeps its text (${kept5.text === shared ? 'the same' : JSON.stringify(kept5.text.slice(0, 60))}) and scale (${kept5.scale}): ${ignored}`);
  await page5.close();

  // 7. The text picker: a sample is scored at once; a file too; a file that is not UTF-8 says so.
  await page.selectOption('#sample', 'enwik8');
  await page.waitForFunction(() => document.querySelector('#text').value.includes('[['));
  await page.waitForSelector('#panel-ar[data-scored="true"]', { timeout: 300_000 });
  const enwik = await page.inputValue('#text');
  const enwikAr = Number(await page.getAttribute('#bpb-ar', 'data-bpb'));
  check(rel(enwikAr, nativeScore(enwik, 'ar').bpb) < 1e-4, `the enwik8 sample scored (AR ${enwikAr.toFixed(4)} bits/byte)`);
  const mine = 'A file of my own: naïve café, 42 µm.\n';
  await page.setInputFiles('#file', { name: 'mine.txt', mimeType: 'text/plain', buffer: Buffer.from(mine) });
  await page.waitForFunction((t) => document.querySelector('#text').value === t, mine);
  await page.waitForSelector('#panel-gzip[data-scored="true"]', { timeout: 120_000 });
  check((await page.inputValue('#sample')) === 'own' &&
    Number(await page.getAttribute('#bpb-gzip', 'data-bpb')) === nativeScore(mine).bpb, 'a chosen file is scored');
  await page.evaluate(() => { document.querySelector('#error').hidden = true; });
  await page.setInputFiles('#file', { name: 'latin1.txt', mimeType: 'text/plain', buffer: Buffer.from([0x63, 0x61, 0x66, 0xe9]) });
  await page.waitForSelector('#error:not([hidden])');
  check(/latin1\.txt is not UTF-8 text \(byte 3/.test(await page.textContent('#error')), `a non-UTF-8 file: ${await page.textContent('#error')}`);

  // 8. Golfer toggles: an unticked golfer's panel hides and leaves the table.
  await page.uncheck('#score-gzip');
  // The table is drawn again in a task of its own: wait for the row to go (or the check fails).
  const hidden = await until(page, () => document.querySelector('#panel-gzip').hidden && !document.querySelector('#summary-gzip'));
  check(hidden === true, 'unticking gzip hides its panel and its table row');
  await page.check('#score-gzip');
  await page.waitForSelector('#summary-gzip');
  check(await page.isVisible('#panel-gzip'), 'ticking it again brings it back');
  const header = await page.textContent('#about-ar');
  check(/\[[\d,]+ parameters · \d+\.\d\d MB on disk\]/.test(header), `the header gives the AR golfer's numbers: ${header.slice(-60)}`);

  // 8a. An edit of the text dims the old text's results at once and takes its share link away; unticking a
  // golfer mid-score stops its run, not only hides its panel.
  await page.click('#share');
  await page.waitForSelector('#share-link:not([hidden])');
  await page.type('#text', ' and more');
  const dimmed = await page.evaluate(() => document.querySelector('#panel-ar').classList.contains('stale') &&
    document.querySelector('#share-link').hidden);
  check(dimmed, 'an edit dims the old results and hides the old share link');
  await page.fill('#text', readFileSync(path.join(samplesDir, 'fineweb-val-first-docs.txt'), 'utf8'));
  await page.click('#score');
  await page.waitForSelector('#panel-ar[data-progress]', { timeout: 120_000 });
  // Unticked between two of its steps (the box clicked from the page's own thread, with the progress it shows).
  const atUntick = await page.evaluate(() => {
    document.querySelector('#score-ar').click();
    return Number(document.querySelector('#panel-ar').dataset.progress);
  });
  // The page marks when AR's worker has taken the cancel: `data-stopped`, the steps it ran after it came.
  await page.waitForSelector('#panel-ar[data-stopped]', { state: 'attached', timeout: 120_000 });
  const stopped = await page.$eval('#panel-ar', (p) => ({
    steps: Number(p.dataset.stopped), progress: Number(p.dataset.progress), scored: p.dataset.scored,
    status: document.querySelector('#status-ar').textContent,
  }));
  check(stopped.steps <= 1 && stopped.progress === atUntick && stopped.status === 'cancelled' && !stopped.scored,
    `unticking AR mid-score stopped its run (its worker ran ${stopped.steps} step(s) after; ${atUntick} -> ${stopped.progress} tokens, "${stopped.status}")`);
  await page.check('#score-ar');
  await page.waitForSelector('#panel-ar[data-scored="true"]', { timeout: 300_000 });

  // 8b. Race settings outside their boxes' range or meaning are refused with one message, and no lane starts.
  await raceOnly(page, ['gzip']);
  for (const [id, value, want] of [['temperature', '5', /Temperature must be from 0 to 3, not 5/],
    ['top-p', '0', /Top-p must be from 0.05 to 1, not 0/], ['max-tokens', '2.5', /Max tokens must be a whole number/],
    ['seed', '', /Seed: “” is not a number/]]) {
    const before = await page.inputValue(`#${id}`);
    await page.fill(`#${id}`, value);
    await page.evaluate(() => { document.querySelector('#error').hidden = true; });
    await page.click('#generate');
    await page.waitForSelector('#error:not([hidden])');
    const said = await page.textContent('#error');
    check(want.test(said) && (await page.locator('#lanes .lane').count()) === 0, `race refused with ${id} = "${value}": ${said}`);
    await page.fill(`#${id}`, before);
  }

  // 8c. Pasted text obeys the files' 4 MB limit: refused with the reason, the last results kept.
  const textBefore = await page.inputValue('#text');
  await page.$eval('#text', (e, n) => { e.value = 'a'.repeat(n); }, 4_500_000);
  await page.evaluate(() => { document.querySelector('#error').hidden = true; });
  await page.click('#score');
  await page.waitForSelector('#error:not([hidden])');
  const tooBig = await page.textContent('#error');
  check(/The text is 4\.5 MB; the page scores texts up to 4 MB/.test(tooBig), `4.5 MB of pasted text: ${tooBig}`);
  await page.$eval('#text', (e, t) => { e.value = t; }, textBefore);

  // 9. The production build works from a sub-path (every URL in it is relative).
  const holder = mkdtempSync(path.join(tmpdir(), 'golf-sub-'));
  symlinkSync(path.join(root, 'dist'), path.join(holder, 'four-golfers'));
  const sub = await startServer(holder);
  const page4 = await context.newPage();
  watch(page4, sub.url);
  await open(page4, `${sub.url}four-golfers/?golfers=ar`);
  await page4.waitForSelector('#panel-ar[data-scored="true"]', { timeout: 600_000 });
  check(rel(Number(await page4.getAttribute('#bpb-ar', 'data-bpb')), native.ar.bpb) < 1e-4,
    'served from /four-golfers/, the page loads the AR golfer and scores the default text');
  await page4.close();
  sub.server.kill();

  // 10. A 100,000-character text: gzip and AR score it, their heatmaps are drawn whole, and an edit of the text
  // box lands with no main-thread task doing over 50 ms of work (the heatmaps are blocks the browser lays out
  // only where they are on screen).
  const paragraphs = ['fineweb-val-first-docs.txt', 'fineweb-edu-excerpt.txt', 'enwik8-excerpt.txt']
    .flatMap((f) => readFileSync(path.join(samplesDir, f), 'utf8').split('\n').filter((l) => l.trim()));
  let long100k = '';
  for (let i = 0; long100k.length < 100_000; i++) long100k += `${i}. ${paragraphs[i % paragraphs.length]}\n`;
  long100k = long100k.slice(0, 100_000);
  await page.$eval('#text', (e, t) => { e.value = t; e.dispatchEvent(new Event('input')); }, long100k);
  await page.evaluate(() => { for (const p of document.querySelectorAll('.panel')) p.removeAttribute('data-scored'); });
  const tScore = Date.now();
  await page.click('#score');
  for (const id of ['gzip', 'ar']) await dom(page).attached(`#panel-${id}[data-scored="true"]`, { timeout: 600_000 });
  const chars100k = await page.evaluate(() => [...new Intl.Segmenter().segment(document.querySelector('#text').value)].length);
  await page.waitForFunction(() => ['gzip', 'ar'].every((id) => document.querySelector(`#heatmap-${id}`).dataset.drawn === 'true'),
    null, { timeout: 300_000, polling: 500 });
  // Counted in the page (harness.mjs `dom`: Playwright's selectors would leave 200,000 wrappers for the garbage
  // collector of the edit measured below).
  const drawn = await page.evaluate(() => document.querySelectorAll('#heatmap-gzip span[data-i], #heatmap-ar span[data-i]').length);
  check(drawn === 2 * chars100k, `both heatmaps hold every one of the ${chars100k} characters (${drawn / 2})`);
  const blocks = await page.evaluate(() => document.querySelectorAll('#heatmap-ar .hb').length);
  console.log(`     100,000 characters: scored and drawn in ${((Date.now() - tScore) / 1e3).toFixed(1)} s, ${blocks} blocks per heatmap`);
  const ar100k = nativeScore(long100k, 'ar').bpb;
  check(rel(Number(await page.evaluate(() => document.getElementById('bpb-ar').dataset.bpb)), ar100k) < 1e-4, `AR on 100,000 characters: the native bpb ${ar100k.toFixed(6)}`);
  await page.evaluate(() => document.getElementById('text').focus());
  await page.keyboard.press('Control+End');
  const typedAt = await page.evaluate(() => performance.now());
  await page.keyboard.type('!');
  // The edit has landed when the box holds it and the panels show their numbers are of another text.
  await page.waitForFunction(() => document.querySelector('#text').value.endsWith('!') &&
    document.querySelector('#panel-ar').classList.contains('stale'), null, { polling: 'raf' });
  const landed = await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(performance.now()))));
  // Every task of the edit is over once the frames that show it are drawn.
  const settled = await afterNextFrame(page);
  const edit = taskRule(await longTasks(page, typedAt, settled));
  check(edit.ok, `an edit of the 100,000-character text (landed in ${(landed - typedAt).toFixed(0)} ms): ${edit.words}`);

  // 11. WebGPU asked for where the browser has no adapter (this Chromium without --enable-unsafe-webgpu): the
  // golfer runs on the CPU and says why; a device the page does not know is said and ignored.
  const noGpu = await context.newPage();
  watch(noGpu);
  await open(noGpu, `${url}?golfers=ar&ep=webgpu`);
  await noGpu.waitForSelector('#panel-ar[data-scored="true"]', { timeout: 600_000 });
  const noGpuSays = await noGpu.textContent('#runs-on-ar');
  check((await noGpu.getAttribute('#panel-ar', 'data-device')) === 'wasm' && /no WebGPU adapter/.test(noGpuSays),
    `?ep=webgpu without an adapter: "${noGpuSays}"`);
  // Run on changed during a race: the moved golfer's lane stops and says why (it waited for its old worker
  // forever), the race ends, and the golfer scores again in its new worker.
  await raceOnly(noGpu, ['ar']);
  await noGpu.fill('#max-tokens', '1000');
  await noGpu.fill('#max-bytes', '4000');
  await noGpu.click('#generate');
  await noGpu.waitForFunction(() => (document.querySelector('#lane-out-ar')?.textContent.length ?? 0) > 30, null, { timeout: 300_000 });
  await noGpu.selectOption('#device', 'cpu');
  await noGpu.waitForSelector('#lanes[data-done="true"]', { state: 'attached', timeout: 30_000 });
  const movedSays = await noGpu.textContent('#lane-stats-ar');
  await noGpu.waitForFunction(() => !/moving/.test(document.querySelector('#runs-on-ar').textContent)
    && !document.querySelector('#panel-ar').classList.contains('stale'), null, { timeout: 300_000 });
  check(/moved to cpu/.test(movedSays) && (await noGpu.getAttribute('#panel-ar', 'data-device')) === 'wasm',
    `Run on changed mid-race: the lane says "${movedSays}", the race ended, AR scored again on the CPU`);
  await open(noGpu, `${url}?golfers=none&ep=tpu`);
  await noGpu.waitForSelector('#error:not([hidden])');
  const badEp = await noGpu.textContent('#error');
  check(/\?ep=tpu is not a device/.test(badEp) && (await noGpu.inputValue('#device')) === 'auto', `?ep=tpu: ${badEp}`);
  await noGpu.close();
});
