// The app shell: who is signed in, the connection to Cairn, the status line, the notice, and
// which screen is shown (sign in, my plans, one plan: #/plan/<document id>). Screens are modules
// of their own; the plan screen and the plan store (Automerge and its WebAssembly) are loaded
// only once the first screen is on the phone.
import wasmUrl from "@automerge/automerge/automerge.wasm?url"
import { Api, Offline, forgetSession, loadSession, type Session } from "../api.ts"
import type { PlanStore } from "../sync.ts"
import { h } from "../dom.ts"
import { catalogue, onLocaleChange } from "./i18n.ts"
import { startLanguage } from "./language.ts"
import { isLocked, onOtherTabs, showLockScreen, startLock, tellOtherTabs, topBarButtons } from "./lock.ts"
import { PlanList } from "./plan-list.ts"
import { deleteDatabase, deleteSecret, forgetKey, getPlain, openVault, putPlain, resetVault } from "./vault.ts"
import { plansScreen } from "../screens/plans.ts"
import { signInScreen } from "../screens/signin.ts"

const t = catalogue(
  {
    synced: "Synced",
    saved: "Saved on this phone",
    online: "Online",
    connecting: "Connecting…",
    offline: "Offline: plans stay on this phone",
    ended: "Your access to {titles} has ended; it is no longer on this phone.",
    aPlan: "a plan",
    sessionEnded: "Your session has ended. Please log in again.",
    sessionEndedKept:
      "Your session has ended. Some changes had not reached Cairn yet: they stay on this phone, locked away, until you log in again.",
    planPages: "More about this plan",
    exportLink: "Print or download",
    accessLink: "Who opened this plan",
  },
  {
    synced: "Sincronizado",
    saved: "Guardado en este teléfono",
    online: "En línea",
    connecting: "Conectando…",
    offline: "Sin conexión: los planes se quedan en este teléfono",
    ended: "Tu acceso a {titles} ha terminado; ya no está en este teléfono.",
    aPlan: "un plan",
    sessionEnded: "Tu sesión ha terminado. Vuelve a iniciar sesión.",
    sessionEndedKept:
      "Tu sesión ha terminado. Algunos cambios todavía no habían llegado a Cairn: se quedan guardados bajo llave en este teléfono hasta que vuelvas a iniciar sesión.",
    planPages: "Más sobre este plan",
    exportLink: "Imprimir o descargar",
    accessLink: "Quién abrió este plan",
  }
)

/** How often the plan list is checked with the server while online. */
const REFRESH_MS = 15_000

/** The signed-in account's API, its plan list, and (once loaded) its plan store. */
export interface SignedIn {
  api: Api
  list: PlanList
}

let signedIn: SignedIn | null = null
let store: PlanStore | null = null
let storeLoading: Promise<PlanStore> | null = null
let automerge: Promise<WebAssembly.Module> | null = null
/** The notice: words, or a function giving them in the language of the moment. */
let notice: string | (() => string) = ""
/** Cleanup for the screen shown now. */
let leaveScreen: () => void = () => {}
/** The open plan's sync state, while a plan is open. */
let planState: (() => "synced" | "saved") | null = null

export const main = document.getElementById("main") as HTMLElement
const status = document.getElementById("status") as HTMLElement

export function account(): SignedIn | null {
  return signedIn
}

/** The plan store once it is loaded (null before, and when signed out). */
export function loadedStore(): PlanStore | null {
  return store
}

/**
 * Automerge's WebAssembly, fetched and compiled as it streams in (from the service worker's cache
 * on a return visit) at the same time as the store's scripts load and run, rather than after them.
 */
function compileAutomerge(): Promise<WebAssembly.Module> {
  automerge ??= WebAssembly.compileStreaming(fetch(wasmUrl)).catch(err => {
    automerge = null
    throw err
  })
  return automerge
}

let automergeReady: Promise<typeof import("../sync.ts")> | null = null

/** The plan store's module with Automerge started: its scripts and its WebAssembly, loaded side
 * by side the first time (they need no account). */
function automergeStarted(): Promise<typeof import("../sync.ts")> {
  automergeReady ??= Promise.all([import("../sync.ts"), compileAutomerge()])
    .then(async ([sync, compiled]) => {
      await sync.loadAutomerge(compiled)
      performance.mark("cairn:automerge-started")
      return sync
    })
    .catch(err => {
      automergeReady = null
      throw err
    })
  return automergeReady
}

