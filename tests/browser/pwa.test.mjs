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
import path from "node:path"
import { test } from "node:test"
import {
  PASSWORD,
  SHOTS,
  WAIT,
  accountId,
  contrastFailures,
  eventually,
  expectText,
  phone,
  planIdFrom,
  shot,
  shows,
  signUp,
  startCairnAndBrowser,
  status,
  storedKeys,
} from "./phones.mjs"

const world = startCairnAndBrowser()

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
  await eventually(async () => ((await sam.page.getByLabel("What matters to Maria").inputValue()).includes("Growing things") ? true : undefined), {
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
  assert.equal(await shows(maria, "Bring seeds on Tuesday"), false)

  // ---- back online: both show the merged plan ---------------------------------------------
  await maria.context.setOffline(false)
  await sam.context.setOffline(false)
  await expectText(maria, "Bring seeds on Tuesday", "Sam's offline step, after reconnecting")
  await eventually(async () => ((await sam.page.getByLabel("Goal 1, in Maria's words").inputValue()) === "Get my plot back by spring, with Dee" ? true : undefined), {
    what: "Maria's offline words on Sam's phone",
  })
  assert.equal(await maria.page.getByLabel("In my words").inputValue(), "Get my plot back by spring, with Dee")
  await maria.page.locator("#status[data-state=synced]").waitFor({ timeout: WAIT })
  await sam.page.locator("#status[data-state=synced]").waitFor({ timeout: WAIT })

  // The server holds the same merged plan.
  const token = (await world.cairn.login("maria")).accessToken
  const stored = await eventually(async () => {
    const answer = await world.cairn.request("GET", `/api/v1/plans/${documentId}`, { token })
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
  // In sessions of editing, each said in words ("Maria added the goal …", "Sam marked … done").
  const said = maria.page.locator(".history li li")
  await said.first().waitFor({ timeout: WAIT })
  const sentences = await said.allTextContents()
  assert.ok(sentences.some(s => s.startsWith("Maria added the goal “")), `history in words: ${sentences.join(" / ")}`)
  assert.ok(sentences.some(s => s.startsWith("Sam ")), `Sam's edits said too: ${sentences.join(" / ")}`)
  await said.first().scrollIntoViewIfNeeded()
  await shot(t, maria, "07-history-in-words")

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

  // ---- she invites him again: his phone (the same tab) holds the whole plan once more ------
  await maria.page.getByRole("button", { name: "Invite a supporter" }).click()
  const again = await eventually(async () => {
    const shown = await codeBox.getAttribute("data-invitation")
    return shown && shown !== code ? shown : undefined
  }, { what: "a new invitation code" })
  await sam.page.getByLabel("Invitation code").fill(again)
  await sam.page.getByRole("button", { name: "Join" }).click()
  await expectText(sam, "Just mine now", "the plan again on Sam's phone")
  await expectText(sam, "Ring the allotment society")
  await eventually(async () => ((await storedKeys(sam, samId, documentId)) >= 2 ? true : undefined), {
    what: "the plan saved on Sam's phone again",
  })
  // With no network, from the phone's own storage alone, it opens whole (not only what changed
  // since his phone last held it).
  await sam.context.setOffline(true)
  await sam.page.reload()
  await expectText(sam, "Just mine now", "the rejoined plan, from the phone's storage")
  await expectText(sam, "Ring the allotment society", "the plan's earlier steps, from the phone's storage")

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
  await page.goto(`${world.cairn.baseUrl}/#/`)
  await page.getByLabel("What would you like to call it?").fill("Made on the bus")
  await page.getByRole("button", { name: "Start my plan" }).click()
  await page.getByLabel("Plan name").waitFor({ timeout: WAIT })
  await page.getByLabel("What matters to me").fill("Written with no signal")
  await context.setOffline(false)
  await page.locator("#status[data-state=synced]").waitFor({ timeout: WAIT })
  const token = (await world.cairn.login("dee")).accessToken
  const plans = await eventually(async () => {
    const answer = await world.cairn.request("GET", "/api/v1/plans", { token })
    return answer.body.length === 2 ? answer.body : undefined
  }, { what: "both plans in Dee's list on the server" })
  assert.deepEqual(plans.map(p => p.title).sort(), ["Made on the bus", "Steady mornings"])
  const mornings = plans.find(p => p.title === "Steady mornings")
  const detail = await world.cairn.request("GET", `/api/v1/plans/${mornings.id}`, { token })
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
  // The recovery codes, shown once (the focus on their heading): past Print to the tick, then on.
  await page.getByRole("heading", { name: "Your recovery codes" }).waitFor({ timeout: WAIT })
  await page.keyboard.press("Tab")
  await page.keyboard.press("Tab")
  await page.keyboard.press("Space")
  await page.keyboard.press("Tab")
  await page.keyboard.press("Enter")
  await page.getByRole("heading", { name: "Hello, Kim" }).waitFor({ timeout: WAIT }).catch(async err => {
    await page.screenshot({ path: path.join(SHOTS, "kim-failed.png") })
    throw err
  })
  await page.getByLabel("What would you like to call it?").fill("One day at a time")
  await page.keyboard.press("Enter")
  await page.getByLabel("Plan name").waitFor({ timeout: WAIT })

  for (const screen of ["#/", `#/plan/${planIdFrom(kim)}`]) {
    await page.goto(`${world.cairn.baseUrl}/${screen}`)
    await page.locator("main h1, main label").first().waitFor({ timeout: WAIT })
    const width = await page.evaluate(() => document.documentElement.scrollWidth)
    assert.ok(width <= 360, `${screen} fits 360 pixels (is ${width})`)
    const failures = await page.evaluate(contrastFailures)
    assert.deepEqual(failures, [], `${screen}: text below WCAG AA contrast`)
  }
  await kim.context.close()
})

