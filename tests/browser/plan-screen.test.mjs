// The plan screen with two phones (issue 24, items 2, 3, 6 and 7): the person (Maria) and her
// supporter (Sam) each edit and remove every kind of item and see the other's result live; Sam's
// screen speaks from his side ("What matters to Maria", "who does it": Maria / Me / Together,
// stored as the same schema values); a partner's edit never moves the focus or the caret (the
// focused element is the same DOM node before and after: nothing is rebuilt); presence clears
// when a phone goes offline, leaves the plan, or its member is removed (Dee, a second supporter,
// whose "who does it" also reads "Maria / Me / Together") or disabled by an admin (Lee, then shown
// as "(account disabled)"); the screen passes axe-core and the
// 44-pixel tap-target check on both phones at 360 px and reflows at 200 % text; Sam's side reads
// the same in Spanish; Maria deletes the plan after typing its name (refused while offline, her
// plan kept) and both phones wipe it.
import assert from "node:assert/strict"
import { spawn } from "node:child_process"
import { test } from "node:test"
import { CAIRN_BIN, PASSWORD as ADMIN_PASSWORD } from "../interop/harness.mjs"
import {
  WAIT,
  accountId,
  axeViolations,
  eventually,
  expectText,
  phone,
  planIdFrom,
  shot,
  shows,
  signUp,
  smallTargets,
  startCairnAndBrowser,
  storedKeys,
  totp,
} from "./phones.mjs"

const world = startCairnAndBrowser()

let mariasToken = null

/** The plan as the server holds it (with its `schemaIssue`), read with Maria's token. */
async function serverPlan(documentId) {
  mariasToken ??= (await world.cairn.login("maria")).accessToken
  const token = mariasToken
  return (await world.cairn.request("GET", `/api/v1/plans/${documentId}`, { token })).body
}

/** An admin's token: `cairn admin create` on the running server's data, then a login. */
async function adminToken() {
  const child = spawn(CAIRN_BIN, ["admin", "create", "--username", "agency", "--display-name", "Agency", "--password-stdin"], {
    env: { ...process.env, CAIRN_DATA_DIR: world.cairn.dataDir },
    stdio: ["pipe", "ignore", "inherit"],
  })
  child.stdin.end(`${ADMIN_PASSWORD}\n`)
  const code = await new Promise(resolve => child.on("exit", resolve))
  assert.equal(code, 0, "cairn admin create")
  const answer = await world.cairn.request("POST", "/api/v1/auth/login", { body: { username: "agency", password: ADMIN_PASSWORD } })
  // Admin routes need a second factor: an authenticator app, confirmed in this session.
  const token = answer.body.accessToken
  const { body } = await world.cairn.request("POST", "/api/v1/me/second-factor/totp", { token })
  const confirmed = await world.cairn.request("POST", "/api/v1/me/second-factor/totp/confirm", { token, body: { code: totp(body.secret) } })
  assert.equal(confirmed.status, 204, "the admin's authenticator app confirmed")
  return token
}

/** Wait until `read()` (on a phone) gives `expected`. */
async function until(read, expected, what) {
  await eventually(async () => ((await read()) === expected ? true : undefined), { what })
}

const box = (device, name) => device.page.getByRole("textbox", { name, exact: true })
const button = (device, name) => device.page.getByRole("button", { name, exact: true })

/** Every visible control's accessible name that another control shares (radios excepted: each
 * group names them). */
function duplicateNames() {
  const nameOf = el =>
    (el.getAttribute("aria-label") ||
      [...(el.labels ?? [])].map(l => l.textContent).join(" ") ||
      el.textContent ||
      "").trim()
  const seen = new Map()
  for (const el of document.querySelectorAll("a[href], button, input:not([type=radio]), select, textarea")) {
    if (el.getClientRects().length === 0) continue
    const name = nameOf(el)
    seen.set(name, (seen.get(name) ?? 0) + 1)
  }
  return [...seen].filter(([, count]) => count > 1).map(([name]) => name)
}

