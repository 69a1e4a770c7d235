// Cairn in the phone's language: a phone set to Spanish gets the app in Spanish from the first
// screen, with a switch to English (and back) on every screen, remembered; `<html lang>` follows;
// the server's refusals read as friendly words in that language, never as the server's English
// sentence; a username with an accent ("maría") is welcome; dates are written the Spanish way.
// The supporter's home: plans ordered by their last change, marked when the other member changed
// one since this phone last looked (never for this account's own edits). Sign-in, account
// creation and the plan list fit 360 pixels at 200 % text, with no axe-core violation and no tap
// target under 44 × 44 px.
//
// Screenshots (360 px, Spanish) go to target/browser-screenshots/lang-*.png.
import assert from "node:assert/strict"
import { test } from "node:test"
import {
  PASSWORD,
  WAIT,
  axeViolations,
  eventually,
  keepCodes,
  expectText,
  phone,
  shot,
  signUp,
  smallTargets,
  startCairnAndBrowser,
  status,
} from "./phones.mjs"

/** The recovery codes card after sign-up, in Spanish. */
const SPANISH_CODES = { ticked: "Los he anotado o impreso", go: "Continuar" }

// Two wrong invitation codes an hour per account: the third is refused with a wait.
const world = startCairnAndBrowser({ CAIRN_CODE_ATTEMPTS_PER_ACCOUNT: "2" })

/** A Spanish month as `Intl` abbreviates it in a medium date ("7 dic 2026"). */
const SPANISH_DATE = /\b\d{1,2} (ene|feb|mar|abr|may|jun|jul|ago|sept?|oct|nov|dic)\.? \d{4}\b/

/** Each phone's DevTools session, kept open: detaching one ends the page's network emulation
 * (an offline phone would come back online). */
const devtools = new WeakMap()

/** Set the phone's text size (the browser's default font size): 1 is 100 %, 2 is 200 %. */
async function textSize(device, factor) {
  if (!devtools.has(device)) devtools.set(device, await device.context.newCDPSession(device.page))
  await devtools.get(device).send("Page.setFontSizes", { fontSizes: { standard: 16 * factor, fixed: 13 * factor } })
}

/** Whatever runs off a `width`-pixel screen, or is cut off inside its box. */
function overflowing(width) {
  const out = []
  if (document.documentElement.scrollWidth > width) out.push(`the page is ${document.documentElement.scrollWidth} px wide`)
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect()
    const style = getComputedStyle(el)
    if (box.width === 0 || box.height === 0 || style.visibility === "hidden") continue
    if (el.classList.contains("skip") && document.activeElement !== el) continue
    const name = `${el.tagName.toLowerCase()}${el.className ? "." + el.className : ""} "${(el.textContent ?? "").trim().slice(0, 30)}"`
    if (box.right > width + 0.5 || box.left < -0.5) out.push(`${name}: ${Math.round(box.left)}–${Math.round(box.right)} px`)
    const clips = ["hidden", "clip"].includes(style.overflowX) || ["hidden", "clip"].includes(style.overflowY)
    if (clips && !el.matches("input, textarea, select, video") && (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)) {
      out.push(`${name}: cut off`)
    }
  }
  return out
}

/**
 * Open a plan with `act` (a tap) and wait until its screen is drawn with the plan's people
 * loaded: the plan screen on main still draws itself once more when that answer comes, even if
 * the person has already gone back to the list.
 */
async function openPlan(page, act) {
  const people = page.waitForResponse(response => new URL(response.url()).pathname.endsWith("/members"), { timeout: WAIT })
  await act()
  await page.getByRole("textbox", { name: /^Nombre del plan/ }).waitFor({ timeout: WAIT })
  await people
  await page.evaluate(() => new Promise(resolve => requestAnimationFrame(() => setTimeout(resolve, 50))))
}

/** This screen, at 100 % and at 200 % text: fits 360 px, no axe violation, no small target. */
async function checkScreen(t, device, what, shotName) {
  const { page } = device
  for (const factor of [1, 2]) {
    await textSize(device, factor)
    const where = `${what} at ${factor * 100} % text`
    assert.deepEqual(await page.evaluate(overflowing, 360), [], `${where}: fits 360 px`)
    assert.deepEqual(await axeViolations(page), [], `${where}: axe-core`)
    assert.deepEqual(await smallTargets(page), [], `${where}: targets of 44 × 44 px`)
    // The skip link, when a keyboard reaches it, is a full target too.
    await page.locator(".skip").focus()
    assert.deepEqual(await smallTargets(page), [], `${where}: the focused skip link`)
    await page.locator(".skip").blur()
    if (factor === 2 && shotName) await shot(t, device, shotName)
  }
  await textSize(device, 1)
}