/**
 * The app opened at a plan (a phone coming back to the plan it showed): the plan screen and
 * Automerge load now, while the vault opens and the session is read, not after.
 */
export function warmPlanScreen(): void {
  void automergeStarted().catch(() => undefined)
  void import("../screens/plan.ts").catch(() => undefined)
}

/** The plan store, loading Automerge and its WebAssembly the first time. */
export function planStore(): Promise<PlanStore> {
  const session = signedIn
  if (!session) return Promise.reject(new Error("signed out"))
  storeLoading ??= (async () => {
    const sync = await automergeStarted()
    if (signedIn !== session) throw new Error("signed out")
    const loaded = await sync.PlanStore.open(session.api.account.id, session.list)
    performance.mark("cairn:store-open")
    if (signedIn !== session) {
      await loaded.close()
      throw new Error("signed out")
    }
    loaded.onChange(showStatus)
    loaded.repo.networkSubsystem.on("message", message => {
      // The server answers `doc-unavailable` the moment a plan is no longer ours: look at once.
      if (message.type === "doc-unavailable" && session.list.find(message.documentId)) void refreshPlans()
    })
    store = loaded
    return loaded
  })()
  return storeLoading
}

export function currentNotice(): string {
  return typeof notice === "function" ? notice() : notice
}

/** Show a notice. Given as a function, it is said again in the new language after a switch. */
export function say(message: string | (() => string)): void {
  notice = message
  const box = document.getElementById("notice")
  if (box) box.textContent = currentNotice()
}

/** Set what the status line reports about the open plan (null: no plan open). */
export function reportPlanState(state: (() => "synced" | "saved") | null): void {
  planState = state
  showStatus()
}

export function showStatus(): void {
  // (An admin account syncs no plans: nothing to report.)
  if (!signedIn || isAdmin(signedIn)) {
    status.textContent = ""
    delete status.dataset.state
    return
  }
  let text: string
  let state: string
  if (planState) {
    state = planState()
    text = t(state === "synced" ? "synced" : "saved")
  } else {
    const connection = store?.state ?? (navigator.onLine ? "connecting" : "offline")
    state = connection === "online" ? "synced" : "saved"
    text = t(connection)
  }
  status.textContent = text
  status.dataset.state = state
}

// ---- the connection --------------------------------------------------------------------------

let retry = 0

async function goOnline(attempt = 0): Promise<void> {
  window.clearTimeout(retry)
  const session = signedIn
  if (!session || !navigator.onLine || isAdmin(session)) return
  try {
    // The access token lives only in memory: after a start offline, this is the first refresh.
    const token = await session.api.accessToken()
    const local = await planStore()
    // The phone may have gone offline while Automerge loaded: the status line must not say
    // "Connecting…" then.
    if (!navigator.onLine) return
    local.connect(token)
    await refreshPlans()
  } catch (err) {
    if (!(err instanceof Offline)) return console.warn("could not connect", err)
    // The network said "online" a moment before it carries anything: try again shortly.
    if (signedIn === session && attempt < 6) retry = window.setTimeout(() => void goOnline(attempt + 1), 500 * 2 ** attempt)
  }
}

/** Check the plan list with the server: adds new plans, wipes the ones this account lost. */
export async function refreshPlans(): Promise<void> {
  const session = signedIn
  if (!session || !navigator.onLine || isAdmin(session)) return
  try {
    const plans = await session.api.plans()
    const local = await planStore()
    if (signedIn !== session) return
    const wiped = await local.reconcile(plans, session.api.account.id)
    if (wiped.length > 0) {
      say(() => t("ended", { titles: wiped.map(title => `“${title || t("aPlan")}”`).join(", ") }))
      const open = currentPlanId()
      if (open && !session.list.find(open)) location.hash = "#/"
    }
    // A token refreshed by that call is the one the socket uses when it next connects.
    if (navigator.onLine) local.connect(session.api.session.tokens.accessToken)
  } catch (err) {
    if (!(err instanceof Offline)) console.warn("could not refresh the plan list", err)
  }
}

