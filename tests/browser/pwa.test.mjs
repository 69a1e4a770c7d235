// The reference PWA (web/dist, served by the real cairn binary) in a real browser: Debian's
// Chromium, headless, driven by Playwright. Two browser contexts at phone size are the person and
// their supporter: they register, invite, co-edit live with presence, go offline, both edit,
// reconnect and both show the merged plan; the owner removes the supporter and the supporter's
// phone wipes its copy. Also: the app installs and opens offline, works from the keyboard, fits a
// 360-pixel screen, meets WCAG AA contrast and loads nothing from anywhere else.
//
// Screenshots at phone size are written to target/browser-screenshots/ (named in the test
// output); the README shows two of them from docs/screenshots/.
import assert from "node:assert/strict"
import { mkdir, mkdtemp, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import path from "node:path"
import { after, before, test } from "node:test"
import { fileURLToPath } from "node:url"
import { chromium } from "playwright-core"
import { Cairn, PASSWORD, eventually } from "../interop/harness.mjs"

const here = path.dirname(fileURLToPath(import.meta.url))
const WEB_DIR = path.resolve(here, "../../web/dist")
const SHOTS = path.resolve(here, "../../target/browser-screenshots")
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium"
const PHONE = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, hasTouch: true, isMobile: true }
const WAIT = 15_000
// Headless as root, with nothing reaching out to Google's services (this network has none).
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
]

let cairn
let browser

before(async () => {
  await mkdir(SHOTS, { recursive: true })
  cairn = await Cairn.start({ env: { CAIRN_WEB_DIR: WEB_DIR } })
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
})

/** Every phone's browser context, closed at the end even when a test failed halfway. */
const contexts = []

after(async () => {
  for (const context of contexts) await context.close().catch(() => {})
  await browser?.close()
  await cairn?.stop()
})

/** A phone: its own browser context (storage, service worker, network) and one page. An
 * installed app needs a real profile (Chromium never installs from an incognito context). */
async function phone(label, { profile = false } = {}) {
  const context = profile
    ? await chromium.launchPersistentContext(await mkdtemp(path.join(tmpdir(), "cairn-phone-")), {
        ...PHONE,
        executablePath: CHROMIUM,
        args: CHROMIUM_ARGS,
      })
    : await browser.newContext(PHONE)
  contexts.push(context)
  const page = context.pages()[0] ?? (await context.newPage())
  const foreign = []
  page.on("request", request => {
    const url = new URL(request.url())
    if (!["data:", "blob:"].includes(url.protocol) && url.origin !== new URL(cairn.baseUrl).origin) {
      foreign.push(request.url())
    }
  })
  const errors = []
  page.on("pageerror", err => errors.push(err.message))
  const console = []
  page.on("console", message => console.push(`${message.type()}: ${message.text()}`))
  after(() => writeFile(path.join(SHOTS, `${label}.console.log`), console.join("\n")).catch(() => {}))
  page.on("dialog", dialog => dialog.accept())
  await page.goto(cairn.baseUrl)
  return { label, context, page, foreign, errors }
}

async function shot(t, device, name) {
  const file = path.join(SHOTS, `${name}.png`)
  await device.page.screenshot({ path: file, fullPage: false })
  t.diagnostic(`screenshot: ${path.relative(path.resolve(here, "../.."), file)}`)
}

async function signUp(device, username, name) {
  const { page } = device
  await page.getByRole("button", { name: "New here? Create an account" }).click()
  await page.getByLabel("Username").fill(username)
  await page.getByLabel("Your name, as others will see it").fill(name)
  await page.getByLabel("Password").fill(PASSWORD)
  await page.getByRole("button", { name: "Create account" }).click()
  await page.getByRole("heading", { name: `Hello, ${name}` }).waitFor({ timeout: WAIT })
}

/** The status line: "Synced" or "Saved on this phone" (and its state for the test). */
function status(device) {
  return device.page.locator("#status")
}

async function expectText(device, text, what = text) {
  await device.page.getByText(text, { exact: false }).first().waitFor({ timeout: WAIT }).catch(err => {
    throw new Error(`${device.label}: ${what} did not show: ${err.message}`)
  })
}

