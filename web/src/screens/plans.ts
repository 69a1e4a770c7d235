// My plans: the plans this account has on this phone, starting a plan (offline too), joining one
// with an invitation code, and signing out. Drawn from the plan list alone: no plan is opened
// and no Automerge is needed until one is.
import type { PlanDocument } from "../../../client-schema/cairn.ts"
import { Offline } from "../api.ts"
import { field, h } from "../dom.ts"
import { problem } from "../app/errors.ts"
import { catalogue, names } from "../app/i18n.ts"
import { fromSummary } from "../app/plan-list.ts"
import { currentNotice, main, planStore, say, showing, signOut, type SignedIn } from "../app/shell.ts"

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
    startTitle: "Start a new plan",
    nameIt: "What would you like to call it?",
    namePlaceholder: "e.g. My way forward",
    start: "Start my plan",
    joinTitle: "Join a plan",
    code: "Invitation code",
    codeHint: "The code the person showed you or read to you, like K7QM-3XPA-Z9RT.",
    join: "Join",
    signOut: "Sign out of this phone",
  },
  {
    hello: "Hola, {name}",
    yourPlans: "Tus planes",
    none: "Todavía no hay planes. Empieza el tuyo aquí abajo, o únete al de alguien con su código.",
    untitled: "Plan sin nombre",
    yours: "Tu plan",
    yoursWith: "Tu plan, con {names}",
    supporting: "Acompañas a {names}",
    madeOffline: "Creado sin conexión: se sincroniza cuando estés en línea",
    startTitle: "Empezar un plan nuevo",
    nameIt: "¿Cómo te gustaría llamarlo?",
    namePlaceholder: "p. ej. Mi camino adelante",
    start: "Empezar mi plan",
    joinTitle: "Unirse a un plan",
    code: "Código de invitación",
    codeHint: "El código que la persona te mostró o te leyó, como K7QM-3XPA-Z9RT.",
    join: "Unirme",
    signOut: "Cerrar sesión en este teléfono",
  }
)

export function plansScreen({ api, list: planList }: SignedIn): void {
  const me = api.account
  const title = h("input", { name: "title", placeholder: t("namePlaceholder"), "data-key": "new-title" })
  const code = h("input", { name: "code", autocapitalize: "characters", autocomplete: "off", "data-key": "join-code" })
  const list = h("ul", { class: "plans" })

  const renderList = () => {
    const plans = planList.plans()
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
                plan.confirmed ? null : h("span", { class: "plan-who" }, t("madeOffline"))
              )
            )
          ))
    )
  }
  renderList()
  showing(planList.onChange(renderList))

  const create = async (event: Event) => {
    event.preventDefault()
    const name = (title as HTMLInputElement).value.trim()
    try {
      const plan = await api.createPlan(name)
      planList.remember(fromSummary(plan, me.id))
      location.hash = `#/plan/${plan.documentId}`
    } catch (err) {
      if (!(err instanceof Offline)) return say(problem(err))
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
      })
      location.hash = `#/plan/${handle.documentId}`
    }
  }

  const join = async (event: Event) => {
    event.preventDefault()
    try {
      const plan = await api.accept((code as HTMLInputElement).value)
      planList.remember(fromSummary(plan, me.id))
      location.hash = `#/plan/${plan.documentId}`
    } catch (err) {
      say(problem(err))
    }
  }

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
    h(
      "form",
      { class: "card", onsubmit: join },
      h("h2", {}, t("joinTitle")),
      field(t("code"), code, t("codeHint")),
      h("button", { type: "submit" }, t("join"))
    ),
    h("section", { class: "card" }, h("button", { type: "button", onclick: () => void signOut() }, t("signOut")))
  )
}
