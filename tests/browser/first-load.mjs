// First load on a cheap phone (issue 24): the reference PWA, served by the real cairn binary,
// in Debian's Chromium at 360×740 with the network and CPU of a cheap phone on a bad line:
// 400 kbit/s down and up, a 400 ms round trip, the CPU 4× slower (DevTools'
// Emulation.setCPUThrottlingRate).
//
// The line: by default (`--network line`) a proxy on 127.0.0.1 that every connection goes through
// (slow-line.mjs), so the page, its service worker and the browser's own fetches share it, as on
// a phone. `--network devtools` uses DevTools' Network.emulateNetworkConditions on the page and
// its workers instead, as issue 24 first measured; Chromium 156 applies it to the page only, so
// what the service worker fetches then travels at full speed.
//
// Each round, in a fresh browser profile (nothing cached):
//   1. first visit: the bytes that crossed the network (each response's encodedDataLength from
//      Network.loadingFinished, by file, the service worker's own fetches included; and what
//      went down the line), the time from navigation until the sign-in form is usable (the
//      Username field visible and enabled, the "Log in" button visible, enabled and not
//      covered) and until the service worker is installed and active (the app kept offline);
//   2. with the line and the CPU at full speed, sign up, start a plan and write in it through
//      the app's UI, until the server holds it; leaving the page writes it to IndexedDB;
//   3. repeat visit, off the network (the line dropped, DevTools offline) with the CPU 4× slower:
//      a new tab opens the plan; the time from navigation until its text is on screen.
// Prints each round and the medians beside the bounds from the issue (10 s, 1 s).
//
//   node first-load.mjs [--rounds 3] [--network line|devtools] [--time-limit-s 900]
//   (CAIRN_BIN: the cairn binary, default target/debug/cairn; CAIRN_WEB_DIR: default web/dist;
//   FIRST_LOAD_VERBOSE=1 lists every response as it finishes)
//
// Bounded: each wait gives up after two minutes and the whole run after --time-limit-s. It
// starts everything on 127.0.0.1 and stops what it started.
import assert from "node:assert/strict"
import http from "node:http"
import path from "node:path"
import { parseArgs } from "node:util"
import { fileURLToPath } from "node:url"
import { chromium } from "playwright-core"
import { CAIRN_BIN, Cairn, PASSWORD } from "../interop/harness.mjs"
import { CHROMIUM, CHROMIUM_ARGS } from "./phones.mjs"
import { startSlowLine } from "./slow-line.mjs"

const here = path.dirname(fileURLToPath(import.meta.url))
const { values: options } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    "time-limit-s": { type: "string", default: "900" },
    network: { type: "string", default: "line" },
  },
})
if (!["line", "devtools"].includes(options.network)) throw new Error("--network is line or devtools")
/** `line`: the slow line is a proxy every connection goes through (slow-line.mjs); `devtools`:
 * DevTools' network emulation alone, which Chromium does not apply to the service worker. */
const NETWORK = options.network
const ROUNDS = Number(options.rounds)
const TIME_LIMIT_MS = Number(options["time-limit-s"]) * 1000
const WEB_DIR = path.resolve(process.env.CAIRN_WEB_DIR || path.join(here, "../../web/dist"))
const PHONE = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, hasTouch: true, isMobile: true, locale: "en-GB" }
/** The issue's line: 400 kbit/s each way (in bytes a second), 400 ms round trip. */
const KBITS = 400
const RTT_MS = 400
const SLOW_LINE = { offline: false, latency: RTT_MS, downloadThroughput: (KBITS * 1000) / 8, uploadThroughput: (KBITS * 1000) / 8 }
const NO_THROTTLE = { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 }
const OFFLINE = { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 }
const CPU_SLOWDOWN = 4
const BOUNDS = { form: 10_000, repeat: 1_000 }
const WAIT = 120_000
const VERBOSE = process.env.FIRST_LOAD_VERBOSE === "1"
const PLAN_TEXT = "Being there for my kids. Growing things again."

if (!(ROUNDS >= 1 && ROUNDS <= 20)) throw new Error("--rounds must be 1 to 20")

