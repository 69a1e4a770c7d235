// A shared phone: the app lock and the quick exit.
//
// The lock (optional, set in "This phone and my account") is a PIN. Locked, the vault's data key
// is not in memory, so nothing of the plans can be read or shown; the page shows only the PIN
// form. The app locks when the person leaves it (the page is hidden or left) and after an idle
// time (5 minutes unless they chose another). Before locking, everything is written to the phone,
// and what was half-typed in a field is kept in this page's memory and put back after unlocking.
//
// The quick exit (the top bar's button, or Escape three times) replaces the page with a blank one
// at once, locking first when there is a lock.
import { h } from "../dom.ts"
import { catalogue, onLocaleChange } from "./i18n.ts"
import { deleteDatabase, forgetKey, hasLock, hasPasskey, lockSettings, resetVault, unlockWithPasskey, unlockWithPin } from "./vault.ts"
import { main, resumeSession, route, suspendSession } from "./shell.ts"

const t = catalogue(
  {
    quickExit: "Quick exit",
    lockNow: "Lock",
    lockedTitle: "Cairn is locked",
    lockedIntro: "Enter your PIN to open your plans.",
    pin: "PIN",
    unlock: "Unlock",
    checking: "Checking…",
    wrongPin: "That PIN did not open it. Please try again.",
    forgot: "Forgot your PIN?",
    forgotWarn:
      "Without the PIN, nothing on this phone can be opened again. You can remove everything Cairn keeps here and sign in again: what was already synced comes back from Cairn, but changes that never reached Cairn are lost.",
    forgotDo: "Remove everything from this phone",
    keepTrying: "Keep trying my PIN",
    withPasskey: "Unlock with this phone's passkey",
    passkeyFailed: "The passkey did not open it. Use your PIN.",
  },
  {
    quickExit: "Salida rápida",
    lockNow: "Bloquear",
    lockedTitle: "Cairn está bloqueado",
    lockedIntro: "Escribe tu PIN para abrir tus planes.",
    pin: "PIN",
    unlock: "Desbloquear",
    checking: "Comprobando…",
    wrongPin: "Ese PIN no es el correcto. Inténtalo de nuevo.",
    forgot: "¿Olvidaste tu PIN?",
    forgotWarn:
      "Sin el PIN, nada de lo que hay en este teléfono se puede volver a abrir. Puedes borrar todo lo que Cairn guarda aquí e iniciar sesión de nuevo: lo que ya estaba sincronizado vuelve desde Cairn, pero los cambios que nunca llegaron a Cairn se pierden.",
    forgotDo: "Borrar todo de este teléfono",
    keepTrying: "Seguir intentando con mi PIN",
    withPasskey: "Desbloquear con la llave de acceso del teléfono",
    passkeyFailed: "La llave de acceso no lo abrió. Usa tu PIN.",
  }
)

/** The app's other tabs on this phone: locking (or the quick exit) in one locks them all, and a
 * sign-out in one signs them all out (the vault's key changed under them). */
const tabs: BroadcastChannel | null = "BroadcastChannel" in window ? new BroadcastChannel("cairn-tabs") : null

export function tellOtherTabs(message: "lock" | "signed-out"): void {
  tabs?.postMessage(message)
}

export function onOtherTabs(handler: (message: string) => void): void {
  tabs?.addEventListener("message", event => handler(String(event.data)))
}

let locked = false
let lockSet = false
let idleMs = 5 * 60_000
let lastActive = Date.now()
let escapes: number[] = []

/** What was half-typed when the app locked: put back once the same screen is drawn again. */
interface Draft {
  hash: string
  fields: { key: string; value: string }[]
  focus: string | null
}
let draft: Draft | null = null

export function isLocked(): boolean {
  return locked
}

/** Whether a lock is set (after the person sets or removes one, call `lockChanged`). */
export function lockIsSet(): boolean {
  return lockSet
}

export async function lockChanged(): Promise<void> {
  lockSet = await hasLock().catch(() => false)
  idleMs = (await lockSettings().catch(() => ({ idleMinutes: 5 }))).idleMinutes * 60_000
  const button = document.getElementById("lock-now")
  if (button) button.hidden = !lockSet
}

function fieldKey(control: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement): string | null {
  return control.dataset.key || control.name || control.getAttribute("aria-label") || control.labels?.[0]?.textContent || null
}

function controls(): (HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement)[] {
  return [...main.querySelectorAll<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>("input, textarea, select")].filter(
    control => !["password", "hidden", "checkbox", "radio", "file"].includes((control as HTMLInputElement).type)
  )
}

function keepDraft(): void {
  const active = document.activeElement as HTMLElement | null
  const fields: Draft["fields"] = []
  let focus: string | null = null
  for (const control of controls()) {
    const key = fieldKey(control)
    if (!key) continue
    if (control === active) focus = key
    if (control.value && control.tagName !== "SELECT") fields.push({ key, value: control.value })
  }
  draft = { hash: location.hash, fields, focus }
}

/** Put the kept draft back into the screen once it is drawn (the plan screen loads after a moment):
 * only into fields that are empty, so nothing newer is overwritten. */
function restoreDraft(): void {
  const kept = draft
  draft = null
  if (!kept || kept.hash !== location.hash) return
  const pending = new Map(kept.fields.map(field => [field.key, field.value]))
  const started = Date.now()
  const tick = () => {
    for (const control of controls()) {
      const key = fieldKey(control)
      if (!key || !pending.has(key)) continue
      if (!control.value) {
        control.value = pending.get(key)!
        control.dispatchEvent(new Event("input", { bubbles: true }))
      }
      pending.delete(key)
      if (key === kept.focus) control.focus()
    }
    if (pending.size > 0 && Date.now() - started < 15_000) window.setTimeout(tick, 150)
  }
  tick()
}

