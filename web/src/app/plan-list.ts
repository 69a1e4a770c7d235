// The plans this account has on this phone: what the plan list shows (titles, roles, the other
// members' names) without loading any plan. It needs no Automerge, so the list is on screen
// before the WebAssembly that opens plans has arrived.
import type { AutomergeUrl } from "@automerge/automerge-repo/slim"
import type { PlanRole, PlanSummary } from "../../../client-schema/cairn.ts"

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
}

export class PlanList {
  readonly #key: string
  readonly #listeners = new Set<() => void>()

  constructor(readonly userId: string) {
    this.#key = `cairn.plans.${userId}`
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
    try {
      return JSON.parse(localStorage.getItem(this.#key) ?? "[]") as LocalPlan[]
    } catch {
      return []
    }
  }

  find(documentId: string): LocalPlan | undefined {
    return this.plans().find(plan => plan.documentId === documentId)
  }

  save(plans: LocalPlan[]): void {
    localStorage.setItem(this.#key, JSON.stringify(plans))
    this.changed()
  }

  remember(plan: LocalPlan): void {
    const others = this.plans().filter(p => p.documentId !== plan.documentId)
    this.save([plan, ...others])
  }

  forget(documentId: string): void {
    this.save(this.plans().filter(p => p.documentId !== documentId))
  }

  /** Sign-out: nothing of the list stays on the phone. */
  erase(): void {
    localStorage.removeItem(this.#key)
    this.changed()
  }
}

export function fromSummary(plan: PlanSummary, me: string): LocalPlan {
  return {
    url: plan.url as AutomergeUrl,
    documentId: plan.documentId,
    id: plan.id,
    title: plan.title,
    role: plan.role,
    with: plan.members.filter(member => member.userId !== me).map(member => member.displayName),
    confirmed: true,
  }
}
