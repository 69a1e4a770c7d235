// Cairn's reference PWA. Signs in, keeps the account's plans on this phone (IndexedDB), syncs
// them with Cairn whenever there is a network, and shows one plan for the person and their
// supporter to write together. Screens: sign in, my plans, one plan (#/plan/<document id>).
import "./style.css"
import type { AutomergeUrl } from "@automerge/automerge-repo/slim"
import QRCode from "qrcode"
import type { HistoryEntry, PlanDocument, PlanMember } from "../../client-schema/cairn.ts"
import { Api, ApiError, Offline, forgetSession, loadSession, login, register, type Session } from "./api.ts"
import { field, h, replaceKeepingFocus } from "./dom.ts"
import * as P from "./plan.ts"
import { PlanStore, fromSummary, loadAutomerge, type LocalPlan } from "./sync.ts"

const main = document.getElementById("main") as HTMLElement
const status = document.getElementById("status") as HTMLElement

/** How often the plan list is checked with the server while online. */
const REFRESH_MS = 15_000
/** Presence older than this is gone (the other person closed the plan or lost the network). */
const PRESENCE_MS = 25_000

let api: Api | null = null
let store: PlanStore | null = null
let notice = ""
/** Cleanup for the screen shown now. */
let leaveScreen: () => void = () => {}

function say(message: string): void {
  notice = message
  const box = document.getElementById("notice")
  if (box) box.textContent = message
}

function problem(err: unknown): string {
  if (err instanceof Offline) return "No connection right now. Try again when you are online."
  if (err instanceof ApiError) return err.message
  return "Something went wrong. Please try again."
}

// ---- the connection --------------------------------------------------------------------------

async function goOnline(): Promise<void> {
  if (!api || !store || !navigator.onLine) return
  try {
    store.connect(await api.accessToken())
    await refreshPlans()
  } catch (err) {
    if (!(err instanceof Offline)) console.warn("could not connect", err)
  }
}

/** Check the plan list with the server: adds new plans, wipes the ones this account lost. */
async function refreshPlans(): Promise<void> {
  if (!api || !store || !navigator.onLine) return
  try {
    const plans = await api.plans()
    const wiped = await store.reconcile(plans, api.account.id)
    if (wiped.length > 0) {
      say(`Your access to ${wiped.map(t => `“${t || "a plan"}”`).join(", ")} has ended; it is no longer on this phone.`)
      const open = currentPlanId()
      if (open && !store.plans().some(p => p.documentId === open)) location.hash = "#/"
    }
    // A token refreshed by that call is the one the socket uses when it next connects.
    store.connect(api.session.tokens.accessToken)
  } catch (err) {
    if (!(err instanceof Offline)) console.warn("could not refresh the plan list", err)
  }
}

function showStatus(): void {
  if (!store) {
    status.textContent = ""
    return
  }
  const open = openPlan
  let text: string
  let state: string
  if (open) {
    state = store.isSynced(open) ? "synced" : "saved"
    text = state === "synced" ? "Synced" : "Saved on this phone"
  } else {
    state = store.state === "online" ? "synced" : "saved"
    text = store.state === "online" ? "Online" : store.state === "connecting" ? "Connecting…" : "Offline: plans stay on this phone"
  }
  status.textContent = text
  status.dataset.state = state
}

// ---- sign in ---------------------------------------------------------------------------------