/** Lock now (when a lock is set): the lock screen at once, then everything is written and the
 * key forgotten. */
export async function lockNow(fromOtherTab = false): Promise<void> {
  if (!fromOtherTab) tellOtherTabs("lock")
  if (!lockSet || locked) return
  locked = true
  keepDraft()
  showLockScreen()
  await suspendSession()
  forgetKey()
}

export function showLockScreen(): void {
  locked = true
  document.getElementById("plan-pages")?.remove()
  const status = document.getElementById("status")
  if (status) {
    status.textContent = ""
    delete status.dataset.state
  }
  const lockButton = document.getElementById("lock-now")
  if (lockButton) lockButton.hidden = true
  const pin = h("input", {
    id: "unlock-pin",
    name: "pin",
    type: "password",
    inputmode: "numeric",
    autocomplete: "off",
    required: true,
    minlength: 4,
  }) as HTMLInputElement
  const message = h("p", { id: "notice", class: "notice", role: "alert" })
  const button = h("button", { type: "submit", class: "primary" }, t("unlock")) as HTMLButtonElement
  const opened = async () => {
    locked = false
    lastActive = Date.now()
    await lockChanged()
    await resumeSession()
    restoreDraft()
  }
  const form = h(
    "form",
    {
      class: "card",
      onsubmit: async (event: Event) => {
        event.preventDefault()
        button.disabled = true
        message.textContent = t("checking")
        const ok = await unlockWithPin(pin.value)
        button.disabled = false
        if (!ok) {
          message.textContent = t("wrongPin")
          pin.value = ""
          pin.focus()
          return
        }
        await opened()
      },
    },
    h("h1", {}, t("lockedTitle")),
    h("p", {}, t("lockedIntro")),
    h("div", { class: "field" }, h("label", { for: "unlock-pin" }, t("pin")), pin),
    message,
    h("div", { class: "actions" }, button)
  )
  void hasPasskey().then(has => {
    if (!has || !locked) return
    form.querySelector(".actions")?.append(
      h(
        "button",
        {
          type: "button",
          onclick: async () => {
            message.textContent = ""
            const ok = await unlockWithPasskey().catch(() => false)
            if (ok) await opened()
            else message.textContent = t("passkeyFailed")
          },
        },
        t("withPasskey")
      )
    )
  })
  const forgot = h(
    "details",
    { class: "card forgot" },
    h("summary", {}, t("forgot")),
    h("p", {}, t("forgotWarn")),
    h(
      "button",
      {
        type: "button",
        onclick: async () => {
          await wipeEverything()
          locked = false
          draft = null
          await lockChanged()
          location.hash = "#/"
          route()
        },
      },
      t("forgotDo")
    )
  )
  main.replaceChildren(form, forgot)
  pin.focus()
}

/** A forgotten PIN: every database of Cairn's on this phone is deleted and the vault starts anew. */
async function wipeEverything(): Promise<void> {
  const databases = (await indexedDB.databases?.().catch(() => [])) ?? []
  for (const { name } of databases) {
    if (!name || !name.startsWith("cairn-") || name === "cairn-vault") continue
    await deleteDatabase(name)
  }
  await resetVault()
}

/** Leave at once for a blank page (no Cairn words, no address of Cairn's); locked first when a
 * lock is set. The back button then finds the lock screen, not the plan. */
export function quickExit(): void {
  tellOtherTabs("lock")
  main.replaceChildren()
  document.getElementById("plan-pages")?.remove()
  const status = document.getElementById("status")
  if (status) status.textContent = ""
  if (lockSet) {
    locked = true
    draft = null
    void suspendSession().finally(forgetKey)
  }
  location.replace("about:blank")
}

/** The top bar's buttons: lock now (when a lock is set) and the quick exit (always). */
export function topBarButtons(): void {
  const bar = document.querySelector(".bar")
  if (!bar || document.getElementById("quick-exit")) return
  const lock = h("button", { type: "button", id: "lock-now", class: "bar-button", hidden: true, onclick: () => void lockNow() }, t("lockNow"))
  const exit = h("button", { type: "button", id: "quick-exit", class: "bar-button exit", onclick: quickExit }, t("quickExit"))
  bar.append(h("span", { class: "bar-actions" }, lock, exit))
}

function relabel(): void {
  const lock = document.getElementById("lock-now")
  const exit = document.getElementById("quick-exit")
  if (lock) lock.textContent = t("lockNow")
  if (exit) exit.textContent = t("quickExit")
}

/** Watch for leaving, idling and the quick-exit key. */
export function startLock(): void {
  void lockChanged()
  onOtherTabs(message => {
    if (message === "lock") void lockChanged().then(() => lockNow(true))
  })
  const active = () => {
    lastActive = Date.now()
  }
  for (const name of ["pointerdown", "keydown", "input", "scroll", "touchstart"]) {
    window.addEventListener(name, active, { capture: true, passive: true })
  }
  window.setInterval(() => {
    if (lockSet && !locked && Date.now() - lastActive > idleMs) void lockNow()
  }, 5_000)
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") void lockNow()
  })
  window.addEventListener("pagehide", () => void lockNow())
  // Back from the blank page, from the browser's memory of this page: locked stays locked.
  window.addEventListener("pageshow", event => {
    if (!event.persisted) return
    if (locked) showLockScreen()
    else route() // the quick exit emptied the page: draw it again
  })
  window.addEventListener("keydown", event => {
    if (event.key !== "Escape") return
    const now = Date.now()
    escapes = [...escapes.filter(at => now - at < 1_500), now]
    if (escapes.length >= 3) {
      escapes = []
      quickExit()
    }
  })
  onLocaleChange(relabel)
}
