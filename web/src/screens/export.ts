// A plan's own pages beside the plan screen:
// - `#/plan/<id>/export`: the plan as a clean printable page (drawn from the copy on this phone,
//   so it prints offline too) and downloads from Cairn's export API: Markdown and JSON for every
//   member, FHIR (for another care system) for the person whose plan it is only, as the API rules.
//   Every download is written in the plan's access log.
// - `#/plan/<id>/access`: the plan's access log in plain words ("Sam opened the plan").
import type { AccessLogEntry, DeviceSession, PlanDocument } from "../../../client-schema/cairn.ts"
import { h } from "../dom.ts"
import { problem } from "../app/errors.ts"
import { catalogue, dateTime, day } from "../app/i18n.ts"
import { main, planStore, say, showing, type SignedIn } from "../app/shell.ts"

const t = catalogue(
  {
    back: "‹ Back to the plan",
    exportTitle: "Print or download the plan",
    exportIntro: "Take a copy of the plan with you: print it, or download it as a file. Downloads are written in the plan's access log, where everyone on the plan can see them.",
    download: "Download",
    markdown: "Download as a document (Markdown)",
    json: "Download as data (JSON)",
    fhir: "Download for another care system (FHIR)",
    fhirOwnerOnly: "Only the person whose plan it is can export it for another care system.",
    downloaded: "Downloaded. It is in your phone's downloads.",
    print: "Print or save as PDF",
    untitled: "Untitled plan",
    whatMatters: "What matters",
    strengths: "Strengths",
    goals: "Goals",
    steps: "Next steps",
    supports: "Who helps",
    checkIns: "Check-ins",
    howItWent: "How it went",
    learned: "What we learned",
    done: "done",
    due: "by {date}",
    whoMe: "the person",
    whoSupporter: "the supporter",
    whoTogether: "together",
    status_thinking: "Thinking about it",
    status_working: "Working on it",
    status_paused: "Taking a break from it",
    status_done: "Done",
    "status_let-go": "Let it go",
    notHere: "This plan is not on this phone.",
    loading: "Loading…",
    accessTitle: "Who opened this plan",
    accessIntro: "Every time someone on the plan opens it, exports it, or changes who is on it, Cairn writes it here. Everyone on the plan can read this list. It never holds what the plan says.",
    accessEmpty: "Nothing yet.",
    you: "You",
    fromDevice: "from {device}",
    "kind_plan-created": "{who} started the plan",
    "kind_sync-opened": "{who} opened the plan",
    "kind_plan-read": "{who} read the plan",
    kind_exported: "{who} exported it as {format}",
    kind_invited: "{who} made an invitation to join",
    kind_joined: "{who} joined the plan",
    kind_removed: "{who} removed {member} from the plan",
    kind_left: "{who} left the plan",
    "you_plan-created": "You started the plan",
    "you_sync-opened": "You opened the plan",
    "you_plan-read": "You read the plan",
    you_exported: "You exported it as {format}",
    you_invited: "You made an invitation to join",
    you_joined: "You joined the plan",
    you_removed: "You removed {member} from the plan",
    you_left: "You left the plan",
    format_json: "data (JSON)",
    format_markdown: "a document (Markdown)",
    format_fhir: "a file for another care system (FHIR)",
    someone: "someone",
  },
  {
    back: "‹ Volver al plan",
    exportTitle: "Imprimir o descargar el plan",
    exportIntro: "Llévate una copia del plan: imprímela o descárgala como archivo. Las descargas quedan anotadas en el registro de accesos del plan, donde todas las personas del plan pueden verlas.",
    download: "Descargar",
    markdown: "Descargar como documento (Markdown)",
    json: "Descargar como datos (JSON)",
    fhir: "Descargar para otro sistema de atención (FHIR)",
    fhirOwnerOnly: "Solo la persona dueña del plan puede exportarlo para otro sistema de atención.",
    downloaded: "Descargado. Está en las descargas de tu teléfono.",
    print: "Imprimir o guardar como PDF",
    untitled: "Plan sin nombre",
    whatMatters: "Lo que importa",
    strengths: "Fortalezas",
    goals: "Metas",
    steps: "Próximos pasos",
    supports: "Quién ayuda",
    checkIns: "Encuentros",
    howItWent: "Cómo fue",
    learned: "Lo que aprendimos",
    done: "hecho",
    due: "para el {date}",
    whoMe: "la persona",
    whoSupporter: "quien acompaña",
    whoTogether: "juntos",
    status_thinking: "Pensándolo",
    status_working: "Estoy en ello",
    status_paused: "Me tomo un respiro",
    status_done: "Hecho",
    "status_let-go": "Lo suelto",
    notHere: "Este plan no está en este teléfono.",
    loading: "Cargando…",
    accessTitle: "Quién abrió este plan",
    accessIntro: "Cada vez que alguien del plan lo abre, lo exporta o cambia quién está en él, Cairn lo anota aquí. Todas las personas del plan pueden leer esta lista. Nunca guarda lo que dice el plan.",
    accessEmpty: "Todavía nada.",
    you: "Tú",
    fromDevice: "desde {device}",
    "kind_plan-created": "{who} empezó el plan",
    "kind_sync-opened": "{who} abrió el plan",
    "kind_plan-read": "{who} leyó el plan",
    kind_exported: "{who} lo exportó como {format}",
    kind_invited: "{who} hizo una invitación para unirse",
    kind_joined: "{who} se unió al plan",
    kind_removed: "{who} quitó a {member} del plan",
    kind_left: "{who} dejó el plan",
    "you_plan-created": "Empezaste el plan",
    "you_sync-opened": "Abriste el plan",
    "you_plan-read": "Leíste el plan",
    you_exported: "Lo exportaste como {format}",
    you_invited: "Hiciste una invitación para unirse",
    you_joined: "Te uniste al plan",
    you_removed: "Quitaste a {member} del plan",
    you_left: "Dejaste el plan",
    format_json: "datos (JSON)",
    format_markdown: "un documento (Markdown)",
    format_fhir: "un archivo para otro sistema de atención (FHIR)",
    someone: "alguien",
  }
)

