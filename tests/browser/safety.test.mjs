// A phone that is safe to hold, share and sign out of (issue 24, items 1, 4 and 5), in real
// Chromium against the real cairn binary:
// - nothing written is lost: signing out with an edit made offline warns and offers to wait;
//   waiting, then reconnecting, signs out with the edit on the server; signing back in on the same
//   tab opens the plan again;
// - what the API has, the app shows: the printable page and downloads (Markdown, JSON; FHIR for
//   the owner only), the access log in words, the account's devices by name, renaming this
//   phone, ending another phone's session (that phone is signed out);
// - a shared phone: a PIN lock after which the page shows no plan text, IndexedDB holds no
//   readable plan text and localStorage no token or title; unlocking brings back the plan and a
//   half-typed goal; the quick exit leaves a blank page, and going back finds the lock.
import assert from "node:assert/strict"
import { readFile } from "node:fs/promises"
import { test } from "node:test"
import {
  PASSWORD,
  WAIT,
  axeViolations,
  eventually,
  expectText,
  passkeyPhone,
  phone,
  shot,
  signUp,
  smallTargets,
  startCairnAndBrowser,
  startPlan,
} from "./phones.mjs"

const world = startCairnAndBrowser()

/** axe-core and the 44-pixel tap targets on the screen shown now. */
async function checkPage(device, what) {
  assert.deepEqual(await axeViolations(device.page), [], `${what}: axe-core violations`)
  // (The skip link of index.html is the accessibility work's, fixed there.)
  const small = (await smallTargets(device.page)).filter(target => !target.startsWith("Skip to the plan"))
  assert.deepEqual(small, [], `${what}: tap targets under 44×44`)
  // 200 % text (twice the app's 17 px) still fits 360 pixels: nothing to scroll sideways.
  const wide = await device.page.evaluate(() => {
    const root = document.documentElement
    const before = root.style.fontSize
    root.style.fontSize = "34px"
    const overflowing = [...document.querySelectorAll("body *")]
      .filter(el => el.getBoundingClientRect().right > root.clientWidth + 1)
      .map(el => `${el.tagName.toLowerCase()}.${el.className}: ${Math.round(el.getBoundingClientRect().right)}`)
    const width = root.scrollWidth
    root.style.fontSize = before
    return { width, overflowing: overflowing.slice(0, 5) }
  })
  assert.ok(wide.width <= 360, `${what}: at 200 % text the page is ${wide.width} px wide: ${wide.overflowing.join(", ")}`)
}

async function logIn(device, username) {
  const { page } = device
  await page.getByLabel("Username").fill(username)
  await page.getByLabel("Password").fill(PASSWORD)
  await page.getByRole("button", { name: "Log in" }).click()
}

/** The account's plan as the server has it. */
async function serverPlan(username, planId) {
  const { accessToken } = await world.cairn.login(username)
  return (await world.cairn.request("GET", `/api/v1/plans/${planId}`, { token: accessToken })).body
}

