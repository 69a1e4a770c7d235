// Writing the plan document (schema v1, client-schema/plan.schema.json) the way Cairn's own
// writers do: the person's words are Automerge text, edited in place so that two people typing
// at once both keep their words; ids, statuses and dates are plain scalar strings; every list item
// is found by its id, never by its position.
import { Automerge as A, type DocHandle } from "@automerge/automerge-repo/slim"
import type {
  CheckIn,
  Goal,
  GoalStatus,
  PlanDocument,
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

function indexOf<T extends { id: unknown }>(list: T[] | undefined, id: string): number {
  return (list ?? []).findIndex(item => words(item.id) === id)
}

/** Replace the words at `path` (a text field), keeping concurrent edits by others. */
export function setWords(plan: Plan, path: (string | number)[], value: string): void {
  plan.change(doc => {
    const current = words(path.reduce<unknown>((node, key) => (node as Record<string | number, unknown>)?.[key], doc))
    if (current !== value) A.updateText(doc, path, value)
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

export function removeItem(plan: Plan, list: "strengths" | "goals" | "supports" | "checkIns", id: string): void {
  plan.change(doc => {
    const items = doc[list] as { id: unknown }[] | undefined
    const at = indexOf(items, id)
    if (items && at >= 0) items.splice(at, 1)
  })
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
    } as unknown as Goal)
  })
}

/** The path of a goal's field, found by the goal's id at the moment of the change. */
export function goalPath(doc: PlanDocument, goalId: string, ...rest: (string | number)[]): (string | number)[] | null {
  const at = indexOf(doc.goals, goalId)
  return at < 0 ? null : ["goals", at, ...rest]
}

export function setGoalText(plan: Plan, goalId: string, text: string): void {
  const path = goalPath(plan.doc(), goalId, "text")
  if (path) setWords(plan, path, text)
}

export function setGoalStatus(plan: Plan, goalId: string, status: GoalStatus): void {
  plan.change(doc => {
    const goal = doc.goals?.[indexOf(doc.goals, goalId)]
    if (goal) (goal as unknown as Record<string, unknown>).status = scalar(status)
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

export function removeStep(plan: Plan, goalId: string, stepId: string): void {
  plan.change(doc => {
    const goal = doc.goals?.[indexOf(doc.goals, goalId)]
    const at = indexOf(goal?.steps, stepId)
    if (goal?.steps && at >= 0) goal.steps.splice(at, 1)
  })
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