// The whole run is bounded: past the limit, say so and leave (the harness SIGKILLs cairn and
// Playwright its browser when this process exits).
const limit = setTimeout(() => {
  console.error(`first-load: gave up after ${TIME_LIMIT_MS / 1000} s (--time-limit-s)`)
  process.exit(2)
}, TIME_LIMIT_MS)
limit.unref()

/**
 * Runs in the page before its own scripts: records, in ms since navigation started
 * (performance.now()), when the sign-in form became usable, when the service worker was active,
 * and when `expect` (the plan's text) showed on screen. Checked on every DOM change and every
 * 25 ms, so the figure is at most a frame or two late.
 */
function observer(expect) {
  const bench = (window.__firstLoad = { form: null, serviceWorker: null, text: null })
  const shown = el => {
    if (!el || !el.isConnected) return false
    const box = el.getBoundingClientRect()
    const style = getComputedStyle(el)
    return box.width > 0 && box.height > 0 && style.visibility !== "hidden" && Number(style.opacity) > 0
  }
  const labelled = text => {
    for (const label of document.querySelectorAll("label")) {
      if (label.textContent.trim() === text && label.control) return label.control
    }
    return null
  }
  const button = text => [...document.querySelectorAll("button")].find(b => b.textContent.trim() === text)
  const clickable = el => {
    if (!shown(el) || el.disabled) return false
    const box = el.getBoundingClientRect()
    const x = box.left + box.width / 2
    const y = box.top + box.height / 2
    // Below the fold it is clickable once scrolled to; on screen nothing may cover it.
    if (x < 0 || y < 0 || x > innerWidth || y > innerHeight) return true
    const hit = document.elementFromPoint(x, y)
    return hit === el || el.contains(hit)
  }
  const check = () => {
    const now = performance.now()
    if (bench.form === null) {
      const username = labelled("Username")
      if (username && shown(username) && !username.disabled && !username.readOnly && clickable(button("Log in"))) {
        bench.form = now
      }
    }
    if (bench.text === null && expect) {
      const fields = [...document.querySelectorAll("input, textarea")]
      if (fields.some(el => el.value.includes(expect) && shown(el))) bench.text = now
    }
  }
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true, characterData: true })
  const timer = setInterval(() => {
    check()
    if (bench.form !== null && (bench.text !== null || !expect) && bench.serviceWorker !== null) clearInterval(timer)
  }, 25)
  navigator.serviceWorker?.ready.then(() => {
    bench.serviceWorker = performance.now()
  })
}

/**
 * A page with the cheap phone's CPU and `line`, and every service worker of the page's origin on
 * the same line (DevTools sets conditions per target: without this the app's service worker,
 * which fetches the app's files for offline use, would have the machine's full speed). Counts
 * the bytes each response took on the wire, by URL.
 */
