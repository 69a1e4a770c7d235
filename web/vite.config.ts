// Builds the PWA into dist/: hashed assets (the app and automerge's wasm) under /assets, the
// manifest and icons from public/, and the service worker, written here with the exact list of
// files it keeps for offline use and a version that changes whenever any of them does. Then every
// compressible file gets a brotli (`.br`) and a gzip (`.gz`) copy beside it, at maximum quality,
// which Cairn serves to browsers that accept them (server/src/routes/web_app.rs).
import { createHash } from "node:crypto"
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import { brotliCompressSync, constants, gzipSync } from "node:zlib"
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

/** What is worth compressing: text, and automerge's wasm (PNG icons are compressed already). */
const COMPRESSIBLE = /\.(js|mjs|css|wasm|html|webmanifest|svg|json|txt|map)$/

function precompress(): Plugin {
  let outDir = ""
  return {
    name: "cairn-precompress",
    apply: "build",
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir)
    },
    // After everything is written, public/ copied and the service worker emitted: the copies are
    // never in the bundle, so the service worker's list of files never names them.
    closeBundle() {
      for (const entry of readdirSync(outDir, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile() || !COMPRESSIBLE.test(entry.name)) continue
        const file = path.join(entry.parentPath, entry.name)
        const original = readFileSync(file)
        const brotli = brotliCompressSync(original, {
          params: {
            [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
            [constants.BROTLI_PARAM_MODE]: entry.name.endsWith(".wasm")
              ? constants.BROTLI_MODE_GENERIC
              : constants.BROTLI_MODE_TEXT,
            [constants.BROTLI_PARAM_SIZE_HINT]: original.length,
          },
        })
        const gzip = gzipSync(original, { level: constants.Z_BEST_COMPRESSION, memLevel: 9 })
        // A copy no smaller than the file is left out: Cairn then serves the file itself.
        if (brotli.length < original.length) writeFileSync(`${file}.br`, brotli)
        if (gzip.length < original.length) writeFileSync(`${file}.gz`, gzip)
      }
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
  plugins: [serviceWorker(), precompress()],
  server: {
    // `npm run dev` next to a running Cairn: the API and the sync socket go to it.
    proxy: {
      "/api": "http://127.0.0.1:8080",
      "/sync": { target: "ws://127.0.0.1:8080", ws: true },
    },
  },
})
