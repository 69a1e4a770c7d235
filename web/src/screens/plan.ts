// One plan, for the person and their supporter to write together: what matters, strengths,
// goals with their next steps, supports, check-ins, the people on the plan and its history. Live:
// the other phone's edits and presence show as they happen. Loaded (with Automerge) only when a
// plan is opened.
//
// The screen is built once and then updated in place: every item (strength, goal, step, support,
// check-in, member) has its own elements, found by the item's id, and an edit on either phone
// changes only the words, labels and controls that changed. Focus, the caret and a screen
// reader's place survive the other phone's edits, and the presence tick touches only the
// presence notes.
//
// Each phone speaks from its member's side: the owner reads "What matters to me", a supporter
// "What matters to Maria"; "who does it" offers "Me / My supporter / Together" to the owner and
// "Maria / Me / Together" to a supporter, stored as the same schema values (`me` is always the
// person whose plan it is).
import QRCode from "qrcode"
import type { AutomergeUrl } from "@automerge/automerge-repo/slim"
import type {
  CheckIn,
  Goal,
  GoalStatus,
  ChangeSaid,
  HistorySession,
  PlanMember,
  PlanVersion,
  Stance,
  Step,
  StepWho,
  Strength,
  Support,
  SupportKind,
} from "../../../client-schema/cairn.ts"
import { ApiError, Offline, type Api } from "../api.ts"
import { Keyed, h, setAttr, setText, setValue, type Part } from "../dom.ts"
import * as P from "../plan.ts"
import type { PlanStore } from "../sync.ts"
import { problem } from "../app/errors.ts"
import { saveFile } from "./export.ts"
import { catalogue, day, dateTime, names } from "../app/i18n.ts"
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
    thePerson: "the person",
    myPlans: "‹ My plans",
    here: "{names} is here|{names} are here",
    untitled: "Untitled plan",
    whoseMine: "Your plan",
    whoseTheirs: "{person}'s plan. You are a supporter on it.",
    planName: "Plan name",
    planNameOf: "{person}'s plan name",
    whatMatters: "What matters to me",
    whatMattersOf: "What matters to {person}",
    whatMattersHint: "Your vision, in your own words.",
    whatMattersHintOf: "Their vision, in their own words.",
    strengths: "What's strong right now?",
    strengthsOf: "What's strong for {person} right now?",
    strengthN: "Strength {n}",
    aStrength: "A strength",
    addStrength: "Add strength",
    goals: "What would you like to do moving forward?",
    goalsOf: "What would {person} like to do moving forward?",
    goalWords: "Goal {n}, in my words",
    goalWordsOf: "Goal {n}, in {person}'s words",
    whereItStands: "Where goal {n} stands",
    doWeAgree: "Do we agree on goal {n}?",
    "stance.agree": "We agree",
    "stance.not-yet": "Not yet",
    "stance.differ": "I see it differently",
    "stanceOf.agree": "{who}: we agree",
    "stanceOf.not-yet": "{who}: not yet",
    "stanceOf.differ": "{who} sees it differently",
    "stanceOf.other": "{who}: “{stance}”",
    stanceNote: "“{note}”",
    noStanceYet: "Nobody else has said yet.",
    myStanceNote: "My note on goal {n}, in my own words",
    conflictIntro: "You chose differently at the same time. Both choices stay until one of you picks the one that stands:",
    conflictChoice: "“{what}”, chosen by {who}",
    conflictKeep: "Keep “{what}”",
    "status.thinking": "Thinking about it",
    "status.working": "Working on it",
    "status.paused": "Taking a break from it",
    "status.done": "Done",
    "status.let-go": "Let it go",
    nextSteps: "Next steps",
    stepN: "Goal {g}, step {n}",
    stepDone: "Done: {text}",
    stepWho: "Who takes step {n} of goal {g}",
    aNextStep: "A next step",
    whoDoesIt: "Who does it",
    forGoal: " (goal {n})",
    "who.me": "Me",
    "who.supporter": "My supporter",
    "who.together": "Together",
    "whoOf.supporter": "Me",
    "whoOf.together": "Together",
    addStep: "Add step to goal {n}",
    newGoal: "A new goal, in your words",
    newGoalOf: "A new goal, in {person}'s words",
    addGoal: "Add goal",
    supports: "Who helps?",
    supportsOf: "Who helps {person}?",
    supportN: "Support {n}: who or what",
    supportKindN: "Support {n}: kind",
    whoHelpsName: "Who or what helps",
    kind: "Kind",
    "kind.person": "A person",
    "kind.place": "A place",
    "kind.resource": "A resource",
    addSupport: "Add support",
    checkIns: "Check-ins",
    checkInMeta: "{date}, by {name}",
    checkInHow: "Check-in {n}: how it went",
    checkInLearned: "Check-in {n}: what we learned",
    howItWent: "How did it go?",
    whatWeLearned: "What did we learn?",
    addCheckIn: "Add check-in",
    removeWord: "Remove",
    removeStrength: "Remove the strength {what}",
    removeGoal: "Remove the goal {what} and its steps",
    removeStep: "Remove the step {what}",
    removeSupport: "Remove the support {what}",
    removeCheckIn: "Remove check-in {n} ({date})",
    removedStrength: "The strength {what} is removed.",
    removedGoal: "The goal {what} is removed, with its steps.",
    removedStep: "The step {what} is removed.",
    removedSupport: "The support {what} is removed.",
    removedCheckIn: "The check-in of {date} is removed.",
    undo: "Undo",
    dismiss: "Close this message",
    putBack: "It is back in the plan.",
    cannotPutBack: "It cannot go back: the goal it belonged to was removed.",
    people: "People on this plan",
    memberOwner: "{name} (whose plan it is)",
    memberSupporter: "{name} (supporter)",
    accountDisabled: "(account disabled)",
    remove: "Remove {name}",
    invite: "Invite a supporter",
    showCode: "Show this code, or read it out. It works once, for {count} hour:|Show this code, or read it out. It works once, for {count} hours:",
    qr: "QR code for the invitation {code}",
    leave: "Leave this plan",
    history: "Who changed what",
    edits: "{count} edit|{count} edits",
    showHistory: "Show the history",
    versions: "Named versions",
    versionsIntro: "Name the plan as it stands, so you can both come back to it.",
    versionName: "Name",
    nameVersion: "Name this version",
    showVersions: "Show the named versions",
    versionsEmpty: "No named versions yet.",
    versionMeta: "Named by {who}, {date}",
    versionSeen: "{who} has seen it",
    acknowledgeVersion: "I have seen it",
    openVersion: "What changed since",
    nothingSince: "Nothing has changed since.",
    someone: "Someone",
    restoreVersion: "Go back to this version",
    confirmRestore: "Go back to “{name}”? Everything since stays in the history.",
    restored: "The plan is back to “{name}”.",
    downloadVersion: "Download this version",
    sessionMeta: "{date} · {count} change|{date} · {count} changes",
    "said.title-named": "{who} named the plan “{to}”",
    "said.title-changed": "{who} renamed the plan “{from}” to “{to}”",
    "said.what-matters-changed": "{who} rewrote what matters",
    "said.strength-added": "{who} added a strength: “{item}”",
    "said.strength-removed": "{who} removed the strength “{item}”",
    "said.strength-changed": "{who} changed the strength “{from}” to “{to}”",
    "said.goal-added": "{who} added the goal “{item}”",
    "said.goal-removed": "{who} removed the goal “{item}”",
    "said.goal-changed": "{who} changed the goal “{from}” to “{to}”",
    "said.goal-status-changed": "{who} set the goal “{item}” to “{to}”",
    "said.step-added": "{who} added the step “{item}” to “{goal}”",
    "said.step-removed": "{who} removed the step “{item}” from “{goal}”",
    "said.step-changed": "{who} changed the step “{from}” to “{to}”",
    "said.step-done": "{who} marked “{item}” done",
    "said.step-undone": "{who} marked “{item}” not done",
    "said.step-who-changed": "{who} changed who takes “{item}”",
    "said.step-due-changed": "{who} set “{item}” for {to}",
    "said.step-due-removed": "{who} took the day off “{item}”",
    "said.support-added": "{who} added “{item}” to who helps",
    "said.support-removed": "{who} removed “{item}” from who helps",
    "said.support-changed": "{who} changed “{item}” in who helps",
    "said.check-in-added": "{who} added a check-in for {item}",
    "said.check-in-removed": "{who} removed the check-in of {item}",
    "said.check-in-changed": "{who} changed the check-in of {item}",
    confirmRemove: "Remove {name} from your plan? Their access ends at once.",
    memberRemoved: "{name} is no longer on your plan.",
    confirmLeave: "Leave {name}'s plan? It will be deleted from this phone.",
    writingHere: "{names} writing here",
    deleteTitle: "Delete this plan",
    deleteWarnAlone: "Deleting erases this plan from Cairn and from this phone, for good. It cannot be undone.",
    deleteWarnShared: "Deleting erases this plan from Cairn and from every phone, for good: {names} will lose it too. It cannot be undone.",
    deleteStart: "Delete this plan…",
    deleteType: "To confirm, type the plan's name: “{title}”",
    deleteTypeWord: "To confirm, type the word: {word}",
    deleteWord: "delete",
    deleteFinal: "Delete it for good",
    deleteKeep: "Keep my plan",
    deleteMismatch: "That is not the plan's name yet: nothing was deleted.",
    deleteOffline: "Deleting needs a connection to Cairn. Your plan is kept; try again when you are online.",
    deleting: "Deleting…",
    deleted: "“{title}” is deleted, from Cairn and from this phone.",
  },
  {
    opening: "Abriendo tu plan…",
    notHere: "Este plan todavía no está en este teléfono y no se puede conectar con Cairn para traerlo. Vuelve a intentarlo cuando tengas conexión.",
    backToPlans: "Volver a mis planes",
    aMember: "alguien del plan",
    you: "tú",
    thePerson: "la persona",
    myPlans: "‹ Mis planes",
    here: "{names} está aquí|{names} están aquí",
    untitled: "Plan sin nombre",
    whoseMine: "Tu plan",
    whoseTheirs: "El plan de {person}. Participas como acompañante.",
    planName: "Nombre del plan",
    planNameOf: "Nombre del plan de {person}",
    whatMatters: "Lo que me importa",
    whatMattersOf: "Lo que le importa a {person}",
    whatMattersHint: "Tu visión, con tus propias palabras.",
    whatMattersHintOf: "Su visión, con sus propias palabras.",
    strengths: "¿Qué te da fuerza ahora mismo?",
    strengthsOf: "¿Qué le da fuerza a {person} ahora mismo?",
    strengthN: "Fortaleza {n}",
    aStrength: "Una fortaleza",
    addStrength: "Añadir fortaleza",
    goals: "¿Qué te gustaría hacer de aquí en adelante?",
    goalsOf: "¿Qué le gustaría hacer a {person} de aquí en adelante?",
    goalWords: "Meta {n}, con mis palabras",
    goalWordsOf: "Meta {n}, con palabras de {person}",
    whereItStands: "Cómo va la meta {n}",
    doWeAgree: "¿Estamos de acuerdo con la meta {n}?",
    "stance.agree": "Estamos de acuerdo",
    "stance.not-yet": "Todavía no",
    "stance.differ": "Lo veo de otra manera",
    "stanceOf.agree": "{who}: estamos de acuerdo",
    "stanceOf.not-yet": "{who}: todavía no",
    "stanceOf.differ": "{who} lo ve de otra manera",
    "stanceOf.other": "{who}: «{stance}»",
    stanceNote: "«{note}»",
    noStanceYet: "Nadie más ha dicho nada todavía.",
    myStanceNote: "Mi nota sobre la meta {n}, con mis palabras",
    conflictIntro: "Elegisteis cosas distintas a la vez. Las dos elecciones se quedan hasta que una de las dos personas elija la que vale:",
    conflictChoice: "«{what}», elegido por {who}",
    conflictKeep: "Quedarse con «{what}»",
    "status.thinking": "Lo estoy pensando",
    "status.working": "Estoy en ello",
    "status.paused": "Me tomo un respiro",
    "status.done": "Hecho",
    "status.let-go": "Lo suelto",
    nextSteps: "Próximos pasos",
    stepN: "Meta {g}, paso {n}",
    stepDone: "Hecho: {text}",
    stepWho: "Quién se encarga del paso {n} de la meta {g}",
    aNextStep: "Un próximo paso",
    whoDoesIt: "Quién lo hace",
    forGoal: " (meta {n})",
    "who.me": "Yo",
    "who.supporter": "Mi acompañante",
    "who.together": "En equipo",
    "whoOf.supporter": "Yo",
    "whoOf.together": "En equipo",
    addStep: "Añadir paso a la meta {n}",
    newGoal: "Una meta nueva, con tus palabras",
    newGoalOf: "Una meta nueva, con palabras de {person}",
    addGoal: "Añadir meta",
    supports: "¿Quién te ayuda?",
    supportsOf: "¿Quién ayuda a {person}?",
    supportN: "Apoyo {n}: quién o qué",
    supportKindN: "Apoyo {n}: tipo",
    whoHelpsName: "Quién o qué ayuda",
    kind: "Tipo",
    "kind.person": "Una persona",
    "kind.place": "Un lugar",
    "kind.resource": "Un recurso",
    addSupport: "Añadir apoyo",
    checkIns: "Encuentros",
    checkInMeta: "{date}, por {name}",
    checkInHow: "Encuentro {n}: cómo fue",
    checkInLearned: "Encuentro {n}: lo que aprendimos",
    howItWent: "¿Cómo fue?",
    whatWeLearned: "¿Qué aprendimos?",
    addCheckIn: "Añadir encuentro",
    removeWord: "Quitar",
    removeStrength: "Quitar la fortaleza {what}",
    removeGoal: "Quitar la meta {what} y sus pasos",
    removeStep: "Quitar el paso {what}",
    removeSupport: "Quitar el apoyo {what}",
    removeCheckIn: "Quitar el encuentro {n} ({date})",
    removedStrength: "Se quitó la fortaleza {what}.",
    removedGoal: "Se quitó la meta {what}, con sus pasos.",
    removedStep: "Se quitó el paso {what}.",
    removedSupport: "Se quitó el apoyo {what}.",
    removedCheckIn: "Se quitó el encuentro del {date}.",
    undo: "Deshacer",
    dismiss: "Cerrar este mensaje",
    putBack: "Ha vuelto al plan.",
    cannotPutBack: "No puede volver: la meta a la que pertenecía ya no está.",
    people: "Personas en este plan",
    memberOwner: "{name} (el plan es suyo)",
    memberSupporter: "{name} (acompañante)",
    accountDisabled: "(cuenta desactivada)",
    remove: "Quitar a {name}",
    invite: "Invitar a un acompañante",
    showCode: "Muestra este código o léelo en voz alta. Sirve una vez, durante {count} hora:|Muestra este código o léelo en voz alta. Sirve una vez, durante {count} horas:",
    qr: "Código QR de la invitación {code}",
    leave: "Dejar este plan",
    history: "Quién cambió qué",
    edits: "{count} cambio|{count} cambios",
    showHistory: "Ver el historial",
    versions: "Versiones con nombre",
    versionsIntro: "Ponle nombre al plan tal como está, para que podáis volver a él.",
    versionName: "Nombre",
    nameVersion: "Guardar con este nombre",
    showVersions: "Ver las versiones con nombre",
    versionsEmpty: "Todavía no hay versiones con nombre.",
    versionMeta: "Nombrada por {who}, {date}",
    versionSeen: "{who} la ha visto",
    acknowledgeVersion: "La he visto",
    openVersion: "Qué cambió desde entonces",
    nothingSince: "No ha cambiado nada desde entonces.",
    someone: "Alguien",
    restoreVersion: "Volver a esta versión",
    confirmRestore: "¿Volver a «{name}»? Todo lo de después queda en el historial.",
    restored: "El plan ha vuelto a «{name}».",
    downloadVersion: "Descargar esta versión",
    sessionMeta: "{date} · {count} cambio|{date} · {count} cambios",
    "said.title-named": "{who} puso nombre al plan: «{to}»",
    "said.title-changed": "{who} cambió el nombre del plan de «{from}» a «{to}»",
    "said.what-matters-changed": "{who} cambió lo que importa",
    "said.strength-added": "{who} añadió una fortaleza: «{item}»",
    "said.strength-removed": "{who} quitó la fortaleza «{item}»",
    "said.strength-changed": "{who} cambió la fortaleza «{from}» por «{to}»",
    "said.goal-added": "{who} añadió la meta «{item}»",
    "said.goal-removed": "{who} quitó la meta «{item}»",
    "said.goal-changed": "{who} cambió la meta «{from}» por «{to}»",
    "said.goal-status-changed": "{who} marcó la meta «{item}» como «{to}»",
    "said.step-added": "{who} añadió el paso «{item}» a «{goal}»",
    "said.step-removed": "{who} quitó el paso «{item}» de «{goal}»",
    "said.step-changed": "{who} cambió el paso «{from}» por «{to}»",
    "said.step-done": "{who} marcó «{item}» como hecho",
    "said.step-undone": "{who} marcó «{item}» como no hecho",
    "said.step-who-changed": "{who} cambió quién da el paso «{item}»",
    "said.step-due-changed": "{who} puso «{item}» para el {to}",
    "said.step-due-removed": "{who} quitó el día de «{item}»",
    "said.support-added": "{who} añadió «{item}» a quién ayuda",
    "said.support-removed": "{who} quitó «{item}» de quién ayuda",
    "said.support-changed": "{who} cambió «{item}» en quién ayuda",
    "said.check-in-added": "{who} añadió un encuentro del {item}",
    "said.check-in-removed": "{who} quitó el encuentro del {item}",
    "said.check-in-changed": "{who} cambió el encuentro del {item}",
    confirmRemove: "¿Quitar a {name} de tu plan? Su acceso termina al instante.",
    memberRemoved: "{name} ya no está en tu plan.",
    confirmLeave: "¿Dejar el plan de {name}? Se borrará de este teléfono.",
    writingHere: "Aquí escribe: {names}",
    deleteTitle: "Borrar este plan",
    deleteWarnAlone: "Borrar quita este plan de Cairn y de este teléfono para siempre. No se puede deshacer.",
    deleteWarnShared: "Borrar quita este plan de Cairn y de todos los teléfonos para siempre, también para {names}. No se puede deshacer.",
    deleteStart: "Borrar este plan…",
    deleteType: "Para confirmar, escribe el nombre del plan: “{title}”",
    deleteTypeWord: "Para confirmar, escribe la palabra: {word}",
    deleteWord: "borrar",
    deleteFinal: "Borrarlo para siempre",
    deleteKeep: "Conservar mi plan",
    deleteMismatch: "Eso no coincide con el nombre del plan, así que no se borró nada.",
    deleteOffline: "Para borrar hace falta conexión con Cairn. Tu plan se queda; vuelve a intentarlo cuando tengas conexión.",
    deleting: "Borrando…",
    deleted: "Se borró “{title}” de Cairn y de este teléfono.",
  }
)

