// The admin console in the browser (issue 27, item 1): an admin's first hour, on a desktop and at
// 360 px. The admin (made with `cairn admin create`) signs in, is asked for an authenticator app
// and sets one up; makes an enrollment code with the keyboard alone (shown as text and QR); a new
// person registers with it on her phone and appears in the accounts list; the admin makes a
// reset code for her, makes an account for a staff member and, when he leaves, switches it off:
// his open app's sync socket closes and it signs out; the audit log tells each act in a sentence.
// The console's DOM and the admin answers never hold a plan's title or words. axe-core, contrast
// and tap targets at 360 px; screenshots at 360 px and 1280 px.
import assert from "node:assert/strict"
import { spawn } from "node:child_process"
import { test } from "node:test"
import { CAIRN_BIN } from "../interop/harness.mjs"
import {
  PASSWORD,
  WAIT,
  checkScreen,
  eventually,
  expectText,
  keepCodes,
  phone,
  shot,
  startCairnAndBrowser,
  startPlan,
  totp,
} from "./phones.mjs"

const world = startCairnAndBrowser({ CAIRN_REGISTRATION: "enrollment" })

/** What the people write in their plans: never in the console, nor in any admin answer. */
const SECRETS = ["Rosa's garden", "my sister Lucia", "Handover notes", "the keys to room 4"]

/** The console's page holds none of the plans' words (text, attributes, field values). */
async function holdsNoPlanContent(page, where) {
  const html = await page.evaluate(
    () => document.documentElement.outerHTML + [...document.querySelectorAll("input, textarea")].map(c => c.value).join("\n")
  )
  for (const secret of SECRETS) assert.ok(!html.includes(secret), `${where}: the console shows “${secret}”`)
}

async function createAdmin() {
  const child = spawn(CAIRN_BIN, ["admin", "create", "--username", "agency", "--display-name", "Agency", "--password-stdin"], {
    env: { ...process.env, CAIRN_DATA_DIR: world.cairn.dataDir },
    stdio: ["pipe", "ignore", "inherit"],
  })
  child.stdin.end(`${PASSWORD}\n`)
  assert.equal(await new Promise(resolve => child.on("exit", resolve)), 0, "cairn admin create")
}

async function logIn(page, username) {
  await page.getByLabel("Username").fill(username)
  await page.getByLabel("Password").fill(PASSWORD)
  await page.getByRole("button", { name: "Log in" }).click()
}

/** Press Tab until `target` has the focus (at most `max` presses): the keyboard's way there. */
async function tabTo(page, target, max = 25) {
  for (let i = 0; i < max; i++) {
    if (await target.evaluate(element => element === document.activeElement)) return
    await page.keyboard.press("Tab")
  }
  throw new Error("the keyboard never reached the control")
}

