// Cairn's service worker: keeps the app itself on the phone so it opens with no network. Plans
// are not here: they live in IndexedDB (automerge-repo's storage), and the API and the sync
// socket always go to the network. Built by vite.config.ts, which fills in the version and the
// list of files.
const VERSION = __CAIRN_VERSION__
const FILES = __CAIRN_FILES__
const CACHE = `cairn-app-${VERSION}`

self.addEventListener("install", event => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then(cache => cache.addAll(FILES))
      .then(() => self.skipWaiting())
  )
})

self.addEventListener("activate", event => {
  event.waitUntil(
    caches
      .keys()
      .then(names => Promise.all(names.filter(name => name.startsWith("cairn-app-") && name !== CACHE).map(name => caches.delete(name))))
      .then(() => self.clients.claim())
  )
})

self.addEventListener("fetch", event => {
  const request = event.request
  if (request.method !== "GET") return
  const url = new URL(request.url)
  if (url.origin !== self.location.origin) return
  // The API is never the app, even when the browser navigates to it (staff sign-in's
  // /api/v1/auth/oidc/start and the identity provider's redirect back to its callback).
  if (url.pathname.startsWith("/api/")) return
  // Every page of the app is the one index.html (the plan to show is in the #fragment).
  const key = request.mode === "navigate" ? "/" : url.pathname
  if (!FILES.includes(key)) return
  event.respondWith(
    caches.open(CACHE).then(async cache => {
      const cached = await cache.match(key)
      return cached ?? fetch(request)
    })
  )
})