const STATUSES: GoalStatus[] = ["thinking", "working", "paused", "done", "let-go"]
const STANCES: Stance[] = ["agree", "not-yet", "differ"]
const WHO: StepWho[] = ["me", "supporter", "together"]
const SUPPORT_KINDS: SupportKind[] = ["person", "place", "resource"]

/** How often this phone says it is here (and where it is writing). */
const ANNOUNCE_MS = 6_000
/** Presence not renewed for this long is gone: the other phone closed the plan or lost the
 * network. Below the server's socket timeout (30 s), above three announcements. */
const PRESENCE_MS = 20_000
/** How often presence is looked at again (only the presence notes are touched). */
const PRESENCE_TICK_MS = 2_000

/** Words of an item, quoted and cut short, to name the item in a control's name. */
function quoted(text: string, n: number): string {
  const words = text.trim().replace(/\s+/g, " ")
  if (!words) return String(n)
  return `“${words.length > 40 ? `${words.slice(0, 39)}…` : words}”`
}

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
    handle = await store.find(local.url as AutomergeUrl)
    performance.mark("cairn:plan-loaded")
  } catch {
    main.replaceChildren(
      h("section", { class: "card" }, h("p", {}, t("notHere")), h("a", { href: "#/" }, t("backToPlans")))
    )
    return
  }
  if (currentPlanId() !== documentId) return
  const view = new PlanView(handle, local, api, list, store)
  performance.mark("cairn:plan-drawn")
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

