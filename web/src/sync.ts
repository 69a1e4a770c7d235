// Plans on this phone: an automerge-repo Repo keeping every plan in IndexedDB, synced with Cairn
// over its WebSocket whenever the phone is online. Knows whether each plan is only "saved on this
// phone" or "synced" with the server. This module (and Automerge's WebAssembly) is loaded after
// the first screen is drawn: signing in and the plan list never wait for it.
import {
  Repo,
  initializeWasm,
  type AutomergeUrl,
  type DocHandle,
  type StorageId,
} from "@automerge/automerge-repo/slim"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import { IndexedDBStorageAdapter } from "@automerge/automerge-repo-storage-indexeddb"
import wasmUrl from "@automerge/automerge/automerge.wasm?url"
import type { PlanDocument, PlanSummary } from "../../client-schema/cairn.ts"
import { fromSummary, type LocalPlan, type PlanList } from "./app/plan-list.ts"

let wasm: Promise<void> | null = null

/** Load automerge's WebAssembly once (a hashed file the service worker keeps offline). */
export function loadAutomerge(): Promise<void> {
  wasm ??= initializeWasm(wasmUrl)
  return wasm
}

export type SyncState = "offline" | "connecting" | "online"

export class PlanStore {
  readonly repo: Repo
  readonly #storage: IndexedDBStorageAdapter
  #adapter: WebSocketClientAdapter | null = null
  #listeners = new Set<() => void>()
  readonly #databaseName: string

  constructor(
    readonly userId: string,
    readonly list: PlanList
  ) {
    this.#databaseName = `cairn-${userId}`
    this.#storage = new IndexedDBStorageAdapter(this.#databaseName)
    this.repo = new Repo({
      storage: this.#storage,
      network: [],
      peerId: `pwa-${userId}-${crypto.randomUUID()}` as never,
      sharePolicy: async () => true,
      // Save each change to IndexedDB at once (the default waits 100 ms): a phone closed right
      // after an edit made offline must still have it.
      saveDebounceRate: 0,
    })
    this.repo.networkSubsystem.on("peer", () => this.changed())
    this.repo.networkSubsystem.on("peer-disconnected", () => this.changed())
  }

  /** Call `listener` whenever the connection or the list of plans changes. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  changed(): void {
    for (const listener of this.#listeners) listener()
  }

  /** Connect to Cairn's sync socket with this access token (browsers send it in the query). */
  connect(accessToken: string): void {
    const url = socketUrl(accessToken)
    if (this.#adapter) {
      // The adapter reconnects by itself; a fresh token is used from its next attempt on.
      ;(this.#adapter as { url: string }).url = url
      return
    }
    this.#adapter = new WebSocketClientAdapter(url, 3000)
    this.repo.networkSubsystem.addNetworkAdapter(this.#adapter)
    this.changed()
  }

  /** Stop syncing (the phone went offline, or the account signed out). */
  disconnect(): void {
    if (this.#adapter) {
      this.repo.networkSubsystem.removeNetworkAdapter(this.#adapter)
      this.#adapter = null
    }
    this.changed()
  }

  get state(): SyncState {
    if (!this.#adapter) return "offline"
    return this.repo.peers.length > 0 ? "online" : "connecting"
  }

  /** The storage id the server announced: its heads for a plan say what it has stored. */
  serverStorageId(): StorageId | undefined {
    for (const peer of this.repo.peers) {
      const storageId = this.repo.getStorageIdOfPeer(peer)
      if (storageId) return storageId
    }
    return undefined
  }

  /** Whether every change of the plan on this phone is stored by the server too. */
  isSynced(handle: DocHandle<PlanDocument>): boolean {
    const storageId = this.serverStorageId()
    if (!storageId || this.state !== "online" || !handle.isReady()) return false
    const theirs = handle.getSyncInfo(storageId)?.lastHeads
    if (!theirs) return false
    const ours = handle.heads()
    return ours.length === theirs.length && ours.every(head => theirs.includes(head))
  }

  /**
   * Bring the list in line with the server's: new plans are added, and a plan the server no
   * longer lists for this account (its owner removed us, or deleted it) is wiped from this
   * phone. Returns the titles of the plans wiped.
   */
  async reconcile(server: PlanSummary[], me: string): Promise<string[]> {
    const listed = new Map(server.map(plan => [plan.documentId, plan]))
    const wiped: string[] = []
    const kept: LocalPlan[] = []
    for (const plan of this.list.plans()) {
      if (listed.has(plan.documentId) || !plan.confirmed) {
        kept.push(plan)
        continue
      }
      wiped.push(plan.title)
      await this.wipe(plan.url)
    }
    const known = new Set(kept.map(plan => plan.documentId))
    for (const plan of server) {
      if (!known.has(plan.documentId)) kept.push(fromSummary(plan, me))
    }
    this.list.save(
      kept.map(plan => {
        const summary = listed.get(plan.documentId)
        return summary ? fromSummary(summary, me, plan) : plan
      })
    )
    return wiped
  }

  /** Delete a plan's copy from this phone: from memory at once, and every stored byte of it
   * from IndexedDB, again once a save that was already on its way has landed. */
  async wipe(url: AutomergeUrl): Promise<void> {
    const documentId = url.replace("automerge:", "")
    this.repo.delete(url)
    await this.#storage.removeRange([documentId])
    await new Promise(resolve => setTimeout(resolve, 1_000))
    await this.#storage.removeRange([documentId])
  }

  /** Sign-out: stop syncing and delete every plan of this account from this phone. */
  async erase(): Promise<void> {
    this.disconnect()
    await this.repo.shutdown().catch(() => undefined)
    this.list.erase()
    // Close this phone's connection to the database first: a deletion waits for every open
    // connection, and the next account to sign in on this tab would wait behind it for ever.
    const db = await (this.#storage as unknown as { dbPromise: Promise<IDBDatabase> }).dbPromise.catch(() => null)
    db?.close()
    await new Promise<void>(resolve => {
      const request = indexedDB.deleteDatabase(this.#databaseName)
      request.onsuccess = request.onerror = request.onblocked = () => resolve()
    })
  }
}

function socketUrl(accessToken: string): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:"
  return `${scheme}//${location.host}/sync?token=${encodeURIComponent(accessToken)}`
}