test("signing out never loses an offline edit, and signing back in on the same tab opens the plan", { timeout: 120_000 }, async t => {
  const ana = await phone("safety-ana")
  const { page, context } = ana
  await signUp(ana, "ana", "Ana")
  const planId = await startPlan(ana, "Quiet evenings", "Walking the dog at dusk")

  // Offline, a new strength: saved on this phone only.
  await context.setOffline(true)
  await page.getByLabel("A strength").fill("I cook for my neighbours")
  await page.getByLabel("A strength").press("Enter")
  await expectText(ana, "I cook for my neighbours")
  await page.locator("#status[data-state=saved]").waitFor({ timeout: WAIT })

  // A second tab of the app is open on the list.
  const twin = await context.newPage()
  await twin.goto(`${world.cairn.baseUrl}/#/`)
  await twin.getByRole("heading", { name: "Hello, Ana" }).waitFor({ timeout: WAIT })

  // Signing out says what would be lost, and that the phone is offline.
  await page.goto(`${world.cairn.baseUrl}/#/`)
  await page.getByRole("button", { name: "Sign out of this phone" }).click()
  await page.getByRole("heading", { name: "Some changes are only on this phone" }).waitFor({ timeout: WAIT })
  await expectText(ana, "Changes to “Quiet evenings” have not reached Cairn yet")
  await expectText(ana, "This phone is offline")
  await shot(t, ana, "safety-01-sign-out-warning")
  await checkPage(ana, "the sign-out warning")

  // Waiting: nothing happens while offline; reconnecting syncs, then signs out.
  await page.getByRole("button", { name: "Wait for sync, then sign out" }).click()
  await expectText(ana, "Waiting for a connection")
  assert.equal(await page.getByRole("heading", { name: "Welcome to Cairn" }).count(), 0, "still signed in while offline")
  await context.setOffline(false)
  await page.getByRole("heading", { name: "Welcome to Cairn" }).waitFor({ timeout: WAIT })
  const stored = await serverPlan("ana", planId)
  assert.deepEqual(
    stored.document.strengths.map(s => s.text),
    ["I cook for my neighbours"],
    "the offline strength reached the server before signing out"
  )
  // The other tab is signed out too, and nothing of the account is left on the phone but the
  // (reset) vault.
  await twin.getByRole("heading", { name: "Welcome to Cairn" }).waitFor({ timeout: WAIT })
  await eventually(async () => {
    const databases = await page.evaluate(async () => (await indexedDB.databases()).map(db => db.name))
    return databases.every(name => name === "cairn-vault") ? true : undefined
  }, { what: "the plans database gone" })
  await twin.close()

  // Signing back in on the same tab (no reload) opens the plan again, from the server.
  await logIn(ana, "ana")
  await page.getByRole("heading", { name: "Hello, Ana" }).waitFor({ timeout: WAIT })
  await page.getByRole("link", { name: /Quiet evenings/ }).click()
  await page.getByLabel("Plan name").waitFor({ timeout: WAIT })
  await eventually(async () => ((await page.getByLabel("What matters to me").inputValue()) === "Walking the dog at dusk" ? true : undefined), {
    what: "the plan's words after signing back in",
  })
  await expectText(ana, "I cook for my neighbours")
  assert.deepEqual(ana.errors, [], "no script errors")
  await context.close()
})