/** A member as listed by the server (`disabled`: an admin disabled the account). */
type Member = PlanMember

type TextControl = HTMLInputElement | HTMLTextAreaElement

let fieldIds = 0

/** A label element for `control` (made with an id if it has none). */
function labelFor(control: HTMLElement): HTMLLabelElement {
  control.id ||= `f${++fieldIds}`
  return h("label", { for: control.id }) as HTMLLabelElement
}

/** A label's words: what it shows, and (for screen readers, to tell like controls apart) what
 * only they hear. */
function labelled(label: HTMLElement, shown: string, heard: string): void {
  if (label.childNodes.length !== 2) label.replaceChildren(document.createTextNode(""), h("span", { class: "visually-hidden" }))
  setText(label.firstChild as unknown as HTMLElement, shown)
  setText(label.lastChild as HTMLElement, heard)
}

/** A "Remove" button named after its item. */
function removeButton(onclick: () => void): HTMLButtonElement {
  return h("button", { type: "button", class: "remove", onclick }, t("removeWord")) as HTMLButtonElement
}

class PlanView {
  #presence = new Map<string, Presence>()
  #editing = ""
  #timers: number[] = []
  #members: Member[] = []
  #membersLoaded = false
  #frame = 0
  readonly #unsubscribe: () => void
  /** The undo of the last removal, while its note is shown. */
  #restore: P.Restore | null = null

  // The screen's parts, built once.
  readonly #presenceNote = h("span", { class: "presence", "data-presence": "here", hidden: true })
  readonly #title = h("h1", { class: "plan-title-h" })
  readonly #whose = h("p", { class: "hint" })
  readonly #titleBox: Words
  readonly #titleLabel: HTMLLabelElement
  readonly #mattersBox: Words
  readonly #mattersLabel: HTMLLabelElement
  readonly #mattersHint = h("p", { class: "hint" })
  readonly #strengthsHeading = h("h2", {})
  readonly #goalsHeading = h("h2", {})
  readonly #supportsHeading = h("h2", {})
  readonly #checkInsHeading = h("h2", { tabindex: "-1" }, t("checkIns"))
  readonly #newGoalLabel: HTMLLabelElement
  readonly #strengths: Keyed<Strength, StrengthPart>
  readonly #goals: Keyed<Goal, GoalPart>
  readonly #supports: Keyed<Support, SupportPart>
  readonly #checkIns: Keyed<CheckIn, CheckInPart>
  readonly #memberList: Keyed<Member, MemberPart>
  readonly #invitation = h("div", { class: "invitation", hidden: true })
  readonly #historyBox = h("div", {})
  readonly #versionsBox = h("div", {})
  readonly #deleteWarning = h("p", {})
  readonly #deleteConfirm = h("form", { class: "confirm-delete", hidden: true })
  readonly #deleteLabel: HTMLLabelElement
  /** What deleting answered, beside the button (the notice at the top is out of sight here). */
  readonly #deleteNote = h("p", { class: "delete-note", role: "status" })
  readonly #deleteInput = h("input", { autocomplete: "off", autocapitalize: "off", spellcheck: "false" }) as HTMLInputElement
  readonly #undoBar = h("div", { class: "undo-bar", hidden: true })
  readonly #undoText = h("span", { role: "status", id: "undo-words" })