function backLink(planId: string): HTMLElement {
  return h("p", { class: "crumb no-print" }, h("a", { href: `#/plan/${planId}`, class: "back" }, t("back")))
}

/** Save a downloaded file on the phone. */
export function saveFile(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob)
  const link = h("a", { href: url, download: name, hidden: true })
  document.body.append(link)
  link.click()
  link.remove()
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

export async function exportScreen({ api, list }: SignedIn, planId: string): Promise<void> {
  const local = list.find(planId)
  const notice = h("p", { id: "notice", class: "notice no-print", role: "status" })
  const tell = (text: string) => {
    notice.textContent = text
    say(text)
  }
  const downloadButton = (format: "markdown" | "json" | "fhir", label: string, extension: string) =>
    h(
      "button",
      {
        type: "button",
        onclick: async () => {
          try {
            const blob = await api.export(local?.id ?? planId, format)
            saveFile(blob, `plan-${planId}.${extension}`)
            tell(t("downloaded"))
          } catch (err) {
            tell(problem(err))
          }
        },
      },
      label
    )
  window.scrollTo(0, 0)
  const printable = h("article", { class: "card printable", "aria-labelledby": "print-title" }, h("p", {}, t("loading")))
  main.replaceChildren(
    h(
      "section",
      { class: "card no-print" },
      backLink(planId),
      h("h1", {}, t("exportTitle")),
      h("p", {}, t("exportIntro")),
      notice,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "primary", onclick: () => window.print() }, t("print")),
        downloadButton("markdown", t("markdown"), "md"),
        downloadButton("json", t("json"), "json"),
        local?.role === "owner" ? downloadButton("fhir", t("fhir"), "fhir.json") : null
      ),
      local?.role === "owner" ? null : h("p", { class: "hint" }, t("fhirOwnerOnly"))
    ),
    printable
  )
  let stopDrawing = () => {}
  showing(() => stopDrawing())
  const store = await planStore().catch(() => null)
  const plan = list.find(planId)
  if (!store || !plan) {
    printable.replaceChildren(h("p", {}, t("notHere")))
    return
  }
  const handle = await store.find(plan.url).catch(() => null)
  if (!handle) {
    printable.replaceChildren(h("p", {}, t("notHere")))
    return
  }
  const draw = () => printable.replaceChildren(...printedPlan(handle.doc()))
  draw()
  handle.on("change", draw)
  stopDrawing = () => handle.off("change", draw)
}

const STATUSES = ["thinking", "working", "paused", "done", "let-go"] as const
const KINDS = ["plan-created", "sync-opened", "plan-read", "exported", "invited", "joined", "removed", "left"] as const
const FORMATS = ["json", "markdown", "fhir"] as const

/** A value of the plan as text: plain strings, Automerge's ImmutableString (`.val`), anything. */
function w(value: unknown): string {
  if (typeof value === "string") return value
  if (value === undefined || value === null) return ""
  const val = (value as { val?: unknown }).val
  return typeof val === "string" ? val : String(value)
}

function statusWords(value: unknown): string {
  const status = w(value)
  return (STATUSES as readonly string[]).includes(status) ? t(`status_${status as (typeof STATUSES)[number]}`) : status
}