test("the owner prints, downloads and reads the access log; devices are named, renamed and ended, keeping what an ended phone never sent", { timeout: 150_000 }, async t => {
  const rosa = await phone("safety-rosa")
  const ben = await phone("safety-ben")
  await signUp(rosa, "rosa", "Rosa")
  const planId = await startPlan(rosa, "Back to work", "A steady job by summer")
  const { accessToken } = await world.cairn.login("rosa")
  const code = await world.cairn.invite(accessToken, planId)
  await signUp(ben, "ben", "Ben")
  await ben.page.getByLabel("Invitation code").fill(code)
  await ben.page.getByRole("button", { name: "Join" }).click()
  await ben.page.getByLabel("Plan name").waitFor({ timeout: WAIT })

  // ---- the printable page and the downloads -----------------------------------------------
  const { page } = rosa
  await page.getByRole("link", { name: "Print or download" }).click()
  await page.getByRole("heading", { name: "Print or download the plan" }).waitFor({ timeout: WAIT })
  await page.locator(".printable").getByText("A steady job by summer").waitFor({ timeout: WAIT })
  await shot(t, rosa, "safety-02-export")
  await checkPage(rosa, "the export page")
  // The print stylesheet keeps the plan and drops the app around it.
  await page.emulateMedia({ media: "print" })
  assert.equal(await page.locator(".bar").isVisible(), false, "no top bar on paper")
  assert.equal(await page.getByRole("button", { name: "Print or save as PDF" }).isVisible(), false, "no buttons on paper")
  assert.ok(await page.locator(".printable").getByText("A steady job by summer").isVisible(), "the plan is on paper")
  await page.emulateMedia({ media: "screen" })

  const download = async (device, name) => {
    const [file] = await Promise.all([device.page.waitForEvent("download"), device.page.getByRole("button", { name }).click()])
    return { name: file.suggestedFilename(), text: await readFile(await file.path(), "utf8") }
  }
  const markdown = await download(rosa, "Download as a document (Markdown)")
  assert.match(markdown.name, /\.md$/)
  assert.ok(markdown.text.includes("A steady job by summer"), "the Markdown holds the plan")
  const json = await download(rosa, "Download as data (JSON)")
  assert.ok(JSON.stringify(JSON.parse(json.text)).includes("A steady job by summer"), "the JSON holds the plan")
  const fhir = await download(rosa, "Download for another care system (FHIR)")
  assert.equal(JSON.parse(fhir.text).resourceType, "Bundle", "the owner exports FHIR")

  // The supporter prints and downloads too, but FHIR is the person's decision only.
  await ben.page.goto(`${world.cairn.baseUrl}/#/plan/${planId}/export`)
  await ben.page.locator(".printable").getByText("A steady job by summer").waitFor({ timeout: WAIT })
  assert.equal(await ben.page.getByRole("button", { name: /FHIR/ }).count(), 0, "no FHIR for a supporter")
  await expectText(ben, "Only the person whose plan it is can export it for another care system")
  await download(ben, "Download as a document (Markdown)")

  // ---- the access log, in words ------------------------------------------------------------
  // (Ben's phone opening the plan is logged when its sync starts: wait for it to be.)
  await eventually(async () => {
    const log = await world.cairn.request("GET", `/api/v1/plans/${planId}/access-log`, { token: accessToken })
    return log.body.some(entry => entry.kind === "sync-opened" && entry.accountName === "Ben") ? true : undefined
  }, { what: "Ben's sync in the access log" })
  await page.getByRole("link", { name: "‹ Back to the plan" }).click()
  await page.getByRole("link", { name: "Who opened this plan" }).click()
  await page.getByRole("heading", { name: "Who opened this plan" }).waitFor({ timeout: WAIT })
  for (const words of [
    "Ben exported it as a document (Markdown)",
    "You exported it as a file for another care system (FHIR)",
    "You exported it as data (JSON)",
    "Ben joined the plan",
    "You made an invitation to join",
    "You started the plan",
    "Ben opened the plan",
  ]) {
    await expectText(rosa, words)
  }
  await shot(t, rosa, "safety-03-access-log")
  await checkPage(rosa, "the access log")

  // ---- devices: a real name, this phone marked, renamed, and another phone's session ended ---
  // Her tablet has the plan too, and a strength written there offline, not yet sent.
  const second = await phone("safety-rosa-tablet")
  await logIn(second, "rosa")
  await second.page.getByRole("link", { name: /Back to work/ }).click()
  await second.page.getByLabel("Plan name").waitFor({ timeout: WAIT })
  await second.page.locator("#status[data-state=synced]").waitFor({ timeout: WAIT })
  await second.context.setOffline(true)
  await second.page.getByLabel("A strength").fill("Good with customers")
  await second.page.getByLabel("A strength").press("Enter")
  await expectText(second, "Good with customers")
  await page.goto(`${world.cairn.baseUrl}/#/account`)
  await page.getByRole("heading", { name: "This phone and my account" }).waitFor({ timeout: WAIT })
  const mine = page.locator(".session", { hasText: "This phone" })
  await mine.waitFor({ timeout: WAIT })
  const name = await mine.locator(".session-name").textContent()
  assert.match(name, /^(Chromium|Chrome) on (Linux|Android)$/, `a readable device name, not "Browser": ${name}`)
  await shot(t, rosa, "safety-04-account")
  await checkPage(rosa, "the account screen")

  // Renaming needs a server with PATCH /me/sessions/{id}: with one, the new name shows; with an
  // older one, the app says it cannot and stops offering it.
  const probe = await world.cairn.request("PATCH", "/api/v1/me/sessions/00000000-0000-0000-0000-000000000000", {
    token: accessToken,
    body: { deviceName: "x" },
  })
  const renames = !(probe.status === 405 || (probe.status === 404 && probe.body?.error?.code !== "session_not_found"))
  await page.getByLabel("This phone's name").fill("Rosa's phone")
  await page.getByRole("button", { name: "Rename", exact: true }).click()
  if (renames) {
    await page.locator(".session", { hasText: "This phone" }).locator(".session-name", { hasText: "Rosa's phone" }).waitFor({ timeout: WAIT })
  } else {
    await expectText(rosa, "This Cairn server cannot rename devices yet")
    await eventually(async () => ((await page.getByLabel("This phone's name").count()) === 0 ? true : undefined), {
      what: "no rename offered where the server has none",
    })
    t.diagnostic("this server has no PATCH /me/sessions/{id} yet: renaming was refused politely")
  }

  // The tablet's session is another device: end it, and the tablet is signed out.
  const sessions = await world.cairn.request("GET", "/api/v1/me/sessions", { token: accessToken })
  const thisPhone = await page.locator(".session", { hasText: "This phone" }).getAttribute("data-session")
  const tablet = sessions.body.filter(s => s.id !== thisPhone && s.deviceName !== "interop test")
  assert.equal(tablet.length, 1, "the tablet's session is listed")
  const endButton = page.getByRole("button", { name: `End this session (${tablet[0].deviceName})` })
  await endButton.click()
  await expectText(rosa, "That session has ended.")
  await eventually(async () => ((await page.locator(`[data-session="${tablet[0].id}"]`).count()) === 0 ? true : undefined), {
    what: "the ended session gone from the list",
  })
  // Back online, its next look at Cairn finds the session over: it is signed out. The strength
  // it never sent is not thrown away: it waits on the tablet, sealed, for Rosa's next log-in.
  await second.context.setOffline(false)
  await second.page.getByRole("heading", { name: "Welcome to Cairn" }).waitFor({ timeout: 30_000 })
  await expectText(second, "Your session has ended. Some changes had not reached Cairn yet")
  assert.ok(!(await second.page.locator("body").innerText()).includes("Back to work"), "no plan named to whoever holds it")
  const sealed = await second.page.evaluate(scanIndexedDB, ["Good with customers", "Back to work"])
  assert.ok(sealed.values > 0, "the tablet still holds the plan")
  assert.deepEqual(sealed.hits, [], "sealed: nothing readable")
  await shot(t, second, "safety-09-session-ended")
  await logIn(second, "rosa")
  await second.page.getByRole("link", { name: /Back to work/ }).click()
  await expectText(second, "Good with customers")
  await eventually(async () => {
    const plan = await serverPlan("rosa", planId)
    return (plan.document.strengths ?? []).some(s => s.text === "Good with customers") ? true : undefined
  }, { what: "the tablet's kept strength on the server" })

  for (const device of [rosa, ben, second]) {
    assert.deepEqual(device.errors, [], `${device.label}: no script errors`)
    assert.deepEqual(device.foreign, [], `${device.label}: nothing from another origin`)
    await device.context.close()
  }
})