// ---- signing in and out ----------------------------------------------------------------------

export async function startSession(session: Session): Promise<void> {
  const api = new Api(session, () => void sessionEnded(api))
  // Plans kept from a session that ended: this account's continue; another account's go now.
  const kept = await getPlain<{ userId: string } | null>("kept").catch(() => null)
  if (kept) {
    if (kept.userId !== session.tokens.account.id) {
      await deleteDatabase(`cairn-${kept.userId}`)
      await deleteSecret(`plans.${kept.userId}`).catch(() => undefined)
    }
    await putPlain("kept", null)
  }
  signedIn = { api, list: await PlanList.open(session.tokens.account.id) }
  say("")
  route()
  // An admin account has no plans to sync.
  if (isAdmin(signedIn)) return
  // The list is on screen; the plans themselves (and Automerge) load behind it.
  void goOnline()
  void planStore().catch(err => console.warn("the plans on this phone could not be opened", err))
}

/**
 * The session ended without this phone signing out: ended from another device, run out, or its
 * refresh token refused. With nothing unsent on the phone it is a sign-out. Plans with changes
 * Cairn does not have yet stay on the phone, sealed, for this account's next sign-in here (and
 * go if another account signs in): the app never throws away what someone wrote.
 */
async function sessionEnded(api: Api): Promise<void> {
  const session = signedIn
  if (!session || session.api !== api) return
  const local = await (storeLoading ?? planStore()).catch(() => null)
  const unsynced = local ? await local.unsyncedPlans().catch(() => []) : []
  if (signedIn !== session) return
  if (unsynced.length === 0) return signOut(() => t("sessionEnded"))
  await suspendSession()
  await forgetSession()
  await putPlain("kept", { userId: api.account.id })
  // (No plan named: whoever holds the phone now may not be its owner.)
  notice = () => t("sessionEndedKept")
  location.hash = "#/"
  route()
}

/** This page lets go of the account: no session, no store, no screen. Returns the store that
 * was loading or loaded (to erase or close). */
function dropSession(): Promise<PlanStore> | null {
  const loading = storeLoading
  signedIn = null
  store = null
  storeLoading = null
  planState = null
  leaveScreen()
  leaveScreen = () => {}
  return loading
}

export async function signOut(message: string | (() => string) = ""): Promise<void> {
  const leaving = signedIn
  const loading = dropSession()
  if (leaving) await leaving.api.logout()
  // Plans are health records: nothing of them stays on a phone that has signed out.
  const local = await loading?.catch(() => null)
  if (local) await local.erase()
  else await leaving?.list.erase()
  // A store still opening when the session ended was closed unopened: its database goes too.
  if (leaving && !local) await deleteDatabase(`cairn-${leaving.api.account.id}`)
  await forgetSession()
  // A new data key (and no lock) for whoever signs in next: what the old one sealed is unreadable.
  await resetVault()
  tellOtherTabs("signed-out")
  notice = message
  location.hash = "#/"
  route()
}

/**
 * The app locks: everything is written to the phone, syncing stops, and the account leaves this
 * page's memory (the vault forgets its key next). Nothing is erased: unlocking opens it again.
 */
export async function suspendSession(): Promise<void> {
  const loading = dropSession()
  showStatus()
  const local = await loading?.catch(() => null)
  if (local) await local.close()
}

/** After unlocking: the session kept in the vault, as at the start. */
export async function resumeSession(): Promise<void> {
  const session = await loadSession()
  if (session) await startSession(session)
  else route()
}

// ---- routing ---------------------------------------------------------------------------------

export function currentPlanId(): string | null {
  const match = /^#\/plan\/([A-Za-z0-9]+)$/.exec(location.hash)
  return match ? match[1] : null
}

/** The plan's own pages beside the plan screen: `#/plan/<id>/export`, `#/plan/<id>/access`. */
function planPage(): { planId: string; page: "export" | "access" } | null {
  const match = /^#\/plan\/([A-Za-z0-9]+)\/(export|access)$/.exec(location.hash)
  return match ? { planId: match[1], page: match[2] as "export" | "access" } : null
}

/** Show the screen the address names; `leave` is called when another screen replaces it. */
export function showing(leave: () => void): void {
  leaveScreen = leave
}

