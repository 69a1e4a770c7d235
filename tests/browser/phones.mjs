// Phones for the browser tests: the real cairn binary serving the built PWA (web/dist), and
// Debian's Chromium (headless, driven by Playwright) with one browser context per phone at
// 360 × 740. Each test file starts its own Cairn and browser (`startCairnAndBrowser`), so files
// run side by side. Screenshots go to target/browser-screenshots/.
import assert from "node:assert/strict"
import { createHmac } from "node:crypto"
import { readFileSync } from "node:fs"
import { mkdir, mkdtemp, writeFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import path from "node:path"
import { after, before } from "node:test"
import { fileURLToPath } from "node:url"
import { chromium } from "playwright-core"
import { Cairn, PASSWORD, eventually } from "../interop/harness.mjs"

export { PASSWORD, eventually }

export const here = path.dirname(fileURLToPath(import.meta.url))
export const WEB_DIR = path.resolve(here, "../../web/dist")
// (CAIRN_SHOTS: another folder, for copies of a test run side by side.)
export const SHOTS = process.env.CAIRN_SHOTS || path.resolve(here, "../../target/browser-screenshots")
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium"
export const PHONE = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, hasTouch: true, isMobile: true }
export const WAIT = 15_000
// Headless as root, with nothing reaching out to Google's services (this network has none).
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
]

/** The running Cairn and browser of this test file (set by `startCairnAndBrowser`). */
export const world = { cairn: null, browser: null }

/** Every phone's browser context, closed at the end even when a test failed halfway. */
const contexts = []

/** Start the real cairn binary (with `env` added) and Chromium before this file's tests; stop
 * both after them. */
export function startCairnAndBrowser(env = {}) {
  before(async () => {
    await mkdir(SHOTS, { recursive: true })
    world.cairn = await Cairn.start({ env: { CAIRN_WEB_DIR: WEB_DIR, ...env } })
    world.browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  })
  after(async () => {
    for (const context of contexts) await context.close().catch(() => {})
    await world.browser?.close()
    await world.cairn?.stop()
  })
  return world
}

/** A phone: its own browser context (storage, service worker, network) and one page. An
 * installed app needs a real profile (Chromium never installs from an incognito context). */
export async function phone(label, { profile = false, locale } = {}) {
  const context = profile
    ? await chromium.launchPersistentContext(await mkdtemp(path.join(tmpdir(), "cairn-phone-")), {
        ...PHONE,
        ...(locale ? { locale } : {}),
        executablePath: CHROMIUM,
        args: CHROMIUM_ARGS,
      })
    : await world.browser.newContext({ ...PHONE, ...(locale ? { locale } : {}) })
  contexts.push(context)
  const page = context.pages()[0] ?? (await context.newPage())
  const foreign = []
  page.on("request", request => {
    const url = new URL(request.url())
    if (!["data:", "blob:"].includes(url.protocol) && url.origin !== new URL(world.cairn.baseUrl).origin) {
      foreign.push(request.url())
    }
  })
  const errors = []
  page.on("pageerror", err => errors.push(err.message))
  const console = []
  page.on("console", message => console.push(`${message.type()}: ${message.text()}`))
  after(() => writeFile(path.join(SHOTS, `${label}.console.log`), console.join("\n")).catch(() => {}))
  page.on("dialog", dialog => dialog.accept())
  await page.goto(world.cairn.baseUrl)
  return { label, context, page, foreign, errors }
}

export async function shot(t, device, name) {
  const file = path.join(SHOTS, `${name}.png`)
  await device.page.screenshot({ path: file, fullPage: false })
  t.diagnostic(`screenshot: ${path.relative(path.resolve(here, "../.."), file)}`)
}

export async function signUp(device, username, name) {
  const { page } = device
  await page.getByRole("button", { name: "New here? Create an account" }).click()
  await page.getByLabel("Username").fill(username)
  await page.getByLabel("Your name, as others will see it").fill(name)
  await page.getByLabel("Password").fill(PASSWORD)
  await page.getByRole("button", { name: "Create account" }).click()
  await keepCodes(device)
  await page.getByRole("heading", { name: `Hello, ${name}` }).waitFor({ timeout: WAIT })
}