function signInScreen(): void {
  let creating = false
  const render = () => {
    const username = h("input", { name: "username", autocomplete: "username", required: true, autocapitalize: "none" })
    const password = h("input", {
      name: "password",
      type: "password",
      autocomplete: creating ? "new-password" : "current-password",
      required: true,
      minlength: creating ? 8 : undefined,
    })
    const displayName = h("input", { name: "displayName", autocomplete: "nickname", required: true })
    const code = h("input", { name: "enrollmentCode", autocomplete: "off", autocapitalize: "characters" })
    const form = h(
      "form",
      {
        class: "card",
        onsubmit: async (event: Event) => {
          event.preventDefault()
          const value = (el: HTMLElement) => (el as HTMLInputElement).value
          try {
            const session = creating
              ? await register(value(username), value(displayName), value(password), value(code))
              : await login(value(username), value(password))
            await startSession(session)
          } catch (err) {
            say(problem(err))
          }
        },
      },
      h("h1", {}, creating ? "Create your account" : "Welcome to Cairn"),
      h("p", {}, "Your recovery plan, in your own words, written with your supporter. It stays on this phone and syncs when you are online."),
      field("Username", username),
      creating ? field("Your name, as others will see it", displayName) : null,
      field("Password", password, creating ? "At least 8 characters." : undefined),
      creating ? field("Enrollment code (if your agency gave you one)", code) : null,
      h("button", { type: "submit", class: "primary" }, creating ? "Create account" : "Log in"),
      h("p", { id: "notice", class: "notice", role: "alert" }, notice),
      h(
        "button",
        {
          type: "button",
          class: "link",
          onclick: () => {
            creating = !creating
            say("")
            render()
          },
        },
        creating ? "I already have an account" : "New here? Create an account"
      )
    )
    main.replaceChildren(form)
  }
  render()
}

async function startSession(session: Session): Promise<void> {
  api = new Api(session, () => void signOut("Your session has ended. Please log in again."))
  store = new PlanStore(session.tokens.account.id)
  store.onChange(showStatus)
  store.repo.networkSubsystem.on("message", message => {
    // The server answers `doc-unavailable` the moment a plan is no longer ours: look at once.
    if (message.type === "doc-unavailable" && store?.plans().some(p => p.documentId === message.documentId)) {
      void refreshPlans()
    }
  })
  say("")
  await goOnline()
  route()
}

async function signOut(message = ""): Promise<void> {
  const leaving = api
  const local = store
  api = null
  store = null
  leaveScreen()
  if (leaving) await leaving.logout()
  forgetSession()
  // Plans are health records: nothing of them stays on a phone that has signed out.
  if (local) await local.erase()
  notice = message
  location.hash = "#/"
  route()
}

// ---- my plans --------------------------------------------------------------------------------