test("a phone in Spanish: Cairn speaks Spanish, switches to English and back, and the supporter's home shows what changed", { timeout: 240_000 }, async t => {
  // ---- Bea (an English phone) starts her plan and invites María -----------------------------
  const bea = await phone("lang-bea")
  await signUp(bea, "bea", "Bea")
  await bea.page.getByLabel("What would you like to call it?").fill("Bea's allotment")
  await bea.page.getByRole("button", { name: "Start my plan" }).click()
  await bea.page.getByLabel("Plan name").waitFor({ timeout: WAIT })
  await bea.page.getByRole("button", { name: "Invite a supporter" }).click()
  const code = await bea.page.locator("[data-invitation]").getAttribute("data-invitation", { timeout: WAIT })

  // ---- María's phone is set to Spanish: the first screen is Spanish --------------------------
  const maria = await phone("lang-maria", { locale: "es-ES" })
  const { page } = maria
  await page.getByRole("heading", { name: "Te damos la bienvenida a Cairn" }).waitFor({ timeout: WAIT })
  assert.equal(await page.evaluate(() => document.documentElement.lang), "es")
  assert.equal(await page.locator(".skip").textContent(), "Saltar al contenido")
  const toEnglish = page.getByRole("button", { name: "English", exact: true })
  assert.equal(await toEnglish.getAttribute("lang"), "en", "the switch names English in English")
  await shot(t, maria, "lang-01-bienvenida")
  await checkScreen(t, maria, "sign-in (Spanish)", "lang-02-bienvenida-200")

  // ---- she creates her account; a taken username reads in friendly Spanish ------------------
  await page.getByRole("button", { name: "¿Primera vez aquí? Crea una cuenta" }).click()
  await page.getByRole("heading", { name: "Crea tu cuenta" }).waitFor({ timeout: WAIT })
  await checkScreen(t, maria, "create account (Spanish)", "lang-03-cuenta-200")
  await page.getByLabel("Nombre de usuario").fill("bea")
  await page.getByLabel("Tu nombre, tal como lo verán los demás").fill("María")
  await page.getByLabel("Contraseña").fill(PASSWORD)
  await page.getByRole("button", { name: "Crear cuenta" }).click()
  await expectText(maria, "Ese nombre de usuario ya está en uso", "the taken username, in Spanish")
  assert.equal(await page.getByText("already taken").count(), 0, "the server's English sentence is not shown")
  assert.equal(await page.getByLabel("Nombre de usuario").getAttribute("aria-invalid"), "true")
  assert.ok(await page.getByLabel("Nombre de usuario").evaluate(el => el === document.activeElement), "the refused field has the focus")
  await shot(t, maria, "lang-04-usuario-ocupado")
  // Switching language halfway through the form keeps the form, what she typed, and the notice.
  await toEnglish.click()
  await page.getByRole("heading", { name: "Create your account" }).waitFor({ timeout: WAIT })
  assert.equal(await page.getByLabel("Your name, as others will see it").inputValue(), "María")
  await expectText(maria, "That username is taken", "the refusal, said again in English")
  await page.getByRole("button", { name: "Español", exact: true }).click()
  await page.getByRole("heading", { name: "Crea tu cuenta" }).waitFor({ timeout: WAIT })
  // A username with an accent, typed as a phone may send it (an "i" and a combining accent).
  await page.getByLabel("Nombre de usuario").fill("mari\u0301a")
  await page.getByRole("button", { name: "Crear cuenta" }).click()
  await keepCodes(maria, SPANISH_CODES)
  await page.getByRole("heading", { name: "Hola, María" }).waitFor({ timeout: WAIT })
  assert.equal(await page.evaluate(() => document.documentElement.lang), "es")
  // The server keeps one form of the name and compares it without case: "MARÍA" is her too.
  assert.equal((await world.cairn.login("MARÍA")).account.username, "maría")

  // No camera scan where the browser cannot read QR codes (desktop Linux Chromium): typing it is.
  const detector = await page.evaluate(() => "BarcodeDetector" in window)
  t.diagnostic(`BarcodeDetector in this Chromium: ${detector}`)
  if (!detector) assert.equal(await page.getByRole("button", { name: "Escanear el código" }).count(), 0)

  // ---- a wrong invitation code: friendly Spanish, not the server's English ------------------
  await page.getByLabel("Código de invitación").fill("ZZZZ-ZZZZ-ZZZZ")
  await page.getByRole("button", { name: "Unirme" }).click()
  await expectText(maria, "Ese código de invitación no corresponde a ningún plan", "the unknown code, in Spanish")
  assert.equal(await page.getByText("no invitation has this code").count(), 0, "the server's English sentence is not shown")

  // ---- the switch: English (the notice too), remembered across a reload, and back -----------
  await toEnglish.click()
  await page.getByRole("heading", { name: "Hello, María" }).waitFor({ timeout: WAIT })
  assert.equal(await page.evaluate(() => document.documentElement.lang), "en")
  await expectText(maria, "That invitation code doesn't match any plan", "the notice, said again in English")
  assert.ok(await page.evaluate(() => document.activeElement?.hasAttribute("data-language-switch")), "the focus stays on the switch")
  assert.equal(await page.locator(".skip").textContent(), "Skip to content")
  await page.reload()
  await page.getByRole("heading", { name: "Hello, María" }).waitFor({ timeout: WAIT })
  const toSpanish = page.getByRole("button", { name: "Español", exact: true })
  assert.equal(await toSpanish.getAttribute("lang"), "es")
  await toSpanish.click()
  await page.getByRole("heading", { name: "Hola, María" }).waitFor({ timeout: WAIT })
  assert.equal(await page.evaluate(() => document.documentElement.lang), "es")
  // The server keeps one form of the name and compares it without case: "MARÍA" is her too.
  assert.equal((await world.cairn.login("MARÍA")).account.username, "maría")

  // ---- she joins Bea's plan with the code: the plan screen is Spanish ----------------------
  await page.getByLabel("Código de invitación").fill(code)
  await openPlan(page, () => page.getByRole("button", { name: "Unirme" }).click())
  await page.locator("#status[data-state=synced]").waitFor({ timeout: WAIT })
  assert.equal(await status(maria).textContent(), "Sincronizado")
  await page.getByRole("heading", { name: "Próximos pasos" }).first().waitFor({ timeout: WAIT }).catch(() => {})
  await shot(t, maria, "lang-05-plan")

  // ---- and starts her own, later: the list puts the latest first, in Spanish ---------------
  await page.goBack()
  await page.getByRole("heading", { name: "Hola, María" }).waitFor({ timeout: WAIT })
  await page.getByLabel("¿Cómo te gustaría llamarlo?").fill("Mi camino")
  await openPlan(page, () => page.getByRole("button", { name: "Empezar mi plan" }).click())
  await page.goBack()
  await page.getByRole("heading", { name: "Hola, María" }).waitFor({ timeout: WAIT })
  const titles = () => page.locator(".plan-title").allTextContents()
  await eventually(async () => ((await titles()).length === 2 ? true : undefined), { what: "both plans in María's list" })
  assert.deepEqual(await titles(), ["Mi camino", "Bea's allotment"], "the latest first")
  const beas = page.locator(".plan-link", { hasText: "Bea's allotment" })
  assert.match(await beas.textContent(), /Acompañas a Bea/, "whose plan it is, in Spanish")
  assert.match(await page.locator(".plans").textContent(), SPANISH_DATE, "dates written the Spanish way")
  assert.equal(await page.locator("[data-changed]").count(), 0, "nothing new: she has just looked at both")
  await page.evaluate(() => window.scrollTo(0, 0))
  await shot(t, maria, "lang-06-planes")
  await checkScreen(t, maria, "the plan list (Spanish)", "lang-07-planes-200")

  // ---- Bea writes in her plan: on María's phone it comes first, marked as changed -------------
  await bea.page.getByLabel("A strength").fill("I keep showing up")
  await bea.page.getByLabel("A strength").press("Enter")
  await bea.page.locator("#status[data-state=synced]").waitFor({ timeout: WAIT })
  await page.reload() // María comes back to the app
  await page.getByRole("heading", { name: "Hola, María" }).waitFor({ timeout: WAIT })
  await eventually(async () => ((await titles())[0] === "Bea's allotment" ? true : undefined), {
    what: "Bea's changed plan first on María's list",
  })
  await beas.locator("[data-changed]", { hasText: "Ha cambiado desde la última vez que lo viste" }).waitFor({ timeout: WAIT })
  assert.equal(await page.locator("[data-changed]").count(), 1, "only Bea's plan is marked")
  await page.evaluate(() => window.scrollTo(0, 0))
  await shot(t, maria, "lang-08-cambios")
  await openPlan(page, () => beas.click())
  await expectText(maria, "I keep showing up", "Bea's strength on María's phone")
  await page.goBack()
  await page.getByRole("heading", { name: "Hola, María" }).waitFor({ timeout: WAIT })
  await eventually(async () => ((await page.locator("[data-changed]").count()) === 0 ? true : undefined), {
    what: "the mark gone once María has looked",
  })
  // Her own words are no news to her: her plan comes first, unmarked.
  await openPlan(page, () => page.locator(".plan-link", { hasText: "Mi camino" }).click())
  await page.getByLabel("Una fortaleza").fill("Camino cada mañana")
  await page.getByLabel("Una fortaleza").press("Enter")
  await page.locator("#status[data-state=synced]").waitFor({ timeout: WAIT })
  await page.goBack()
  await page.getByRole("heading", { name: "Hola, María" }).waitFor({ timeout: WAIT })
  await page.reload()
  await eventually(async () => ((await titles())[0] === "Mi camino" ? true : undefined), { what: "María's plan first after her edit" })
  assert.equal(await page.locator("[data-changed]").count(), 0, "her own edit is not marked")

  for (const device of [maria, bea]) {
    assert.deepEqual(device.foreign, [], `${device.label}: nothing loaded from another origin`)
    assert.deepEqual(device.errors, [], `${device.label}: no script errors`)
  }
})

