// One plan, for the person and their supporter to write together: what matters, strengths,
// goals with their next steps, supports, check-ins, the people on the plan and its history. Live:
// the other phone's edits and presence show as they happen. Loaded (with Automerge) only when a
// plan is opened.
import QRCode from "qrcode"
import type { AutomergeUrl } from "@automerge/automerge-repo/slim"
import type {
  GoalStatus,
  HistoryEntry,
  PlanDocument,
  PlanMember,
  StepWho,
  SupportKind,
} from "../../../client-schema/cairn.ts"
import type { Api } from "../api.ts"
import { field, h, replaceKeepingFocus } from "../dom.ts"
import * as P from "../plan.ts"
import type { PlanStore } from "../sync.ts"
import { problem } from "../app/errors.ts"
import { catalogue, dateTime, day, names } from "../app/i18n.ts"
import type { LocalPlan, PlanList } from "../app/plan-list.ts"
import {
  currentNotice,
  currentPlanId,
  main,
  planStore,
  refreshPlans,
  reportPlanState,
  say,
  showStatus,
  showing,
  type SignedIn,
} from "../app/shell.ts"

const t = catalogue(
  {
    opening: "Opening your plan…",
    notHere: "This plan is not on this phone yet, and Cairn cannot be reached to fetch it. Try again when you are online.",
    backToPlans: "Back to my plans",
    aMember: "a member",
    you: "you",
    myPlans: "‹ My plans",
    here: "{names} is here|{names} are here",
    planName: "Plan name",
    whatMatters: "What matters to me",
    whatMattersHint: "Your vision, in your own words.",
    strengths: "What's strong right now?",
    aStrength: "A strength",
    addStrength: "Add",
    goals: "What would you like to do moving forward?",
    inMyWords: "In my words",
    whereItStands: "Where it stands",
    "status.thinking": "Thinking about it",
    "status.working": "Working on it",
    "status.paused": "Taking a break from it",
    "status.done": "Done",
    "status.let-go": "Let it go",
    nextSteps: "Next steps",
    aNextStep: "A next step",
    whoDoesIt: "Who does it",
    "who.me": "Me",
    "who.supporter": "My supporter",
    "who.together": "Together",
    addStep: "Add step",
    newGoal: "A new goal, in your words",
    addGoal: "Add goal",
    supports: "Who helps?",
    whoHelpsName: "Who or what helps",
    kind: "Kind",
    "kind.person": "A person",
    "kind.place": "A place",
    "kind.resource": "A resource",
    addSupport: "Add",
    checkIns: "Check-ins",
    by: "by {name}",
    learned: "What we learned: {words}",
    howItWent: "How did it go?",
    whatWeLearned: "What did we learn?",
    addCheckIn: "Add check-in",
    people: "People on this plan",
    memberOwner: "{name} (whose plan it is)",
    memberSupporter: "{name} (supporter)",
    remove: "Remove {name}",
    invite: "Invite a supporter",
    showCode: "Show this code, or read it out. It works once, for {count} hour:|Show this code, or read it out. It works once, for {count} hours:",
    qr: "QR code for the invitation {code}",
    leave: "Leave this plan",
    history: "Who changed what",
    edits: "{count} edit|{count} edits",
    showHistory: "Show the history",
    confirmRemove: "Remove {name} from your plan? Their access ends at once.",
    removed: "{name} is no longer on your plan.",
    thisPerson: "this person",
    confirmLeave: "Leave {name}'s plan? It will be deleted from this phone.",
    writingHere: "{names} writing here",
  },
  {
    opening: "Abriendo tu plan…",
    notHere: "Este plan todavía no está en este teléfono y no se puede conectar con Cairn para traerlo. Vuelve a intentarlo cuando tengas conexión.",
    backToPlans: "Volver a mis planes",
    aMember: "un miembro",
    you: "tú",
    myPlans: "‹ Mis planes",
    here: "{names} está aquí|{names} están aquí",
    planName: "Nombre del plan",
    whatMatters: "Lo que me importa",
    whatMattersHint: "Tu visión, con tus propias palabras.",
    strengths: "¿Qué te da fuerza ahora mismo?",
    aStrength: "Una fortaleza",
    addStrength: "Añadir",
    goals: "¿Qué te gustaría hacer de aquí en adelante?",
    inMyWords: "Con mis palabras",
    whereItStands: "Cómo va",
    "status.thinking": "Lo estoy pensando",
    "status.working": "Trabajando en ello",
    "status.paused": "Tomándome un descanso",
    "status.done": "Hecho",
    "status.let-go": "Lo dejo ir",
    nextSteps: "Próximos pasos",
    aNextStep: "Un próximo paso",
    whoDoesIt: "Quién lo hace",
    "who.me": "Yo",
    "who.supporter": "Mi acompañante",
    "who.together": "Juntos",
    addStep: "Añadir paso",
    newGoal: "Una meta nueva, con tus palabras",
    addGoal: "Añadir meta",
    supports: "¿Quién te ayuda?",
    whoHelpsName: "Quién o qué ayuda",
    kind: "Tipo",
    "kind.person": "Una persona",
    "kind.place": "Un lugar",
    "kind.resource": "Un recurso",
    addSupport: "Añadir",
    checkIns: "Encuentros",
    by: "por {name}",
    learned: "Lo que aprendimos: {words}",
    howItWent: "¿Cómo fue?",
    whatWeLearned: "¿Qué aprendimos?",
    addCheckIn: "Añadir encuentro",
    people: "Personas en este plan",
    memberOwner: "{name} (de quien es el plan)",
    memberSupporter: "{name} (acompañante)",
    remove: "Quitar a {name}",
    invite: "Invitar a un acompañante",
    showCode: "Muestra este código o léelo en voz alta. Sirve una vez, durante {count} hora:|Muestra este código o léelo en voz alta. Sirve una vez, durante {count} horas:",
    qr: "Código QR de la invitación {code}",
    leave: "Dejar este plan",
    history: "Quién cambió qué",
    edits: "{count} cambio|{count} cambios",
    showHistory: "Ver el historial",
    confirmRemove: "¿Quitar a {name} de tu plan? Su acceso termina al instante.",
    removed: "{name} ya no está en tu plan.",
    thisPerson: "esta persona",
    confirmLeave: "¿Dejar el plan de {name}? Se borrará de este teléfono.",
    writingHere: "{names} escribiendo aquí",
  }
)