/** After sign-up the recovery codes show once: tick "written down" and go on. Returns them. */
export async function keepCodes(device, { ticked = "I have written them down or printed them", go = "Continue" } = {}) {
  const { page } = device
  await page.getByLabel(ticked).waitFor({ timeout: WAIT })
  const codes = await page.locator(".codes code").allInnerTexts()
  await page.getByLabel(ticked).check()
  await page.getByRole("button", { name: go, exact: true }).click()
  return codes
}

/** The status line: "Synced" or "Saved on this phone" (and its state for the test). */
export function status(device) {
  return device.page.locator("#status")
}

/** Whether the screen shows `text`: in its text, or in a field (the plan's words are in fields
 * that edit them in place). */
export function shows(device, text) {
  return device.page.evaluate(text => {
    const fields = [...document.querySelectorAll("input, textarea")].filter(c => c.getClientRects().length > 0)
    return fields.some(c => c.value.includes(text)) || document.body.innerText.includes(text)
  }, text)
}

export async function expectText(device, text, what = text) {
  await device.page
    .waitForFunction(
      text => {
        const fields = [...document.querySelectorAll("input, textarea")].filter(c => c.getClientRects().length > 0)
        return fields.some(c => c.value.includes(text)) || document.body.innerText.includes(text)
      },
      text,
      { timeout: WAIT }
    )
    .catch(err => {
      throw new Error(`${device.label}: ${what} did not show: ${err.message}`)
    })
}

/** Keys the phone's IndexedDB (automerge-repo's storage) holds for a document. */
export async function storedKeys(device, userId, documentId) {
  return device.page.evaluate(
    ({ database, documentId }) =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open(database)
        open.onerror = () => reject(open.error)
        open.onsuccess = () => {
          const db = open.result
          if (!db.objectStoreNames.contains("documents")) return resolve(0)
          const request = db.transaction("documents").objectStore("documents").getAllKeys()
          request.onsuccess = () => resolve(request.result.filter(key => key[0] === documentId).length)
          request.onerror = () => reject(request.error)
        }
      }),
    { database: `cairn-${userId}`, documentId }
  )
}

/** The signed-in account's id: its plans' database on the phone is named after it (the session
 * itself is sealed in the app's vault, out of reach of the page's plain storage). */
export async function accountId(device) {
  return eventually(
    () =>
      device.page.evaluate(async () => {
        const names = (await indexedDB.databases()).map(db => db.name).filter(name => name.startsWith("cairn-") && name !== "cairn-vault")
        return names.length === 1 ? names[0].slice("cairn-".length) : undefined
      }),
    { what: `${device.label}'s plans database` }
  )
}

export function planIdFrom(device) {
  return new URL(device.page.url()).hash.replace("#/plan/", "")
}

export /** In the page: every visible text element whose contrast with its background is below AA. */
function contrastFailures() {
  const parse = value => (value.match(/[\d.]+/g) ?? []).map(Number)
  const luminance = ([r, g, b]) => {
    const channel = c => {
      const s = c / 255
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
    }
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
  }
  const background = element => {
    for (let node = element; node; node = node.parentElement) {
      const [r, g, b, a = 1] = parse(getComputedStyle(node).backgroundColor)
      if (a > 0) return [r, g, b]
    }
    return [255, 255, 255]
  }
  const failures = []
  for (const element of document.querySelectorAll("body *")) {
    const own = [...element.childNodes].some(node => node.nodeType === Node.TEXT_NODE && node.textContent.trim())
    const box = element.getBoundingClientRect()
    if (!own || box.width === 0 || box.height === 0) continue
    const style = getComputedStyle(element)
    if (style.visibility === "hidden") continue
    const fg = luminance(parse(style.color))
    const bg = luminance(background(element))
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05)
    const large = parseFloat(style.fontSize) >= 24 || (parseFloat(style.fontSize) >= 18.66 && Number(style.fontWeight) >= 700)
    if (ratio < (large ? 3 : 4.5)) failures.push(`${element.tagName} "${element.textContent.trim().slice(0, 30)}": ${ratio.toFixed(2)}`)
  }
  return failures
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8")

/**
 * The page's accessibility violations by axe-core (WCAG 2.0–2.2 A and AA rules, plus best
 * practices), as "rule: target" lines. axe is put into the page by the DevTools protocol, which the
 * app's Content-Security-Policy does not govern, so the app runs with its real policy.
 */
