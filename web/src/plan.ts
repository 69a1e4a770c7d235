// Writing the plan document (schema v1, client-schema/plan.schema.json) the way Cairn's own
// writers do: the person's words are Automerge text, edited in place so that two people typing
// at once both keep their words; ids, statuses and dates are plain scalar strings; every list item
// is found by its id, never by its position.
import { Automerge as A, type DocHandle } from "@automerge/automerge-repo/slim"
import type {
  Agreement,
  CheckIn,
  Goal,
  GoalStatus,
  PlanDocument,
  Stance,
  Step,
  StepWho,
  Strength,
  Support,
  SupportKind,
} from "../../client-schema/cairn.ts"

export type Plan = DocHandle<PlanDocument>

const scalar = (value: string) => new A.ImmutableString(value)

/** The skeleton of a plan made on this phone while offline (the server makes all the others). */
export function skeleton(title: string): PlanDocument {
  return {
    schemaVersion: 1,
    title,
    whatMatters: "",
    strengths: [],
    goals: [],
    supports: [],
    checkIns: [],
  }
}

function newId(): string {
  return crypto.randomUUID()
}

function today(): string {
  const now = new Date()
  const local = new Date(now.getTime() - now.getTimezoneOffset() * 60_000)
  return local.toISOString().slice(0, 10)
}

/** A string read from the document, whether it is text or a scalar string. */
export function words(value: unknown): string {
  if (typeof value === "string") return value
  if (value instanceof A.ImmutableString) return value.val
  return value === undefined || value === null ? "" : String(value)
}

/** One value standing on a field, and the Automerge actor whose change wrote it. */
export interface Standing {
  value: string
  actor: string
}

/** The values standing on `key` of `item` when members set it differently at the same time
 * (Automerge keeps them all and shows one): undefined when there is one value, or when every
 * value is the same (two people choosing the same thing agree). Read from this phone's own copy,
 * so it works offline; the same on every device once synced. */
export function conflictsOn(item: unknown, key: string): Standing[] | undefined {
  if (!item || typeof item !== "object") return undefined
  const found = A.getConflicts(item as A.Doc<unknown>, key) as Record<string, unknown> | undefined
  if (!found) return undefined
  const standing = Object.entries(found).map(([opId, value]) => ({ value: words(value), actor: opId.slice(opId.indexOf("@") + 1) }))
  if (standing.length < 2 || standing.every(s => s.value === standing[0].value)) return undefined
  return standing
}

/** The actor this phone writes the plan with now. */
export function ownActor(plan: Plan): string | undefined {
  const doc = plan.isReady() ? plan.doc() : undefined
  return doc ? A.getActorId(doc) : undefined
}

function indexOf<T extends { id: unknown }>(list: T[] | undefined, id: string): number {
  return (list ?? []).findIndex(item => words(item.id) === id)
}

type Path = (string | number)[]

/** Replace the words at `path` (a text field), keeping concurrent edits by others. The path may
 * be a function of the document, so that the item it names is found by its id inside the change.
 * A field that is not text yet (missing, or a plain string another writer used) becomes text. */
export function setWords(plan: Plan, path: Path | ((doc: PlanDocument) => Path | null), value: string): void {
  plan.change(doc => {
    const at = typeof path === "function" ? path(doc) : path
    if (!at) return
    const parent = at.slice(0, -1).reduce<unknown>((node, key) => (node as Record<string | number, unknown>)?.[key], doc)
    if (!parent || typeof parent !== "object") return
    const key = at[at.length - 1]
    const current = (parent as Record<string | number, unknown>)[key]
    if (typeof current === "string") {
      if (current !== value) A.updateText(doc, at, value)
    } else if (words(current) !== value || current === undefined) {
      ;(parent as Record<string | number, unknown>)[key] = value
    }
  })
}

export function setTitle(plan: Plan, title: string): void {
  setWords(plan, ["title"], title)
}

export function setWhatMatters(plan: Plan, text: string): void {
  setWords(plan, ["whatMatters"], text)
}

export function addStrength(plan: Plan, text: string, me: string): void {
  plan.change(doc => {
    doc.strengths ??= []
    doc.strengths.push({ id: scalar(newId()), text, addedBy: scalar(me) } as unknown as Strength)
  })
}

/** Put back something removed a moment ago (the undo of a removal): false if it cannot go back
 * (its goal has gone too, or it is already there). */
export type Restore = () => boolean

type Listed = { id: unknown }
type List = "strengths" | "goals" | "supports" | "checkIns"

/** A plain copy of a document value, to be written again later: text stays text, scalar strings
 * stay scalar. */
function copyOf(value: unknown): unknown {
  if (value instanceof A.ImmutableString) return scalar(value.val)
  if (value instanceof Date) return new Date(value.getTime())
  if (Array.isArray(value)) return value.map(copyOf)
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, copyOf(inner)]))
  }
  return value
}

