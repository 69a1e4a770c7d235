// The app shell: who is signed in, the connection to Cairn, the status line, the notice, and
// which screen is shown (sign in, my plans, one plan: #/plan/<document id>). Screens are modules
// of their own; the plan screen and the plan store (Automerge and its WebAssembly) are loaded
// only once the first screen is on the phone.
import { Api, Offline, forgetSession, type Session } from "../api.ts"
import type { PlanStore } from "../sync.ts"
import { catalogue, onLocaleChange } from "./i18n.ts"
import { startLanguage } from "./language.ts"
import { PlanList } from "./plan-list.ts"
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

/** The plan store, loading Automerge and its WebAssembly the first time. */
export function planStore(): Promise<PlanStore> {
  const session = signedIn
  if (!session) return Promise.reject(new Error("signed out"))
  storeLoading ??= (async () => {
    const sync = await import("../sync.ts")
    await sync.loadAutomerge()
    if (signedIn !== session) throw new Error("signed out")
    const loaded = new sync.PlanStore(session.api.account.id, session.list)
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
  if (!signedIn) {
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

async function goOnline(): Promise<void> {
  if (!signedIn || !navigator.onLine) return
  try {
    const token = await signedIn.api.accessToken()
    const local = await planStore()
    // The phone may have gone offline while Automerge loaded: the status line must not say
    // "Connecting…" then.
    if (!navigator.onLine) return
    local.connect(token)
    await refreshPlans()
  } catch (err) {
    if (!(err instanceof Offline)) console.warn("could not connect", err)
  }
}

/** Check the plan list with the server: adds new plans, wipes the ones this account lost. */
export async function refreshPlans(): Promise<void> {
  const session = signedIn
  if (!session || !navigator.onLine) return
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
  const api = new Api(session, () => void signOut(() => t("sessionEnded")))
  signedIn = { api, list: new PlanList(session.tokens.account.id) }
  say("")
  route()
  // The list is on screen; the plans themselves (and Automerge) load behind it.
  void goOnline()
  void planStore().catch(err => console.warn("the plans on this phone could not be opened", err))
}

export async function signOut(message: string | (() => string) = ""): Promise<void> {
  const leaving = signedIn
  const loading = storeLoading
  signedIn = null
  store = null
  storeLoading = null
  planState = null
  leaveScreen()
  leaveScreen = () => {}
  if (leaving) await leaving.api.logout()
  forgetSession()
  // Plans are health records: nothing of them stays on a phone that has signed out.
  const local = await loading?.catch(() => null)
  if (local) await local.erase()
  else leaving?.list.erase()
  notice = message
  location.hash = "#/"
  route()
}

// ---- routing ---------------------------------------------------------------------------------

export function currentPlanId(): string | null {
  const match = /^#\/plan\/([A-Za-z0-9]+)$/.exec(location.hash)
  return match ? match[1] : null
}

/** Show the screen the address names; `leave` is called when another screen replaces it. */
export function showing(leave: () => void): void {
  leaveScreen = leave
}

export function route(): void {
  leaveScreen()
  leaveScreen = () => {}
  planState = null
  showStatus()
  const session = signedIn
  if (!session) {
    signInScreen()
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
  main.focus({ preventScroll: true })
}

export function startShell(session: Session | null): void {
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
  if (session) void startSession(session)
  else route()
}
