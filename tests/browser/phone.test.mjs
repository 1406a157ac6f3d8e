// The page as a phone visitor meets it (390 x 844, touch, as Playwright's mobile emulation lays it out) and the
// first screen at 1280 x 800:
// - on a phone, no horizontal overflow at any point of a session (set-up, scoring, the settings, the compact view,
//   the summary table, a race), the table scrolling inside its own box;
// - a tap on a character shows its popover entirely on screen, near every edge (left, right, the bottom of the
//   screen: it flips up); a scroll hides it, and so does a tap elsewhere; a tap on a race's token shows what the
//   golfer considered;
// - SmolLM2's 97 MB download is asked about first on a phone with a save-data connection (no byte of it before
//   the answer), and on a desktop with one, and not on a desktop without;
// - after scoring, the first heatmap row and every golfer's bpb are on the first screen, phone and desktop
//   (screenshots of both in tests/browser/screenshots/);
// - a full-page capture shows every panel: once the page says its work is done and what is off screen is rendered
//   (`#app[data-revealed]`), no heatmap block and nothing of the race is left out (content-visibility), desktop
//   and phone (the captures in tests/browser/screenshots/);
// - printed (print media, as Save as PDF renders), every panel is drawn (no block left out by content-visibility).
import { check, open, raceOnly, scored, session, shots } from './harness.mjs';
import path from 'node:path';

const GOLFERS = ['gzip', 'ar', 'mdlm', 'smollm2'];
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 3 };
const DESKTOP = { viewport: { width: 1280, height: 800 } };
const saveData = () => Object.defineProperty(Navigator.prototype, 'connection',
  { configurable: true, get: () => ({ saveData: true, effectiveType: '4g' }) });

/// Whether the page's document is wider than the phone's screen (what a visitor would have to scroll sideways to
/// see). A phone's browser widens its layout viewport to fit wide content (innerWidth grows past the screen), so
/// the document and the layout viewport are both measured against the screen.
const overflow = (page) => page.evaluate(() => {
  const wide = Math.max(document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth);
  return wide > screen.width ? `${wide} px wide on a ${screen.width} px screen` : null;
});
async function noOverflow(page, when) {
  const says = await overflow(page);
  check(says === null, `phone, ${when}: no horizontal scroll${says ? ` (${says})` : ''}`);
}

/// Records whether the page ever asked before a download, and the model requests before each answer.
async function watchAsking(page) {
  await page.addInitScript(() => {
    window.asked = [];
    new MutationObserver((changes) => {
      for (const c of changes) if (c.target.hasAttribute?.('data-asking')) window.asked.push(c.target.id);
    }).observe(document, { attributes: true, attributeFilter: ['data-asking'], subtree: true });
  });
  const requests = [];
  page.on('request', (r) => { if (/\/models\/smollm2\/model\.onnx\.part\d+$/.test(r.url())) requests.push(r.url()); });
  return requests;
}

/// The popover's box and the screen's, and what it says.
const popover = (page) => page.evaluate(() => {
  const p = document.getElementById('popover');
  if (!p || p.hidden) return null;
  const r = p.getBoundingClientRect();
  const v = window.visualViewport;
  return { left: r.left, right: r.right, top: r.top, bottom: r.bottom, text: p.textContent,
    screen: { left: v.offsetLeft, top: v.offsetTop, right: v.offsetLeft + v.width, bottom: v.offsetTop + v.height } };
});
const onScreen = (p) => p && p.left >= p.screen.left && p.right <= p.screen.right && p.top >= p.screen.top && p.bottom <= p.screen.bottom;
const frames = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

/// The first screen after scoring: where the first heatmap row and each golfer's bpb are, against the screen.
async function firstScreen(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await frames(page);
  const at = await page.evaluate((ids) => {
    const firstRow = document.querySelector('#heatmap-gzip span[data-i]')?.getBoundingClientRect();
    const chips = ids.map((id) => {
      const e = document.getElementById(`chip-bpb-${id}`);
      return { id, bpb: e?.textContent ?? '', bottom: e?.getBoundingClientRect().bottom ?? Infinity };
    });
    // The screen: the visual viewport (on a phone, less than the layout viewport's height).
    return { height: window.visualViewport.height, row: firstRow?.bottom ?? Infinity, chips };
  }, GOLFERS);
  const worst = Math.max(at.row, ...at.chips.map((c) => c.bottom));
  check(at.chips.every((c) => /^\d+\.\d{3}$/.test(c.bpb)) && worst <= at.height,
    `${name}: the first heatmap row (bottom at ${at.row.toFixed(0)} px) and every golfer's bpb ` +
    `(${at.chips.map((c) => `${c.id} ${c.bpb}`).join(', ')}; lowest at ${Math.max(...at.chips.map((c) => c.bottom)).toFixed(0)} px) ` +
    `are on the first screen (${at.height} px)`);
  await page.screenshot({ path: path.join(shots, `first-screen-${name}.png`), scale: 'css' });
}

