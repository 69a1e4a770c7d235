// My plans: the plans this account has on this phone, the one with the latest change first and
// marked when it changed since this phone last looked; starting a plan (offline too), joining one
// with an invitation code (typed, or scanned with the camera where the browser can), and signing
// out. Drawn from the plan list alone: no plan is opened and no Automerge is needed until one is.
import type { PlanDocument } from "../../../client-schema/cairn.ts"
import { Offline } from "../api.ts"
import { field, h } from "../dom.ts"
import { problem } from "../app/errors.ts"
import { catalogue, dateTime, names } from "../app/i18n.ts"
import { changedSinceLooked, fromSummary } from "../app/plan-list.ts"
import { currentNotice, main, planStore, say, showing, type SignedIn } from "../app/shell.ts"
import { canScan, scanCode, type Scan } from "./scan.ts"

const t = catalogue(
  {
    hello: "Hello, {name}",
    yourPlans: "Your plans",
    none: "No plans yet. Start yours below, or join someone's with their code.",
    untitled: "Untitled plan",
    yours: "Your plan",
    yoursWith: "Your plan, with {names}",
    supporting: "Supporting {names}",
    madeOffline: "Made offline: it syncs when you are online",
    changedSince: "Changed since you last looked",
    lastChange: "Last change: {when}",
    started: "Started: {when}",
    startTitle: "Start a new plan",
    nameIt: "What would you like to call it?",
    namePlaceholder: "e.g. My way forward",
    start: "Start my plan",
    joinTitle: "Join a plan",
    code: "Invitation code",
    codeHint: "The code the person showed you or read to you, like K7QM-3XPA-Z9RT.",
    join: "Join",
    scan: "Scan the code",
    scanning: "Point the camera at the QR code on the other phone.",
    camera: "Camera",
    stopScan: "Stop scanning",
    noCamera: "The camera can't be used right now. Type the code instead.",
    signOut: "Sign out of this phone",
    account: "This phone and my account",
    about: "About this app",
  },
  {
    hello: "Hola, {name}",
    yourPlans: "Tus planes",
    none: "Aún no tienes planes. Empieza el tuyo aquí abajo o únete al de alguien con su código.",
    untitled: "Plan sin nombre",
    yours: "Tu plan",
    yoursWith: "Tu plan, con {names}",
    supporting: "Acompañas a {names}",
    madeOffline: "Creado sin conexión: se sincronizará cuando tengas conexión",
    changedSince: "Ha cambiado desde la última vez que lo viste",
    lastChange: "Último cambio: {when}",
    started: "Creado: {when}",
    startTitle: "Empezar un plan nuevo",
    nameIt: "¿Cómo te gustaría llamarlo?",
    namePlaceholder: "p. ej., Mi camino",
    start: "Empezar mi plan",
    joinTitle: "Unirse a un plan",
    code: "Código de invitación",
    codeHint: "El código que la persona te mostró o te leyó, como K7QM-3XPA-Z9RT.",
    join: "Unirme",
    scan: "Escanear el código",
    scanning: "Apunta la cámara al código QR del otro teléfono.",
    camera: "Cámara",
    stopScan: "Dejar de escanear",
    noCamera: "Ahora no se puede usar la cámara. Escribe el código.",
    signOut: "Cerrar sesión en este teléfono",
    account: "Este teléfono y mi cuenta",
    about: "Sobre esta app",
  }
)