/** Every value in every IndexedDB database of the page, searched for each phrase: as a string,
 * and as UTF-8 bytes inside any binary value. Returns "database/store: phrase" hits. */
function scanIndexedDB(phrases) {
  const encoder = new TextEncoder()
  const needles = phrases.map(p => ({ phrase: p, bytes: encoder.encode(p) }))
  const containsBytes = (hay, needle) => {
    outer: for (let i = 0; i + needle.length <= hay.length; i++) {
      for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer
      return true
    }
    return false
  }
  const hits = []
  const walk = (value, where, seen = new Set()) => {
    if (value === null || value === undefined) return
    if (typeof value === "string") {
      for (const n of needles) if (value.includes(n.phrase)) hits.push(`${where}: ${n.phrase}`)
      return
    }
    if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
      const bytes = value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
      for (const n of needles) if (containsBytes(bytes, n.bytes)) hits.push(`${where}: ${n.phrase} (bytes)`)
      return
    }
    if (typeof value !== "object" || seen.has(value) || value instanceof CryptoKey) return
    seen.add(value)
    for (const key of Object.keys(value)) {
      walk(key, where, seen)
      walk(value[key], where, seen)
    }
  }
  return (async () => {
    let values = 0
    for (const { name } of await indexedDB.databases()) {
      const db = await new Promise((resolve, reject) => {
        const open = indexedDB.open(name)
        open.onsuccess = () => resolve(open.result)
        open.onerror = () => reject(open.error)
      })
      for (const storeName of db.objectStoreNames) {
        const store = db.transaction(storeName).objectStore(storeName)
        const [keys, all] = await Promise.all(
          [store.getAllKeys(), store.getAll()].map(
            request => new Promise((resolve, reject) => ((request.onsuccess = () => resolve(request.result)), (request.onerror = () => reject(request.error))))
          )
        )
        values += all.length
        walk(keys, `${name}/${storeName} (keys)`)
        walk(all, `${name}/${storeName}`)
      }
      db.close()
    }
    return { hits, values }
  })()
}