/// A full-page capture: once the page has rendered what is off screen (it says so: `#app[data-revealed]`), the
/// characters of every heatmap block of the views shown and the race are rendered (none skipped by
/// content-visibility, as they are off screen before); the capture is saved.
async function fullPage(page, name) {
  await page.waitForSelector('#app[data-revealed="true"]', { state: 'attached', timeout: 120_000 });
  const left = await page.evaluate(() => {
    const parts = [...document.querySelectorAll('.hb, .course.race')].filter((e) => e.getClientRects().length > 0);
    const skipped = parts.filter((e) => !e.firstElementChild?.checkVisibility({ contentVisibilityAuto: true }));
    return { all: parts.length, skipped: skipped.map((e) => e.parentElement.id || e.className) };
  });
  check(left.all > 2 && left.skipped.length === 0,
    `${name}: a full-page capture shows every panel (${left.all} blocks and the race; left out: ${JSON.stringify(left.skipped)})`);
  await page.screenshot({ path: path.join(shots, `full-page-${name}.png`), fullPage: true, scale: 'css' });
}

await session('phone (browser)', async ({ browser, url, watch }) => {
  // A desktop: not asked; what each golfer's place on the scoreboard said while it worked; the first screen.
  {
    const context = await browser.newContext(DESKTOP);
    const page = watch(await context.newPage());
    await watchAsking(page);
    await page.addInitScript(() => {
      window.said = {};
      new MutationObserver((changes) => {
        for (const c of changes) {
          const e = c.target.nodeType === 1 ? c.target : c.target.parentElement;
          const id = e?.closest?.('.chip-says')?.id?.replace('chip-says-', '');
          if (id && e.textContent) (window.said[id] ??= []).push(e.textContent);
        }
      }).observe(document, { childList: true, characterData: true, subtree: true });
    });
    await open(page, url, { settings: false });
    for (const id of GOLFERS) await scored(page, id, { timeout: 600_000 });
    check((await page.evaluate(() => window.asked)).length === 0, 'desktop: no question before the downloads');
    const said = await page.evaluate(() => window.said);
    for (const id of ['ar', 'mdlm', 'smollm2']) {
      const seen = said[id] ?? [];
      check(seen.includes('starting the model…') && seen.some((s) => s.startsWith('scoring')),
        `desktop: ${id}'s place said what it was doing before its number (${[...new Set(seen)].length} messages, ` +
        `the last with an estimate: ${JSON.stringify(seen.filter((s) => / left$/.test(s)).at(-1) ?? 'none')})`);
    }
    await firstScreen(page, 'desktop');
    await fullPage(page, 'desktop');
    await context.close();
  }
  // A desktop on a save-data connection: asked before SmolLM2's download, nothing of it fetched meanwhile.
  {
    const context = await browser.newContext(DESKTOP);
    await context.addInitScript(saveData);
    const page = watch(await context.newPage());
    const requests = await watchAsking(page);
    await open(page, url, { settings: false });
    await page.waitForSelector('#ask-smollm2', { timeout: 120_000 });
    const says = await page.textContent('#ask-smollm2');
    check((await page.isVisible('#ask-smollm2')) && /^The SmolLM2-135M-Instruct \(4-bit\) golfer is a 96\.9 MB download, and your browser asks to save data\./.test(says) &&
      requests.length === 0,
      `desktop with save-data: asked first ("${says}"), ${requests.length} part requests before the answer`);
    await context.close();
  }

  // A phone with save-data.
  const context = await browser.newContext(PHONE);
  await context.addInitScript(saveData);
  const page = watch(await context.newPage());
  const requests = await watchAsking(page);
  await open(page, url, { settings: false });
  await noOverflow(page, 'set up');
  await page.waitForSelector('#ask-smollm2', { timeout: 120_000 });
  await noOverflow(page, 'asking before the download');
  const before = requests.length;
  await page.tap('#download-yes-smollm2');
  for (const id of GOLFERS) await scored(page, id, { timeout: 600_000 });
  check(before === 0 && requests.length > 0, `phone: no part of SmolLM2 fetched before the answer (${before}), then ${requests.length}`);
  await noOverflow(page, 'scored');
  await firstScreen(page, 'phone');

  // Taps near every edge: the popover stays on screen; a scroll hides it, and so does a tap elsewhere.
  const cellAt = (where) => page.evaluate((w) => {
    const cells = [...document.querySelectorAll('#heatmap-ar span[data-i]')].map((e) => ({ i: e.dataset.i, r: e.getBoundingClientRect() }))
      .filter((c) => c.r.width > 0 && c.r.top >= 0 && c.r.bottom <= window.visualViewport.height);
    const pick = { left: (a, b) => a.r.left - b.r.left, right: (a, b) => b.r.right - a.r.right, bottom: (a, b) => b.r.bottom - a.r.bottom }[w];
    const c = cells.sort(pick)[0];
    return c && { i: c.i, x: c.r.left + c.r.width / 2, y: c.r.top + c.r.height / 2 };
  }, where);
  await page.evaluate(() => document.getElementById('heatmap-ar').scrollIntoView({ block: 'start' }));
  await frames(page);
  for (const where of ['left', 'right']) {
    const c = await cellAt(where);
    await page.touchscreen.tap(c.x, c.y);
    const p = await popover(page);
    check(onScreen(p) && p.text === (await page.textContent('#hover-ar')),
      `phone: a tap on a character at the ${where} edge shows its popover on screen (${p ? `${p.left.toFixed(0)}-${p.right.toFixed(0)} x ${p.top.toFixed(0)}-${p.bottom.toFixed(0)}` : 'none'})`);
  }
  // The bottom of the screen: a line of the heatmap brought there.
  await page.evaluate(() => {
    const r = document.querySelector('#heatmap-ar span[data-i]').getBoundingClientRect();
    window.scrollBy(0, r.bottom - (window.visualViewport.height - 4));
  });
  await frames(page);
  const low = await cellAt('bottom');
  await page.touchscreen.tap(low.x, low.y);
  const flipped = await popover(page);
  const lit = await page.evaluate(() => {
    const e = document.querySelector('#heatmap-ar span.hl');
    const r = e?.getBoundingClientRect();
    return e && `${e.dataset.i} at ${r.top.toFixed(0)}-${r.bottom.toFixed(0)}; screen ${window.visualViewport.offsetTop}+${window.visualViewport.height}`;
  });
  check(onScreen(flipped) && flipped.bottom <= low.y, `phone: near the bottom of the screen the popover opens above the character (${flipped ? `${flipped.top.toFixed(0)}-${flipped.bottom.toFixed(0)}, the character ${low.i} at ${low.y.toFixed(0)}; lit ${lit}` : 'none'})`);
  await page.evaluate(() => window.scrollBy(0, -120));
  await frames(page);
  check((await popover(page)) === null, 'phone: a scroll hides the popover');
  await page.touchscreen.tap(low.x, low.y - 120 > 0 ? low.y - 120 : low.y);
  await page.tap('h1');
  check((await popover(page)) === null, 'phone: a tap elsewhere hides the popover');

  // The settings, the compact view and the summary table.
  await page.tap('#settings > summary');
  await noOverflow(page, 'settings open');
  await page.tap('#view-compact');
  await page.waitForSelector('#compact:not([hidden])', { state: 'attached' });
  await noOverflow(page, 'compact view');
  await page.tap('#view-compact');
  await page.waitForSelector('#results:not([hidden])', { state: 'attached' });
  const table = await page.evaluate(() => {
    const box = document.querySelector('.table-box');
    return { scrolls: box.scrollWidth > box.clientWidth, width: box.getBoundingClientRect().width };
  });
  check(table.width <= 390, `phone: the summary table keeps to its box (${table.width.toFixed(0)} px${table.scrolls ? ', scrolling inside it' : ''})`);
  await noOverflow(page, 'summary table and charts');

  // A race of all four, a few tokens each.
  await raceOnly(page, GOLFERS);
  await page.fill('#max-tokens', '6');
  await page.fill('#temperature', '0');
  await page.tap('#generate');
  await page.waitForSelector('#lanes[data-done="true"]', { state: 'attached', timeout: 600_000 });
  await noOverflow(page, 'race');
  const token = await page.$('#lanes .generated [title]');
  await token.scrollIntoViewIfNeeded();
  await token.tap();
  const tip = await popover(page);
  check(onScreen(tip) && tip.text === (await token.getAttribute('title')), `phone: a tap on a race's token shows what the golfer considered ("${tip?.text.slice(0, 60)}")`);
  await fullPage(page, 'phone');

  // Printed: every heatmap block and the race are drawn.
  await page.emulateMedia({ media: 'print' });
  const skipped = await page.evaluate(() => [...document.querySelectorAll('.hb, .course.race')]
    .filter((e) => getComputedStyle(e).contentVisibility !== 'visible').length);
  check(skipped === 0, `printed: no block is left out of the rendering (${skipped} would be)`);
  await page.screenshot({ path: path.join(shots, 'phone-printed.png'), fullPage: true });
  await page.emulateMedia({ media: 'screen' });
  await context.close();
});