async function cheapPhone(context, page, line) {
  const cdp = await context.newCDPSession(page)
  const bytes = new Map()
  const urls = new Map()
  const inFlight = new Map()
  /** Failed requests and error statuses, to say why a round got stuck. */
  const problems = []
  let lastActivity = Date.now()
  const finished = (key, encoded, fromCache) => {
    inFlight.delete(key)
    lastActivity = Date.now()
    const url = urls.get(key)
    if (VERBOSE) console.error(`  [${key.split(":")[0]}] ${url} ${encoded} bytes${fromCache ? " (not from the network)" : ""}`)
    if (!url || fromCache) return
    const name = new URL(url).pathname
    bytes.set(name, (bytes.get(name) ?? 0) + encoded)
  }
  const listen = (on, prefix) => {
    const cached = new Set()
    on("Network.requestWillBeSent", ({ requestId, request }) => {
      urls.set(prefix + requestId, request.url)
      inFlight.set(prefix + requestId, Date.now())
      lastActivity = Date.now()
    })
    on("Network.requestServedFromCache", ({ requestId }) => cached.add(requestId))
    on("Network.responseReceived", ({ requestId, response }) => {
      if (response.status >= 400) problems.push(`${response.status} for ${response.url}`)
      // (The service worker's own script is fetched before its target can be watched.)
      if (!urls.has(prefix + requestId)) urls.set(prefix + requestId, response.url)
      // What the service worker answered from its cache is not on the wire.
      if (response.fromServiceWorker || response.fromDiskCache) cached.add(requestId)
    })
    on("Network.loadingFinished", ({ requestId, encodedDataLength }) =>
      finished(prefix + requestId, encodedDataLength, cached.has(requestId))
    )
    on("Network.loadingFailed", ({ requestId, errorText, canceled }) => {
      if (!canceled) problems.push(`${errorText} for ${urls.get(prefix + requestId)}`)
      finished(prefix + requestId, 0, true)
    })
  }
  listen((event, handler) => cdp.on(event, handler), "page:")

  // Workers of the page (its service worker included) are attached paused, put on the same line,
  // then let run.
  const workers = new Map()
  cdp.on("Target.attachedToTarget", async ({ sessionId, targetInfo, waitingForDebugger }) => {
    let id = 0
    const pending = new Map()
    const handlers = new Map()
    const send = (method, params = {}) =>
      new Promise((resolve, reject) => {
        const messageId = ++id
        pending.set(messageId, { resolve, reject })
        cdp.send("Target.sendMessageToTarget", { sessionId, message: JSON.stringify({ id: messageId, method, params }) }).catch(reject)
      })
    workers.set(sessionId, { send, pending, handlers, type: targetInfo.type })
    try {
      if (targetInfo.type === "service_worker" || targetInfo.type === "worker") {
        listen((event, handler) => handlers.set(event, handler), `${sessionId}:`)
        await send("Network.enable")
        await send("Network.emulateNetworkConditions", line.current)
      }
    } finally {
      if (waitingForDebugger) await send("Runtime.runIfWaitingForDebugger").catch(() => {})
    }
  })
  cdp.on("Target.receivedMessageFromTarget", ({ sessionId, message }) => {
    const worker = workers.get(sessionId)
    if (!worker) return
    const parsed = JSON.parse(message)
    if (parsed.id && worker.pending.has(parsed.id)) {
      const { resolve, reject } = worker.pending.get(parsed.id)
      worker.pending.delete(parsed.id)
      if (parsed.error) reject(new Error(parsed.error.message))
      else resolve(parsed.result)
    } else if (parsed.method) {
      worker.handlers.get(parsed.method)?.(parsed.params)
    }
  })
  cdp.on("Target.detachedFromTarget", ({ sessionId }) => workers.delete(sessionId))

  await cdp.send("Network.enable")
  await cdp.send("Network.emulateNetworkConditions", line.current)
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: CPU_SLOWDOWN })
  await cdp.send("Target.setAutoAttach", { autoAttach: true, waitForDebuggerOnStart: true, flatten: false })

  return {
    bytes,
    problems,
    /** Put the page and its workers on another line (or none: `NO_THROTTLE`). */
    async setLine(conditions, cpu = CPU_SLOWDOWN) {
      line.current = conditions
      await cdp.send("Network.emulateNetworkConditions", conditions)
      await cdp.send("Emulation.setCPUThrottlingRate", { rate: cpu })
      for (const worker of workers.values()) {
        if (worker.type === "service_worker" || worker.type === "worker") {
          await worker.send("Network.emulateNetworkConditions", conditions).catch(() => {})
        }
      }
    },
    /** Stop the origin's service workers (the browser starts them again when needed). */
    async stopServiceWorkers() {
      await cdp.send("ServiceWorker.enable")
      await cdp.send("ServiceWorker.stopAllWorkers")
      await cdp.send("ServiceWorker.disable")
    },
    /** Resolves once nothing has been in flight for `quietMs`. */
    async quiet(quietMs = 1500) {
      const started = Date.now()
      while (inFlight.size > 0 || Date.now() - lastActivity < quietMs) {
        if (Date.now() - started > WAIT) {
          const busy = [...inFlight.keys()].map(key => urls.get(key)).join(", ")
          throw new Error(`the network was still busy after ${WAIT / 1000} s: ${busy}`)
        }
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    },
  }
}

/** Files whose size on the wire the benchmark measured itself (see `wireBytes`). */
const unseen = new Set()