function plansScreen(): void {
  if (!api || !store) return
  const me = api.account
  const title = h("input", { name: "title", placeholder: "e.g. My way forward", "data-key": "new-title" })
  const code = h("input", { name: "code", autocapitalize: "characters", autocomplete: "off", "data-key": "join-code" })
  const list = h("ul", { class: "plans" })

  const renderList = () => {
    const plans = store?.plans() ?? []
    list.replaceChildren(
      ...(plans.length === 0
        ? [h("li", { class: "empty" }, "No plans yet. Start yours below, or join someone's with their code.")]
        : plans.map(plan =>
            h(
              "li",
              {},
              h(
                "a",
                { href: `#/plan/${plan.documentId}`, class: "plan-link" },
                h("span", { class: "plan-title" }, plan.title || "Untitled plan"),
                h(
                  "span",
                  { class: "plan-who" },
                  plan.role === "owner"
                    ? plan.with.length > 0
                      ? `Your plan, with ${plan.with.join(", ")}`
                      : "Your plan"
                    : `Supporting ${plan.with.join(", ")}`
                ),
                plan.confirmed ? null : h("span", { class: "plan-who" }, "Made offline: it syncs when you are online")
              )
            )
          ))
    )
  }
  renderList()
  const unsubscribe = store.onChange(renderList)
  leaveScreen = unsubscribe

  const create = async (event: Event) => {
    event.preventDefault()
    if (!api || !store) return
    const name = (title as HTMLInputElement).value.trim()
    try {
      const plan = await api.createPlan(name)
      store.remember(fromSummary(plan, me.id))
      location.hash = `#/plan/${plan.documentId}`
    } catch (err) {
      if (!(err instanceof Offline)) return say(problem(err))
      // Offline: the plan starts on this phone and becomes mine on the server when it syncs.
      const handle = store.repo.create<PlanDocument>(P.skeleton(name))
      store.remember({
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
    if (!api || !store) return
    try {
      const plan = await api.accept((code as HTMLInputElement).value)
      store.remember(fromSummary(plan, me.id))
      location.hash = `#/plan/${plan.documentId}`
    } catch (err) {
      say(problem(err))
    }
  }

  main.replaceChildren(
    h(
      "section",
      { class: "card" },
      h("h1", {}, `Hello, ${me.displayName}`),
      h("p", { id: "notice", class: "notice", role: "status" }, notice),
      h("h2", {}, "Your plans"),
      list
    ),
    h(
      "form",
      { class: "card", onsubmit: create },
      h("h2", {}, "Start a new plan"),
      field("What would you like to call it?", title),
      h("button", { type: "submit", class: "primary" }, "Start my plan")
    ),
    h(
      "form",
      { class: "card", onsubmit: join },
      h("h2", {}, "Join a plan"),
      field("Invitation code", code, "The code the person showed you or read to you, like K7QM-3XPA-Z9RT."),
      h("button", { type: "submit" }, "Join")
    ),
    h("section", { class: "card" }, h("button", { type: "button", onclick: () => void signOut() }, "Sign out of this phone"))
  )
}

// ---- one plan --------------------------------------------------------------------------------

let openPlan: P.Plan | null = null

function currentPlanId(): string | null {
  const match = /^#\/plan\/([A-Za-z0-9]+)$/.exec(location.hash)
  return match ? match[1] : null
}

async function planScreen(documentId: string): Promise<void> {
  if (!api || !store) return
  const local = store.plans().find(plan => plan.documentId === documentId)
  if (!local) {
    location.hash = "#/"
    return
  }
  main.replaceChildren(h("p", { class: "card" }, "Opening your plan…"))
  let handle: P.Plan
  try {
    handle = await store.repo.find<PlanDocument>(local.url as AutomergeUrl)
  } catch {
    main.replaceChildren(
      h(
        "section",
        { class: "card" },
        h("p", {}, "This plan is not on this phone yet, and Cairn cannot be reached to fetch it. Try again when you are online."),
        h("a", { href: "#/" }, "Back to my plans")
      )
    )
    return
  }
  if (currentPlanId() !== documentId || !api || !store) return
  openPlan = handle
  const view = new PlanView(handle, local, api, store)
  leaveScreen = () => {
    view.close()
    openPlan = null
  }
  showStatus()
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
      this.store.remember({ ...this.local })
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
    const names = new Map(this.#members.map(m => [m.userId, m.displayName]))
    const present = this.#present().filter(p => where === undefined || p.field === where)
    return [...new Set(present.map(p => names.get(p.userId) ?? "a member"))]
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
    return h("div", { class: "with-presence" }, control, h("span", { class: "presence-tag" }, `${others.join(", ")} writing here`))
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
    const names = new Map(this.#members.map(m => [m.userId, m.displayName]))
    const nameOf = (id: unknown) => (P.words(id) === me ? "you" : (names.get(P.words(id)) ?? "a member"))

    const goals = (doc.goals ?? []).map(goal => {
      const goalId = P.words(goal.id)
      const stepText = this.#draft(h("input", { "data-key": `new-step-${goalId}`, "aria-label": "A next step" }))
      const stepWho = this.#draft(
        h(
          "select",
          { "data-key": `new-step-who-${goalId}`, "aria-label": "Who does it" },
          ...Object.entries(P.WHO_WORDS).map(([value, label]) => h("option", { value }, label))
        )
      )
      return h(
        "li",
        { class: "goal", "data-goal": goalId },
        field("In my words", this.#words(`goal-${goalId}`, P.words(goal.text), text => P.setGoalText(this.plan, goalId, text), true)),
        field(
          "Where it stands",
          h(
            "select",
            {
              "data-key": `status-${goalId}`,
              onchange: (event: Event) =>
                P.setGoalStatus(this.plan, goalId, (event.target as HTMLSelectElement).value as keyof typeof P.STATUS_WORDS),
            },
            ...Object.entries(P.STATUS_WORDS).map(([value, label]) =>
              h("option", { value, selected: P.words(goal.status) === value }, label)
            )
          )
        ),
        h("h4", {}, "Next steps"),
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
              h("span", { class: "who" }, P.WHO_WORDS[P.words(step.who) as keyof typeof P.WHO_WORDS] ?? P.words(step.who))
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
              P.addStep(this.plan, goalId, text, (stepWho as HTMLSelectElement).value as keyof typeof P.WHO_WORDS)
              this.#used(stepText, stepWho)
            },
          },
          stepText,
          stepWho,
          h("button", { type: "submit" }, "Add step")
        )
      )
    })

    const newStrength = this.#draft(h("input", { "data-key": "new-strength", "aria-label": "A strength" }))
    const newGoal = this.#draft(h("textarea", { "data-key": "new-goal", rows: 2 }))
    const newSupportName = this.#draft(h("input", { "data-key": "new-support", "aria-label": "Who or what helps" }))
    const newSupportKind = this.#draft(
      h(
        "select",
        { "data-key": "new-support-kind", "aria-label": "Kind" },
        ...Object.entries(P.SUPPORT_WORDS).map(([value, label]) => h("option", { value }, label))
      )
    )
    const howItWent = this.#draft(h("textarea", { "data-key": "new-checkin-how", rows: 2 }))
    const learned = this.#draft(h("textarea", { "data-key": "new-checkin-learned", rows: 2 }))

    const content: Node[] = [
      h(
        "nav",
        { class: "crumbs" },
        h("a", { href: "#/" }, "‹ My plans"),
        present.length > 0
          ? h("span", { class: "presence", "data-presence": "here" }, `${present.join(", ")} ${present.length > 1 ? "are" : "is"} here`)
          : null
      ),
      h("p", { id: "notice", class: "notice", role: "status" }, notice),
      h(
        "section",
        { class: "card" },
        field("Plan name", this.#words("title", P.words(doc.title), text => P.setTitle(this.plan, text))),
        field(
          "What matters to me",
          this.#words("whatMatters", P.words(doc.whatMatters), text => P.setWhatMatters(this.plan, text), true),
          "Your vision, in your own words."
        )
      ),
      h(
        "section",
        { class: "card" },
        h("h2", {}, "What's strong right now?"),
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
          h("button", { type: "submit" }, "Add")
        )
      ),
      h(
        "section",
        { class: "card" },
        h("h2", {}, "What would you like to do moving forward?"),
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
          field("A new goal, in your words", newGoal),
          h("button", { type: "submit", class: "primary" }, "Add goal")
        )
      ),
      h(
        "section",
        { class: "card" },
        h("h2", {}, "Who helps?"),
        h(
          "ul",
          { class: "items" },
          ...(doc.supports ?? []).map(s =>
            h("li", {}, P.words(s.name), h("span", { class: "who" }, P.SUPPORT_WORDS[P.words(s.kind) as keyof typeof P.SUPPORT_WORDS] ?? ""))
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
              P.addSupport(this.plan, name, (newSupportKind as HTMLSelectElement).value as keyof typeof P.SUPPORT_WORDS)
              this.#used(newSupportName, newSupportKind)
            },
          },
          newSupportName,
          newSupportKind,
          h("button", { type: "submit" }, "Add")
        )
      ),
      h(
        "section",
        { class: "card" },
        h("h2", {}, "Check-ins"),
        h(
          "ul",
          { class: "items" },
          ...(doc.checkIns ?? []).map(c =>
            h(
              "li",
              {},
              h("strong", {}, P.words(c.date)),
              ` by ${nameOf(c.by)}: `,
              P.words(c.howItWent),
              c.whatWeLearned ? h("p", { class: "hint" }, `What we learned: ${P.words(c.whatWeLearned)}`) : null
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
          field("How did it go?", howItWent),
          field("What did we learn?", learned),
          h("button", { type: "submit" }, "Add check-in")
        )
      ),
      this.#peopleSection(owner),
      this.#historySection(),
    ]
    const main = document.getElementById("main") as HTMLElement
    replaceKeepingFocus(main, content)
  }

  #peopleSection(owner: boolean): HTMLElement {
    const others = this.#members.filter(m => m.userId !== this.api.account.id)
    return h(
      "section",
      { class: "card" },
      h("h2", {}, "People on this plan"),
      h(
        "ul",
        { class: "items" },
        ...this.#members.map(m =>
          h(
            "li",
            {},
            `${m.displayName}${m.role === "owner" ? " (whose plan it is)" : " (supporter)"}`,
            owner && m.role === "supporter"
              ? h("button", { type: "button", class: "small", onclick: () => void this.#remove(m) }, `Remove ${m.displayName}`)
              : null
          )
        )
      ),
      owner
        ? h(
            "div",
            {},
            h("button", { type: "button", class: "primary", onclick: () => void this.#invite() }, "Invite a supporter"),
            this.#invitation
              ? h(
                  "div",
                  { class: "invitation" },
                  h("p", {}, `Show this code, or read it out. It works once, for ${this.#invitation.hours} hours:`),
                  h("p", { class: "code", "data-invitation": this.#invitation.code }, this.#invitation.code),
                  h("img", { src: this.#invitation.qr, alt: `QR code for the invitation ${this.#invitation.code}`, width: 200, height: 200 })
                )
              : null
          )
        : h("button", { type: "button", onclick: () => void this.#leave(others) }, "Leave this plan")
    )
  }

  #historySection(): HTMLElement {
    return h(
      "section",
      { class: "card" },
      h("h2", {}, "Who changed what"),
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
                  ` · ${new Date(entry.madeAt ?? entry.receivedAt).toLocaleString()} · ${entry.operations} edit${entry.operations === 1 ? "" : "s"}`
                )
              )
          )
        : h("button", { type: "button", onclick: () => void this.#loadHistory() }, "Show the history")
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
    if (!confirm(`Remove ${member.displayName} from your plan? Their access ends at once.`)) return
    try {
      await this.api.removeMember(this.local.id, member.userId)
      await this.#loadMembers()
      say(`${member.displayName} is no longer on your plan.`)
    } catch (err) {
      say(problem(err))
    }
  }

  async #leave(others: PlanMember[]): Promise<void> {
    const whose = others.find(m => m.role === "owner")?.displayName ?? "this person"
    if (!confirm(`Leave ${whose}'s plan? It will be deleted from this phone.`)) return
    try {
      await this.api.removeMember(this.local.id, this.api.account.id)
      await refreshPlans()
    } catch (err) {
      say(problem(err))
    }
  }
}

// ---- routing and start-up --------------------------------------------------------------------

function route(): void {
  leaveScreen()
  leaveScreen = () => {}
  openPlan = null
  showStatus()
  if (!api || !store) return signInScreen()
  const planId = currentPlanId()
  if (planId) void planScreen(planId)
  else plansScreen()
  main.focus({ preventScroll: true })
}

async function start(): Promise<void> {
  await loadAutomerge()
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
  // The app itself is kept offline by the service worker (only in a secure context: HTTPS, or
  // this machine during development).
  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register("/sw.js").catch(err => console.warn("the app cannot be kept offline", err))
  }
  const session = loadSession()
  if (session) await startSession(session)
  else route()
}

void start()