/** What does not fit the 360-pixel screen: anything wider, or a menu whose chosen words are cut. */
function overflowing() {
  const out = []
  const width = document.documentElement.clientWidth
  if (document.documentElement.scrollWidth > width) out.push(`page is ${document.documentElement.scrollWidth} wide`)
  for (const el of document.querySelectorAll("main *")) {
    const box = el.getBoundingClientRect()
    if (box.width === 0 || getComputedStyle(el).visibility === "hidden" || el.closest(".visually-hidden")) continue
    if (box.right > width + 0.5 || box.left < -0.5) out.push(`${el.tagName}.${el.className}: ${Math.round(box.left)}–${Math.round(box.right)}`)
    if (el.matches("input, textarea") && el.scrollWidth > el.clientWidth + 1) out.push(`the words in "${el.value.slice(0, 20)}" are cut off`)
    if (el.tagName === "SELECT") {
      const probe = document.createElement("span")
      probe.style.font = getComputedStyle(el).font
      probe.style.position = "absolute"
      probe.style.whiteSpace = "nowrap"
      probe.textContent = el.selectedOptions[0]?.textContent ?? ""
      document.body.append(probe)
      // The words, its padding and the arrow must fit inside.
      if (probe.getBoundingClientRect().width + 20 > el.clientWidth) out.push(`menu "${probe.textContent}" is cut off`)
      probe.remove()
    }
  }
  return out
}

