// Headless Chromium against the built page (dist/), served by scripts/serve.py on 127.0.0.1.
// Checks: each golfer's bpb shown equals `golf score --json` on the same text (gzip exactly, AR and SmolLM2 to
// 1e-4, under both byte counts); the SmolLM2 download shows progress and a reload takes it from Cache Storage;
// a corrupted model file names itself and the rebuild command; hover shows a byte's bits (and a token's rank and
// top-10); cancel stops scoring within one step; pasted markup stays text; generation streams for gzip, AR and
// SmolLM2 (chat), and in a race each lane writes its tokens and states the speed of its own clock; no request
// leaves 127.0.0.1; no console error. Every read waits for what the page says it has done (its set-up, a score,
// a drawing, a worker's stop), never for time; how fast the lanes race is printed by `bench.mjs race`.
// Saves screenshots to tests/browser/screenshots/.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { check, golfRun, nativeScore, open, raceOnly, reload, startClockedRace, samplesDir, scored, session, shots } from './harness.mjs';

await session('page (browser)', async ({ browser, url, watch, outside }) => {
  const page = watch(await browser.newPage({ viewport: { width: 1200, height: 1000 } }));
  // Every text SmolLM2's download row shows while its bar moves, as the page shows it (a download from
  // 127.0.0.1 may be over between two polls).
  await page.addInitScript(() => {
    window.smolNotes = [];
    const seen = new MutationObserver(() => {
      const bar = document.getElementById('progress-smollm2');
      const note = document.getElementById('progress-text-smollm2');
      if (bar && note && bar.value > 0 && bar.max > 1e6 && window.smolNotes.at(-1) !== note.textContent) {
        window.smolNotes.push(note.textContent);
      }
      if (document.querySelector('#download-smollm2[data-done]')) seen.disconnect();
    });
    seen.observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  });

  await open(page, url);
  // Where SmolLM2's panel will be, while the golfers above it load (in page coordinates).
  const topOf = (sel) => page.$eval(sel, (e) => e.getBoundingClientRect().top + window.scrollY);
  const reservedTop = await topOf('#slot-smollm2');
  // And where it is at every frame until it has scored: a jump that comes and goes counts too.
  await page.evaluate(() => {
    window.smolTops = { min: Infinity, max: -Infinity };
    const step = () => {
      const e = document.querySelector('#panel-smollm2') || document.querySelector('#slot-smollm2');
      if (e) {
        const top = e.getBoundingClientRect().top + window.scrollY;
        window.smolTops.min = Math.min(window.smolTops.min, top);
        window.smolTops.max = Math.max(window.smolTops.max, top);
      }
      if (!document.querySelector('#panel-smollm2[data-scored="true"]')) requestAnimationFrame(step);
    };
    step();
  });
  // Every golfer loads at once, each in its own worker: SmolLM2's download (97 MB, with a progress bar) runs while
  // gzip scores and the AR golfer loads.
  await page.waitForSelector('#panel-gzip[data-scored="true"]', { timeout: 120_000 });
  await page.waitForSelector('#panel-ar[data-scored="true"]', { timeout: 300_000 });
  await page.waitForSelector('#panel-smollm2[data-scored="true"]', { timeout: 600_000 });
  const notes = await page.evaluate(() => window.smolNotes);
  const progressSeen = notes.find((n) => / of 9\d\.\d MB/.test(n));
  check(progressSeen !== undefined, `SmolLM2 download progress shown (${progressSeen ?? JSON.stringify(notes)})`);
  check((await page.getAttribute('#download-smollm2', 'data-source')) === 'network', 'first visit downloads SmolLM2');
  console.log(`     SmolLM2: ${await page.textContent('#progress-text-smollm2')}; ${await page.textContent('#status-smollm2')}`);
  // The page did not jump as the golfers above it arrived: SmolLM2's panel is where its place was kept.
  const loadedTop = await topOf('#panel-smollm2');
  const tops = await page.evaluate(() => window.smolTops);
  check(Math.abs(loadedTop - reservedTop) < 30 && tops.max - tops.min < 30,
    `SmolLM2's panel kept its place while the golfers above it loaded and drew (${reservedTop.toFixed(0)} -> ${loadedTop.toFixed(0)} px; between ${tops.min.toFixed(0)} and ${tops.max.toFixed(0)} px)`);

  // 1. The default text's bpb equals the native CLI's on the same text.
  const text = await page.inputValue('#text');
  check(text.length > 1000, `default text is loaded (${text.length} chars)`);
  const shown = Number(await page.getAttribute('#bpb-gzip', 'data-bpb'));
  const native = nativeScore(text);
  check(Math.abs(shown - native.bpb) < 1e-12, `browser bpb ${shown} equals native ${native.bpb}`);
  check((await page.textContent('#bpb-gzip')) === native.bpb.toFixed(4), 'the shown bpb is rounded from it');
  const arNative = nativeScore(text, 'ar');
  const arShown = Number(await page.getAttribute('#bpb-ar', 'data-bpb'));
  const arGolf = Number(await page.getAttribute('#golf-bpb-ar', 'data-bpb'));
  check(Math.abs(arShown - arNative.bpb) / arNative.bpb < 1e-4, `AR browser bpb ${arShown} equals native ${arNative.bpb}`);
  check(Math.abs(arGolf - arNative.golf_bpb) / arNative.golf_bpb < 1e-4,
    `AR browser Parameter Golf bpb ${arGolf} equals native ${arNative.golf_bpb}`);
  console.log(`     AR: ${await page.textContent('#status-ar')}`);
  const smolNative = nativeScore(text, 'smollm2');
  const smolShown = Number(await page.getAttribute('#bpb-smollm2', 'data-bpb'));
  check(Math.abs(smolShown - smolNative.bpb) < 1e-4,
    `SmolLM2 browser bpb ${smolShown} equals native ${smolNative.bpb} (difference ${Math.abs(smolShown - smolNative.bpb).toExponential(2)})`);

  // Time to score the default text again, from click to the new result (printed, not checked). Every golfer
  // that has loaded scores again (the click takes its panel's mark away); the diffusion golfer, if it is still
  // loading, scores when it is ready.
  const t0 = Date.now();
  await page.click('#score');
  await page.waitForSelector('#panel-gzip[data-scored="true"]', { timeout: 120_000 });
  const clickToResult = Date.now() - t0;
  for (const id of ['gzip', 'ar', 'mdlm', 'smollm2']) await scored(page, id, { timeout: 600_000 });
  const status = await page.textContent('#status-gzip');
  console.log(`     rescoring the default text: ${clickToResult} ms from click to result (${status})`);

  // 2. Hovering a character shows its bits and its symbol.
  const cells = await page.locator('#heatmap-gzip span[data-i]').count();
  check(cells === [...new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(text)].length, `one heatmap cell per character (${cells})`);
  await page.hover('#heatmap-gzip span[data-i="200"]');
  const hover = await page.textContent('#hover-gzip');
  check(/\(byte \d+\): \d+\.\d\d bits .* its symbol covers/.test(hover), `hover text: ${hover}`);
  await page.hover('#heatmap-ar span[data-i="200"]');
  const arHover = await page.textContent('#hover-ar');
  check(/token .* bits, rank \d+.* top: /.test(arHover), `AR hover text: ${arHover.slice(0, 160)}`);
  await page.hover('#heatmap-smollm2 span[data-i="200"]');
  const smolHover = await page.textContent('#hover-smollm2');
  check(/token .* bits, rank \d+.* top: /.test(smolHover), `SmolLM2 hover text: ${smolHover.slice(0, 160)}`);
  // Hovering one panel highlights the character in all four and fills every panel's popover.
  await page.hover('#heatmap-gzip span[data-i="300"]');
  for (const id of ['gzip', 'ar', 'mdlm', 'smollm2']) {
    const pop = await page.textContent(`#hover-${id}`);
    const lit = await page.locator(`#heatmap-${id} span.hl[data-i="300"]`).count();
    check(lit === 1 && /\(byte 306\)/.test(pop) && (id === 'gzip' || /rank \d+.* top: /.test(pop)),
      `${id} popover for byte 306: ${pop.slice(0, 110)}`);
  }
  await page.screenshot({ path: path.join(shots, 'bits-per-byte.png'), fullPage: true });

  // 3. Cancel stops a long score within one step (SmolLM2 prefills at most 128 tokens per step).
  const long = readFileSync(path.join(samplesDir, 'fineweb-val-first-docs.txt'), 'utf8');
  await page.fill('#text', long);
  await page.click('#score');
  await page.waitForSelector('#panel-smollm2[data-progress]', { timeout: 300_000 });
  // A click dispatched as soon as the page's main thread is free between steps (an inference step holds it; a
  // pointer click's actionability checks would need several frames in a row).
  const atCancel = await page.evaluate(() => {
    document.querySelector('#cancel').click();
    return Number(document.querySelector('#panel-smollm2').dataset.progress);
  });
  // The page marks when SmolLM2's worker has taken the cancel: `data-stopped`, the steps it ran after the cancel
  // reached it (the one in progress at most).
  await page.waitForSelector('#panel-smollm2[data-stopped]', { state: 'attached', timeout: 300_000 });
  const cancelled = await page.$eval('#panel-smollm2', (p) => ({
    steps: Number(p.dataset.stopped), progress: Number(p.dataset.progress), scored: p.dataset.scored,
    status: document.querySelector('#status-smollm2').textContent,
  }));
  check(cancelled.steps <= 1 && cancelled.progress === atCancel && cancelled.status === 'cancelled' && !cancelled.scored,
    `cancel stopped SmolLM2 within one step (its worker ran ${cancelled.steps} step(s) after the cancel came; the panel stayed at ${cancelled.progress} of the tokens it had at the click, ${atCancel}; status "${cancelled.status}")`);

  // 4. Pasted markup is rendered as text, never parsed.
  await page.evaluate(() => document.querySelector('#panel-ar').removeAttribute('data-scored'));
  const evil = '<img src="http://198.51.100.7/x.png" onerror="console.error(\'injected\')"><b>bold</b> & <script>console.error(1)</script>';
  await page.fill('#text', evil);
  await page.evaluate(() => document.querySelector('#panel-gzip').removeAttribute('data-scored'));
  await page.click('#score');
  await scored(page, 'gzip', { timeout: 120_000 });
  const heat = await page.$eval('#heatmap-gzip', (el) => ({ text: el.textContent, tags: el.querySelectorAll('img,b,script').length }));
  check(heat.text === evil && heat.tags === 0, 'pasted markup shows as text and creates no elements');
  check(Number(await page.getAttribute('#bpb-gzip', 'data-bpb')) === nativeScore(evil).bpb, 'markup text bpb equals native');

  // 5. An empty text gets a clear error, not a crash.
  await page.fill('#text', '');
  await page.evaluate(() => { document.querySelector('#error').hidden = true; });
  await page.click('#score');
  await page.waitForSelector('#error:not([hidden])');
  check(/empty/.test(await page.textContent('#error')), 'empty text shows an error banner');
  const kept = await page.$eval('#panel-gzip', (el) => ({ stale: el.classList.contains('stale'), scored: el.dataset.scored }));
  check(!kept.stale && kept.scored === 'true', 'an empty text leaves the last results as they were, not dimmed');

  // 6. Generation: each golfer alone, then a 32-token race of all four.
  await page.fill('#prompt', 'The adrenal glands are');
  await page.fill('#max-bytes', '120');
  await raceOnly(page, ['gzip']);
  await page.click('#generate');
  await page.waitForSelector('#lanes[data-done="true"]', { timeout: 120_000 });
  const generated = await page.textContent('#lane-out-gzip');
  const pieces = await page.locator('#lane-out-gzip .canvas span').count();
  check(generated.startsWith('The adrenal glands are') && generated.length > 'The adrenal glands are'.length,
    `generation appended text (${generated.length - 22} chars in ${pieces} streamed pieces)`);
  check(pieces > 5, 'generation streamed in many pieces');
  console.log(`     gzip: ${await page.textContent('#lane-stats-gzip')}`);
  await raceOnly(page, ['ar']);
  await page.fill('#max-bytes', '100');
  await page.click('#generate');
  await page.waitForSelector('#lanes[data-done="true"]', { timeout: 300_000 });
  const arText = await page.textContent('#lane-out-ar');
  const arPieces = await page.locator('#lane-out-ar .canvas span').count();
  check(arText.startsWith('The adrenal glands are') && arPieces > 5, `AR generation streamed ${arPieces} tokens`);
  console.log(`     AR: ${await page.textContent('#lane-stats-ar')}: ${JSON.stringify(arText.slice(0, 120))}`);
  await raceOnly(page, ['smollm2']);
  await page.fill('#prompt', 'What is the capital of France?');
  await page.fill('#temperature', '0');
  await page.fill('#max-bytes', '400');
  await page.check('#chat');
  await page.click('#generate');
  await page.waitForSelector('#lanes[data-done="true"]', { timeout: 600_000 });
  const chat = await page.textContent('#lane-out-smollm2');
  check(/Paris/.test(chat) && !/im_end/.test(chat), `SmolLM2 chat answer: ${JSON.stringify(chat.slice(0, 160))}`);
  // Decoded in the worker by golf-llama's SIMD128 kernels; the CLI decodes with its AVX2 ones: the same answer.
  const cliChat = golfRun(['generate', '--golfer', 'smollm2', '--chat', '--prompt', 'What is the capital of France?',
    '--temperature', '0', '--max-bytes', '400', '--max-tokens', await page.inputValue('#max-tokens'),
    '--top-p', await page.inputValue('#top-p'), '--repetition-penalty', await page.inputValue('#repetition-penalty')]);
  const cliAnswer = cliChat.slice(cliChat.indexOf('\n') + 1).replace(/\n$/, '');
  check(chat === `What is the capital of France?\n${cliAnswer}`, `the page's greedy answer is the CLI's (${cliAnswer.length} characters)`);
  console.log(`     SmolLM2: ${await page.textContent('#lane-stats-smollm2')}`);
  await page.uncheck('#chat');

  // The race: every golfer at once, 64 tokens each. Each lane writes its tokens, and its stated speed is what it
  // wrote per second of its own clock (from the race's start to its last token), which lies within the page's
  // clock from the click to the lane's end. How fast the lanes are against each other is a benchmark's question
  // (`node tests/browser/bench.mjs race`), not this test's.
  await startClockedRace(page, ['gzip', 'ar', 'mdlm', 'smollm2']);
  await page.waitForSelector('#lanes[data-done="true"]', { timeout: 600_000 });
  const clock = await page.evaluate(() => window.raceClock);
  const lanes = await page.$$eval('.lane', (ls) => ls.map((l) => ({
    id: l.id, tokens: Number(l.dataset.tokens), tps: Number(l.dataset.tokensPerS), ttft: Number(l.dataset.ttftMs),
    elapsed: Number(l.dataset.elapsedMs), error: l.dataset.error ?? null,
    pieces: l.querySelectorAll('.canvas span').length, stats: l.querySelector('.status').textContent,
  })));
  check(lanes.length === 4, `four lanes raced`);
  for (const l of lanes) {
    // gzip may stop a piece early at its byte limit; the models write exactly 64 tokens.
    const expected = l.id === 'lane-gzip' ? l.tokens > 0 && l.tokens <= 64 : l.tokens === 64;
    const wall = clock.done[l.id].at - clock.start;
    const own = (l.tokens * 1e3) / l.elapsed;
    const said = Number(/([\d.]+) tokens\/s/.exec(l.stats)?.[1]);
    check(expected && l.error === null && l.pieces > 1 && l.ttft > 0 && l.ttft <= l.elapsed && l.elapsed <= wall &&
      Math.abs(l.tps - own) <= 1e-9 * own && Math.abs(said - l.tps) <= 0.05 + 1e-9 && l.stats.startsWith(`${l.tokens} tokens`),
      `${l.id}: ${l.stats}; it wrote ${l.tokens} tokens in ${(l.elapsed / 1e3).toFixed(2)} s of its own clock (${own.toFixed(1)} tokens/s), within the ${(wall / 1e3).toFixed(2)} s from the click to its end`);
  }
  await page.screenshot({ path: path.join(shots, 'generation.png'), fullPage: true });

  // 7. A reload takes SmolLM2 from the browser's Cache Storage, not the network (the whole file, or any of the
  //    parts the page serves it in).
  let modelRequests = 0;
  page.on('request', (r) => { if (/\/models\/smollm2\/model\.onnx(\.part\d+)?$/.test(r.url())) modelRequests += 1; });
  await reload(page);
  await page.waitForSelector('#download-smollm2[data-done="true"]', { state: 'attached', timeout: 300_000 });
  check((await page.getAttribute('#download-smollm2', 'data-source')) === 'cache' && modelRequests === 0,
    `reload used the cached model (${await page.textContent('#progress-text-smollm2')}; ${modelRequests} downloads)`);

  // 8. A corrupted model file (fresh browser profile, tokenizer bytes altered in transit) names the file and
  //    the command that rebuilds it.
  const fresh = await browser.newContext();
  const page2 = await fresh.newPage();
  page2.on('request', (r) => { if (!r.url().startsWith(url)) outside.push(r.url()); });
  await page2.route('**/models/smollm2/tokenizer.json', async (route) => {
    const resp = await route.fetch();
    const body = Buffer.from(await resp.body());
    body[100] ^= 1;
    await route.fulfill({ response: resp, body });
  });
  await open(page2, `${url}?bench=smollm2`);
  await page2.waitForSelector('#error:not([hidden])', { timeout: 300_000 });
  const banner = await page2.textContent('#error');
  check(/models\/smollm2\/tokenizer\.json: sha256 .* Rebuild it with: python scripts\/smollm2\/build\.py/.test(banner),
    `corrupted file error: ${banner.slice(0, 200)}`);
  await fresh.close();

  // 9. A part of the model altered in transit is named, with the command that makes the parts again.
  const fresh3 = await browser.newContext();
  const page3 = await fresh3.newPage();
  page3.on('request', (r) => { if (!r.url().startsWith(url)) outside.push(r.url()); });
  await page3.route('**/models/smollm2/model.onnx.part03', async (route) => {
    const resp = await route.fetch();
    const body = Buffer.from(await resp.body());
    body[12345] ^= 1;
    await route.fulfill({ response: resp, body });
  });
  await open(page3, `${url}?bench=smollm2`);
  await page3.waitForSelector('#error:not([hidden])', { timeout: 300_000 });
  const said = await page3.textContent('#error');
  check(/models\/smollm2\/model\.onnx\.part03: sha256 [0-9a-f]{64} does not match its parts manifest's [0-9a-f]{64}\. Rebuild the page with: scripts\/build\.sh/.test(said),
    `corrupted part error: ${said.slice(0, 240)}`);
  await fresh3.close();
});