/** The plan as a calm page for paper: headings, lists, nothing to tap. */
function printedPlan(doc: PlanDocument | undefined): Node[] {
  if (!doc) return [h("p", {}, t("notHere"))]
  const who = { me: t("whoMe"), supporter: t("whoSupporter"), together: t("whoTogether") } as const
  // Paper shows what is written: an empty part is left out.
  const section = (title: string, body: Node | null): Node[] => (body ? [h("h3", {}, title), body] : [])
  const strengths = doc.strengths ?? []
  const goals = doc.goals ?? []
  const supports = doc.supports ?? []
  const checkIns = doc.checkIns ?? []
  return [
    h("h2", { id: "print-title" }, w(doc.title) || t("untitled")),
    ...section(t("whatMatters"), w(doc.whatMatters) ? h("p", { class: "prose" }, w(doc.whatMatters)) : null),
    ...section(t("strengths"), strengths.length ? h("ul", {}, ...strengths.map(s => h("li", {}, w(s.text)))) : null),
    ...section(
      t("goals"),
      goals.length
        ? h(
            "ol",
            { class: "print-goals" },
            ...goals.map(goal =>
              h(
                "li",
                {},
                h("p", { class: "prose" }, h("strong", {}, w(goal.text))),
                h("p", { class: "plan-who" }, statusWords(goal.status)),
                (goal.steps ?? []).length
                  ? h(
                      "ul",
                      { "aria-label": t("steps") },
                      ...(goal.steps ?? []).map(step =>
                        h(
                          "li",
                          {},
                          `${step.done ? "☑" : "☐"} ${w(step.text)}`,
                          h(
                            "span",
                            { class: "plan-who" },
                            ` (${[who[w(step.who) as keyof typeof who] ?? w(step.who), step.due ? t("due", { date: day(w(step.due)) }) : "", step.done ? t("done") : ""].filter(Boolean).join(", ")})`
                          )
                        )
                      )
                    )
                  : null
              )
            )
          )
        : null
    ),
    ...section(
      t("supports"),
      supports.length
        ? h("ul", {}, ...supports.map(s => h("li", {}, h("strong", {}, w(s.name)), [w(s.contact), w(s.note)].filter(Boolean).length ? ` — ${[w(s.contact), w(s.note)].filter(Boolean).join(" · ")}` : "")))
        : null
    ),
    ...section(
      t("checkIns"),
      checkIns.length
        ? h(
            "ul",
            {},
            ...checkIns.map(c =>
              h(
                "li",
                {},
                h("strong", {}, day(w(c.date))),
                w(c.howItWent) ? h("p", { class: "prose" }, `${t("howItWent")}: ${w(c.howItWent)}`) : null,
                w(c.whatWeLearned) ? h("p", { class: "prose" }, `${t("learned")}: ${w(c.whatWeLearned)}`) : null
              )
            )
          )
        : null
    ),
  ]
}

/** One access-log entry in words: "Sam opened the plan", "You exported it as a document". */
export function accessWords(entry: AccessLogEntry, me: string): string {
  const format = entry.format && (FORMATS as readonly string[]).includes(entry.format) ? t(`format_${entry.format as (typeof FORMATS)[number]}`) : (entry.format ?? "")
  const member = entry.memberName || t("someone")
  const who = entry.accountName || t("someone")
  // A kind of access this version does not know yet (a newer server): said plainly anyway.
  if (!(KINDS as readonly string[]).includes(entry.kind)) return `${who}: ${entry.kind}`
  if (entry.accountId === me) return t(`you_${entry.kind}`, { format, member })
  return t(`kind_${entry.kind}`, { who, format, member })
}

export async function accessScreen({ api }: SignedIn, planId: string): Promise<void> {
  window.scrollTo(0, 0)
  const listing = h("ol", { class: "access-log" }, h("li", { class: "empty" }, t("loading")))
  main.replaceChildren(
    h("section", { class: "card" }, backLink(planId), h("h1", {}, t("accessTitle")), h("p", {}, t("accessIntro")), listing)
  )
  let entries: AccessLogEntry[]
  let mine: DeviceSession[] = []
  try {
    ;[entries, mine] = await Promise.all([api.accessLog(planId), api.sessions().catch(() => [])])
  } catch (err) {
    listing.replaceChildren(h("li", { class: "empty" }, problem(err)))
    return
  }
  const devices = new Map(mine.map(session => [session.id, session.deviceName]))
  const me = api.account.id
  listing.replaceChildren(
    ...(entries.length === 0
      ? [h("li", { class: "empty" }, t("accessEmpty"))]
      : entries.map(entry => {
          const device = entry.sessionId ? devices.get(entry.sessionId) : undefined
          return h(
            "li",
            { "data-kind": entry.kind },
            h("span", { class: "access-what" }, accessWords(entry, me)),
            h(
              "span",
              { class: "plan-who" },
              h("time", { datetime: entry.at }, dateTime(entry.at)),
              device ? ` · ${t("fromDevice", { device })}` : ""
            )
          )
        }))
  )
}
