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
}

export class PlanList {
  readonly #name: string
  readonly #listeners = new Set<() => void>()
  #plans: LocalPlan[] = []
  #saving: Promise<void> = Promise.resolve()

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
        if (list.#plans.length === 0) list.save(JSON.parse(old) as LocalPlan[])
        await list.written()
        localStorage.removeItem(oldKey)
      }
    } catch {
      // nothing readable there
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

  find(documentId: string): LocalPlan | undefined {
    return this.#plans.find(plan => plan.documentId === documentId)
  }

  save(plans: LocalPlan[]): void {
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
