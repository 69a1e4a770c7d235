// Builds the PWA into dist/: hashed assets (the app and automerge's wasm) under /assets, the
// manifest and icons from public/, and the service worker, written here with the exact list of
// files it keeps for offline use and a version that changes whenever any of them does.
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { defineConfig, type Plugin } from "vite"

function serviceWorker(): Plugin {
  return {
    name: "cairn-service-worker",
    apply: "build",
    generateBundle(_options, bundle) {
      const publicFiles = [
        "/manifest.webmanifest",
        "/icons/icon-192.png",
        "/icons/icon-512.png",
        "/icons/icon-maskable-512.png",
      ]
      const assets = Object.keys(bundle)
        .filter(name => name !== "index.html")
        .map(name => `/${name}`)
      const files = ["/", ...assets, ...publicFiles].sort()
      const hash = createHash("sha256")
      for (const name of Object.keys(bundle).sort()) {
        const item = bundle[name]
        hash.update(name)
        hash.update(item.type === "chunk" ? item.code : item.source)
      }
      const template = readFileSync(new URL("./src/sw.js", import.meta.url), "utf8")
      const source = template
        .replace("__CAIRN_VERSION__", JSON.stringify(hash.digest("hex").slice(0, 16)))
        .replace("__CAIRN_FILES__", JSON.stringify(files))
      this.emitFile({ type: "asset", fileName: "sw.js", source })
    },
  }
}

export default defineConfig({
  build: {
    target: "es2022",
    outDir: "dist",
    emptyOutDir: true,
    // Automerge's wasm stays a file of its own (no data: URLs: the CSP allows none for scripts).
    assetsInlineLimit: 0,
  },
  plugins: [serviceWorker()],
  server: {
    // `npm run dev` next to a running Cairn: the API and the sync socket go to it.
    proxy: {
      "/api": "http://127.0.0.1:8080",
      "/sync": { target: "ws://127.0.0.1:8080", ws: true },
    },
  },
})