test("too many wrong codes: the wait, in minutes, in Spanish; offline, the top bar still fits at 200 % text", { timeout: 60_000 }, async t => {
  const leo = await phone("lang-leo", { locale: "es-MX" })
  const { page } = leo
  await page.getByRole("button", { name: "¿Primera vez aquí? Crea una cuenta" }).click()
  await page.getByLabel("Nombre de usuario").fill("leo")
  await page.getByLabel("Tu nombre, tal como lo verán los demás").fill("Leo")
  await page.getByLabel("Contraseña").fill(PASSWORD)
  await page.getByRole("button", { name: "Crear cuenta" }).click()
  await keepCodes(leo, SPANISH_CODES)
  await page.getByRole("heading", { name: "Hola, Leo" }).waitFor({ timeout: WAIT })
  const notice = page.locator("#notice")
  for (let attempt = 0; attempt < 2; attempt++) {
    await page.getByLabel("Código de invitación").fill(`ZZZZ-ZZZZ-ZZZ${attempt + 2}`)
    const answered = page.waitForResponse(response => response.url().includes("/accept"))
    await page.getByRole("button", { name: "Unirme" }).click()
    assert.equal((await answered).status(), 404)
    await expectText(leo, "Ese código de invitación no corresponde")
  }
  await page.getByLabel("Código de invitación").fill("ZZZZ-ZZZZ-ZZZ4")
  await page.getByRole("button", { name: "Unirme" }).click()
  // Two codes an hour: the next is allowed in half an hour.
  await expectText(leo, "Demasiados intentos por ahora. Espera 30 minutos y vuelve a intentarlo.")
  assert.doesNotMatch(await notice.textContent(), /too many|try again/i)
  // The longest status line, offline: the top bar wraps and fits.
  await leo.context.setOffline(true)
  await page.locator("#status", { hasText: "Sin conexión: los planes se quedan en este teléfono" }).waitFor({ timeout: WAIT })
  await checkScreen(t, leo, "the plan list offline (Spanish)", "lang-09-sin-conexion-200")
  assert.equal(await status(leo).textContent(), "Sin conexión: los planes se quedan en este teléfono")
  assert.deepEqual(leo.errors, [])
})
