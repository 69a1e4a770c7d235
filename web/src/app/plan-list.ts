// The plans this account has on this phone: what the plan list shows (titles, roles, the other
// members' names) without loading any plan. It needs no Automerge, so the list is on screen
// before the WebAssembly that opens plans has arrived. Kept sealed in the vault (app/vault.ts).
import type { AutomergeUrl } from "@automerge/automerge-repo/slim"
import type { PlanRole, PlanSummary } from "../../../client-schema/cairn.ts"
import { deleteSecret, getSecret, putSecret } from "./vault.ts"

/** What this phone remembers of a plan between visits (its content is in IndexedDB). */
export interface LocalPlan {
  url: AutomergeUrl
  documentId: string
  /** The plan id for the REST API: the document id works there too. */
  id: string
  title: string
  role: PlanRole
  /** The other members' names, as last seen. */
  with: string[]
  /** Whether the server has listed it for this account (a plan made offline is not, yet). */
  confirmed: boolean
  /** When the plan was started (the server's time; this phone's for a plan made offline). */
  createdAt?: string
  /** When the server last took a change to the plan, as last heard (kept for offline use). */
  lastChangedAt?: string
  /** The plan's `lastChangedAt` as it was when this phone last looked at the plan: a later
   * change is one "since you last looked". */
  seenChangedAt?: string
}

/** When a plan last had something happen: its last change, else its start. */
export function activity(plan: LocalPlan): number {
  return Date.parse(plan.lastChangedAt ?? plan.createdAt ?? "") || 0
}

/** Whether the plan changed after this phone last looked at it. */
export function changedSinceLooked(plan: LocalPlan): boolean {
  if (!plan.lastChangedAt || !plan.seenChangedAt) return false
  return Date.parse(plan.lastChangedAt) > Date.parse(plan.seenChangedAt)
}

export class PlanList {
  readonly #name: string
  readonly #listeners = new Set<() => void>()
  #plans: LocalPlan[] = []
  #saving: Promise<void> = Promise.resolve()
  /** The plan open on screen now: everything in it is seen. */
  #looking: string | null = null

  private constructor(readonly userId: string) {
    this.#name = `plans.${userId}`
  }

  /**
   * The list as this phone keeps it: sealed in the vault (titles and supporters' names are
   * personal), read once here and held in memory. An older version's plain-text list in
   * localStorage moves into the vault and leaves localStorage.
   */
  static async open(userId: string): Promise<PlanList> {
    const list = new PlanList(userId)
    list.#plans = (await getSecret<LocalPlan[]>(list.#name)) ?? []
    const oldKey = `cairn.plans.${userId}`
    try {
      const old = localStorage.getItem(oldKey)
      if (old) {
        if (list.#plans.length === 0) {
          const plans = JSON.parse(old) as LocalPlan[]
          // Written here rather than through `save`, so that a write that fails is seen: the old
          // list then stays in localStorage for the next start.
          await putSecret(list.#name, plans)
          list.#plans = plans
        }
        localStorage.removeItem(oldKey)
      }
    } catch (err) {
      // Nothing readable there, or the vault could not keep it (it stays where it was).
      console.warn("the plan list could not be moved into the vault", err)
    }
    return list
  }

  /** Call `listener` whenever the list changes. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  changed(): void {
    for (const listener of this.#listeners) listener()
  }

  plans(): LocalPlan[] {
    return [...this.#plans]
  }

  /** The plans by recent activity: the one changed last comes first. */
  byActivity(): LocalPlan[] {
    return this.plans().sort((a, b) => activity(b) - activity(a))
  }

  /** The plan now on screen (null: none). Returns the plan that was on screen until now, if it
   * was another, so the caller can mark it seen once the server's list is fresh. */
  looking(documentId: string | null): string | null {
    const before = this.#looking
    this.#looking = documentId
    if (documentId) this.looked(documentId)
    return before && before !== documentId ? before : null
  }

  /** This phone has seen everything in the plan up to its last known change. */
  looked(documentId: string): void {
    const plans = this.plans()
    const plan = plans.find(p => p.documentId === documentId)
    if (!plan || plan.seenChangedAt === plan.lastChangedAt) return
    plan.seenChangedAt = plan.lastChangedAt
    this.save(plans)
  }

  find(documentId: string): LocalPlan | undefined {
    return this.#plans.find(plan => plan.documentId === documentId)
  }

  save(plans: LocalPlan[]): void {
    for (const plan of plans) {
      if (plan.documentId === this.#looking) plan.seenChangedAt = plan.lastChangedAt
    }
    this.#plans = [...plans]
    const copy = this.#plans
    this.#saving = this.#saving
      .then(() => putSecret(this.#name, copy))
      .catch(err => console.warn("the plan list could not be kept", err))
    this.changed()
  }

  /** Wait until the list is written to the vault. */
  written(): Promise<void> {
    return this.#saving
  }

  remember(plan: LocalPlan): void {
    const others = this.#plans.filter(p => p.documentId !== plan.documentId)
    this.save([plan, ...others])
  }

  forget(documentId: string): void {
    this.save(this.#plans.filter(p => p.documentId !== documentId))
  }

  /** Sign-out: nothing of the list stays on the phone. */
  async erase(): Promise<void> {
    this.#plans = []
    await this.#saving
    await deleteSecret(this.#name).catch(() => undefined)
    try {
      localStorage.removeItem(`cairn.plans.${this.userId}`)
    } catch {
      // nothing to remove
    }
    this.changed()
  }
}

/** The list's record of a plan the server listed. `before`: this phone's record of it until now
 * (what it remembers of its own: when it last looked). A plan seen for the first time counts as
 * looked at: only what changes after that is news. */
export function fromSummary(plan: PlanSummary, me: string, before?: LocalPlan): LocalPlan {
  // An older server sends no `lastChangedAt`; a plan with no stored change has it null.
  const lastChangedAt = plan.lastChangedAt ?? before?.lastChangedAt
  // This account's own change is no news to it (made offline, it may reach the server later).
  const mine = plan.lastChangedBy === me
  return {
    url: plan.url as AutomergeUrl,
    documentId: plan.documentId,
    id: plan.id,
    title: plan.title,
    role: plan.role,
    with: plan.members.filter(member => member.userId !== me).map(member => member.displayName),
    confirmed: true,
    createdAt: plan.createdAt,
    lastChangedAt,
    seenChangedAt: before && !mine ? (before.seenChangedAt ?? lastChangedAt) : lastChangedAt,
  }
}