/** Under the plan screen (outside it, so the plan screen is drawn as it likes): links to the
 * plan's printable page and downloads, and to its access log. */
function showPlanPages(planId: string | null): void {
  document.getElementById("plan-pages")?.remove()
  if (!planId) return
  main.after(
    h(
      "nav",
      { id: "plan-pages", class: "plan-pages", "aria-label": t("planPages") },
      h("a", { href: `#/plan/${planId}/export`, class: "button-link" }, t("exportLink")),
      h("a", { href: `#/plan/${planId}/access`, class: "button-link" }, t("accessLink"))
    )
  )
}

/** Whether the signed-in account is an admin's (which has the console instead of plans). */
function isAdmin(session: SignedIn): boolean {
  return session.api.account.kind === "admin"
}

export function route(): void {
  leaveScreen()
  leaveScreen = () => {}
  planState = null
  showStatus()
  const session = signedIn
  const hash = location.hash
  if (isLocked()) {
    showLockScreen()
  } else if (hash === "#/about") {
    void import("../screens/about.ts").then(screen => {
      if (location.hash === hash && !isLocked()) screen.aboutScreen()
    })
  } else if (!session) {
    signInScreen()
  } else if (isAdmin(session) && hash !== "#/account" && hash !== "#/sign-out") {
    // An admin account has no plans: the admin console is its app.
    void import("../screens/console.ts").then(screen => {
      if (signedIn === session && location.hash === hash) screen.consoleScreen(session, screen.consoleSection(hash) ?? "overview")
    })
  } else if (hash === "#/account" || hash === "#/sign-out") {
    void import("../screens/account.ts").then(screen => {
      if (signedIn !== session || location.hash !== hash) return
      if (hash === "#/account") screen.accountScreen(session)
      else screen.signOutScreen(session)
    })
  } else if (planPage()) {
    const { planId, page } = planPage()!
    void import("../screens/export.ts").then(screen => {
      if (signedIn !== session || location.hash !== hash) return
      if (page === "export") void screen.exportScreen(session, planId)
      else void screen.accessScreen(session, planId)
    })
  } else {
    const planId = currentPlanId()
    // The plan list remembers when this phone last looked at each plan ("changed since you last
    // looked"): while a plan is open, and up to the list's next word from the server after it.
    const left = session.list.looking(planId)
    if (left) void refreshPlans().then(() => session.list.looked(left))
    if (planId) {
      void import("../screens/plan.ts").then(screen => {
        if (signedIn === session && currentPlanId() === planId) void screen.planScreen(session, planId)
      })
    } else {
      plansScreen(session)
    }
  }
  showPlanPages(session && !isLocked() && !isAdmin(session) ? currentPlanId() : null)
  main.focus({ preventScroll: true })
}

/** Start the app: open the vault (or ask for the PIN), then the session it keeps. */
export async function startShell(): Promise<void> {
  topBarButtons()
  window.addEventListener("hashchange", route)
  window.addEventListener("online", () => void goOnline())
  window.addEventListener("offline", () => store?.disconnect())
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") void refreshPlans()
    // Leaving the app (switching away, closing it): write everything to IndexedDB now.
    else void store?.repo.flush()
  })
  window.addEventListener("pagehide", () => void store?.repo.flush())
  window.setInterval(() => void refreshPlans(), REFRESH_MS)
  startLanguage(document.querySelector("header.bar") as HTMLElement)
  onLocaleChange(route)
  startLock()
  // Signed out in another tab: the plans and the key are gone; this tab shows the sign-in too.
  onOtherTabs(async message => {
    if (message !== "signed-out" || !signedIn) return
    await suspendSession()
    forgetKey()
    await openVault().catch(() => undefined)
    location.hash = "#/"
    route()
  })
  let opened: "open" | "locked"
  try {
    opened = await openVault()
  } catch (err) {
    // No IndexedDB here (some private windows): nothing can be kept on this phone.
    console.warn("the vault could not be opened", err)
    opened = "open"
  }
  performance.mark("cairn:vault-open")
  if (opened === "locked") return showLockScreen()
  const session = await loadSession().catch(() => null)
  performance.mark("cairn:session-read")
  if (session) await startSession(session)
  else route()
}