/** Keys the phone's IndexedDB (automerge-repo's storage) holds for a document. */
async function storedKeys(device, userId, documentId) {
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

async function accountId(device) {
  return device.page.evaluate(() => JSON.parse(localStorage.getItem("cairn.session")).tokens.account.id)
}

function planIdFrom(device) {
  return new URL(device.page.url()).hash.replace("#/plan/", "")
}

test("a person and their supporter write a plan together, offline and online, until the person ends it", { timeout: 180_000 }, async t => {
  const maria = await phone("maria")
  const sam = await phone("sam")
  await shot(t, maria, "01-welcome")

  // ---- the person signs up and starts her plan ------------------------------------------
  await signUp(maria, "maria", "Maria")
  await maria.page.getByLabel("What would you like to call it?").fill("Back to the allotment")
  await maria.page.getByRole("button", { name: "Start my plan" }).click()
  await maria.page.getByLabel("Plan name").waitFor({ timeout: WAIT })
  assert.equal(await maria.page.getByLabel("Plan name").inputValue(), "Back to the allotment")
  const documentId = planIdFrom(maria)

  await maria.page.getByLabel("What matters to me").fill("Being there for my kids. Growing things again.")
  await maria.page.getByLabel("A strength").fill("I keep showing up")
  await maria.page.getByLabel("A strength").press("Enter")
  await maria.page.getByLabel("A new goal, in your words").fill("Get my plot back by spring")
  await maria.page.getByRole("button", { name: "Add goal" }).click()
  await maria.page.getByLabel("A next step").fill("Ring the allotment society")
  await maria.page.getByLabel("Who does it").selectOption("me")
  await maria.page.getByRole("button", { name: "Add step" }).click()
  await expectText(maria, "Ring the allotment society")
  await maria.page.getByLabel("How did it go?").fill("Good week, slept better")
  await maria.page.getByLabel("What did we learn?").fill("Mornings work best")
  await maria.page.getByRole("button", { name: "Add check-in" }).click()
  await expectText(maria, "Good week, slept better")
  await maria.page.locator("#status[data-state=synced]").waitFor({ timeout: WAIT })

  // ---- she invites her supporter: a code as text and as a QR code -------------------------
  await maria.page.getByRole("button", { name: "Invite a supporter" }).click()
  const codeBox = maria.page.locator("[data-invitation]")
  await codeBox.waitFor({ timeout: WAIT })
  const code = await codeBox.getAttribute("data-invitation")
  assert.match(code, /^[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}$/)
  const qr = maria.page.getByRole("img", { name: /QR code for the invitation/ })
  assert.ok((await qr.getAttribute("src")).startsWith("data:image/png"), "the QR code is drawn on the phone")
  await qr.scrollIntoViewIfNeeded()
  await shot(t, maria, "02-invite")

  // ---- the supporter joins with the code and sees her words ------------------------------
  await signUp(sam, "sam", "Sam")
  await sam.page.getByLabel("Invitation code").fill(code.toLowerCase().replace("-", " "))
  await sam.page.getByRole("button", { name: "Join" }).click()
  await sam.page.getByLabel("Plan name").waitFor({ timeout: WAIT })
  await eventually(async () => ((await sam.page.getByLabel("What matters to me").inputValue()).includes("Growing things") ? true : undefined), {
    what: "Maria's words on Sam's phone",
  })
  await expectText(sam, "Ring the allotment society")

  // ---- live: each sees the other is here, and the other's edits ---------------------------
  await maria.page.locator("[data-presence]", { hasText: "Sam" }).waitFor({ timeout: WAIT })
  await sam.page.locator("[data-presence]", { hasText: "Maria" }).waitFor({ timeout: WAIT })
  // Maria is halfway through a new goal when Sam's edit arrives and her plan re-renders.
  await maria.page.getByLabel("A new goal, in your words").fill("Learn to graft")
  await sam.page.getByLabel("A strength").fill("Knows every plant by name")
  await sam.page.getByLabel("A strength").press("Enter")
  await expectText(maria, "Knows every plant by name", "Sam's strength, live")
  assert.equal(
    await maria.page.getByLabel("A new goal, in your words").inputValue(),
    "Learn to graft",
    "a half-written goal survives the other phone's edit"
  )
  await maria.page.getByLabel("A new goal, in your words").fill("")
  await sam.page.getByLabel("A next step").fill("Find the society's opening hours")
  await sam.page.getByLabel("Who does it").selectOption("supporter")
  await sam.page.getByRole("button", { name: "Add step" }).click()
  await expectText(maria, "Find the society's opening hours", "Sam's step, live")
  await maria.page.getByRole("checkbox", { name: "Ring the allotment society" }).check()
  await eventually(async () => ((await sam.page.getByRole("checkbox", { name: "Ring the allotment society" }).isChecked()) ? true : undefined), {
    what: "the step Maria marked done, on Sam's phone",
  })
  await shot(t, sam, "03-co-editing")

  // ---- both go offline and both edit -------------------------------------------------------
  await maria.context.setOffline(true)
  await sam.context.setOffline(true)
  const goal = maria.page.getByLabel("In my words")
  await goal.click()
  await goal.press("End")
  await goal.pressSequentially(", with Dee")
  await maria.page.locator("#status[data-state=saved]").waitFor({ timeout: WAIT })
  assert.equal(await status(maria).textContent(), "Saved on this phone")
  await sam.page.getByLabel("A next step").fill("Bring seeds on Tuesday")
  await sam.page.getByLabel("Who does it").selectOption("together")
  await sam.page.getByRole("button", { name: "Add step" }).click()
  await expectText(sam, "Bring seeds on Tuesday")
  await sam.page.locator("#status[data-state=saved]").waitFor({ timeout: WAIT })
  await shot(t, maria, "04-offline")
  // Neither has the other's offline edit yet.
  assert.equal(await maria.page.getByText("Bring seeds on Tuesday").count(), 0)

  // ---- back online: both show the merged plan ---------------------------------------------
  await maria.context.setOffline(false)
  await sam.context.setOffline(false)
  await expectText(maria, "Bring seeds on Tuesday", "Sam's offline step, after reconnecting")
  await eventually(async () => ((await sam.page.getByLabel("In my words").inputValue()) === "Get my plot back by spring, with Dee" ? true : undefined), {
    what: "Maria's offline words on Sam's phone",
  })
  assert.equal(await maria.page.getByLabel("In my words").inputValue(), "Get my plot back by spring, with Dee")
  await maria.page.locator("#status[data-state=synced]").waitFor({ timeout: WAIT })
  await sam.page.locator("#status[data-state=synced]").waitFor({ timeout: WAIT })

  // The server holds the same merged plan.
  const token = (await cairn.login("maria")).accessToken
  const stored = await eventually(async () => {
    const answer = await cairn.request("GET", `/api/v1/plans/${documentId}`, { token })
    const steps = answer.body.document.goals?.[0]?.steps ?? []
    return steps.length === 3 && answer.body.document.goals[0].text.endsWith("with Dee") ? answer.body : undefined
  }, { what: "the merged plan on the server" })
  assert.deepEqual(
    stored.document.goals[0].steps.map(step => [step.text, step.who, step.done]),
    [
      ["Ring the allotment society", "me", true],
      ["Find the society's opening hours", "supporter", false],
      ["Bring seeds on Tuesday", "together", false],
    ]
  )
  assert.equal(stored.schemaIssue, null, "what the PWA writes fits schema v1")

  // ---- history: who changed what --------------------------------------------------------
  await maria.page.getByRole("button", { name: "Show the history" }).click()
  const history = maria.page.locator(".history li")
  await history.first().waitFor({ timeout: WAIT })
  const authors = new Set(await maria.page.locator(".history li strong").allTextContents())
  assert.ok(authors.has("Maria") && authors.has("Sam"), `history names both: ${[...authors]}`)

  // ---- the person removes her supporter: his phone stops syncing and wipes its copy -------
  const samId = await accountId(sam)
  assert.ok((await storedKeys(sam, samId, documentId)) > 0, "Sam's phone held the plan")
  await maria.page.getByRole("button", { name: "Remove Sam" }).click()
  await sam.page.getByRole("heading", { name: "Hello, Sam" }).waitFor({ timeout: WAIT })
  await expectText(sam, "has ended", "the notice that access ended")
  await eventually(async () => ((await storedKeys(sam, samId, documentId)) === 0 ? true : undefined), {
    what: "the plan gone from Sam's IndexedDB",
  })
  assert.equal(await sam.page.locator(".plan-link").count(), 0, "the plan is gone from his list")
  await expectText(sam, "“Back to the allotment” has ended")
  await shot(t, sam, "05-removed")
  // And Maria's further words never reach him.
  await maria.page.getByLabel("What matters to me").fill("Being there for my kids. Growing things again. Just mine now.")
  await maria.page.locator("#status[data-state=synced]").waitFor({ timeout: WAIT })
  assert.equal(await storedKeys(sam, samId, documentId), 0)

  for (const device of [maria, sam]) {
    assert.deepEqual(device.foreign, [], `${device.label}: nothing loaded from another origin`)
    assert.deepEqual(device.errors, [], `${device.label}: no script errors`)
    await device.context.close()
  }
})

test("the app installs, then opens and edits with no network at all", { timeout: 120_000 }, async t => {
  const dee = await phone("dee", { profile: true })
  const { page, context } = dee
  await signUp(dee, "dee", "Dee")
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true))
  // Chromium's own installability check: manifest, icons, service worker.
  const cdp = await context.newCDPSession(page)
  const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors")
  assert.deepEqual(installabilityErrors, [], "Chromium finds the app installable")
  const manifest = await page.evaluate(async () => (await fetch("/manifest.webmanifest")).json())
  assert.equal(manifest.display, "standalone")

  await page.getByLabel("What would you like to call it?").fill("Steady mornings")
  await page.getByRole("button", { name: "Start my plan" }).click()
  await page.getByLabel("Plan name").waitFor({ timeout: WAIT })
  await page.getByLabel("What matters to me").fill("Calm starts to the day")
  await page.locator("#status[data-state=synced]").waitFor({ timeout: WAIT })
  const deeId = await accountId(dee)
  const planId = planIdFrom(dee)
  await eventually(async () => ((await storedKeys(dee, deeId, planId)) > 0 ? true : undefined), {
    what: "the plan in IndexedDB",
  })

  // No network: the app still opens (from the service worker) with the plan (from IndexedDB).
  await context.setOffline(true)
  await page.reload()
  await page.getByLabel("Plan name").waitFor({ timeout: WAIT })
  assert.equal(await page.getByLabel("What matters to me").inputValue(), "Calm starts to the day")
  await page.getByLabel("A strength").fill("I ask for help now")
  await page.getByLabel("A strength").press("Enter")
  await expectText(dee, "I ask for help now")
  assert.equal(await status(dee).textContent(), "Saved on this phone")

  // A plan started with no network at all becomes hers on the server when she reconnects.
  await page.goto(`${cairn.baseUrl}/#/`)
  await page.getByLabel("What would you like to call it?").fill("Made on the bus")
  await page.getByRole("button", { name: "Start my plan" }).click()
  await page.getByLabel("Plan name").waitFor({ timeout: WAIT })
  await page.getByLabel("What matters to me").fill("Written with no signal")
  await context.setOffline(false)
  await page.locator("#status[data-state=synced]").waitFor({ timeout: WAIT })
  const token = (await cairn.login("dee")).accessToken
  const plans = await eventually(async () => {
    const answer = await cairn.request("GET", "/api/v1/plans", { token })
    return answer.body.length === 2 ? answer.body : undefined
  }, { what: "both plans in Dee's list on the server" })
  assert.deepEqual(plans.map(p => p.title).sort(), ["Made on the bus", "Steady mornings"])
  const mornings = plans.find(p => p.title === "Steady mornings")
  const detail = await cairn.request("GET", `/api/v1/plans/${mornings.id}`, { token })
  assert.deepEqual(detail.body.document.strengths.map(s => s.text), ["I ask for help now"])
  assert.deepEqual(dee.foreign, [])
  assert.deepEqual(dee.errors, [])
  await context.close()
})