test("an admin's first hour: a code, a new person, a reset code, a departed staff member, the audit", { timeout: 180_000 }, async t => {
  await createAdmin()
  // ---- the admin, on a desktop
  const desk = await world.browser.newContext({ viewport: { width: 1280, height: 800 } })
  const page = await desk.newPage()
  const errors = []
  page.on("pageerror", err => errors.push(err.message))
  const answers = []
  page.on("response", response => {
    if (response.url().includes("/api/v1/admin/")) answers.push(response.text().catch(() => ""))
  })
  try {
    await page.goto(world.cairn.baseUrl)
    await logIn(page, "agency")
    // No second factor yet: the console says what it needs, and the account page adds it.
    await expectText({ page, label: "admin" }, "Admin tools need an authenticator app")
    await page.getByRole("link", { name: "Set up an authenticator app" }).click()
    await page.getByRole("button", { name: "Set up an authenticator app" }).click()
    const secret = await page.locator(".secret").innerText()
    await page.getByLabel("The 6-digit code").fill(totp(secret))
    await page.getByRole("button", { name: "Turn it on" }).click()
    await expectText({ page, label: "admin" }, "Your authenticator app is on.")
    await page.goto(`${world.cairn.baseUrl}/#/console`)
    await page.locator("[data-health=backup]", { hasText: "No backup recorded yet" }).waitFor({ timeout: WAIT })
    assert.match(await page.locator("[data-health=database]").innerText(), /SQLite|Postgres/)
    assert.match(await page.locator("[data-health=instances]").innerText(), /^1 Cairn instance running/)
    await expectText({ page, label: "admin" }, "1 admin account")
    await shot(t, { page }, "console-01-desktop-overview")

    // ---- an enrollment code, made with the keyboard alone
    await page.getByRole("link", { name: "Enrollment codes" }).click()
    const label = page.getByLabel("Who it is for (optional, only you see it)")
    await label.waitFor({ timeout: WAIT })
    await tabTo(page, label)
    await page.keyboard.type("Tuesday group")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Control+A")
    await page.keyboard.type("3")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Make the code")
    await page.keyboard.press("Enter")
    const shown = page.locator("[data-enrollment-code]")
    await shown.waitFor({ timeout: WAIT })
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "The new enrollment code", "the focus goes to the new code")
    const code = await shown.getAttribute("data-enrollment-code")
    assert.match(code, /^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$/)
    assert.ok(await page.getByRole("img", { name: /QR code of the enrollment code/ }).isVisible(), "and as a QR code")
    await page.locator("li", { hasText: "Tuesday group" }).getByText("Works now").waitFor({ timeout: WAIT })
    await shot(t, { page }, "console-02-desktop-code")

    // ---- Rosa registers with it on her phone and writes her plan
    const rosa = await phone("console-rosa")
    await rosa.page.getByRole("button", { name: "New here? Create an account" }).click()
    await rosa.page.getByLabel("Username").fill("rosa")
    await rosa.page.getByLabel("Your name, as others will see it").fill("Rosa")
    await rosa.page.getByLabel("Password").fill(PASSWORD)
    await rosa.page.getByLabel("Enrollment code (if your agency gave you one)").fill(code.toLowerCase())
    await rosa.page.getByRole("button", { name: "Create account" }).click()
    await keepCodes(rosa)
    await rosa.page.getByRole("heading", { name: "Hello, Rosa" }).waitFor({ timeout: WAIT })
    await startPlan(rosa, "Rosa's garden", "my sister Lucia")

    // ---- she appears in the accounts list; the admin makes her a reset code
    await page.getByRole("link", { name: "Accounts" }).click()
    await page.getByLabel("Search by name or username").fill("ros")
    await page.getByRole("button", { name: "Search", exact: true }).click()
    const rosaRow = page.locator("[data-account=rosa]")
    await rosaRow.waitFor({ timeout: WAIT })
    await eventually(async () => ((await page.locator("[data-account]").count()) === 1 ? true : undefined), {
      what: "the search finding Rosa alone",
    })
    await rosaRow.getByRole("button", { name: "Make a password reset code for Rosa" }).click()
    const reset = page.locator("[data-reset-code]")
    await reset.waitFor({ timeout: WAIT })
    assert.match(await reset.innerText(), /^[A-Z0-9]{4}(-[A-Z0-9]{4})+$/)
    await expectText({ page, label: "admin" }, "Shown only now. Read it to Rosa")
    await holdsNoPlanContent(page, "accounts")
    await shot(t, { page }, "console-03-desktop-reset-code")

    // ---- Rosa, who forgot her password, chooses a new one with the code read to her; her plan
    // is still there, and her account's activity says who made the code
    const resetCode = await reset.innerText()
    await rosa.page.goto(`${new URL(rosa.page.url()).origin}/#/sign-out`)
    await rosa.page.getByRole("button", { name: "Forgot password?" }).click()
    await rosa.page.getByRole("button", { name: "Ask your agency for a reset code" }).click()
    await rosa.page.getByLabel("Username").fill("rosa")
    await rosa.page.getByLabel("Reset code from your agency").fill(resetCode.toLowerCase().replaceAll("-", " "))
    await rosa.page.getByLabel("New password (at least 8 characters)").fill("rosa's own new password")
    await rosa.page.getByRole("button", { name: "Set my new password" }).click()
    await rosa.page.getByRole("heading", { name: "Hello, Rosa" }).waitFor({ timeout: WAIT })
    await rosa.page.locator(".plan-link", { hasText: "Rosa's garden" }).waitFor({ timeout: WAIT })
    await rosa.page.goto(`${new URL(rosa.page.url()).origin}/#/account`)
    await expectText(rosa, "Password reset with a code from Agency (agency)")
    await expectText(rosa, "A password reset code was made by Agency (agency)")

    // ---- a staff member's account; he signs in on his phone and writes his plan
    await page.getByLabel("Username", { exact: true }).fill("jojo")
    await page.getByLabel("Their name, as others will see it").fill("Jo")
    await page.getByLabel("A first password (at least 8 characters)").fill(PASSWORD)
    await page.getByRole("button", { name: "Make the account" }).click()
    await expectText({ page, label: "admin" }, "The account for Jo is made.")
    const jo = await phone("console-jo")
    const sockets = []
    jo.page.on("websocket", socket => {
      if (socket.url().includes("/sync")) {
        const seen = { closed: false }
        socket.on("close", () => (seen.closed = true))
        sockets.push(seen)
      }
    })
    await logIn(jo.page, "jojo")
    await jo.page.getByRole("heading", { name: "Hello, Jo" }).waitFor({ timeout: WAIT })
    await startPlan(jo, "Handover notes", "the keys to room 4")
    assert.ok(sockets.some(s => !s.closed), "Jo's app syncs over a socket")

    // ---- Jo leaves the agency: his account is switched off, his open app closes and signs out
    await page.getByLabel("Search by name or username").fill("jojo")
    await page.getByRole("button", { name: "Search", exact: true }).click()
    const joRow = page.locator("[data-account=jojo]")
    await joRow.getByRole("button", { name: "Switch off Jo's account" }).click()
    await joRow.getByRole("button", { name: "Yes, switch it off" }).click()
    await expectText({ page, label: "admin" }, "Jo's account is switched off. They are signed out everywhere.")
    await joRow.getByText("switched off ·").waitFor({ timeout: WAIT })
    await eventually(async () => (sockets.every(s => s.closed) ? true : undefined), { what: "Jo's sync socket closed" })
    await jo.page.getByRole("button", { name: "Log in" }).waitFor({ timeout: 25_000 })
    await expectText(jo, "Your session has ended")

    // ---- the audit log, in sentences
    await page.getByRole("link", { name: "Audit log" }).click()
    for (const sentence of [
      "Agency made an enrollment code for 3 people, for 7 days.",
      "Agency made a password reset code for Rosa.",
      "Agency made an account for Jo.",
      "Agency switched off Jo's account.",
    ]) {
      await expectText({ page, label: "admin" }, sentence)
    }
    await holdsNoPlanContent(page, "audit")
    await shot(t, { page }, "console-04-desktop-audit")

    // ---- at 360 px: every section passes axe-core, AA contrast, tap targets, no sideways scroll
    await page.setViewportSize({ width: 360, height: 740 })
    await checkScreen(page, "audit at 360 px")
    await shot(t, { page }, "console-05-phone-audit")
    await page.getByRole("link", { name: "Accounts" }).click()
    await page.locator("[data-account=rosa]").waitFor({ timeout: WAIT })
    await page.locator("[data-account=rosa]").getByRole("button", { name: "Make a password reset code for Rosa" }).click()
    await page.locator("[data-reset-code]").waitFor({ timeout: WAIT })
    await checkScreen(page, "accounts with a reset code at 360 px")
    await shot(t, { page }, "console-06-phone-accounts")
    await page.getByRole("link", { name: "Enrollment codes" }).click()
    await page.getByRole("button", { name: "Revoke the code “Tuesday group”" }).click()
    await page.getByRole("button", { name: "Yes, revoke it" }).click()
    await expectText({ page, label: "admin" }, "The code is revoked")
    await page.locator("li", { hasText: "Tuesday group" }).getByText("Revoked").waitFor({ timeout: WAIT })
    await checkScreen(page, "enrollment codes at 360 px")
    await shot(t, { page }, "console-07-phone-codes")
    await page.getByRole("link", { name: "Overview" }).click()
    await page.locator("[data-health=backup]").waitFor({ timeout: WAIT })
    await checkScreen(page, "overview at 360 px")
    await shot(t, { page }, "console-08-phone-overview")
    await holdsNoPlanContent(page, "overview")
    // In Spanish.
    await page.getByRole("button", { name: "Español" }).click()
    await page.getByRole("heading", { name: "Administración: Resumen" }).waitFor({ timeout: WAIT })
    await expectText({ page, label: "admin" }, "Todavía no hay ninguna copia de seguridad registrada")
    await checkScreen(page, "overview in Spanish at 360 px")
    await shot(t, { page }, "console-09-phone-overview-es")

    // No admin answer held any plan's words.
    for (const body of await Promise.all(answers)) {
      for (const secret of SECRETS) assert.ok(!body.includes(secret), `an admin answer holds “${secret}”`)
    }
    assert.deepEqual(errors, [], "no script errors in the console")
    for (const device of [rosa, jo]) assert.deepEqual(device.errors, [], `${device.label}: no script errors`)
  } finally {
    await desk.close()
  }
})