/** Remove the item with this id from `items` (in a change), returning how to put it back. */
function cut(items: Listed[] | undefined, id: string): { copy: unknown; after: string | null; at: number } | null {
  const at = indexOf(items, id)
  if (!items || at < 0) return null
  const copy = copyOf(items[at])
  const after = at > 0 ? words(items[at - 1].id) : null
  items.splice(at, 1)
  return { copy, after, at }
}

/** Put a cut item back after the item it followed (found by id), or where it was. */
function paste(items: Listed[], id: string, removed: { copy: unknown; after: string | null; at: number }): boolean {
  if (indexOf(items, id) >= 0) return false
  const before = removed.after === null ? -1 : indexOf(items, removed.after)
  const at = removed.after === null ? 0 : before >= 0 ? before + 1 : Math.min(removed.at, items.length)
  items.splice(at, 0, copyOf(removed.copy) as Listed)
  return true
}

/** Remove a strength, goal (with its steps), support or check-in, found by its id. */
export function removeItem(plan: Plan, list: List, id: string): Restore | null {
  let removed: ReturnType<typeof cut> = null
  plan.change(doc => {
    removed = cut(doc[list] as Listed[] | undefined, id)
  })
  const kept = removed as ReturnType<typeof cut>
  if (!kept) return null
  return () => {
    let done = false
    plan.change(doc => {
      ;(doc[list] as unknown as Listed[] | undefined) ??= []
      done = paste(doc[list] as Listed[], id, kept)
    })
    return done
  }
}

/** The path of a list item's field, found by the item's id at the moment of the change. */
function itemPath(doc: PlanDocument, list: List, id: string, field: string): (string | number)[] | null {
  const at = indexOf(doc[list] as Listed[] | undefined, id)
  return at < 0 ? null : [list, at, field]
}

export function setStrengthText(plan: Plan, id: string, text: string): void {
  setWords(plan, doc => itemPath(doc, "strengths", id, "text"), text)
}

export function setSupportName(plan: Plan, id: string, name: string): void {
  setWords(plan, doc => itemPath(doc, "supports", id, "name"), name)
}

export function setSupportKind(plan: Plan, id: string, kind: SupportKind): void {
  plan.change(doc => {
    const support = doc.supports?.[indexOf(doc.supports, id)]
    if (support) (support as unknown as Record<string, unknown>).kind = scalar(kind)
  })
}

export function setCheckInWords(plan: Plan, id: string, field: "howItWent" | "whatWeLearned", text: string): void {
  setWords(plan, doc => itemPath(doc, "checkIns", id, field), text)
}

export function addGoal(plan: Plan, text: string, me: string): void {
  plan.change(doc => {
    doc.goals ??= []
    doc.goals.push({
      id: scalar(newId()),
      text,
      status: scalar("thinking"),
      steps: [],
      createdBy: scalar(me),
      createdAt: scalar(new Date().toISOString()),
      // Every member's stance goes into this one map, made with the goal so that no two
      // members ever make it at once.
      agreement: {},
    } as unknown as Goal)
  })
}

/** The path of a goal's field, found by the goal's id at the moment of the change. */
export function goalPath(doc: PlanDocument, goalId: string, ...rest: (string | number)[]): (string | number)[] | null {
  const at = indexOf(doc.goals, goalId)
  return at < 0 ? null : ["goals", at, ...rest]
}

export function setGoalText(plan: Plan, goalId: string, text: string): void {
  setWords(plan, doc => goalPath(doc, goalId, "text"), text)
}

export function setGoalStatus(plan: Plan, goalId: string, status: GoalStatus): void {
  plan.change(doc => {
    const goal = doc.goals?.[indexOf(doc.goals, goalId)]
    if (goal) (goal as unknown as Record<string, unknown>).status = scalar(status)
  })
}

/** Settle a goal's status set differently at once by keeping `status`. Deleted, then put, in
 * one change: a put of the value Automerge happens to show would be no change at all and leave
 * the other value standing; the delete supersedes every value this phone has seen. */
export function settleGoalStatus(plan: Plan, goalId: string, status: GoalStatus): void {
  plan.change(doc => {
    const goal = doc.goals?.[indexOf(doc.goals, goalId)] as unknown as Record<string, unknown> | undefined
    if (!goal) return
    delete goal.status
    goal.status = scalar(status)
  })
}

export function addStep(plan: Plan, goalId: string, text: string, who: StepWho): void {
  plan.change(doc => {
    const goal = doc.goals?.[indexOf(doc.goals, goalId)]
    if (!goal) return
    goal.steps ??= []
    goal.steps.push({ id: scalar(newId()), text, who: scalar(who), done: false } as unknown as Step)
  })
}

function withStep(plan: Plan, goalId: string, stepId: string, edit: (step: Record<string, unknown>) => void): void {
  plan.change(doc => {
    const goal = doc.goals?.[indexOf(doc.goals, goalId)]
    const step = goal?.steps?.[indexOf(goal.steps, stepId)]
    if (step) edit(step as unknown as Record<string, unknown>)
  })
}

export function setStepDone(plan: Plan, goalId: string, stepId: string, done: boolean): void {
  withStep(plan, goalId, stepId, step => {
    step.done = done
  })
}