/** Bytes of a response as the server sends it to Chromium: status line, headers and body. */
function wireBytes(url) {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers: { "accept-encoding": "gzip, deflate, br, zstd" } }, response => {
      let size = `HTTP/1.1 ${response.statusCode} ${response.statusMessage}\r\n`.length + 2
      for (let i = 0; i < response.rawHeaders.length; i += 2) {
        size += `${response.rawHeaders[i]}: ${response.rawHeaders[i + 1]}\r\n`.length
      }
      response.on("data", chunk => (size += chunk.length))
      response.on("end", () => resolve(size))
      response.on("error", reject)
    })
    request.on("error", reject)
    request.setTimeout(WAIT, () => request.destroy(new Error(`no answer for ${url}`)))
  })
}

async function mark(page, name) {
  const handle = await page.waitForFunction(n => window.__firstLoad?.[n] ?? null, name, { timeout: WAIT, polling: 50 })
  return handle.jsonValue()
}

async function round(browser, cairn, slowLine, n) {
  const context = await browser.newContext(PHONE)
  const baseUrl = slowLine.url
  try {
    // ---- 1. first visit, on the slow line --------------------------------------------------
    slowLine.offline(false)
    if (NETWORK === "line") slowLine.set({ kbits: KBITS, rttMs: RTT_MS })
    else slowLine.set({ kbits: 0, rttMs: 0 })
    const page = await context.newPage()
    const line = { current: NETWORK === "line" ? NO_THROTTLE : SLOW_LINE }
    const phone = await cheapPhone(context, page, line)
    await page.addInitScript(observer, null)
    slowLine.resetBytes()
    await page.goto(baseUrl, { waitUntil: "commit", timeout: WAIT })
    const explain = err => {
      throw new Error(`${err.message}; requests that failed: ${phone.problems.join("; ") || "none"}`)
    }
    const form = await mark(page, "form").catch(explain)
    const serviceWorker = await mark(page, "serviceWorker").catch(explain)
    await phone.quiet()
    const bytes = new Map(phone.bytes)
    const lineBytes = slowLine.bytes()
    // The browser fetches the service worker's script itself, often before DevTools can watch
    // the worker: then it is counted as the server sends it to Chromium (marked * below).
    if (!bytes.has("/sw.js")) {
      bytes.set("/sw.js", await wireBytes(`${cairn.baseUrl}/sw.js`))
      unseen.add("/sw.js")
    }
    // The form really is usable: Playwright's own checks (visible, enabled, stable, not covered).
    await page.getByLabel("Username").fill("probe", { timeout: WAIT })
    await page.getByRole("button", { name: "Log in" }).click({ trial: true, timeout: WAIT })
    await page.getByLabel("Username").fill("")

    // ---- 2. sign up and write a plan, at full speed ------------------------------------------
    slowLine.set({ kbits: 0, rttMs: 0 })
    await phone.setLine(NO_THROTTLE, 1)
    const username = `phone${n}x${Date.now().toString(36)}`
    await page.getByRole("button", { name: "New here? Create an account" }).click()
    await page.getByLabel("Username").fill(username)
    await page.getByLabel("Your name, as others will see it").fill("Maria")
    await page.getByLabel("Password").fill(PASSWORD)
    await page.getByRole("button", { name: "Create account" }).click()
    await page.getByLabel("I have written them down or printed them").check({ timeout: WAIT })
    await page.getByRole("button", { name: "Continue", exact: true }).click()
    await page.getByLabel("What would you like to call it?").fill("Back to the allotment", { timeout: WAIT })
    await page.getByRole("button", { name: "Start my plan" }).click()
    await page.getByLabel("Plan name").waitFor({ timeout: WAIT })
    await page.getByLabel("What matters to me").fill(PLAN_TEXT)
    const planUrl = page.url()
    await page.locator("#status", { hasText: "Synced" }).waitFor({ timeout: WAIT })
    // Leaving the page writes everything to IndexedDB (the app flushes on pagehide).
    await page.goto("about:blank")
    await page.waitForTimeout(1000)
    await page.close()

    // ---- 3. repeat visit, offline, on the slow CPU -------------------------------------------
    slowLine.offline(true)
    const again = await context.newPage()
    const offlinePhone = await cheapPhone(context, again, { current: OFFLINE })
    // As when the phone comes back to the app later: its service worker is not running.
    await offlinePhone.stopServiceWorkers()
    await again.addInitScript(observer, PLAN_TEXT)
    await again.goto(planUrl, { waitUntil: "commit", timeout: WAIT })
    const repeat = await mark(again, "text")
    if (VERBOSE) {
      // Where the repeat visit's time went: each file's fetch (from the service worker's cache).
      const timings = await again.evaluate(() =>
        performance
          .getEntriesByType("resource")
          .map(e => `${Math.round(e.startTime)}–${Math.round(e.responseEnd)} ms ${new URL(e.name).pathname}`)
      )
      for (const timing of timings) console.error(`  repeat visit: ${timing}`)
      // And the app's own steps (performance marks: vault open, session read, Automerge started,
      // store open, plan loaded from IndexedDB, plan drawn).
      const marks = await again.evaluate(() =>
        performance.getEntriesByType("mark").map(e => `${Math.round(e.startTime)} ms ${e.name}`)
      )
      for (const step of marks) console.error(`  repeat visit: ${step}`)
    }
    assert.equal(await again.getByLabel("What matters to me").inputValue({ timeout: WAIT }), PLAN_TEXT)
    const offlineBytes = [...offlinePhone.bytes.values()].reduce((a, b) => a + b, 0)
    return { form, serviceWorker, bytes, lineBytes, repeat, offlineBytes, problems: phone.problems }
  } finally {
    await context.close().catch(() => {})
  }
}