const STATUSES: GoalStatus[] = ["thinking", "working", "paused", "done", "let-go"]
const WHO: StepWho[] = ["me", "supporter", "together"]
const SUPPORT_KINDS: SupportKind[] = ["person", "place", "resource"]

function whoWords(who: string): string {
  return (WHO as string[]).includes(who) ? t(`who.${who as StepWho}`) : who
}

function kindWords(kind: string): string {
  return (SUPPORT_KINDS as string[]).includes(kind) ? t(`kind.${kind as SupportKind}`) : ""
}

/** Presence older than this is gone (the other person closed the plan or lost the network). */
const PRESENCE_MS = 25_000

/** Open the plan with this document id (it must be in the account's plan list). */
export async function planScreen({ api, list }: SignedIn, documentId: string): Promise<void> {
  const local = list.find(documentId)
  if (!local) {
    location.hash = "#/"
    return
  }
  main.replaceChildren(h("p", { class: "card" }, t("opening")))
  let handle: P.Plan
  let store: PlanStore
  try {
    store = await planStore()
    handle = await store.repo.find<PlanDocument>(local.url as AutomergeUrl)
  } catch {
    main.replaceChildren(
      h("section", { class: "card" }, h("p", {}, t("notHere")), h("a", { href: "#/" }, t("backToPlans")))
    )
    return
  }
  if (currentPlanId() !== documentId) return
  const view = new PlanView(handle, local, api, list, store)
  showing(() => {
    view.close()
    reportPlanState(null)
  })
  reportPlanState(() => (store.isSynced(handle) ? "synced" : "saved"))
}

/** Someone else's presence: the server names the sender's account (`userId`), whatever the
 * sending client put in; the name shown comes from the plan's member list. */
interface Presence {
  userId: string
  field: string
  at: number
}

