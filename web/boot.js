// The page's first script (a plain one, first in <head>): gives the page threads on a host that sends no
// cross-origin isolation headers (GitHub Pages, GitLab Pages, any plain static server), by the service worker in
// sw.js, which adds them. A page the worker does not control yet is reloaded once, as soon as the worker is
// active: before the page's code has started any golfer (it waits for `window.golfIsolation`), so no model byte is
// fetched twice. `?coi=0` turns the worker off. Where there can be no worker (plain HTTP on a LAN address, a
// private window), the page runs single-threaded, with the same numbers, and says why.
(() => {
  let settle;
  // What the page's code awaits before it starts the golfers: { isolated, why } (why: the reason for no threads).
  window.golfIsolation = new Promise((resolve) => { settle = resolve; });
  const RELOADED = 'four-golfers-reloaded-for-isolation';
  const session = {
    get: () => { try { return sessionStorage.getItem(RELOADED); } catch { return '1'; } },
    set: (v) => { try { v ? sessionStorage.setItem(RELOADED, v) : sessionStorage.removeItem(RELOADED); } catch { /* no storage: no reload */ } },
  };
  const done = (why) => settle({ isolated: self.crossOriginIsolated === true, why: self.crossOriginIsolated ? null : why });
  // Once per tab: a worker that could not isolate the page must not make it reload forever.
  const reloadOnce = (otherwise) => {
    if (session.get()) return done(otherwise);
    session.set('1');
    location.reload();
  };
  const sw = navigator.serviceWorker;
  if (new URLSearchParams(location.search).get('coi') === '0') {
    // Off: the worker is unregistered, and a page it controls is reloaded once without it. (A host's own
    // headers still isolate the page.)
    const why = 'the address has ?coi=0, which turns off the service worker that gives the page threads';
    if (!sw) return done(why);
    const controlled = !!sw.controller;
    sw.getRegistration().then((r) => (r ? r.unregister() : false)).then(
      () => (controlled ? reloadOnce(why) : (session.set(null), done(why))),
      () => done(why));
    return;
  }
  if (self.crossOriginIsolated) {
    // The host's own headers, or the worker's: nothing to register on a host that isolates. Under the worker, it
    // keeps this build's files for an offline visit once the page has loaded its own.
    session.set(null);
    done(null);
    if (sw && sw.controller) {
      addEventListener('load', () => sw.controller && sw.controller.postMessage({ type: 'keep-shell' }));
    }
    return;
  }
  if (!self.isSecureContext || !sw) {
    const where = !self.isSecureContext
      ? 'this address is not https (or localhost), where a browser allows no service worker'
      : 'this browser gives the page no service worker (a private window?)';
    return done(`the host sends no cross-origin isolation headers and ${where}`);
  }
  sw.register('sw.js').then((registration) => {
    if (!registration) return done('the browser did not register the service worker');
    if (sw.controller) {
      // Controlled but not isolated: the worker took over this page after its document had arrived.
      return reloadOnce('the service worker could not isolate the page');
    }
    const worker = registration.installing || registration.waiting || registration.active;
    if (!worker) return done('the service worker did not start');
    const whenActive = () => reloadOnce('the service worker could not isolate the page');
    if (worker.state === 'activated') return whenActive();
    worker.addEventListener('statechange', () => {
      if (worker.state === 'activated') whenActive();
      else if (worker.state === 'redundant') done('the service worker did not start');
    });
  }, (e) => done(`the service worker did not register (${e && e.message ? e.message : e})`));
})();