test("it works from the keyboard, fits a 360-pixel screen and meets WCAG AA contrast", { timeout: 60_000 }, async () => {
  const kim = await phone("kim")
  const { page } = kim
  // Keyboard only: tab to the link, open sign-up, fill it and submit with Enter.
  await page.getByRole("heading", { name: "Welcome to Cairn" }).waitFor({ timeout: WAIT })
  await page.keyboard.press("Tab")
  let guard = 0
  while (!(await page.evaluate(() => document.activeElement?.textContent?.includes("Create an account"))) && guard++ < 20) {
    await page.keyboard.press("Tab")
  }
  await page.keyboard.press("Enter")
  await page.getByRole("heading", { name: "Create your account" }).waitFor({ timeout: WAIT })
  await page.getByLabel("Username").focus()
  await page.keyboard.type("kim")
  await page.keyboard.press("Tab")
  await page.keyboard.type("Kim")
  await page.keyboard.press("Tab")
  await page.keyboard.type(PASSWORD)
  await page.keyboard.press("Enter")
  await page.getByRole("heading", { name: "Hello, Kim" }).waitFor({ timeout: WAIT }).catch(async err => {
    await page.screenshot({ path: path.join(SHOTS, "kim-failed.png") })
    throw err
  })
  await page.getByLabel("What would you like to call it?").fill("One day at a time")
  await page.keyboard.press("Enter")
  await page.getByLabel("Plan name").waitFor({ timeout: WAIT })

  for (const screen of ["#/", `#/plan/${planIdFrom(kim)}`]) {
    await page.goto(`${cairn.baseUrl}/${screen}`)
    await page.locator("main h1, main label").first().waitFor({ timeout: WAIT })
    const width = await page.evaluate(() => document.documentElement.scrollWidth)
    assert.ok(width <= 360, `${screen} fits 360 pixels (is ${width})`)
    const failures = await page.evaluate(contrastFailures)
    assert.deepEqual(failures, [], `${screen}: text below WCAG AA contrast`)
  }
  await kim.context.close()
})

/** In the page: every visible text element whose contrast with its background is below AA. */
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