test("a PIN lock hides the plan, keeps it encrypted and a half-typed goal safe; quick exit leaves nothing", { timeout: 120_000 }, async t => {
  const carla = await phone("safety-carla")
  const { page } = carla
  await signUp(carla, "carla", "Carla")
  const planId = await startPlan(carla, "Sunday phone calls", "Calling my sister every Sunday")

  // The PIN is set in "This phone and my account".
  await page.goto(`${world.cairn.baseUrl}/#/account`)
  await page.getByLabel("New PIN (at least 4 digits)").fill("12")
  await page.getByLabel("The same PIN again").fill("12")
  await page.getByRole("button", { name: "Set the lock" }).click()
  await expectText(carla, "The PIN needs at least 4 digits")
  await page.getByLabel("New PIN (at least 4 digits)").fill("2468")
  await page.getByLabel("The same PIN again").fill("2468")
  await page.getByRole("button", { name: "Set the lock" }).click()
  await expectText(carla, "The lock is set.")
  await page.getByRole("button", { name: "Lock", exact: true }).waitFor({ timeout: WAIT })
  await page.getByLabel("Lock after this long without use").waitFor({ timeout: WAIT })
  await checkPage(carla, "the account screen with a lock")

  // A second tab of the app opens locked, and needs the PIN too.
  const twin = await carla.context.newPage()
  await twin.goto(`${world.cairn.baseUrl}/#/plan/${planId}`)
  await twin.getByRole("heading", { name: "Cairn is locked" }).waitFor({ timeout: WAIT })
  await twin.getByLabel("PIN").fill("2468")
  await twin.getByRole("button", { name: "Unlock" }).click()
  await twin.getByLabel("Plan name").waitFor({ timeout: WAIT })

  // Halfway through a new goal, she locks the app: every tab of it locks.
  await page.goto(`${world.cairn.baseUrl}/#/plan/${planId}`)
  await page.getByLabel("Plan name").waitFor({ timeout: WAIT })
  await page.getByLabel("A new goal, in your words").fill("Join the choir")
  await page.getByRole("button", { name: "Lock", exact: true }).click()
  await page.getByRole("heading", { name: "Cairn is locked" }).waitFor({ timeout: WAIT })
  await twin.getByRole("heading", { name: "Cairn is locked" }).waitFor({ timeout: WAIT })
  assert.ok(!(await twin.locator("body").innerText()).includes("Calling my sister"), "the other tab shows no plan text")
  await twin.close()
  const text = await page.locator("body").innerText()
  for (const phrase of ["Sunday phone calls", "Calling my sister", "Join the choir", "Carla"]) {
    assert.ok(!text.includes(phrase), `the locked page does not show "${phrase}"`)
  }
  await shot(t, carla, "safety-05-locked")
  await checkPage(carla, "the lock screen")

  // Storage: no readable plan text, title or name in IndexedDB; localStorage holds no token or title.
  const scan = await eventually(async () => {
    const result = await page.evaluate(scanIndexedDB, ["Calling my sister every Sunday", "Sunday phone calls", "Join the choir", "Carla"])
    return result.values > 0 ? result : undefined
  }, { what: "IndexedDB scanned" })
  assert.deepEqual(scan.hits, [], `IndexedDB holds readable plan text (${scan.values} values scanned)`)
  const local = await page.evaluate(() => Object.fromEntries(Object.entries(localStorage)))
  assert.deepEqual(Object.keys(local).filter(key => key !== "cairn.locale"), [], `localStorage holds only the language: ${Object.keys(local)}`)

  // A wrong PIN does not open it; the right one brings the plan and the half-typed goal back.
  await page.getByLabel("PIN").fill("0000")
  await page.getByRole("button", { name: "Unlock" }).click()
  await expectText(carla, "That PIN did not open it")
  await page.getByLabel("PIN").fill("2468")
  await page.getByRole("button", { name: "Unlock" }).click()
  await page.getByLabel("Plan name").waitFor({ timeout: WAIT })
  assert.equal(await page.getByLabel("What matters to me").inputValue(), "Calling my sister every Sunday")
  await eventually(async () => ((await page.getByLabel("A new goal, in your words").inputValue()) === "Join the choir" ? true : undefined), {
    what: "the half-typed goal back after unlocking",
  })

  // Leaving the app (another tab in front, the page hidden) locks it too.
  const other = await carla.context.newPage()
  await other.bringToFront()
  const hidden = await page.evaluate(() => document.visibilityState)
  if (hidden === "hidden") {
    await page.getByRole("heading", { name: "Cairn is locked" }).waitFor({ timeout: WAIT })
    await page.bringToFront()
    await page.getByLabel("PIN").fill("2468")
    await page.getByRole("button", { name: "Unlock" }).click()
    await page.getByLabel("Plan name").waitFor({ timeout: WAIT })
  } else {
    t.diagnostic("this headless Chromium keeps a background tab visible: leaving was not tried")
    await page.bringToFront()
  }
  await other.close()

  // Quick exit: Escape three times leaves for a blank page with nothing of Cairn on it.
  await page.locator("body").press("Escape")
  await page.keyboard.press("Escape")
  await page.keyboard.press("Escape")
  await page.waitForURL("about:blank", { timeout: WAIT })
  assert.equal((await page.locator("html").innerText()).trim(), "", "a blank page")
  assert.ok(!(await page.content()).toLowerCase().includes("cairn"), "no Cairn words on it")
  await shot(t, carla, "safety-06-quick-exit")
  // Going back finds the lock, not the plan.
  await page.goBack()
  await page.getByRole("heading", { name: "Cairn is locked" }).waitFor({ timeout: WAIT })
  assert.ok(!(await page.locator("body").innerText()).includes("Calling my sister"))

  // The quick exit's button is in the top bar on every screen.
  await page.getByLabel("PIN").fill("2468")
  await page.getByRole("button", { name: "Unlock" }).click()
  await page.locator("main h1").waitFor({ timeout: WAIT })
  await page.goto(`${world.cairn.baseUrl}/#/plan/${planId}`)
  await page.getByLabel("Plan name").waitFor({ timeout: WAIT })
  await page.getByRole("button", { name: "Quick exit" }).click()
  await page.waitForURL("about:blank", { timeout: WAIT })

  // Left alone for longer than the idle time she chose (a minute), it locks by itself.
  await page.goBack()
  await page.getByLabel("PIN").fill("2468")
  await page.getByRole("button", { name: "Unlock" }).click()
  await page.locator("main h1", { hasNotText: "Cairn is locked" }).waitFor({ timeout: WAIT })
  await page.goto(`${world.cairn.baseUrl}/#/account`)
  await page.getByLabel("Lock after this long without use").selectOption("1")
  await expectText(carla, "Cairn now locks after 1 minute without use.")
  await page.clock.install()
  await page.clock.fastForward("01:30")
  await page.getByRole("heading", { name: "Cairn is locked" }).waitFor({ timeout: WAIT })
  assert.deepEqual(carla.errors, [], "no script errors")
  await carla.context.close()

  // "About this app" says what stays on the phone, in Spanish too.
  const lucia = await phone("safety-about-es", { locale: "es-ES" })
  await lucia.page.getByRole("link", { name: "Sobre esta app: lo que se queda en este teléfono" }).click()
  await lucia.page.getByRole("heading", { name: "Sobre esta app" }).waitFor({ timeout: WAIT })
  await expectText(lucia, "Quién puede ver qué")
  await shot(t, lucia, "safety-07-about-es")
  await checkPage(lucia, "About this app")
  await lucia.context.close()
})

