// The account that survives real life, in the browser (issue 26): recovery codes shown once after
// sign-up, a forgotten password and a recovery code, the plan still there and syncing; a passkey
// made with Chromium's virtual authenticator and a sign-in with it; deleting the account while a
// partner's phone is open on the plan. Checks the new screens at 360 px (axe-core, contrast, tap
// targets) and the account screen in Spanish.
import assert from "node:assert/strict"
import { readFileSync } from "node:fs"
import path from "node:path"
import { test } from "node:test"
import {
  PASSWORD,
  WAIT,
  checkScreen as checkPage,
  eventually,
  expectText,
  here,
  keepCodes,
  passkeyPhone,
  phone,
  planIdFrom,
  shot,
  signUp,
  startCairnAndBrowser,
  startPlan,
  totp,
} from "./phones.mjs"

const world = startCairnAndBrowser()
const NEW_PASSWORD = "a brand new long password"

/** The checks of a new screen at 360 px (see `checkScreen` in phones.mjs). */
const checkScreen = (device, what) => checkPage(device.page, what)

async function signOut(device) {
  await device.page.goto(`${new URL(device.page.url()).origin}/#/sign-out`)
  await device.page.getByRole("button", { name: "Log in" }).waitFor({ timeout: WAIT })
}

/** Press Tab (at most 80 times) until the focused control is the one named `name`. */
async function tabTo(page, name) {
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press("Tab")
    const focused = await page.evaluate(() => {
      const el = document.activeElement
      if (!el || el === document.body) return ""
      const label = el.id ? document.querySelector(`label[for="${el.id}"]`) : el.closest("label")
      return (el.getAttribute("aria-label") || (label ? label.textContent : "") || el.textContent || "").trim()
    })
    if (focused === name || focused.startsWith(name)) return
  }
  assert.fail(`the keyboard never reached "${name}"`)
}

async function api(method, route, { token, body } = {}) {
  return world.cairn.request(method, route, { token, body })
}