const kB = n => `${(n / 1000).toFixed(1)} kB`
const s = ms => `${(ms / 1000).toFixed(2)} s`
const median = values => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
const total = bytes => [...bytes.values()].reduce((a, b) => a + b, 0)

console.log(`cairn: ${CAIRN_BIN}`)
console.log(`app: ${WEB_DIR}`)
console.log(
  `phone: ${PHONE.viewport.width}x${PHONE.viewport.height}, CPU ${CPU_SLOWDOWN}x slower, ` +
    `${KBITS} kbit/s each way, ${RTT_MS} ms round trip ` +
    `(${NETWORK === "line" ? "a proxy every connection goes through" : "DevTools' emulation: the page only"}); ${ROUNDS} rounds`
)
const cairn = await Cairn.start({ env: { CAIRN_WEB_DIR: WEB_DIR } })
const slowLine = await startSlowLine({ host: "127.0.0.1", port: cairn.port })
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
const results = []
try {
  for (let n = 1; n <= ROUNDS; n++) {
    const result = await round(browser, cairn, slowLine, n)
    results.push(result)
    console.log(
      `round ${n}: first visit ${kB(total(result.bytes))} (${kB(result.lineBytes.down)} down, ${kB(result.lineBytes.up)} up the line), sign-in form usable ${s(result.form)}, ` +
        `service worker installed ${s(result.serviceWorker)}; repeat visit offline: plan readable ${s(result.repeat)} ` +
        `(${result.offlineBytes} bytes from the network)`
    )
    if (result.problems.length) console.log(`  first visit, requests that failed: ${result.problems.join("; ")}`)
  }
} finally {
  await browser.close().catch(() => {})
  await slowLine.close()
  await cairn.stop()
}

console.log("\nfirst visit, bytes on the wire by file (median over rounds):")
const files = [...new Set(results.flatMap(r => [...r.bytes.keys()]))].sort()
for (const file of files) {
  console.log(`  ${kB(median(results.map(r => r.bytes.get(file) ?? 0))).padStart(10)}  ${file}${unseen.has(file) ? " *" : ""}`)
}
if (unseen.size) console.log("  (* fetched by the browser before DevTools could watch it: measured as Cairn sends it to Chromium)")
const row = (what, value, bound) => console.log(`  ${what.padEnd(46)} ${value.padStart(9)}${bound ? `   (issue 24: at most ${bound})` : ""}`)
console.log(`\nmedians over ${ROUNDS} round${ROUNDS === 1 ? "" : "s"}:`)
row("first visit: bytes transferred", kB(median(results.map(r => total(r.bytes)))))
row("  the same, down the line (TCP payload)", kB(median(results.map(r => r.lineBytes.down))))
row("first visit: sign-in form usable", s(median(results.map(r => r.form))), s(BOUNDS.form))
row("first visit: service worker installed", s(median(results.map(r => r.serviceWorker))))
row("repeat visit, offline: plan readable", s(median(results.map(r => r.repeat))), s(BOUNDS.repeat))
clearTimeout(limit)