test("a phone from the version before: its plain-text plan, list and tokens move into the sealed store", { timeout: 90_000 }, async t => {
  // Dora writes her plan on one phone (this version)…
  const dora = await phone("safety-dora")
  await signUp(dora, "dora", "Dora")
  const planId = await startPlan(dora, "Morning walks", "Out of the door by eight")
  await dora.context.close()

  // …and another phone still holds it the way the previous version kept it: the session and the
  // plan list in localStorage, the plan's bytes in plain text in IndexedDB. That state is written
  // once this version's app on the page has finished starting (its sign-in screen is up): the
  // previous version's state never appears under a running app of this version, and an app still
  // starting would take the session and the list in before the reload (with its vault deleted
  // under it a moment before).
  const old = await phone("safety-dora-old")
  await old.page.getByRole("button", { name: "New here? Create an account" }).waitFor({ timeout: WAIT })
  const tokens = await world.cairn.login("dora")
  const [summary] = (await world.cairn.request("GET", "/api/v1/plans", { token: tokens.accessToken })).body
  const { bytes } = await world.cairn.changes(tokens.accessToken, planId)
  await old.page.evaluate(
    async ({ tokens, summary, bytes }) => {
      const remove = name =>
        new Promise(resolve => {
          const request = indexedDB.deleteDatabase(name)
          request.onsuccess = request.onerror = request.onblocked = () => resolve()
        })
      for (const { name } of await indexedDB.databases()) await remove(name)
      localStorage.setItem("cairn.session", JSON.stringify({ tokens, accessExpiresAt: Date.now() + tokens.expiresIn * 1000 }))
      localStorage.setItem(
        `cairn.plans.${tokens.account.id}`,
        JSON.stringify([{ url: summary.url, documentId: summary.documentId, id: summary.id, title: summary.title, role: "owner", with: [], confirmed: true }])
      )
      const db = await new Promise((resolve, reject) => {
        const open = indexedDB.open(`cairn-${tokens.account.id}`, 1)
        open.onupgradeneeded = () => open.result.createObjectStore("documents")
        open.onsuccess = () => resolve(open.result)
        open.onerror = () => reject(open.error)
      })
      const key = [summary.documentId, "incremental", "from-the-old-version"]
      await new Promise((resolve, reject) => {
        const tx = db.transaction("documents", "readwrite")
        tx.objectStore("documents").put({ key, binary: new Uint8Array(bytes) }, key)
        tx.oncomplete = resolve
        tx.onerror = () => reject(tx.error)
      })
      db.close()
    },
    { tokens, summary, bytes: [...bytes] }
  )
  const before = await old.page.evaluate(scanIndexedDB, ["Out of the door by eight"])
  assert.ok(before.hits.length > 0, "the scan finds plain text where the old version left it")

  // This version opens it, with no network needed for what is on the phone, and seals it.
  await old.page.reload()
  await old.page.getByRole("heading", { name: "Hello, Dora" }).waitFor({ timeout: WAIT })
  await old.page.getByRole("link", { name: /Morning walks/ }).click()
  await eventually(async () => ((await old.page.getByLabel("What matters to me").inputValue()) === "Out of the door by eight" ? true : undefined), {
    what: "the old phone's plan, opened",
  })
  const after = await old.page.evaluate(scanIndexedDB, ["Out of the door by eight", "Morning walks", "Dora"])
  assert.deepEqual(after.hits, [], "nothing readable left in IndexedDB")
  const keys = await old.page.evaluate(() => Object.keys(localStorage))
  assert.deepEqual(keys.filter(key => key !== "cairn.locale"), [], "the session and the list left localStorage")
  assert.deepEqual(old.errors, [])
  await old.context.close()
})