test("sign-up shows the recovery codes once; a forgotten password comes back with one; the plan is still there and syncs", { timeout: 120_000 }, async t => {
  const ana = await phone("account-ana")
  const { page } = ana
  await page.getByRole("button", { name: "New here? Create an account" }).click()
  await page.getByLabel("Username").fill("ana")
  await page.getByLabel("Your name, as others will see it").fill("Ana")
  await page.getByLabel("Password").fill(PASSWORD)
  await page.getByRole("button", { name: "Create account" }).click()
  await page.getByRole("heading", { name: "Your recovery codes" }).waitFor({ timeout: WAIT })
  const first = await page.locator(".codes code").allInnerTexts()
  assert.equal(first.length, 10, "ten codes shown")
  await shot(t, ana, "account-01-codes")
  await checkScreen(ana, "the recovery codes after sign-up")
  // Going on without the tick is refused, in words.
  await page.getByRole("button", { name: "Continue", exact: true }).click()
  await expectText(ana, "Please tick the box")
  await keepCodes(ana)
  await page.getByRole("heading", { name: "Hello, Ana" }).waitFor({ timeout: WAIT })
  const planId = await startPlan(ana, "Ana's steady weeks", "Swimming on Tuesdays")

  // The account screen: every new card, checked at 360 px.
  await page.goto(`${world.cairn.baseUrl}/#/account`)
  await page.getByRole("heading", { name: "Change my password" }).waitFor({ timeout: WAIT })
  await expectText(ana, "You have 10 unused recovery codes")
  await expectText(ana, "Signed in on ")
  await shot(t, ana, "account-02-account")
  await checkScreen(ana, "the account screen")
  await page.getByRole("button", { name: "See what deleting my account means" }).click()
  await expectText(ana, "“Ana's steady weeks” (0 supporters lose it)")
  await checkScreen(ana, "the account deletion preview")
  await page.getByRole("button", { name: "Keep my account" }).click()

  // New codes, printed: the print stylesheet shows the codes' card alone, without its buttons.
  // (Only with the password: someone holding the unlocked phone cannot make a set of their own.)
  await page.getByLabel("Your password, to make new codes").fill("not my password at all")
  await page.getByRole("button", { name: "Make new codes" }).click()
  await expectText(ana, "That is not your current password.")
  await page.getByLabel("Your password, to make new codes").fill(PASSWORD)
  await page.getByRole("button", { name: "Make new codes" }).click()
  await page.getByRole("heading", { name: "Your recovery codes" }).waitFor({ timeout: WAIT })
  const codes = await page.locator(".codes code").allInnerTexts()
  assert.equal(codes.length, 10)
  assert.ok(!codes.some(code => first.includes(code)), "a new set")
  await expectText(ana, "For the Cairn account “ana”.")
  await page.evaluate(() => document.body.classList.add("print-codes"))
  await page.emulateMedia({ media: "print" })
  const printed = await page.evaluate(() =>
    [...document.querySelectorAll("main > *, main button, main input")].filter(el => el.getClientRects().length > 0).map(el => el.className || el.tagName)
  )
  assert.deepEqual(printed, ["card recovery-codes"], "only the codes' card prints")
  await shot(t, ana, "account-02b-codes-print")
  await page.emulateMedia({ media: "screen" })
  await page.evaluate(() => document.body.classList.remove("print-codes"))
  await keepCodes(ana)
  await expectText(ana, "Your new codes are ready to use. The old ones no longer work.")

  // Forgotten: sign out, and come back with a recovery code.
  await signOut(ana)
  await page.getByRole("button", { name: "Forgot password?" }).click()
  await page.getByRole("heading", { name: "Forgot your password?" }).waitFor({ timeout: WAIT })
  await shot(t, ana, "account-03-forgot")
  await checkScreen(ana, "forgot password")
  // Both ways are offered before any username is typed: nothing says whether one exists.
  await page.getByRole("button", { name: "Ask your agency for a reset code" }).click()
  await page.getByLabel("Reset code from your agency").waitFor({ timeout: WAIT })
  await checkScreen(ana, "reset code form")
  await page.getByRole("button", { name: "Forgot your password?" }).click()
  await page.getByRole("button", { name: "I have a recovery code" }).click()
  await page.getByLabel("Username").fill("ana")
  await page.getByLabel("Recovery code").fill("ZZZZ-ZZZZ")
  await page.getByLabel("New password (at least 8 characters)").fill(NEW_PASSWORD)
  await page.getByRole("button", { name: "Set my new password" }).click()
  await expectText(ana, "That username and recovery code don't work together")
  await page.getByLabel("Recovery code").fill(first[0])
  await page.getByRole("button", { name: "Set my new password" }).click()
  await expectText(ana, "That username and recovery code don't work together", "an old set's code refused")
  await page.getByLabel("Recovery code").fill(codes[3].toLowerCase())
  await page.getByRole("button", { name: "Set my new password" }).click()
  await page.getByRole("heading", { name: "Hello, Ana" }).waitFor({ timeout: WAIT })
  await page.locator(".plan-link", { hasText: "Ana's steady weeks" }).click()
  await page.getByLabel("What matters to me").fill("Swimming on Tuesdays and Thursdays")
  await page.locator("#status[data-state=synced]").waitFor({ timeout: WAIT })
  // The server has the edit, and the new password works there too.
  const tokens = await api("POST", "/api/v1/auth/login", { body: { username: "ana", password: NEW_PASSWORD } })
  await eventually(async () => {
    const plan = await api("GET", `/api/v1/plans/${planId}`, { token: tokens.body.accessToken })
    return JSON.stringify(plan.body).includes("Swimming on Tuesdays and Thursdays") ? true : undefined
  }, { what: "the edit on the server after recovering" })
  // The code is used up; the account's activity says so.
  await page.goto(`${world.cairn.baseUrl}/#/account`)
  await expectText(ana, "You have 9 unused recovery codes")
  await expectText(ana, "A recovery code was used to choose a new password")

  // Changing the password: a wrong current one is refused in words; the right one signs out the
  // other devices (the test's own session from the API) and keeps this one.
  await page.getByLabel("Current password").fill("not the password")
  await page.getByLabel("New password (at least 8 characters)").fill("yet another long password")
  await page.getByRole("button", { name: "Change the password" }).click()
  await expectText(ana, "That is not your current password.")
  await page.getByLabel("Current password").fill(NEW_PASSWORD)
  await page.getByRole("button", { name: "Change the password" }).click()
  await expectText(ana, "Every other phone or computer signed in to your account has been signed out")
  assert.equal((await api("GET", "/api/v1/plans", { token: tokens.body.accessToken })).status, 401, "the other session ended")
  await page.goto(`${world.cairn.baseUrl}/#/`)
  await page.locator(".plan-link", { hasText: "Ana's steady weeks" }).waitFor({ timeout: WAIT })
  assert.deepEqual(ana.errors, [])
})