export function plansScreen({ api, list: planList }: SignedIn): void {
  const me = api.account
  const title = h("input", { name: "title", placeholder: t("namePlaceholder"), "data-key": "new-title" })
  const code = h("input", { name: "code", autocapitalize: "characters", autocomplete: "off", "data-key": "join-code" })
  const list = h("ul", { class: "plans" })

  const renderList = () => {
    const plans = planList.byActivity()
    list.replaceChildren(
      ...(plans.length === 0
        ? [h("li", { class: "empty" }, t("none"))]
        : plans.map(plan =>
            h(
              "li",
              {},
              h(
                "a",
                { href: `#/plan/${plan.documentId}`, class: "plan-link" },
                h("span", { class: "plan-title" }, plan.title || t("untitled")),
                h(
                  "span",
                  { class: "plan-who" },
                  plan.role === "owner"
                    ? plan.with.length > 0
                      ? t("yoursWith", { names: names(plan.with) })
                      : t("yours")
                    : t("supporting", { names: names(plan.with) })
                ),
                plan.confirmed ? null : h("span", { class: "plan-who" }, t("madeOffline")),
                plan.lastChangedAt || plan.createdAt
                  ? h(
                      "span",
                      { class: "plan-who" },
                      plan.lastChangedAt
                        ? t("lastChange", { when: dateTime(plan.lastChangedAt) })
                        : t("started", { when: dateTime(plan.createdAt as string) })
                    )
                  : null,
                changedSinceLooked(plan) ? h("span", { class: "plan-news", "data-changed": "" }, t("changedSince")) : null
              )
            )
          ))
    )
  }
  renderList()
  let scan: Scan | null = null
  const stopListening = planList.onChange(renderList)
  showing(() => {
    stopListening()
    scan?.stop()
  })

  const create = async (event: Event) => {
    event.preventDefault()
    const name = (title as HTMLInputElement).value.trim()
    try {
      const plan = await api.createPlan(name)
      planList.remember(fromSummary(plan, me.id))
      location.hash = `#/plan/${plan.documentId}`
    } catch (err) {
      if (!(err instanceof Offline)) return say(() => problem(err))
      // Offline: the plan starts on this phone and becomes mine on the server when it syncs.
      const [store, P] = await Promise.all([planStore(), import("../plan.ts")])
      const handle = store.repo.create<PlanDocument>(P.skeleton(name))
      planList.remember({
        url: handle.url,
        documentId: handle.documentId,
        id: handle.documentId,
        title: name,
        role: "owner",
        with: [],
        confirmed: false,
        createdAt: new Date().toISOString(),
      })
      location.hash = `#/plan/${handle.documentId}`
    }
  }

  const join = async (event: Event) => {
    event.preventDefault()
    scan?.stop()
    try {
      const plan = await api.accept((code as HTMLInputElement).value)
      planList.remember(fromSummary(plan, me.id))
      location.hash = `#/plan/${plan.documentId}`
    } catch (err) {
      say(() => problem(err))
    }
  }

  // Scanning the code with the camera, where the browser can; typing it always works.
  const joinButton = h("button", { type: "submit" }, t("join"))
  const camera = h("div", { class: "scan", hidden: true })
  const joinForm = h(
    "form",
    { class: "card", onsubmit: join },
    h("h2", {}, t("joinTitle")),
    field(t("code"), code, t("codeHint")),
    camera,
    h("div", { class: "inline" }, joinButton)
  )
  const startScan = async () => {
    scan?.stop()
    const video = h("video", { class: "scan-video", "aria-label": t("camera"), muted: true, playsinline: true }) as HTMLVideoElement
    const stop = h("button", { type: "button", onclick: () => closeCamera() }, t("stopScan"))
    const closeCamera = () => {
      scan?.stop()
      scan = null
      camera.hidden = true
      camera.replaceChildren()
    }
    camera.replaceChildren(h("p", { class: "hint" }, t("scanning")), video, stop)
    camera.hidden = false
    try {
      scan = await scanCode(video, found => {
        closeCamera()
        ;(code as HTMLInputElement).value = found
        ;(joinForm as HTMLFormElement).requestSubmit()
      })
      // The person may have left this screen while the phone asked about the camera.
      if (!camera.isConnected || camera.hidden) return closeCamera()
      stop.focus()
    } catch {
      closeCamera()
      say(() => t("noCamera"))
    }
  }
  void canScan().then(can => {
    if (can && joinButton.isConnected) {
      joinButton.before(h("button", { type: "button", "data-scan": "", onclick: () => void startScan() }, t("scan")))
    }
  })

  main.replaceChildren(
    h(
      "section",
      { class: "card" },
      h("h1", {}, t("hello", { name: me.displayName })),
      h("p", { id: "notice", class: "notice", role: "status" }, currentNotice()),
      h("h2", {}, t("yourPlans")),
      list
    ),
    h(
      "form",
      { class: "card", onsubmit: create },
      h("h2", {}, t("startTitle")),
      field(t("nameIt"), title),
      h("button", { type: "submit", class: "primary" }, t("start"))
    ),
    joinForm,
    h(
      "section",
      { class: "card stack" },
      h("a", { href: "#/account", class: "button-link" }, t("account")),
      h("a", { href: "#/about" }, t("about")),
      // Signing out first checks that nothing written on this phone would be lost (account.ts).
      h("button", { type: "button", onclick: () => (location.hash = "#/sign-out") }, t("signOut"))
    )
  )
}