class PlanView {
  #suppress = false
  #presence = new Map<string, Presence>()
  #editing = ""
  #timers: number[] = []
  #invitation: { code: string; qr: string; hours: number } | null = null
  #history: HistoryEntry[] | null = null
  #members: PlanMember[] = []
  #frame = 0
  /** What is being written into the fields that add something (a goal, a step, a check-in),
   * kept across renders: the plan re-renders whenever it changes on either phone, and every few
   * seconds, and a half-written goal must not vanish with it. */
  readonly #drafts = new Map<string, string>()
  readonly #unsubscribe: () => void

  constructor(
    readonly plan: P.Plan,
    readonly local: LocalPlan,
    readonly api: Api,
    readonly list: PlanList,
    readonly store: PlanStore
  ) {
    plan.on("change", this.#onChange)
    plan.on("remote-heads", this.#onRemoteHeads)
    plan.on("ephemeral-message", this.#onPresence)
    plan.on("delete", this.#onDelete)
    this.#unsubscribe = store.onChange(this.#onRemoteHeads)
    this.#timers.push(window.setInterval(() => this.#announce(), 8_000))
    this.#timers.push(window.setInterval(() => this.render(), 5_000))
    this.#timers.push(window.setInterval(() => void this.#loadMembers(), 30_000))
    this.#announce()
    void this.#loadMembers()
    this.render()
  }

  close(): void {
    this.plan.off("change", this.#onChange)
    this.plan.off("remote-heads", this.#onRemoteHeads)
    this.plan.off("ephemeral-message", this.#onPresence)
    this.plan.off("delete", this.#onDelete)
    this.#unsubscribe()
    for (const timer of this.#timers) clearInterval(timer)
    cancelAnimationFrame(this.#frame)
  }

  /** The plan was wiped from this phone (its owner removed us) while it was open: nothing of it
   * may be shown or written any more, so stop at once and go back to the list. */
  #onDelete = () => {
    this.close()
    if (currentPlanId() === this.local.documentId) location.hash = "#/"
  }

  #onChange = () => {
    showStatus()
    if (!this.plan.isReady()) return
    const title = P.words(this.plan.doc()?.title)
    if (title !== this.local.title) {
      this.local.title = title
      this.list.remember({ ...this.local })
    }
    if (!this.#suppress) this.#schedule()
  }

  #onRemoteHeads = () => showStatus()

  #onPresence = ({ message, senderId }: { message: unknown; senderId: string }) => {
    const presence = message as Partial<Presence>
    if (typeof presence?.userId !== "string" || presence.userId === this.api.account.id) return
    this.#presence.set(senderId, { userId: presence.userId, field: String(presence.field ?? ""), at: Date.now() })
    // Someone new on the plan (a supporter who just joined): fetch the members again.
    if (!this.#members.some(m => m.userId === presence.userId)) void this.#loadMembers()
    this.#schedule()
  }

  /** Say where this phone is writing; the server adds who we are (never a name we choose). */
  #announce(): void {
    this.plan.broadcast({ field: this.#editing })
  }

  /** The names of the members present (`where`: only those writing in that field), each once. */
  #presentNames(where?: string): string[] {
    const memberNames = new Map(this.#members.map(m => [m.userId, m.displayName]))
    const present = this.#present().filter(p => where === undefined || p.field === where)
    return [...new Set(present.map(p => memberNames.get(p.userId) ?? t("aMember")))]
  }

  #schedule(): void {
    cancelAnimationFrame(this.#frame)
    this.#frame = requestAnimationFrame(() => this.render())
  }

  async #loadMembers(): Promise<void> {
    if (!this.local.confirmed) return
    try {
      this.#members = await this.api.members(this.local.id)
      this.#schedule()
    } catch {
      // offline: the names from the plan list stay
    }
  }

  /** A text control bound to words in the document; typing edits them in place. */
  #words(key: string, value: string, write: (text: string) => void, multiline = false, label = ""): HTMLElement {
    const control = h(multiline ? "textarea" : "input", {
      "data-key": key,
      value,
      rows: multiline ? 3 : undefined,
      "aria-label": label || undefined,
      onfocus: () => {
        this.#editing = key
        this.#announce()
      },
      onblur: () => {
        this.#editing = ""
        this.#announce()
      },
      oninput: (event: Event) => {
        this.#suppress = true
        try {
          write((event.target as HTMLInputElement).value)
        } finally {
          this.#suppress = false
        }
      },
    })
    const others = this.#othersAt(key)
    if (others.length === 0) return control
    return h("div", { class: "with-presence" }, control, h("span", { class: "presence-tag" }, t("writingHere", { names: names(others) })))
  }

  /** `control` (with a `data-key`) showing its draft, and keeping it as it changes. */
  #draft(control: HTMLElement): HTMLElement {
    const key = control.dataset.key
    if (!key) return control
    const field = control as HTMLInputElement
    const kept = this.#drafts.get(key)
    if (kept !== undefined) field.value = kept
    const keep = () => this.#drafts.set(key, field.value)
    control.addEventListener("input", keep)
    control.addEventListener("change", keep)
    return control
  }

  /** Forget the drafts of `controls`: what they held has gone into the plan. */
  #used(...controls: HTMLElement[]): void {
    for (const control of controls) if (control.dataset.key) this.#drafts.delete(control.dataset.key)
  }

  #othersAt(key: string): string[] {
    return this.#presentNames(key)
  }

  #present(): Presence[] {
    const now = Date.now()
    return [...this.#presence.values()].filter(p => now - p.at < PRESENCE_MS)
  }

  render(): void {
    if (!this.plan.isReady()) return
    const doc = this.plan.doc()
    if (!doc) return
    const me = this.api.account.id
    const owner = this.local.role === "owner"
    const present = this.#presentNames()
    const memberNames = new Map(this.#members.map(m => [m.userId, m.displayName]))
    const nameOf = (id: unknown) => (P.words(id) === me ? t("you") : (memberNames.get(P.words(id)) ?? t("aMember")))

    const goals = (doc.goals ?? []).map(goal => {
      const goalId = P.words(goal.id)
      const stepText = this.#draft(h("input", { "data-key": `new-step-${goalId}`, "aria-label": t("aNextStep") }))
      const stepWho = this.#draft(
        h(
          "select",
          { "data-key": `new-step-who-${goalId}`, "aria-label": t("whoDoesIt") },
          ...WHO.map(value => h("option", { value }, t(`who.${value}`)))
        )
      )
      return h(
        "li",
        { class: "goal", "data-goal": goalId },
        field(t("inMyWords"), this.#words(`goal-${goalId}`, P.words(goal.text), text => P.setGoalText(this.plan, goalId, text), true)),
        field(
          t("whereItStands"),
          h(
            "select",
            {
              "data-key": `status-${goalId}`,
              onchange: (event: Event) =>
                P.setGoalStatus(this.plan, goalId, (event.target as HTMLSelectElement).value as GoalStatus),
            },
            ...STATUSES.map(value =>
              h("option", { value, selected: P.words(goal.status) === value }, t(`status.${value}`))
            )
          )
        ),
        h("h4", {}, t("nextSteps")),
        h(
          "ul",
          { class: "steps" },
          ...(goal.steps ?? []).map(step => {
            const stepId = P.words(step.id)
            return h(
              "li",
              { class: step.done ? "step done" : "step" },
              h(
                "label",
                { class: "check" },
                h("input", {
                  type: "checkbox",
                  "data-key": `done-${stepId}`,
                  checked: Boolean(step.done),
                  onchange: (event: Event) =>
                    P.setStepDone(this.plan, goalId, stepId, (event.target as HTMLInputElement).checked),
                }),
                h("span", { class: "step-text" }, P.words(step.text))
              ),
              h("span", { class: "who" }, whoWords(P.words(step.who)))
            )
          })
        ),
        h(
          "form",
          {
            class: "inline",
            onsubmit: (event: Event) => {
              event.preventDefault()
              const text = (stepText as HTMLInputElement).value.trim()
              if (!text) return
              P.addStep(this.plan, goalId, text, (stepWho as HTMLSelectElement).value as StepWho)
              this.#used(stepText, stepWho)
            },
          },
          stepText,
          stepWho,
          h("button", { type: "submit" }, t("addStep"))
        )
      )
    })

    const newStrength = this.#draft(h("input", { "data-key": "new-strength", "aria-label": t("aStrength") }))
    const newGoal = this.#draft(h("textarea", { "data-key": "new-goal", rows: 2 }))
    const newSupportName = this.#draft(h("input", { "data-key": "new-support", "aria-label": t("whoHelpsName") }))
    const newSupportKind = this.#draft(
      h(
        "select",
        { "data-key": "new-support-kind", "aria-label": t("kind") },
        ...SUPPORT_KINDS.map(value => h("option", { value }, t(`kind.${value}`)))
      )
    )
    const howItWent = this.#draft(h("textarea", { "data-key": "new-checkin-how", rows: 2 }))
    const learned = this.#draft(h("textarea", { "data-key": "new-checkin-learned", rows: 2 }))

    const content: Node[] = [
      h(
        "nav",
        { class: "crumbs" },
        h("a", { href: "#/" }, t("myPlans")),
        present.length > 0
          ? h("span", { class: "presence", "data-presence": "here" }, t("here", { names: names(present), count: present.length }))
          : null
      ),
      h("p", { id: "notice", class: "notice", role: "status" }, currentNotice()),
      h(
        "section",
        { class: "card" },
        field(t("planName"), this.#words("title", P.words(doc.title), text => P.setTitle(this.plan, text))),
        field(
          t("whatMatters"),
          this.#words("whatMatters", P.words(doc.whatMatters), text => P.setWhatMatters(this.plan, text), true),
          t("whatMattersHint")
        )
      ),
      h(
        "section",
        { class: "card" },
        h("h2", {}, t("strengths")),
        h("ul", { class: "items" }, ...(doc.strengths ?? []).map(s => h("li", {}, P.words(s.text)))),
        h(
          "form",
          {
            class: "inline",
            onsubmit: (event: Event) => {
              event.preventDefault()
              const text = (newStrength as HTMLInputElement).value.trim()
              if (!text) return
              P.addStrength(this.plan, text, me)
              this.#used(newStrength)
            },
          },
          newStrength,
          h("button", { type: "submit" }, t("addStrength"))
        )
      ),
      h(
        "section",
        { class: "card" },
        h("h2", {}, t("goals")),
        h("ol", { class: "goals" }, ...goals),
        h(
          "form",
          {
            onsubmit: (event: Event) => {
              event.preventDefault()
              const text = (newGoal as HTMLTextAreaElement).value.trim()
              if (!text) return
              P.addGoal(this.plan, text, me)
              this.#used(newGoal)
            },
          },
          field(t("newGoal"), newGoal),
          h("button", { type: "submit", class: "primary" }, t("addGoal"))
        )
      ),
      h(
        "section",
        { class: "card" },
        h("h2", {}, t("supports")),
        h(
          "ul",
          { class: "items" },
          ...(doc.supports ?? []).map(s =>
            h("li", {}, P.words(s.name), h("span", { class: "who" }, kindWords(P.words(s.kind))))
          )
        ),
        h(
          "form",
          {
            class: "inline",
            onsubmit: (event: Event) => {
              event.preventDefault()
              const name = (newSupportName as HTMLInputElement).value.trim()
              if (!name) return
              P.addSupport(this.plan, name, (newSupportKind as HTMLSelectElement).value as SupportKind)
              this.#used(newSupportName, newSupportKind)
            },
          },
          newSupportName,
          newSupportKind,
          h("button", { type: "submit" }, t("addSupport"))
        )
      ),
      h(
        "section",
        { class: "card" },
        h("h2", {}, t("checkIns")),
        h(
          "ul",
          { class: "items" },
          ...(doc.checkIns ?? []).map(c =>
            h(
              "li",
              {},
              h("strong", {}, day(P.words(c.date))),
              ` ${t("by", { name: nameOf(c.by) })}: `,
              P.words(c.howItWent),
              c.whatWeLearned ? h("p", { class: "hint" }, t("learned", { words: P.words(c.whatWeLearned) })) : null
            )
          )
        ),
        h(
          "form",
          {
            onsubmit: (event: Event) => {
              event.preventDefault()
              const how = (howItWent as HTMLTextAreaElement).value.trim()
              const what = (learned as HTMLTextAreaElement).value.trim()
              if (!how && !what) return
              P.addCheckIn(this.plan, how, what, me)
              this.#used(howItWent, learned)
            },
          },
          field(t("howItWent"), howItWent),
          field(t("whatWeLearned"), learned),
          h("button", { type: "submit" }, t("addCheckIn"))
        )
      ),
      this.#peopleSection(owner),
      this.#historySection(),
    ]
    replaceKeepingFocus(main, content)
  }

  #peopleSection(owner: boolean): HTMLElement {
    const others = this.#members.filter(m => m.userId !== this.api.account.id)
    return h(
      "section",
      { class: "card" },
      h("h2", {}, t("people")),
      h(
        "ul",
        { class: "items" },
        ...this.#members.map(m =>
          h(
            "li",
            {},
            t(m.role === "owner" ? "memberOwner" : "memberSupporter", { name: m.displayName }),
            owner && m.role === "supporter"
              ? h("button", { type: "button", class: "small", onclick: () => void this.#remove(m) }, t("remove", { name: m.displayName }))
              : null
          )
        )
      ),
      owner
        ? h(
            "div",
            {},
            h("button", { type: "button", class: "primary", onclick: () => void this.#invite() }, t("invite")),
            this.#invitation
              ? h(
                  "div",
                  { class: "invitation" },
                  h("p", {}, t("showCode", { count: this.#invitation.hours })),
                  h("p", { class: "code", "data-invitation": this.#invitation.code }, this.#invitation.code),
                  h("img", { src: this.#invitation.qr, alt: t("qr", { code: this.#invitation.code }), width: 200, height: 200 })
                )
              : null
          )
        : h("button", { type: "button", onclick: () => void this.#leave(others) }, t("leave"))
    )
  }

  #historySection(): HTMLElement {
    return h(
      "section",
      { class: "card" },
      h("h2", {}, t("history")),
      this.#history
        ? h(
            "ol",
            { class: "history" },
            ...this.#history
              .slice()
              .reverse()
              .map(entry =>
                h(
                  "li",
                  {},
                  h("strong", {}, entry.authorName),
                  ` · ${dateTime(entry.madeAt ?? entry.receivedAt)} · ${t("edits", { count: entry.operations })}`
                )
              )
          )
        : h("button", { type: "button", onclick: () => void this.#loadHistory() }, t("showHistory"))
    )
  }

  async #loadHistory(): Promise<void> {
    try {
      this.#history = await this.api.history(this.local.id)
      this.render()
    } catch (err) {
      say(problem(err))
    }
  }

  async #invite(): Promise<void> {
    try {
      const invitation = await this.api.invite(this.local.id)
      const qr = await QRCode.toDataURL(invitation.code, { margin: 1, width: 200, color: { dark: "#1b1b1b", light: "#ffffff" } })
      const hours = Math.max(1, Math.round((Date.parse(invitation.expiresAt) - Date.now()) / 3_600_000))
      this.#invitation = { code: invitation.code, qr, hours }
      this.render()
    } catch (err) {
      say(problem(err))
    }
  }

  async #remove(member: PlanMember): Promise<void> {
    if (!confirm(t("confirmRemove", { name: member.displayName }))) return
    try {
      await this.api.removeMember(this.local.id, member.userId)
      await this.#loadMembers()
      say(t("removed", { name: member.displayName }))
    } catch (err) {
      say(problem(err))
    }
  }

  async #leave(others: PlanMember[]): Promise<void> {
    const whose = others.find(m => m.role === "owner")?.displayName ?? t("thisPerson")
    if (!confirm(t("confirmLeave", { name: whose }))) return
    try {
      await this.api.removeMember(this.local.id, this.api.account.id)
      await refreshPlans()
    } catch (err) {
      say(problem(err))
    }
  }
}