export async function axeViolations(page) {
  await page.evaluate(AXE_SOURCE)
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] },
    })
    return result.violations.map(v => ({ id: v.id, help: v.help, targets: v.nodes.map(n => n.target.join(" ")) }))
  })
  return violations.flatMap(v => v.targets.map(target => `${v.id} (${v.help}): ${target}`))
}

/** A screen at 360 px passes axe-core, AA contrast and the tap-target check (the skip link aside)
 * and does not scroll sideways. */
export async function checkScreen(page, what) {
  assert.deepEqual(await axeViolations(page), [], `${what}: axe-core violations`)
  assert.deepEqual(await page.evaluate(contrastFailures), [], `${what}: text below AA contrast`)
  const small = (await smallTargets(page)).filter(target => !target.startsWith("Skip to"))
  assert.deepEqual(small, [], `${what}: tap targets under 44×44`)
  const width = await page.evaluate(() => document.documentElement.scrollWidth)
  assert.ok(width <= 360, `${what}: the page is ${width} px wide`)
}

/** Controls on screen smaller than `min` × `min` CSS pixels (tap targets), as "name: w×h" lines.
 * Inline links inside a sentence are exempt (WCAG 2.5.5's inline exception). */
export async function smallTargets(page, min = 44) {
  return page.evaluate(min => {
    const small = []
    for (const el of document.querySelectorAll("a[href], button, input, select, textarea, summary, [role=button], [tabindex]:not([tabindex='-1'])")) {
      const box = el.getBoundingClientRect()
      const style = getComputedStyle(el)
      if (box.width === 0 || box.height === 0 || style.visibility === "hidden") continue
      if (el.tagName === "A" && el.closest("p, li") && style.display === "inline") continue
      // A tick box counts with its label: the label is the target the finger meets.
      const target = el.type === "checkbox" || el.type === "radio" ? (el.closest("label") ?? el).getBoundingClientRect() : box
      if (target.width < min - 0.5 || target.height < min - 0.5) {
        const name = el.getAttribute("aria-label") || el.textContent.trim().slice(0, 30) || el.name || el.tagName
        small.push(`${name}: ${Math.round(target.width)}×${Math.round(target.height)}`)
      }
    }
    return small
  }, min)
}

/** The authenticator app's code for a base32 secret, `steps` time steps from now (RFC 6238:
 * SHA-1, 6 digits, 30 s). */
export function totp(secret, steps = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
  let bits = ""
  for (const char of secret.replace(/[\s=]/g, "").toUpperCase()) bits += alphabet.indexOf(char).toString(2).padStart(5, "0")
  const key = Buffer.from(bits.match(/.{8}/g).map(byte => parseInt(byte, 2)))
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000) + steps))
  const mac = createHmac("sha1", key).update(counter).digest()
  const offset = mac[mac.length - 1] & 0xf
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0")
}

/** A phone with a passkey authenticator (Chromium's virtual one, through CDP: `options` add to a
 * built-in, user-verifying platform authenticator), at http://localhost: WebAuthn needs a name,
 * not an address. Close its `context` at the end. */
export async function passkeyPhone(label, options = {}) {
  const context = await world.browser.newContext(PHONE)
  const page = await context.newPage()
  const errors = []
  page.on("pageerror", err => errors.push(err.message))
  const cdp = await context.newCDPSession(page)
  await cdp.send("WebAuthn.enable")
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
      ...options,
    },
  })
  const origin = world.cairn.baseUrl.replace("127.0.0.1", "localhost")
  await page.goto(origin)
  return { label, page, context, errors, origin }
}

/** Start a plan from the plan list and write what matters; resolves once it is synced, with its id. */
export async function startPlan(device, title, whatMatters) {
  const { page } = device
  await page.getByLabel("What would you like to call it?").fill(title)
  await page.getByRole("button", { name: "Start my plan" }).click()
  await page.getByLabel("Plan name").waitFor({ timeout: WAIT })
  await page.getByLabel("What matters to me").fill(whatMatters)
  await page.locator("#status[data-state=synced]").waitFor({ timeout: WAIT })
  return planIdFrom(device)
}
