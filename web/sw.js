// The page's service worker, registered by boot.js where the host sends no cross-origin isolation headers.
// coi-serviceworker (npm, MIT, pinned in scripts/lib.sh) adds those headers to every response the page gets,
// which gives the golfers threads; it fetches through `self.fetch`, which this file replaces with one that keeps
// this build's app shell for offline visits. The models are kept by the golfers' workers (Cache Storage, by
// sha256), not here.

// Every file of the app shell, by path under the worker's scope, with its sha256: written into dist/sw.js by
// scripts/seal_shell.py, so a new build is a new worker and never gets an earlier build's files.
const SHELL = /* SHELL */ {};
const CACHE = 'four-golfers-shell';
const scope = new URL(self.registration.scope);
const network = self.fetch.bind(self);
const keyOf = (path) => `${new URL(path, scope).href}?sha256=${SHELL[path]}`;

// The shell file a request is for, if any: a navigation is for the page itself.
function shellPath(request) {
  if (request.method !== 'GET') return null;
  const url = new URL(request.url);
  if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return null;
  if (request.mode === 'navigate') return 'index.html';
  const path = decodeURIComponent(url.pathname.slice(scope.pathname.length));
  return url.search === '' && Object.hasOwn(SHELL, path) ? path : null;
}

const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');

// Stores a shell file's response under its key if its bytes are this build's (another build's are not kept).
async function keep(cache, path, response) {
  const body = await response.arrayBuffer();
  if (hex(await crypto.subtle.digest('SHA-256', body)) !== SHELL[path]) return;
  await cache.put(keyOf(path), new Response(body, { status: 200, headers: response.headers }));
}

// The network first, so an online visit always gets what the host has now; the kept copy when it fails.
self.fetch = async (request, init) => {
  const path = request instanceof Request && !init ? shellPath(request) : null;
  if (path === null) return network(request, init);
  const cache = await caches.open(CACHE);
  try {
    const response = await network(request);
    if (response.ok && response.type === 'basic' && !(await cache.match(keyOf(path)))) {
      keep(cache, path, response.clone()).catch(() => {});
    }
    return response;
  } catch (offline) {
    const kept = await cache.match(keyOf(path));
    if (kept) return kept;
    throw offline;
  }
};

// The headers matter only on documents and workers' scripts (a same-origin fetch needs none), so any other
// request that is not a file of the app shell (a model's parts above all) goes to the network without this worker
// in the way: proxied through it, SmolLM2's 97 MB slowed the first visit by seconds.
self.addEventListener('fetch', (event) => {
  const isolates = ['document', 'iframe', 'worker', 'sharedworker'].includes(event.request.destination);
  if (!isolates && shellPath(event.request) === null) event.stopImmediatePropagation();
});

importScripts('coi-serviceworker.js');

// Every shell file not yet kept (the page asks once it has loaded: most come from the HTTP cache then).
async function keepShell() {
  const cache = await caches.open(CACHE);
  for (const path of Object.keys(SHELL)) {
    if (await cache.match(keyOf(path))) continue;
    try {
      const response = await network(new URL(path, scope).href);
      if (response.ok) await keep(cache, path, response);
    } catch {
      // Offline, or the file is gone (a newer build): the next visit tries again.
    }
  }
}

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'keep-shell') event.waitUntil(keepShell());
});

// Forgets what earlier builds kept.
self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const wanted = new Set(Object.keys(SHELL).map(keyOf));
    const cache = await caches.open(CACHE);
    for (const request of await cache.keys()) {
      if (!wanted.has(request.url)) await cache.delete(request);
    }
  })());
});