export function setStepWho(plan: Plan, goalId: string, stepId: string, who: StepWho): void {
  withStep(plan, goalId, stepId, step => {
    step.who = scalar(who)
  })
}

export function setStepText(plan: Plan, goalId: string, stepId: string, text: string): void {
  setWords(
    plan,
    doc => {
      const goalAt = indexOf(doc.goals, goalId)
      const stepAt = goalAt < 0 ? -1 : indexOf(doc.goals?.[goalAt]?.steps, stepId)
      return stepAt < 0 ? null : ["goals", goalAt, "steps", stepAt, "text"]
    },
    text
  )
}

/** Remove a step, found by its goal's id and its own; returns how to put it back. */
export function removeStep(plan: Plan, goalId: string, stepId: string): Restore | null {
  let removed: ReturnType<typeof cut> = null
  plan.change(doc => {
    const goal = doc.goals?.[indexOf(doc.goals, goalId)]
    removed = cut(goal?.steps as Listed[] | undefined, stepId)
  })
  const kept = removed as ReturnType<typeof cut>
  if (!kept) return null
  return () => {
    let done = false
    plan.change(doc => {
      const goal = doc.goals?.[indexOf(doc.goals, goalId)]
      if (!goal) return
      goal.steps ??= []
      done = paste(goal.steps as unknown as Listed[], stepId, kept)
    })
    return done
  }
}

export function addSupport(plan: Plan, name: string, kind: SupportKind): void {
  plan.change(doc => {
    doc.supports ??= []
    doc.supports.push({ id: scalar(newId()), name, kind: scalar(kind) } as unknown as Support)
  })
}

export function addCheckIn(plan: Plan, howItWent: string, whatWeLearned: string, me: string): void {
  plan.change(doc => {
    doc.checkIns ??= []
    doc.checkIns.push({
      id: scalar(newId()),
      date: scalar(today()),
      by: scalar(me),
      howItWent,
      whatWeLearned,
    } as unknown as CheckIn)
  })
}

/** Where a member stands on a goal: their entry of the goal's `agreement` (schema v1 revision 2,
 * keyed by account id; client-schema/README.md). */
export function stanceOf(goal: Goal, account: string): Agreement | undefined {
  const entry = goal.agreement?.[account]
  return entry && typeof entry === "object" ? entry : undefined
}

/** The `agreement` map of a goal written before revision 2 that two members first marked at
 * once: each made a map and Automerge shows one. Returns every entry still standing (the latest
 * `at` per member) when there are several maps, else undefined. */
function standingEntries(goal: Goal): Record<string, { stance: string; note: string; at: string }> | undefined {
  const found = A.getConflicts(goal as unknown as A.Doc<unknown>, "agreement") as Record<string, unknown> | undefined
  const maps = Object.values(found ?? {}).filter(value => value && typeof value === "object")
  if (maps.length < 2) return undefined
  const entries: Record<string, { stance: string; note: string; at: string }> = {}
  for (const map of maps) {
    for (const [account, entry] of Object.entries(map as Record<string, Record<string, unknown>>)) {
      if (!entry || typeof entry !== "object") continue
      const read = { stance: words(entry.stance), note: words(entry.note), at: words(entry.at) }
      if (!entries[account] || read.at > entries[account].at) entries[account] = read
    }
  }
  return entries
}

/** Mark where this member stands on a goal, with their note (in their own words, kept as
 * Automerge text). Only this member's own entry is written, so two members marking at once both
 * keep theirs; the goal gains its `agreement` map if it was written before there was one. */
export function setAgreement(plan: Plan, goalId: string, me: string, stance: Stance, note: string): void {
  plan.change(doc => {
    const goal = doc.goals?.[indexOf(doc.goals, goalId)]
    if (!goal) return
    const healed = standingEntries(goal)
    if (healed) {
      ;(goal as unknown as Record<string, unknown>).agreement = Object.fromEntries(
        Object.entries(healed).map(([account, e]) => [account, { stance: scalar(e.stance), note: e.note, at: scalar(e.at) }])
      )
    }
    goal.agreement ??= {}
    const at = scalar(new Date().toISOString())
    const entry = goal.agreement[me] as unknown as Record<string, unknown> | undefined
    if (!entry || typeof entry !== "object") {
      ;(goal.agreement as unknown as Record<string, unknown>)[me] = { stance: scalar(stance), note, at }
      return
    }
    entry.stance = scalar(stance)
    entry.at = at
  })
  setAgreementNote(plan, goalId, me, note)
}

/** Change this member's note on a goal, in place (only once they have taken a stance). */
export function setAgreementNote(plan: Plan, goalId: string, me: string, note: string): void {
  setWords(
    plan,
    doc => {
      const at = indexOf(doc.goals, goalId)
      const entry = at < 0 ? undefined : doc.goals?.[at]?.agreement?.[me]
      return entry && typeof entry === "object" ? ["goals", at, "agreement", me, "note"] : null
    },
    note
  )
}