test("two phones edit and remove every kind of item, each from their side, until the owner deletes the plan", { timeout: 240_000 }, async t => {
  const maria = await phone("plan-maria")
  const sam = await phone("plan-sam")

  // ---- Maria starts her plan with one of everything -------------------------------------------
  await signUp(maria, "maria", "Maria")
  await maria.page.getByLabel("What would you like to call it?").fill("Back to the allotment")
  await maria.page.getByRole("button", { name: "Start my plan" }).click()
  await maria.page.getByRole("heading", { level: 1, name: "Back to the allotment" }).waitFor({ timeout: WAIT })
  const documentId = planIdFrom(maria)
  await maria.page.getByLabel("What matters to me").fill("Being there for my kids.")
  await maria.page.getByLabel("A strength").fill("I keep showing up")
  await button(maria, "Add strength").click()
  await maria.page.getByLabel("A new goal, in your words").fill("Get my plot back by spring")
  await button(maria, "Add goal").click()
  await maria.page.getByLabel("A next step (goal 1)").fill("Ring the allotment society")
  await button(maria, "Add step to goal 1").click()
  await maria.page.getByLabel("Who or what helps").fill("My sister Dee")
  await button(maria, "Add support").click()
  await maria.page.getByLabel("How did it go?").fill("Good week")
  await button(maria, "Add check-in").click()
  await box(maria, "Check-in 1: how it went").waitFor({ timeout: WAIT })

  await button(maria, "Invite a supporter").click()
  const code = await maria.page.locator("[data-invitation]").getAttribute("data-invitation", { timeout: WAIT })
  await signUp(sam, "sam", "Sam")
  await sam.page.getByLabel("Invitation code").fill(code)
  await button(sam, "Join").click()
  await sam.page.getByRole("heading", { level: 1, name: "Back to the allotment" }).waitFor({ timeout: WAIT })

  // ---- Sam's screen speaks from his side ---------------------------------------------------------
  await until(() => box(sam, "What matters to Maria").inputValue(), "Being there for my kids.", "Maria's words under Sam's label")
  await sam.page.getByRole("heading", { name: "What's strong for Maria right now?" }).waitFor()
  await sam.page.getByRole("heading", { name: "What would Maria like to do moving forward?" }).waitFor()
  await sam.page.getByRole("heading", { name: "Who helps Maria?" }).waitFor()
  await box(sam, "Goal 1, in Maria's words").waitFor()
  await box(sam, "Maria's plan name").waitFor()
  const samWho = sam.page.getByLabel("Who does it (goal 1)")
  assert.deepEqual(await samWho.locator("option").allTextContents(), ["Maria", "Me", "Together"])
  assert.deepEqual(await maria.page.getByLabel("Who does it (goal 1)").locator("option").allTextContents(), ["Me", "My supporter", "Together"])
  assert.equal(await sam.page.getByLabel("Who takes step 1 of goal 1").inputValue(), "me")
  assert.equal(await sam.page.getByLabel("Who takes step 1 of goal 1").locator("option:checked").textContent(), "Maria")
  // Sam's "Me" is the supporter, on the server too.
  await sam.page.getByLabel("A next step (goal 1)").fill("Find the opening hours")
  await samWho.selectOption({ label: "Me" })
  await button(sam, "Add step to goal 1").click()
  await until(() => maria.page.getByLabel("Who takes step 2 of goal 1").locator("option:checked").textContent(), "My supporter", "Sam's step is his on Maria's phone")
  assert.equal(await sam.page.getByLabel("Who takes step 2 of goal 1").locator("option:checked").textContent(), "Me")
  await eventually(async () => {
    const plan = await serverPlan(documentId)
    return plan.document.goals[0].steps?.[1]?.who === "supporter" ? true : undefined
  }, { what: "Sam's 'Me' stored as `supporter`" })

  // ---- presence on both phones -----------------------------------------------------------------
  await maria.page.locator("[data-presence]", { hasText: "Sam is here" }).waitFor({ timeout: WAIT })
  await sam.page.locator("[data-presence]", { hasText: "Maria is here" }).waitFor({ timeout: WAIT })

  // ---- a partner's edit leaves focus and caret where they are: nothing is rebuilt ----------------
  const matters = box(maria, "What matters to me")
  await matters.click()
  await matters.evaluate(el => el.setSelectionRange(10, 10)) // "Being ther|e for my kids."
  const focused = await maria.page.evaluateHandle(() => document.activeElement)
  const heading = await maria.page.evaluateHandle(() => document.querySelector("h1"))
  await box(sam, "Strength 1").fill("I keep showing up, every week")
  await until(() => box(maria, "Strength 1").inputValue(), "I keep showing up, every week", "Sam's edit of a strength, live")
  // Sam writes before Maria's caret in her own field: the caret moves with her words.
  await box(sam, "What matters to Maria").fill("Now: Being there for my kids.")
  await until(() => matters.inputValue(), "Now: Being there for my kids.", "Sam's words in the field Maria is in")
  assert.deepEqual(
    await maria.page.evaluate(
      ({ el, h1 }) => [el === document.activeElement, el.isConnected, el.selectionStart, el.selectionEnd, h1.isConnected],
      { el: focused, h1: heading }
    ),
    [true, true, 15, 15, true],
    "the same field keeps focus with the caret after the same words, and the screen was not rebuilt"
  )
  await maria.page.keyboard.type("!")
  await until(() => box(sam, "What matters to Maria").inputValue(), "Now: Being ther!e for my kids.", "Maria typing on where her caret was")
  await maria.page.keyboard.press("Backspace")

  // ---- both edit every kind of item; each sees the other's change live --------------------------
  await box(maria, "Goal 1, in my words").fill("Get my plot back by spring, with Dee")
  await until(() => box(sam, "Goal 1, in Maria's words").inputValue(), "Get my plot back by spring, with Dee", "Maria's goal text on Sam's phone")
  await sam.page.getByRole("group", { name: "Where goal 1 stands" }).getByLabel("Working on it").check()
  await until(() => maria.page.getByRole("group", { name: "Where goal 1 stands" }).getByLabel("Working on it").isChecked(), true, "Sam's status on Maria's phone")
  await box(sam, "Goal 1, step 2").fill("Find the society's opening hours")
  await until(() => box(maria, "Goal 1, step 2").inputValue(), "Find the society's opening hours", "Sam's step text on Maria's phone")
  await maria.page.getByLabel("Who takes step 2 of goal 1").selectOption({ label: "Together" })
  await until(() => sam.page.getByLabel("Who takes step 2 of goal 1").locator("option:checked").textContent(), "Together", "Maria's 'who' on Sam's phone")
  await sam.page.getByRole("checkbox", { name: "Done: Ring the allotment society" }).check()
  await until(() => maria.page.getByRole("checkbox", { name: "Done: Ring the allotment society" }).isChecked(), true, "Sam's tick on Maria's phone")
  await box(maria, "Support 1: who or what").fill("My sister Dee (Tuesdays)")
  await until(() => box(sam, "Support 1: who or what").inputValue(), "My sister Dee (Tuesdays)", "Maria's support name on Sam's phone")
  await sam.page.getByLabel("Support 1: kind").selectOption({ label: "A place" })
  await until(() => maria.page.getByLabel("Support 1: kind").inputValue(), "place", "Sam's support kind on Maria's phone")
  await box(sam, "Check-in 1: how it went").fill("Good week, slept better")
  await box(maria, "Check-in 1: what we learned").fill("Mornings work best")
  await until(() => box(maria, "Check-in 1: how it went").inputValue(), "Good week, slept better", "Sam's check-in words on Maria's phone")
  await until(() => box(sam, "Check-in 1: what we learned").inputValue(), "Mornings work best", "Maria's check-in words on Sam's phone")

  // More to remove, one each.
  await sam.page.getByLabel("A strength").fill("Knows every plant by name")
  await button(sam, "Add strength").click()
  await sam.page.getByLabel("Who or what helps").fill("The allotment society")
  await button(sam, "Add support").click()
  await sam.page.getByLabel("How did it go?").fill("Quiet week")
  await button(sam, "Add check-in").click()
  await maria.page.getByLabel("A new goal, in your words").fill("Learn to graft")
  await button(maria, "Add goal").click()
  await box(sam, "Goal 2, in Maria's words").waitFor({ timeout: WAIT })
  await expectText(maria, "Quiet week")

  // ---- the screen at 360 px: axe, tap targets, one h1, unique names; screenshots -------------------
  for (const device of [maria, sam]) {
    await device.page.evaluate(() => window.scrollTo(0, 0))
    assert.equal(await device.page.locator("h1").count(), 1, `${device.label}: one h1`)
    assert.deepEqual(await axeViolations(device.page), [], `${device.label}: axe-core at 360 px`)
    assert.deepEqual(await smallTargets(device.page), [], `${device.label}: tap targets at 360 px`)
    assert.deepEqual(await device.page.evaluate(duplicateNames), [], `${device.label}: every control has a name of its own`)
    assert.deepEqual(await device.page.evaluate(overflowing), [], `${device.label}: fits 360 px`)
  }
  await shot(t, maria, "plan-01-maria-top")
  await shot(t, sam, "plan-02-sam-top")
  await box(sam, "Goal 1, step 1").scrollIntoViewIfNeeded()
  await shot(t, sam, "plan-03-sam-steps")
  await box(maria, "Goal 1, step 1").scrollIntoViewIfNeeded()
  await shot(t, maria, "plan-04-maria-steps")

  // ---- removing: by either member, seen live; a removed goal can be put back -----------------------
  await button(sam, "Remove the strength “I keep showing up, every week”").click()
  await until(() => box(maria, "Strength 1").inputValue(), "Knows every plant by name", "Sam's removal of a strength on Maria's phone")
  assert.equal(await box(maria, "Strength 2").count(), 0)
  // Sam's note offers the undo, and holds the focus (the button he pressed is gone).
  assert.equal(await sam.page.evaluate(() => document.activeElement?.textContent), "Undo")
  await button(sam, "Close this message").click()

  await button(maria, "Remove the support “My sister Dee (Tuesdays)”").click()
  await until(() => box(sam, "Support 1: who or what").inputValue(), "The allotment society", "Maria's removal of a support on Sam's phone")
  await button(sam, "Remove the step “Find the society's opening hours”").click()
  await until(() => box(maria, "Goal 1, step 2").count(), 0, "Sam's removal of a step on Maria's phone")
  await button(maria, /^Remove check-in 2/).click()
  await until(() => box(sam, "Check-in 2: how it went").count(), 0, "Maria's removal of a check-in on Sam's phone")
  assert.equal(await box(sam, "Check-in 1: how it went").inputValue(), "Good week, slept better")

  // A goal with its steps: removed, put back (on both phones), removed again by Sam.
  await button(maria, "Remove the goal “Get my plot back by spring, with Dee” and its steps").click()
  await until(() => box(sam, "Goal 1, in Maria's words").inputValue(), "Learn to graft", "the removed goal gone from Sam's phone")
  await maria.page.locator(".undo-bar", { hasText: "is removed, with its steps" }).waitFor()
  await shot(t, maria, "plan-05-maria-undo")
  assert.deepEqual(await axeViolations(maria.page), [], "axe-core with the undo note shown")
  assert.deepEqual(await smallTargets(maria.page), [], "tap targets with the undo note shown")
  await button(maria, "Undo").click()
  await until(() => box(sam, "Goal 1, in Maria's words").inputValue(), "Get my plot back by spring, with Dee", "the goal back on Sam's phone")
  await until(() => box(sam, "Goal 1, step 1").inputValue(), "Ring the allotment society", "with its step")
  assert.equal(await maria.page.getByRole("checkbox", { name: "Done: Ring the allotment society" }).isChecked(), true)
  await button(sam, "Remove the goal “Learn to graft” and its steps").click()
  await until(() => box(maria, "Goal 2, in my words").count(), 0, "Sam's removal of a goal on Maria's phone")

  // What both wrote fits schema v1.
  const stored = await eventually(async () => {
    const plan = await serverPlan(documentId)
    return plan.document.goals.length === 1 && plan.document.checkIns.length === 1 && plan.document.strengths.length === 1 ? plan : undefined
  }, { what: "the edits on the server" })
  assert.equal(stored.schemaIssue, null, "what the PWA writes fits schema v1")
  assert.deepEqual(stored.document.strengths.map(s => s.text), ["Knows every plant by name"])
  assert.deepEqual(stored.document.goals[0].steps.map(s => [s.text, s.who, s.done]), [["Ring the allotment society", "me", true]])
  assert.deepEqual(stored.document.supports.map(s => [s.name, s.kind]), [["The allotment society", "person"]])
  assert.deepEqual(stored.document.checkIns.map(c => [c.howItWent, c.whatWeLearned]), [["Good week, slept better", "Mornings work best"]])

  // ---- 200 % text: everything reflows into 360 px, nothing cut off --------------------------------
  for (const device of [maria, sam]) {
    await device.page.evaluate(() => {
      document.documentElement.style.fontSize = `${parseFloat(getComputedStyle(document.documentElement).fontSize) * 2}px`
      window.scrollTo(0, 0)
    })
    assert.deepEqual(await device.page.evaluate(overflowing), [], `${device.label}: fits 360 px at 200 % text`)
    assert.deepEqual(await axeViolations(device.page), [], `${device.label}: axe-core at 200 % text`)
  }
  await shot(t, maria, "plan-06-maria-200")
  await maria.page.getByRole("group", { name: "Where goal 1 stands" }).scrollIntoViewIfNeeded()
  await shot(t, maria, "plan-07-maria-200-status")
  await sam.page.getByLabel("Who takes step 1 of goal 1").scrollIntoViewIfNeeded()
  await shot(t, sam, "plan-08-sam-200-steps")
  for (const device of [maria, sam]) await device.page.evaluate(() => document.documentElement.style.removeProperty("font-size"))

  // ---- in Spanish, Sam's phone speaks from his side too ----------------------------------------------
  await sam.page.evaluate(() => localStorage.setItem("cairn.locale", "es"))
  await sam.page.reload()
  await box(sam, "Lo que le importa a Maria").waitFor({ timeout: WAIT })
  await sam.page.getByRole("heading", { name: "¿Qué le da fuerza a Maria ahora mismo?" }).waitFor()
  assert.deepEqual(await sam.page.getByLabel("Quién lo hace (meta 1)").locator("option").allTextContents(), ["Maria", "Yo", "En equipo"])
  await button(sam, "Quitar el paso “Ring the allotment society”").waitFor()
  await shot(t, sam, "plan-11-sam-es")
  await sam.page.evaluate(() => localStorage.setItem("cairn.locale", "en"))
  await sam.page.reload()
  await box(sam, "What matters to Maria").waitFor({ timeout: WAIT })

  // ---- presence clears when Sam's phone goes offline, within the socket timeout ---------------------
  await maria.page.locator("[data-presence]", { hasText: "Sam is here" }).waitFor({ timeout: WAIT })
  await sam.context.setOffline(true)
  const offlineAt = Date.now()
  await sam.page.locator("[data-presence]").waitFor({ state: "hidden", timeout: 5_000 })
  await maria.page.locator("[data-presence]").waitFor({ state: "hidden", timeout: 30_000 })
  t.diagnostic(`Sam's presence cleared on Maria's phone after ${Date.now() - offlineAt} ms`)
  await sam.context.setOffline(false)
  await maria.page.locator("[data-presence]", { hasText: "Sam is here" }).waitFor({ timeout: WAIT })
  // Sam goes back to his plans: his presence goes at once; he comes back.
  await sam.page.getByRole("link", { name: "‹ My plans" }).click()
  await maria.page.locator("[data-presence]").waitFor({ state: "hidden", timeout: 3_000 })
  await sam.page.getByRole("link", { name: /Back to the allotment/ }).click()
  await maria.page.locator("[data-presence]", { hasText: "Sam is here" }).waitFor({ timeout: WAIT })

  // ---- two more supporters: "Me" on their phones too. Dee's presence goes at once when Maria
  // removes her; Lee's when an admin disables his account, and he shows as "(account disabled)".
  const dee = await phone("plan-dee")
  const lee = await phone("plan-lee")
  let lastCode = code
  for (const [device, name] of [[dee, "Dee"], [lee, "Lee"]]) {
    await signUp(device, name.toLowerCase(), name)
    await button(maria, "Invite a supporter").click()
    const invitation = maria.page.locator("[data-invitation]")
    await eventually(async () => ((await invitation.getAttribute("data-invitation")) !== lastCode ? true : undefined), { what: "a new code" })
    lastCode = await invitation.getAttribute("data-invitation")
    await device.page.getByLabel("Invitation code").fill(lastCode)
    await button(device, "Join").click()
    await device.page.getByRole("heading", { level: 1, name: "Back to the allotment" }).waitFor({ timeout: WAIT })
  }
  assert.deepEqual(await dee.page.getByLabel("Who does it (goal 1)").locator("option").allTextContents(), ["Maria", "Me", "Together"])
  await maria.page.locator("[data-presence]", { hasText: "Sam, Dee, and Lee are here" }).waitFor({ timeout: WAIT })
  await maria.page.getByRole("button", { name: "Remove Dee" }).click()
  await maria.page.locator("[data-presence]", { hasText: /^Sam and Lee are here$/ }).waitFor({ timeout: 3_000 })
  await dee.page.getByRole("heading", { name: "Hello, Dee" }).waitFor({ timeout: WAIT })
  const leeId = await accountId(lee)
  const disabled = await world.cairn.request("POST", `/api/v1/admin/accounts/${leeId}/disable`, { token: await adminToken() })
  assert.equal(disabled.status, 200)
  await maria.page.locator("[data-presence]", { hasText: /^Sam is here$/ }).waitFor({ timeout: 3_000 })
  await maria.page.locator(".member", { hasText: "Lee (supporter) (account disabled)" }).waitFor({ timeout: WAIT })
  await sam.page.locator(".member", { hasText: "Lee (supporter) (account disabled)" }).waitFor({ timeout: 35_000 })
  await maria.page.locator(".member", { hasText: "Lee" }).scrollIntoViewIfNeeded()
  await shot(t, maria, "plan-12-maria-disabled-member")
  await dee.context.close()
  await lee.context.close()

  // ---- Maria deletes the plan: not while offline, then after typing its name; both phones wipe it -----
  const mariaId = await accountId(maria)
  const samId = await accountId(sam)
  await eventually(async () => ((await storedKeys(sam, samId, documentId)) > 0 ? true : undefined), { what: "the plan on Sam's phone" })
  await button(maria, "Delete this plan…").click()
  const confirmBox = maria.page.getByLabel("To confirm, type the plan's name: “Back to the allotment”")
  await confirmBox.fill("Back to the")
  await button(maria, "Delete it for good").click()
  await expectText(maria, "That is not the plan's name yet")
  await confirmBox.fill("back to the allotment")
  await maria.context.setOffline(true)
  await button(maria, "Delete it for good").click()
  await expectText(maria, "Deleting needs a connection to Cairn")
  await shot(t, maria, "plan-09-maria-delete-offline")
  assert.deepEqual(await axeViolations(maria.page), [], "axe-core with the delete confirmation open")
  assert.deepEqual(await smallTargets(maria.page), [], "tap targets with the delete confirmation open")
  assert.ok((await storedKeys(maria, mariaId, documentId)) > 0, "offline, the plan stays on Maria's phone")
  assert.equal((await serverPlan(documentId)).document.title, "Back to the allotment", "and on the server")
  await maria.context.setOffline(false)
  await maria.page.locator("#status[data-state=synced]").waitFor({ timeout: WAIT })
  await button(maria, "Delete it for good").click()
  await maria.page.getByRole("heading", { name: "Hello, Maria" }).waitFor({ timeout: WAIT })
  await expectText(maria, "“Back to the allotment” is deleted")
  await sam.page.getByRole("heading", { name: "Hello, Sam" }).waitFor({ timeout: WAIT })
  await expectText(sam, "“Back to the allotment” has ended")
  await eventually(async () => ((await storedKeys(maria, mariaId, documentId)) === 0 ? true : undefined), { what: "the plan gone from Maria's IndexedDB" })
  await eventually(async () => ((await storedKeys(sam, samId, documentId)) === 0 ? true : undefined), { what: "the plan gone from Sam's IndexedDB" })
  assert.equal((await world.cairn.request("GET", `/api/v1/plans/${documentId}`, { token: mariasToken })).status, 404)
  assert.equal(await shows(maria, "Back to the allotment"), true, "only in the notice")
  assert.equal(await maria.page.locator(".plan-link").count(), 0)
  await shot(t, sam, "plan-10-sam-wiped")

  for (const device of [maria, sam]) assert.deepEqual(device.errors, [], `${device.label}: no script errors`)
})