test("the phone's passkey (WebAuthn PRF) opens the lock too; a forgotten PIN removes everything and a sign-in brings the plan back", { timeout: 90_000 }, async t => {
  // WebAuthn's PRF extension: the authenticator's secret opens the lock.
  const device = await passkeyPhone("safety-eli", { ctap2Version: "ctap2_1", hasPrf: true })
  const { page, context, errors } = device
  try {
    await signUp(device, "eli", "Eli")
    await startPlan(device, "Eli's plan", "Painting on Saturdays")
    await page.goto(`${new URL(page.url()).origin}/#/account`)
    await page.getByLabel("New PIN (at least 4 digits)").fill("97531")
    await page.getByLabel("The same PIN again").fill("97531")
    await page.getByRole("button", { name: "Set the lock" }).click()
    await expectText(device, "The lock is set.")
    await page.getByRole("button", { name: "Unlock with this phone's passkey too" }).click()
    await expectText(device, "This phone's passkey opens the lock too. Your PIN still does.")
    await shot(t, device, "safety-08-passkey")
    await page.getByRole("button", { name: "Lock", exact: true }).click()
    await page.getByRole("heading", { name: "Cairn is locked" }).waitFor({ timeout: WAIT })
    await page.getByRole("button", { name: "Unlock with this phone's passkey" }).click()
    await page.getByRole("heading", { name: "This phone and my account" }).waitFor({ timeout: WAIT })

    // A forgotten PIN (and no passkey at hand): everything of Cairn's leaves the phone, after a
    // warning, and it is ready for a new sign-in.
    await page.getByRole("button", { name: "Lock", exact: true }).click()
    await page.getByText("Forgot your PIN?").click()
    await expectText(device, "changes that never reached Cairn are lost")
    await page.getByRole("button", { name: "Remove everything from this phone" }).click()
    await page.getByRole("heading", { name: "Welcome to Cairn" }).waitFor({ timeout: WAIT })
    const left = await page.evaluate(async () => (await indexedDB.databases()).map(db => db.name).filter(n => n !== "cairn-vault"))
    assert.deepEqual(left, [], "no plans database left")
    await logIn(device, "eli")
    await page.getByRole("link", { name: /Eli's plan/ }).waitFor({ timeout: WAIT })
    assert.deepEqual(errors, [], "no script errors")
  } finally {
    await context.close()
  }
})
