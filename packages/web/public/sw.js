/**
 * Samizdat's service worker: keeps the app itself (index.html and its /assets) in the Cache Storage so that the page
 * opens without the server, showing the history from IndexedDB; sends typed meanwhile go out when the connection
 * returns (the SDK keeps them pending). It never touches the API: /v1/… (messages, keys, attachments) always goes to
 * the network, and nothing it caches is secret (the app's code, never messages or keys).
 *
 * Navigations: network first (a new build reaches the user at once), the cached app when the network fails.
 * /assets/*: content-hashed, so cache first.
 */
const CACHE = 'samizdat-app-v1';
const APP_SHELL = '/';
const API = /^\/(?:v1|docs|health|metrics)(?:\/|$)/;

/** The files of the build Vite lists in asset-manifest.json (chunks loaded later included). */
async function builtFiles() {
  try {
    const response = await fetch('/asset-manifest.json', { cache: 'no-cache' });
    if (!response.ok) return [];
    const files = [];
    for (const entry of Object.values(await response.json())) {
      for (const file of [entry.file, ...(entry.css ?? []), ...(entry.assets ?? [])]) if (typeof file === 'string') files.push(`/${file}`);
    }
    return files;
  } catch {
    return [];
  }
}

/** The app page and every file of the build, fetched fresh. */
async function precache() {
  const cache = await caches.open(CACHE);
  const response = await fetch(APP_SHELL, { cache: 'no-cache' });
  if (!response.ok) return;
  const html = await response.clone().text();
  await cache.put(APP_SHELL, response);
  const assets = new Set(['/favicon.svg', '/manifest.webmanifest', ...(await builtFiles())]);
  for (const match of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) assets.add(match[1]);
  // Best effort: a file that fails now is cached when the page first asks for it.
  await Promise.allSettled(
    [...assets].map(async (url) => {
      const asset = await fetch(url);
      if (asset.ok) await cache.put(url, asset);
    }),
  );
}

self.addEventListener('install', (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

async function networkFirstPage(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && response.headers.get('content-type')?.startsWith('text/html')) await cache.put(APP_SHELL, response.clone());
    return response;
  } catch (err) {
    const cached = await cache.match(APP_SHELL);
    if (cached) return cached;
    throw err;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

async function networkFallingBackToCache(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (err) {
    const cached = await cache.match(request);
    if (cached) return cached;
    throw err;
  }
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || API.test(url.pathname)) return;
  if (request.mode === 'navigate') event.respondWith(networkFirstPage(request));
  else if (url.pathname.startsWith('/assets/')) event.respondWith(cacheFirst(request));
  else event.respondWith(networkFallingBackToCache(request));
});