  constructor(
    readonly plan: P.Plan,
    readonly local: LocalPlan,
    readonly api: Api,
    readonly list: PlanList,
    readonly store: PlanStore
  ) {
    this.#titleBox = new Words(this, "title", false, text => P.setTitle(plan, text))
    this.#titleLabel = labelFor(this.#titleBox.control)
    this.#mattersBox = new Words(this, "whatMatters", true, text => P.setWhatMatters(plan, text))
    this.#mattersLabel = labelFor(this.#mattersBox.control)
    this.#mattersHint.id = `${this.#mattersBox.control.id}-hint`
    this.#mattersBox.control.setAttribute("aria-describedby", this.#mattersHint.id)

    const strengthList = h("ul", { class: "items" })
    this.#strengths = new Keyed(strengthList, s => P.words(s.id), s => new StrengthPart(this, P.words(s.id)), () => this.#strengthsHeading)
    const goalList = h("ol", { class: "goals" })
    this.#goals = new Keyed(goalList, g => P.words(g.id), g => new GoalPart(this, P.words(g.id)), () => this.#goalsHeading)
    const supportList = h("ul", { class: "items" })
    this.#supports = new Keyed(supportList, s => P.words(s.id), s => new SupportPart(this, P.words(s.id)), () => this.#supportsHeading)
    const checkInList = h("ul", { class: "items" })
    this.#checkIns = new Keyed(checkInList, c => P.words(c.id), c => new CheckInPart(this, P.words(c.id)), () => this.#checkInsHeading)
    const memberList = h("ul", { class: "items" })
    this.#memberList = new Keyed(memberList, m => m.userId, m => new MemberPart(this, m))
    for (const heading of [this.#strengthsHeading, this.#goalsHeading, this.#supportsHeading]) heading.tabIndex = -1

    const owner = this.owner
    const newStrength = h("input", {}) as HTMLInputElement
    const newGoal = h("textarea", { rows: 2 }) as HTMLTextAreaElement
    this.#newGoalLabel = labelFor(newGoal)
    const newSupportName = h("input", { id: "new-support" }) as HTMLInputElement
    const newSupportKind = h(
      "select",
      { id: "new-support-kind" },
      ...SUPPORT_KINDS.map(value => h("option", { value }, t(`kind.${value}`)))
    ) as HTMLSelectElement
    const howItWent = h("textarea", { rows: 2 }) as HTMLTextAreaElement
    const learned = h("textarea", { rows: 2 }) as HTMLTextAreaElement
    this.#deleteLabel = labelFor(this.#deleteInput)
    const me = api.account.id

    main.replaceChildren(
      h("nav", { class: "crumbs" }, h("a", { href: "#/", class: "back" }, t("myPlans")), this.#presenceNote),
      h("p", { id: "notice", class: "notice", role: "status" }, currentNotice()),
      h(
        "section",
        { class: "card" },
        this.#title,
        this.#whose,
        h("div", { class: "field" }, this.#titleLabel, this.#titleBox.element),
        h("div", { class: "field" }, this.#mattersLabel, this.#mattersBox.element, this.#mattersHint)
      ),
      h(
        "section",
        { class: "card" },
        this.#strengthsHeading,
        strengthList,
        h(
          "form",
          {
            class: "inline",
            onsubmit: (event: Event) => {
              event.preventDefault()
              const text = newStrength.value.trim()
              if (!text) return
              P.addStrength(plan, text, me)
              newStrength.value = ""
            },
          },
          h("div", { class: "field grow" }, h("label", { for: (newStrength.id = "new-strength") }, t("aStrength")), newStrength),
          h("button", { type: "submit" }, t("addStrength"))
        )
      ),
      h(
        "section",
        { class: "card" },
        this.#goalsHeading,
        goalList,
        h(
          "form",
          {
            onsubmit: (event: Event) => {
              event.preventDefault()
              const text = newGoal.value.trim()
              if (!text) return
              P.addGoal(plan, text, me)
              newGoal.value = ""
            },
          },
          h("div", { class: "field" }, this.#newGoalLabel, newGoal),
          h("button", { type: "submit", class: "primary" }, t("addGoal"))
        )
      ),
      h(
        "section",
        { class: "card" },
        this.#supportsHeading,
        supportList,
        h(
          "form",
          {
            class: "inline",
            onsubmit: (event: Event) => {
              event.preventDefault()
              const name = newSupportName.value.trim()
              if (!name) return
              P.addSupport(plan, name, newSupportKind.value as SupportKind)
              newSupportName.value = ""
            },
          },
          h("div", { class: "field grow" }, h("label", { for: "new-support" }, t("whoHelpsName")), newSupportName),
          h("div", { class: "field" }, h("label", { for: "new-support-kind" }, t("kind")), newSupportKind),
          h("button", { type: "submit" }, t("addSupport"))
        )
      ),
      h(
        "section",
        { class: "card" },
        this.#checkInsHeading,
        checkInList,
        h(
          "form",
          {
            onsubmit: (event: Event) => {
              event.preventDefault()
              const how = howItWent.value.trim()
              const what = learned.value.trim()
              if (!how && !what) return
              P.addCheckIn(plan, how, what, me)
              howItWent.value = ""
              learned.value = ""
            },
          },
          h("div", { class: "field" }, h("label", { for: (howItWent.id = "new-checkin-how") }, t("howItWent")), howItWent),
          h("div", { class: "field" }, h("label", { for: (learned.id = "new-checkin-learned") }, t("whatWeLearned")), learned),
          h("button", { type: "submit" }, t("addCheckIn"))
        )
      ),
      h(
        "section",
        { class: "card" },
        h("h2", {}, t("people")),
        memberList,
        owner
          ? h(
              "div",
              {},
              h("button", { type: "button", class: "primary", onclick: () => void this.#invite() }, t("invite")),
              this.#invitation
            )
          : h("button", { type: "button", onclick: () => void this.#leave() }, t("leave"))
      ),
      h("section", { class: "card" }, h("h2", {}, t("history")), this.#historyBox),
      this.#versionsSection(),
      ...(owner ? [this.#deleteSection()] : []),
      this.#undoBar
    )
    this.#undoBar.append(
      this.#undoText,
      h(
        "div",
        { class: "undo-actions" },
        h("button", { type: "button", class: "primary", "aria-describedby": "undo-words", onclick: () => this.#undo() }, t("undo")),
        h("button", { type: "button", "aria-label": t("dismiss"), class: "dismiss", onclick: () => this.#hideUndo() }, "×")
      )
    )
    this.#historyBox.append(h("button", { type: "button", onclick: () => void this.#loadHistory() }, t("showHistory")))

    plan.on("change", this.#onChange)
    plan.on("remote-heads", this.#onRemoteHeads)
    plan.on("ephemeral-message", this.#onPresence)
    plan.on("delete", this.#onDelete)
    this.#unsubscribe = store.onChange(this.#onConnection)
    document.addEventListener("visibilitychange", this.#onVisibility)
    this.#timers.push(window.setInterval(() => this.#announce(), ANNOUNCE_MS))
    this.#timers.push(window.setInterval(() => this.#updatePresence(), PRESENCE_TICK_MS))
    this.#timers.push(window.setInterval(() => void this.#loadMembers(), 30_000))
    this.#announce()
    void this.#loadMembers()
    this.update()
  }

  close(): void {
    // Leaving the plan: the other phones stop showing this one at once (not after PRESENCE_MS).
    if (this.store.state === "online" && this.plan.isReady()) this.plan.broadcast({ field: "", left: true })
    this.plan.off("change", this.#onChange)
    this.plan.off("remote-heads", this.#onRemoteHeads)
    this.plan.off("ephemeral-message", this.#onPresence)
    this.plan.off("delete", this.#onDelete)
    this.#unsubscribe()
    document.removeEventListener("visibilitychange", this.#onVisibility)
    for (const timer of this.#timers) clearInterval(timer)
    cancelAnimationFrame(this.#frame)
  }

  get owner(): boolean {
    return this.local.role === "owner"
  }

  /** The name of the person whose plan it is (for a supporter's labels). */
  get person(): string {
    const owner = this.#members.find(m => m.role === "owner")
    if (owner) return owner.displayName
    return this.local.with.length === 1 ? this.local.with[0] : t("thePerson")
  }

  /** The plan was wiped from this phone (its owner removed us, or deleted it) while it was open:
   * nothing of it may be shown or written any more, so stop at once and go back to the list. */
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
    // Only what differs changes: this phone's own typing is already in its field.
    this.schedule()
  }

  #onRemoteHeads = () => showStatus()

  /** The app went to the background (another app, the phone locked): this phone is not here any
   * more until it comes back. */
  #onVisibility = () => {
    if (document.visibilityState === "visible") this.#announce()
    else if (this.store.state === "online" && this.plan.isReady()) this.plan.broadcast({ field: "", left: true })
  }

  /** The connection changed: presence is only true while this phone is online. */
  #onConnection = () => {
    showStatus()
    if (this.store.state !== "online") this.#presence.clear()
    else this.#announce()
    this.#updatePresence()
  }

  #onPresence = ({ message, senderId }: { message: unknown; senderId: string }) => {
    const presence = message as Partial<Presence> & { gone?: boolean; left?: boolean }
    if (typeof presence?.userId !== "string" || presence.userId === this.api.account.id) return
    if (presence.left) {
      // That phone closed the plan (the member may still be here on another phone).
      this.#presence.delete(senderId)
    } else if (presence.gone) {
      // The server says this member's last connection closed, or they were removed or disabled.
      for (const [sender, p] of this.#presence) if (p.userId === presence.userId) this.#presence.delete(sender)
      void this.#loadMembers()
    } else {
      this.#presence.set(senderId, { userId: presence.userId, field: String(presence.field ?? ""), at: Date.now() })
      // Someone not on our member list (a supporter who just joined, or one just removed): ask.
      if (!this.#members.some(m => m.userId === presence.userId)) void this.#loadMembers()
    }
    this.#updatePresence()
  }

  /** Say where this phone is writing; the server adds who we are (never a name we choose). */
  #announce(): void {
    if (this.store.state === "online" && document.visibilityState === "visible") this.plan.broadcast({ field: this.#editing })
  }

  editing(key: string): void {
    this.#editing = key
    this.#announce()
  }

  /** Members present now: this phone online, announced within PRESENCE_MS, on the member list
   * and not disabled. */
  #present(): Presence[] {
    if (this.store.state !== "online") return []
    const now = Date.now()
    const members = new Map(this.#members.map(m => [m.userId, m]))
    return [...this.#presence.values()].filter(p => {
      const member = members.get(p.userId)
      return now - p.at < PRESENCE_MS && member !== undefined && !member.disabled
    })
  }

  /** The names of the members present (`where`: only those writing in that field), each once. */
  presentNames(where?: string): string[] {
    const memberNames = new Map(this.#members.map(m => [m.userId, m.displayName]))
    const present = this.#present().filter(p => where === undefined || p.field === where)
    return [...new Set(present.map(p => memberNames.get(p.userId) ?? t("aMember")))]
  }

  /** Only the presence notes: who is here, and who is writing in which field. */
  #updatePresence(): void {
    const present = this.presentNames()
    setText(this.#presenceNote, present.length > 0 ? t("here", { names: names(present), count: present.length }) : "")
    this.#presenceNote.hidden = present.length === 0
    for (const tag of main.querySelectorAll<HTMLElement>("[data-writing]")) {
      const others = this.presentNames(tag.dataset.writing)
      setText(tag, others.length > 0 ? t("writingHere", { names: names(others) }) : "")
      tag.hidden = others.length === 0
    }
  }

  schedule(): void {
    cancelAnimationFrame(this.#frame)
    this.#frame = requestAnimationFrame(() => this.update())
  }

  async #loadMembers(): Promise<void> {
    if (!this.local.confirmed) return
    try {
      this.#members = await this.api.members(this.local.id)
      this.#membersLoaded = true
      this.update()
    } catch {
      // offline: the names from the plan list stay
    }
  }

  /** The words for "who does it", from this phone's member's side. */
  whoWords(who: StepWho): string {
    if (this.owner) return t(`who.${who}`)
    return who === "me" ? this.person : t(`whoOf.${who}`)
  }

  /** Who chose a value, from the actor that wrote it: this phone, or a member whose devices
   * write with it (the member list says which), or "a member" when not known (offline, new). */
  chooserName(actor: string): string {
    if (actor === P.ownActor(this.plan)) return t("you")
    const member = this.#members.find(m => (m.actors ?? []).includes(actor))
    if (member) return this.nameOf(member.userId)
    // A device the member list did not know yet (its first change just arrived): ask once.
    if (!this.#askedActors.has(actor)) {
      this.#askedActors.add(actor)
      void this.#loadMembers()
    }
    return t("aMember")
  }
  #askedActors = new Set<string>()

  nameOf(id: string): string {
    if (id === this.api.account.id) return t("you")
    return this.#members.find(m => m.userId === id)?.displayName ?? t("aMember")
  }

  /** Bring the whole screen up to date with the document, changing only what differs. */
  update(): void {
    if (!this.plan.isReady()) return
    const doc = this.plan.doc()
    if (!doc) return
    const owner = this.owner
    const person = this.person
    const title = P.words(doc.title)
    setText(this.#title, title.trim() || t("untitled"))
    setText(this.#whose, owner ? t("whoseMine") : t("whoseTheirs", { person }))
    setText(this.#titleLabel, owner ? t("planName") : t("planNameOf", { person }))
    this.#titleBox.update(title)
    setText(this.#mattersLabel, owner ? t("whatMatters") : t("whatMattersOf", { person }))
    setText(this.#mattersHint, owner ? t("whatMattersHint") : t("whatMattersHintOf"))
    this.#mattersBox.update(P.words(doc.whatMatters))
    setText(this.#strengthsHeading, owner ? t("strengths") : t("strengthsOf", { person }))
    setText(this.#goalsHeading, owner ? t("goals") : t("goalsOf", { person }))
    setText(this.#newGoalLabel, owner ? t("newGoal") : t("newGoalOf", { person }))
    setText(this.#supportsHeading, owner ? t("supports") : t("supportsOf", { person }))
    this.#strengths.update(doc.strengths ?? [])
    this.#goals.update(doc.goals ?? [])
    this.#supports.update(doc.supports ?? [])
    this.#checkIns.update(doc.checkIns ?? [])
    this.#memberList.update(this.#members)
    this.#updateDelete(title)
    this.#updatePresence()
  }

  // ---- removing, and putting back ------------------------------------------------------------

  /** After a removal: say what went, offer to put it back, and take focus to that offer (the
   * control that had it has gone). */
  removed(restore: P.Restore | null, words: string): void {
    if (!restore) return
    this.#restore = restore
    setText(this.#undoText, words)
    this.#undoBar.hidden = false
    document.body.classList.add("with-undo")
    this.#undoBar.querySelector("button")?.focus({ preventScroll: true })
  }

  #undo(): void {
    const restore = this.#restore
    this.#hideUndo()
    if (!restore) return
    say(restore() ? t("putBack") : t("cannotPutBack"))
  }

  #hideUndo(): void {
    const hadFocus = this.#undoBar.contains(document.activeElement)
    this.#restore = null
    this.#undoBar.hidden = true
    document.body.classList.remove("with-undo")
    if (hadFocus) main.focus({ preventScroll: true })
  }

  // ---- people ---------------------------------------------------------------------------------

  async #invite(): Promise<void> {
    try {
      const invitation = await this.api.invite(this.local.id)
      const qr = await QRCode.toDataURL(invitation.code, { margin: 1, width: 200, color: { dark: "#1b1b1b", light: "#ffffff" } })
      const hours = Math.max(1, Math.round((Date.parse(invitation.expiresAt) - Date.now()) / 3_600_000))
      this.#invitation.replaceChildren(
        h("p", {}, t("showCode", { count: hours })),
        h("p", { class: "code", "data-invitation": invitation.code }, invitation.code),
        h("img", { src: qr, alt: t("qr", { code: invitation.code }), width: 200, height: 200 })
      )
      this.#invitation.hidden = false
    } catch (err) {
      say(problem(err))
    }
  }

  async removeMember(member: Member): Promise<void> {
    if (!confirm(t("confirmRemove", { name: member.displayName }))) return
    try {
      await this.api.removeMember(this.local.id, member.userId)
      await this.#loadMembers()
      say(t("memberRemoved", { name: member.displayName }))
    } catch (err) {
      say(problem(err))
    }
  }

  async #leave(): Promise<void> {
    const whose = this.#members.find(m => m.role === "owner")?.displayName ?? t("thePerson")
    if (!confirm(t("confirmLeave", { name: whose }))) return
    try {
      await this.api.removeMember(this.local.id, this.api.account.id)
      await refreshPlans()
    } catch (err) {
      say(problem(err))
    }
  }

  async #loadHistory(): Promise<void> {
    let sessions: HistorySession[]
    try {
      sessions = await this.api.historySessions(this.local.id)
    } catch (err) {
      say(problem(err))
      return
    }
    const list = h(
      "ol",
      { class: "history", tabindex: "-1" },
      ...sessions
        .slice()
        .reverse()
        .map(session =>
          h(
            "li",
            {},
            h("p", { class: "hint" }, t("sessionMeta", { date: dateTime(session.endedAt), count: session.changes })),
            h("ul", {}, ...session.said.map(change => h("li", {}, saidInWords(session.authorName, change))))
          )
        )
    )
    this.#historyBox.replaceChildren(list)
    list.focus({ preventScroll: true })
  }

  // ---- named versions ----------------------------------------------------------------------------

  #versionsSection(): HTMLElement {
    const input = h("input", { id: "version-name", maxlength: "200", autocomplete: "off" }) as HTMLInputElement
    const form = h(
      "form",
      { class: "inline" },
      h("div", { class: "field" }, h("label", { for: "version-name" }, t("versionName")), input),
      h("button", { type: "submit" }, t("nameVersion"))
    ) as HTMLFormElement
    form.addEventListener("submit", event => {
      event.preventDefault()
      void (async () => {
        try {
          await this.api.nameVersion(this.local.id, input.value)
          input.value = ""
          await this.#loadVersions()
        } catch (err) {
          say(problem(err))
        }
      })()
    })
    this.#versionsBox.replaceChildren(
      h("button", { type: "button", onclick: () => void this.#loadVersions() }, t("showVersions"))
    )
    return h("section", { class: "card versions" }, h("h2", {}, t("versions")), h("p", { class: "hint" }, t("versionsIntro")), form, this.#versionsBox)
  }

  async #loadVersions(): Promise<void> {
    let versions: PlanVersion[]
    try {
      versions = await this.api.versions(this.local.id)
    } catch (err) {
      say(problem(err))
      return
    }
    if (versions.length === 0) {
      this.#versionsBox.replaceChildren(h("p", { class: "hint" }, t("versionsEmpty")))
      return
    }
    const me = this.api.account.id
    const list = h(
      "ol",
      { class: "versions-list" },
      ...versions
        .slice()
        .reverse()
        .map(version => {
          const since = h("div", {})
          const actions = h("div", { class: "inline" })
          if (version.namedBy !== me && !version.acknowledgedBy) {
            actions.append(
              h("button", { type: "button", onclick: () => void this.#acknowledgeVersion(version) }, t("acknowledgeVersion"))
            )
          }
          actions.append(
            h("button", { type: "button", onclick: () => void this.#openVersion(version, since) }, t("openVersion")),
            h("button", { type: "button", onclick: () => void this.#restoreVersion(version) }, t("restoreVersion")),
            h("button", { type: "button", onclick: () => void this.#downloadVersion(version) }, t("downloadVersion"))
          )
          return h(
            "li",
            {},
            h("strong", {}, version.name),
            h("p", { class: "hint" }, t("versionMeta", { who: version.namedByName, date: dateTime(version.namedAt) })),
            ...(version.acknowledgedByName ? [h("p", { class: "hint" }, t("versionSeen", { who: version.acknowledgedByName }))] : []),
            actions,
            since
          )
        })
    )
    this.#versionsBox.replaceChildren(list)
  }

  async #acknowledgeVersion(version: PlanVersion): Promise<void> {
    try {
      await this.api.acknowledgeVersion(this.local.id, version.id)
      await this.#loadVersions()
    } catch (err) {
      say(problem(err))
    }
  }

  async #openVersion(version: PlanVersion, box: HTMLElement): Promise<void> {
    try {
      const view = await this.api.openVersion(this.local.id, version.id)
      box.replaceChildren(
        view.changedSince.length === 0
          ? h("p", { class: "hint" }, t("nothingSince"))
          : h("ul", {}, ...view.changedSince.map(change => h("li", {}, saidInWords(t("someone"), change))))
      )
    } catch (err) {
      say(problem(err))
    }
  }

  /** The version as a printable Markdown page, saying which version it is. */
  async #downloadVersion(version: PlanVersion): Promise<void> {
    try {
      saveFile(await this.api.export(this.local.id, "markdown", version.id), `plan-${this.local.id}-version.md`)
    } catch (err) {
      say(problem(err))
    }
  }

  async #restoreVersion(version: PlanVersion): Promise<void> {
    if (!confirm(t("confirmRestore", { name: version.name }))) return
    try {
      await this.api.restoreVersion(this.local.id, version.id)
      say(t("restored", { name: version.name }))
    } catch (err) {
      say(problem(err))
    }
  }

  // ---- deleting the plan (owner) ----------------------------------------------------------------

  #deleteSection(): HTMLElement {
    const start = h("button", { type: "button", class: "danger", "aria-expanded": "false" }, t("deleteStart")) as HTMLButtonElement
    const open = (shown: boolean) => {
      this.#deleteConfirm.hidden = !shown
      start.hidden = shown
      start.setAttribute("aria-expanded", String(shown))
      this.#deleteInput.value = ""
      setText(this.#deleteNote, "")
      if (shown) this.#deleteInput.focus()
      else start.focus()
    }
    start.addEventListener("click", () => open(true))
    this.#deleteConfirm.append(
      h("div", { class: "field" }, this.#deleteLabel, this.#deleteInput),
      this.#deleteNote,
      h(
        "div",
        { class: "inline" },
        h("button", { type: "submit", class: "danger" }, t("deleteFinal")),
        h("button", { type: "button", onclick: () => open(false) }, t("deleteKeep"))
      )
    )
    this.#deleteConfirm.addEventListener("submit", event => {
      event.preventDefault()
      void this.#deletePlan()
    })
    return h("section", { class: "card danger-zone" }, h("h2", {}, t("deleteTitle")), this.#deleteWarning, start, this.#deleteConfirm)
  }

  /** What the owner types to confirm: the plan's name, or a word when it has none. */
  #deletePhrase(title: string): string {
    return title.trim() || t("deleteWord")
  }

  #updateDelete(title: string): void {
    if (!this.owner) return
    const supporters = this.#members.filter(m => m.role === "supporter").map(m => m.displayName)
    const others = supporters.length > 0 ? supporters : this.#membersLoaded ? [] : this.local.with
    setText(this.#deleteWarning, others.length > 0 ? t("deleteWarnShared", { names: names(others) }) : t("deleteWarnAlone"))
    setText(this.#deleteLabel, title.trim() ? t("deleteType", { title: title.trim() }) : t("deleteTypeWord", { word: t("deleteWord") }))
  }

  /** Delete the plan on the server; wipe this phone's copy only once the server said it is gone. */
  async #deletePlan(): Promise<void> {
    const title = P.words(this.plan.doc()?.title)
    const typed = this.#deleteInput.value.trim().normalize("NFC").toLocaleLowerCase()
    if (typed !== this.#deletePhrase(title).normalize("NFC").toLocaleLowerCase()) {
      setText(this.#deleteNote, t("deleteMismatch"))
      this.#deleteInput.focus()
      return
    }
    if (!navigator.onLine || !this.local.confirmed) {
      setText(this.#deleteNote, t("deleteOffline"))
      return
    }
    setText(this.#deleteNote, t("deleting"))
    try {
      await this.api.call<void>("DELETE", `/api/v1/plans/${encodeURIComponent(this.local.id)}`)
    } catch (err) {
      // Gone already (deleted from another phone of the owner's) counts as deleted.
      if (!(err instanceof ApiError && err.code === "plan_not_found")) {
        setText(this.#deleteNote, err instanceof Offline ? t("deleteOffline") : problem(err))
        return
      }
    }
    this.close()
    this.list.forget(this.local.documentId)
    await this.store.wipe(this.local.url as AutomergeUrl)
    say(t("deleted", { title: title.trim() || t("untitled") }))
    if (currentPlanId() === this.local.documentId) location.hash = "#/"
  }
}

// ---- the parts ------------------------------------------------------------------------------------

/** A text control bound to words in the plan: typing edits them in place (as Automerge text),
 * and the other phone's edits arrive without moving the caret. Shows who else writes there. */
class Words {
  readonly control: TextControl
  readonly element: HTMLElement
  /** While a keyboard composes a word (most Android keyboards, for every word), the other phone's
   * words wait: setting the value would break the word being composed. */
  #composing = false

  constructor(
    view: PlanView,
    readonly key: string,
    multiline: boolean,
    write: (text: string) => void
  ) {
    // Words are in a textarea that grows with them (CSS `field-sizing`), so that long words wrap
    // at any text size instead of scrolling out of sight; a one-line field takes no new lines.
    this.control = h("textarea", {
      rows: multiline ? 3 : 1,
      onkeydown: (event: Event) => {
        if (!multiline && (event as KeyboardEvent).key === "Enter") event.preventDefault()
      },
      onfocus: () => view.editing(key),
      onblur: () => view.editing(""),
      oninput: () => write(this.control.value),
      oncompositionstart: () => {
        this.#composing = true
      },
      oncompositionend: () => {
        this.#composing = false
        view.schedule()
      },
    }) as TextControl
    this.element = h(
      "div",
      { class: "with-presence" },
      this.control,
      h("span", { class: "presence-tag", "data-writing": key, hidden: true })
    )
  }

  update(value: string, label?: string): void {
    if (!this.#composing) setValue(this.control, value)
    if (label !== undefined) setAttr(this.control, "aria-label", label)
  }
}

class StrengthPart implements Part<Strength> {
  readonly element: HTMLElement
  readonly #words: Words
  readonly #remove: HTMLButtonElement
  #name = ""

  constructor(view: PlanView, id: string) {
    this.#words = new Words(view, `strength-${id}`, true, text => P.setStrengthText(view.plan, id, text))
    this.#words.control.setAttribute("rows", "1")
    this.#remove = removeButton(() => view.removed(P.removeItem(view.plan, "strengths", id), t("removedStrength", { what: this.#name })))
    this.element = h("li", { class: "item", "data-id": id }, h("div", { class: "item-row" }, this.#words.element, this.#remove))
  }

  update(strength: Strength, index: number): void {
    const text = P.words(strength.text)
    this.#name = quoted(text, index + 1)
    this.#words.update(text, t("strengthN", { n: index + 1 }))
    setAttr(this.#remove, "aria-label", t("removeStrength", { what: this.#name }))
  }
}

class GoalPart implements Part<Goal> {
  readonly element: HTMLElement
  readonly #words: Words
  readonly #label: HTMLLabelElement
  readonly #legend = h("legend", {})
  readonly #statuses: HTMLInputElement[]
  /** Where both choices of a status set differently at once are shown until one is kept. */
  readonly #conflict = h("div", { class: "conflict", hidden: true })
  #conflictShown = ""
  /** Do we agree? Where the other members stand, and this member's own stance and note. */
  readonly #agreeLegend = h("legend", {})
  readonly #stances: HTMLInputElement[]
  readonly #others = h("ul", { class: "stances" })
  #othersShown = ""
  readonly #note: Words
  readonly #noteLabel: HTMLLabelElement
  readonly #steps: Keyed<Step, StepPart>
  readonly #stepsHeading = h("h3", { tabindex: "-1" }, t("nextSteps"))
  readonly #newStep = h("input", {}) as HTMLInputElement
  readonly #newWho = h("select", {}, ...WHO.map(value => h("option", { value }))) as HTMLSelectElement
  readonly #newStepLabel = labelFor(this.#newStep)
  readonly #newWhoLabel = labelFor(this.#newWho)
  readonly #add = h("button", { type: "submit" }) as HTMLButtonElement
  readonly #remove: HTMLButtonElement
  #name = ""
  index = 0

  constructor(
    readonly view: PlanView,
    readonly id: string
  ) {
    this.#words = new Words(view, `goal-${id}`, true, text => P.setGoalText(view.plan, id, text))
    this.#label = labelFor(this.#words.control)
    this.#statuses = STATUSES.map(
      value =>
        h("input", {
          type: "radio",
          name: `status-${id}`,
          value,
          onchange: () => P.setGoalStatus(view.plan, id, value),
        }) as HTMLInputElement
    )
    const me = view.api.account.id
    this.#note = new Words(view, `stance-note-${id}`, true, text => P.setAgreementNote(view.plan, id, me, text))
    this.#note.control.setAttribute("rows", "2")
    this.#noteLabel = labelFor(this.#note.control)
    this.#stances = STANCES.map(
      value =>
        h("input", {
          type: "radio",
          name: `stance-${id}`,
          value,
          onchange: () => P.setAgreement(view.plan, id, me, value, this.#note.control.value),
        }) as HTMLInputElement
    )
    const stepList = h("ul", { class: "steps" })
    this.#steps = new Keyed(stepList, s => P.words(s.id), s => new StepPart(this, P.words(s.id)), () => this.#stepsHeading)
    this.#remove = removeButton(() => view.removed(P.removeItem(view.plan, "goals", id), t("removedGoal", { what: this.#name })))
    this.element = h(
      "li",
      { class: "goal", "data-id": id },
      h("div", { class: "field" }, h("div", { class: "label-row" }, this.#label, this.#remove), this.#words.element),
      h(
        "fieldset",
        { class: "status" },
        this.#legend,
        h(
          "div",
          { class: "chips" },
          ...this.#statuses.map((radio, i) => h("label", { class: "chip" }, radio, h("span", {}, t(`status.${STATUSES[i]}`))))
        ),
        this.#conflict
      ),
      h(
        "fieldset",
        { class: "status agreement" },
        this.#agreeLegend,
        this.#others,
        h(
          "div",
          { class: "chips" },
          ...this.#stances.map((radio, i) => h("label", { class: "chip" }, radio, h("span", {}, t(`stance.${STANCES[i]}`))))
        ),
        h("div", { class: "field" }, this.#noteLabel, this.#note.element)
      ),
      this.#stepsHeading,
      stepList,
      h(
        "form",
        {
          class: "inline",
          onsubmit: (event: Event) => {
            event.preventDefault()
            const text = this.#newStep.value.trim()
            if (!text) return
            P.addStep(view.plan, id, text, this.#newWho.value as StepWho)
            this.#newStep.value = ""
          },
        },
        h("div", { class: "field grow" }, this.#newStepLabel, this.#newStep),
        h("div", { class: "field" }, this.#newWhoLabel, this.#newWho),
        this.#add
      )
    )
  }

  update(goal: Goal, index: number): void {
    const view = this.view
    const n = index + 1
    this.index = n
    const text = P.words(goal.text)
    this.#name = quoted(text, n)
    this.#words.update(text)
    setText(this.#label, view.owner ? t("goalWords", { n }) : t("goalWordsOf", { n, person: view.person }))
    setText(this.#legend, t("whereItStands", { n }))
    const status = P.words(goal.status)
    for (const radio of this.#statuses) if (radio.checked !== (radio.value === status)) radio.checked = radio.value === status
    this.#showConflict(P.conflictsOn(goal, "status"))
    this.#showAgreement(goal, n)
    labelled(this.#newStepLabel, t("aNextStep"), t("forGoal", { n }))
    labelled(this.#newWhoLabel, t("whoDoesIt"), t("forGoal", { n }))
    for (const option of this.#newWho.options) setText(option, view.whoWords(option.value as StepWho))
    setText(this.#add, t("addStep", { n }))
    setAttr(this.#remove, "aria-label", t("removeGoal", { what: this.#name }))
    this.#steps.update(goal.steps ?? [])
  }

  /** Where each other member stands (redrawn only when that changes), and this member's own
   * choice and note. Before this member takes a stance their note stays on this phone: it is
   * written with the stance. */
  #showAgreement(goal: Goal, n: number): void {
    const view = this.view
    const me = view.api.account.id
    setText(this.#agreeLegend, t("doWeAgree", { n }))
    setText(this.#noteLabel, t("myStanceNote", { n }))
    const mine = P.stanceOf(goal, me)
    const stance = mine ? P.words(mine.stance) : ""
    for (const radio of this.#stances) if (radio.checked !== (radio.value === stance)) radio.checked = radio.value === stance
    if (mine) this.#note.update(P.words(mine.note))
    const others = Object.keys(goal.agreement ?? {})
      .filter(account => account !== me)
      .map(account => {
        const entry = P.stanceOf(goal, account)
        const said = P.words(entry?.stance)
        const who = view.nameOf(account)
        const line = STANCES.includes(said as Stance)
          ? t(`stanceOf.${said as Stance}`, { who })
          : t("stanceOf.other", { who, stance: said })
        const note = P.words(entry?.note).trim()
        return note ? `${line} — ${t("stanceNote", { note })}` : line
      })
      .sort()
    const shown = JSON.stringify(others)
    if (shown === this.#othersShown) return
    this.#othersShown = shown
    this.#others.replaceChildren(...(others.length ? others : [t("noStanceYet")]).map(line => h("li", {}, line)))
  }

  #showConflict(standing: P.Standing[] | undefined): void {
    const shown = standing ? JSON.stringify(standing.map(s => [s.value, this.view.chooserName(s.actor)])) : ""
    if (shown === this.#conflictShown) return
    this.#conflictShown = shown
    drawConflict(this, this.#conflict, standing)
  }
}

/** One change of a session, in this phone's language. */
function saidInWords(who: string, change: ChangeSaid): string {
  const item = change.item ?? ""
  const from = change.from ?? ""
  const to = change.to ?? ""
  const goal = change.goal ?? ""
  switch (change.kind) {
    case "title-changed":
      return from ? t("said.title-changed", { who, from, to }) : t("said.title-named", { who, to })
    case "goal-status-changed": {
      const status = STATUSES.includes(to as GoalStatus) ? t(`status.${to as GoalStatus}`) : to
      return t("said.goal-status-changed", { who, item, to: status })
    }
    case "step-due-changed":
      return to ? t("said.step-due-changed", { who, item, to: day(to) }) : t("said.step-due-removed", { who, item })
    case "check-in-added":
    case "check-in-removed":
    case "check-in-changed":
      return t(`said.${change.kind}`, { who, item: item ? day(item) : item })
    default:
      return t(`said.${change.kind}`, { who, item, from, to, goal })
  }
}

/** Show every status standing and who chose it, with a button to keep each; redrawn only when
 * what stands changes (so a focused button stays). */
function drawConflict(part: { view: PlanView; id: string }, box: HTMLElement, standing: P.Standing[] | undefined): void {
  box.hidden = !standing
  if (!standing) {
    box.replaceChildren()
    return
  }
  const view = part.view
  box.replaceChildren(
    h("p", {}, t("conflictIntro")),
    h(
      "ul",
      {},
      ...standing.map(s => {
        const what = STATUSES.includes(s.value as GoalStatus) ? t(`status.${s.value as GoalStatus}`) : s.value
        return h(
          "li",
          {},
          h("span", {}, t("conflictChoice", { what, who: view.chooserName(s.actor) })),
          h(
            "button",
            { type: "button", onclick: () => P.settleGoalStatus(view.plan, part.id, s.value as GoalStatus) },
            t("conflictKeep", { what })
          )
        )
      })
    )
  )
}

class StepPart implements Part<Step> {
  readonly element: HTMLElement
  readonly #done: HTMLInputElement
  readonly #words: Words
  readonly #who: HTMLSelectElement
  readonly #remove: HTMLButtonElement
  #name = ""

  constructor(goal: GoalPart, id: string) {
    const view = goal.view
    const plan = view.plan
    this.#done = h("input", {
      type: "checkbox",
      onchange: () => P.setStepDone(plan, goal.id, id, this.#done.checked),
    }) as HTMLInputElement
    this.#words = new Words(view, `step-${id}`, true, text => P.setStepText(plan, goal.id, id, text))
    this.#words.control.setAttribute("rows", "1")
    this.#who = h(
      "select",
      { class: "who", onchange: () => P.setStepWho(plan, goal.id, id, this.#who.value as StepWho) },
      ...WHO.map(value => h("option", { value }))
    ) as HTMLSelectElement
    this.#remove = removeButton(() => view.removed(P.removeStep(plan, goal.id, id), t("removedStep", { what: this.#name })))
    this.goal = goal
    this.element = h(
      "li",
      { class: "step", "data-id": id },
      h("div", { class: "step-row" }, h("label", { class: "check" }, this.#done), this.#words.element),
      h("div", { class: "step-row step-meta" }, this.#who, this.#remove)
    )
  }

  readonly goal: GoalPart

  update(step: Step, index: number): void {
    const view = this.goal.view
    const text = P.words(step.text)
    const n = index + 1
    const g = this.goal.index
    this.#name = quoted(text, n)
    this.element.classList.toggle("done", Boolean(step.done))
    if (this.#done.checked !== Boolean(step.done)) this.#done.checked = Boolean(step.done)
    setAttr(this.#done, "aria-label", t("stepDone", { text: text.trim() || t("stepN", { g, n }) }))
    this.#words.update(text, t("stepN", { g, n }))
    const who = P.words(step.who)
    for (const option of this.#who.options) setText(option, view.whoWords(option.value as StepWho))
    if (this.#who.value !== who && (WHO as string[]).includes(who)) this.#who.value = who
    setAttr(this.#who, "aria-label", t("stepWho", { g, n }))
    setAttr(this.#remove, "aria-label", t("removeStep", { what: this.#name }))
  }
}

class SupportPart implements Part<Support> {
  readonly element: HTMLElement
  readonly #words: Words
  readonly #kind: HTMLSelectElement
  readonly #remove: HTMLButtonElement
  #name = ""

  constructor(view: PlanView, id: string) {
    this.#words = new Words(view, `support-${id}`, true, text => P.setSupportName(view.plan, id, text))
    this.#words.control.setAttribute("rows", "1")
    this.#kind = h(
      "select",
      { onchange: () => P.setSupportKind(view.plan, id, this.#kind.value as SupportKind) },
      ...SUPPORT_KINDS.map(value => h("option", { value }, t(`kind.${value}`)))
    ) as HTMLSelectElement
    this.#remove = removeButton(() => view.removed(P.removeItem(view.plan, "supports", id), t("removedSupport", { what: this.#name })))
    this.element = h(
      "li",
      { class: "item", "data-id": id },
      this.#words.element,
      h("div", { class: "item-row" }, this.#kind, this.#remove)
    )
  }

  update(support: Support, index: number): void {
    const n = index + 1
    const name = P.words(support.name)
    this.#name = quoted(name, n)
    this.#words.update(name, t("supportN", { n }))
    const kind = P.words(support.kind)
    if (this.#kind.value !== kind && (SUPPORT_KINDS as string[]).includes(kind)) this.#kind.value = kind
    setAttr(this.#kind, "aria-label", t("supportKindN", { n }))
    setAttr(this.#remove, "aria-label", t("removeSupport", { what: this.#name }))
  }
}

class CheckInPart implements Part<CheckIn> {
  readonly element: HTMLElement
  readonly #meta = h("p", { class: "checkin-meta" })
  readonly #how: Words
  readonly #learned: Words
  readonly #howLabel: HTMLLabelElement
  readonly #learnedLabel: HTMLLabelElement
  readonly #remove: HTMLButtonElement
  #date = ""

  constructor(
    readonly view: PlanView,
    id: string
  ) {
    this.#how = new Words(view, `checkin-how-${id}`, true, text => P.setCheckInWords(view.plan, id, "howItWent", text))
    this.#learned = new Words(view, `checkin-learned-${id}`, true, text =>
      P.setCheckInWords(view.plan, id, "whatWeLearned", text)
    )
    this.#how.control.setAttribute("rows", "2")
    this.#learned.control.setAttribute("rows", "2")
    this.#howLabel = labelFor(this.#how.control)
    this.#learnedLabel = labelFor(this.#learned.control)
    this.#remove = removeButton(() =>
      view.removed(P.removeItem(view.plan, "checkIns", id), t("removedCheckIn", { date: this.#date }))
    )
    this.element = h(
      "li",
      { class: "item", "data-id": id },
      this.#meta,
      h("div", { class: "field" }, this.#howLabel, this.#how.element),
      h("div", { class: "field" }, this.#learnedLabel, this.#learned.element),
      h("div", { class: "item-end" }, this.#remove)
    )
  }

  update(checkIn: CheckIn, index: number): void {
    const n = index + 1
    this.#date = day(P.words(checkIn.date))
    setText(this.#meta, t("checkInMeta", { date: this.#date, name: this.view.nameOf(P.words(checkIn.by)) }))
    setText(this.#howLabel, t("checkInHow", { n }))
    setText(this.#learnedLabel, t("checkInLearned", { n }))
    this.#how.update(P.words(checkIn.howItWent))
    this.#learned.update(P.words(checkIn.whatWeLearned))
    setAttr(this.#remove, "aria-label", t("removeCheckIn", { n, date: this.#date }))
  }
}

class MemberPart implements Part<Member> {
  readonly element = h("li", { class: "member" })
  readonly #words = h("span", {})
  readonly #disabled = h("span", { class: "disabled-note", hidden: true }, ` ${t("accountDisabled")}`)
  #member: Member

  constructor(view: PlanView, member: Member) {
    this.#member = member
    this.element.append(this.#words, this.#disabled)
    if (view.owner && member.role === "supporter") {
      this.element.append(
        h("button", { type: "button", class: "member-remove", onclick: () => void view.removeMember(this.#member) }, t("remove", { name: member.displayName }))
      )
    }
  }

  update(member: Member): void {
    this.#member = member
    setText(this.#words, t(member.role === "owner" ? "memberOwner" : "memberSupporter", { name: member.displayName }))
    this.#disabled.hidden = !member.disabled
  }
}