test("a passkey added from the account screen signs in after signing out; from the keyboard alone, leaving is confirmed with it", { timeout: 90_000 }, async t => {
  const bo = await passkeyPhone("account-bo")
  const { page, context, errors, origin } = bo
  try {
    await signUp(bo, "bora", "Bo")
    await page.goto(`${origin}/#/account`)
    await page.getByLabel("A name for the passkey").fill("Bo's phone")
    await page.getByRole("button", { name: "Add a passkey" }).click()
    await expectText(bo, "The passkey “Bo's phone” is added")
    await expectText(bo, "A passkey was added: Bo's phone")
    await shot(t, bo, "account-04-passkey")
    await signOut(bo)
    await page.getByRole("button", { name: "Sign in with a passkey" }).click()
    await checkScreen(bo, "passkey sign-in")
    await page.getByLabel("Username").fill("bora")
    await page.getByRole("button", { name: "Use my passkey" }).click()
    await page.getByRole("heading", { name: "Hello, Bo" }).waitFor({ timeout: WAIT })
    // Removing it: the list is empty again.
    await page.goto(`${origin}/#/account`)
    await page.getByRole("button", { name: "Remove the passkey Bo's phone" }).click()
    await expectText(bo, "The passkey “Bo's phone” is removed.")

    // An authenticator app: set up with its key, then asked for at the next sign-in.
    await page.getByRole("button", { name: "Set up an authenticator app" }).click()
    const secret = await page.locator(".secret").innerText()
    await page.getByLabel("The 6-digit code").fill(totp(secret))
    await page.getByRole("button", { name: "Turn it on" }).click()
    await expectText(bo, "Your authenticator app is on.")
    await signOut(bo)
    await page.getByLabel("Username").fill("bora")
    await page.getByLabel("Password").fill(PASSWORD)
    await page.getByRole("button", { name: "Log in" }).click()
    await page.getByRole("heading", { name: "One more step" }).waitFor({ timeout: WAIT })
    await checkScreen(bo, "the second-factor step")
    await page.getByLabel("Code").fill("000000")
    await page.getByRole("button", { name: "Continue" }).click()
    await expectText(bo, "That code doesn't work.")
    // (The code confirmed above is used up: the next time step's, within the allowed skew.)
    await page.getByLabel("Code").fill(totp(secret, 1))
    await page.getByRole("button", { name: "Continue" }).click()
    await page.getByRole("heading", { name: "Hello, Bo" }).waitFor({ timeout: WAIT })

    // From the keyboard alone: change the password, add a passkey, then leave Cairn confirmed
    // by the passkey instead of the password.
    await page.goto(`${origin}/#/account`)
    await page.getByRole("heading", { name: "Change my password" }).waitFor({ timeout: WAIT })
    await tabTo(page, "Current password")
    await page.keyboard.type(PASSWORD)
    await tabTo(page, "New password (at least 8 characters)")
    await page.keyboard.type(NEW_PASSWORD)
    await page.keyboard.press("Enter")
    await expectText(bo, "Your password is changed.")
    await tabTo(page, "A name for the passkey")
    await page.keyboard.type("Bo's laptop")
    await tabTo(page, "Add a passkey")
    await page.keyboard.press("Enter")
    await expectText(bo, "The passkey “Bo's laptop” is added")
    await tabTo(page, "See what deleting my account means")
    await page.keyboard.press("Enter")
    await expectText(bo, "Or confirm with your passkey instead of your password")
    await checkScreen(bo, "leaving, with a passkey")
    await tabTo(page, "Delete my account for good, with my passkey")
    await page.keyboard.press("Enter")
    await expectText(bo, "Your account is deleted")
    await shot(t, bo, "account-04b-left-with-passkey")
    assert.equal((await world.cairn.request("POST", "/api/v1/auth/login", { body: { username: "bora", password: NEW_PASSWORD } })).status, 401)
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})

test("deleting the account (with the password) takes the plan from the partner's open phone; the account screen in Spanish", { timeout: 120_000 }, async t => {
  const cy = await phone("account-cy", { locale: "es-ES" })
  const { page } = cy
  await page.getByRole("button", { name: "¿Primera vez aquí? Crea una cuenta" }).click()
  await page.getByLabel("Nombre de usuario").fill("cyra")
  await page.getByLabel("Tu nombre, tal como lo verán los demás").fill("Cy")
  await page.getByLabel("Contraseña").fill(PASSWORD)
  await page.getByRole("button", { name: "Crear cuenta" }).click()
  await keepCodes(cy, { ticked: "Los he anotado o impreso", go: "Continuar" })
  await page.getByRole("heading", { name: "Hola, Cy" }).waitFor({ timeout: WAIT })
  await page.getByLabel("¿Cómo te gustaría llamarlo?").fill("Mañanas tranquilas")
  await page.getByRole("button", { name: "Empezar mi plan" }).click()
  await page.waitForURL(/#\/plan\//, { timeout: WAIT })
  await page.locator("#status[data-state=synced]").waitFor({ timeout: WAIT })
  const planId = planIdFrom(cy)

  // The partner joins the plan (through the API) and opens it on his phone.
  const owner = await world.cairn.login("cyra")
  const partner = await world.cairn.register("dev")
  await world.cairn.addSupporter(owner.accessToken, planId, partner.accessToken)
  const dev = await phone("account-dev")
  await dev.page.getByLabel("Username").fill(partner.account.username)
  await dev.page.getByLabel("Password").fill(PASSWORD)
  await dev.page.getByRole("button", { name: "Log in" }).click()
  await dev.page.locator(".plan-link").first().click()
  await dev.page.locator("#status[data-state=synced]").waitFor({ timeout: WAIT })

  // The account screen in Spanish: no English left (every text of the catalogue is Spanish).
  await page.goto(`${world.cairn.baseUrl}/#/account`)
  await page.getByRole("heading", { name: "Cambiar mi contraseña" }).waitFor({ timeout: WAIT })
  await expectText(cy, "Te quedan 10 códigos de recuperación sin usar")
  await page.getByRole("button", { name: "Ver lo que significa borrar mi cuenta" }).click()
  await expectText(cy, "«Mañanas tranquilas» (1 acompañante lo pierde)")
  await shot(t, cy, "account-05-borrar")
  const english = englishLeft(await page.evaluate(() => document.body.innerText))
  assert.deepEqual(english, [], "English texts left on the Spanish account screen")
  await checkScreen(cy, "the account screen in Spanish")

  // A wrong password changes nothing; the right one deletes the account.
  await page.getByLabel("Tu contraseña, para confirmar").fill("not my password at all")
  await page.getByRole("button", { name: "Borrar mi cuenta para siempre" }).click()
  await expectText(cy, "El nombre de usuario y la contraseña no coinciden")
  await page.getByLabel("Tu contraseña, para confirmar").fill(PASSWORD)
  await page.getByRole("button", { name: "Borrar mi cuenta para siempre" }).click()
  await expectText(cy, "Tu cuenta está borrada")
  await page.getByRole("button", { name: "Iniciar sesión", exact: true }).waitFor({ timeout: WAIT })
  await shot(t, cy, "account-06-borrada")
  // The partner's open phone shows the plan gone.
  await expectText(dev, "is no longer on this phone", "the plan gone from the partner's phone")
  await eventually(async () => ((await dev.page.locator(".plan-link").count()) === 0 ? true : undefined), { what: "the plan gone from the partner's list" })
  await shot(t, dev, "account-07-partner")
  assert.equal((await world.cairn.request("POST", "/api/v1/auth/login", { body: { username: "cyra", password: PASSWORD } })).status, 401)
  assert.deepEqual(cy.errors, [])
})

/** English texts of the account screens' catalogues (longer than a word) found in `text`. */
function englishLeft(text) {
  const english = []
  for (const file of ["account.ts", "account-safety.ts"]) {
    const source = readFileSync(path.resolve(here, "../../web/src/screens", file), "utf8")
    const en = source.slice(source.indexOf("catalogue("), source.indexOf("\n  },\n  {"))
    for (const [, words] of en.matchAll(/^\s+\w+: "([^"]+)",$/gm)) {
      for (const part of words.split("|")) {
        const fixed = part.split(/\{\w+\}/).map(s => s.trim()).filter(s => s.length > 12)
        for (const piece of fixed) if (text.includes(piece)) english.push(piece)
      }
    }
  }
  return english
}
