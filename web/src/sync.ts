// Plans on this phone: an automerge-repo Repo keeping every plan in IndexedDB, synced with Cairn
// over its WebSocket whenever the phone is online. Knows whether each plan is only "saved on this
// phone" or "synced" with the server. This module (and Automerge's WebAssembly) is loaded after
// the first screen is drawn: signing in and the plan list never wait for it.
import {
  Automerge,
  Repo,
  initializeWasm,
  type AutomergeUrl,
  type Chunk,
  type DocHandle,
  type DocumentId,
  type StorageAdapterInterface,
  type StorageId,
  type StorageKey,
} from "@automerge/automerge-repo/slim"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import { IndexedDBStorageAdapter } from "@automerge/automerge-repo-storage-indexeddb"
import type { PlanDocument, PlanSummary } from "../../client-schema/cairn.ts"
import { fromSummary, type LocalPlan, type PlanList } from "./app/plan-list.ts"
import { deleteDatabase, getPlain, isSealed, putPlain, seal, unseal } from "./app/vault.ts"

let wasm: Promise<void> | null = null

/** Start Automerge once, on its WebAssembly already compiled (see the shell's compileAutomerge). */
export function loadAutomerge(compiled: WebAssembly.Module): Promise<void> {
  // initializeWasm hands this to wasm-bindgen's init, which takes a compiled module as well (the
  // declared type names only bytes, a request and a URL).
  wasm ??= initializeWasm(compiled as unknown as Uint8Array)
  return wasm
}

export type SyncState = "offline" | "connecting" | "online"

/**
 * automerge-repo's IndexedDB storage with every value encrypted (AES-GCM, app/vault.ts's data
 * key), bound to its key. Keys stay as automerge-repo makes them: a document id, a chunk kind and
 * a hash or a storage id; no plan text. While the app is locked the key is not in memory and
 * nothing can be read or written.
 */
class SealedStorage implements StorageAdapterInterface {
  /**
   * Plans wiped from this phone while this store was open. automerge-repo 2.5.6 forgets a deleted
   * document's bytes but not which heads it last saved, so if the plan comes back (its owner
   * invites this account again) its next save would hold only the changes since those heads, and
   * the plan would not open from this phone. The first save of such a plan writes it whole.
   */
  readonly wiped = new Set<string>()
  /** The whole plan as it is in memory now (set by the store). */
  wholePlan: (documentId: string) => Uint8Array | undefined = () => undefined

  constructor(readonly inner: IndexedDBStorageAdapter) {}

  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    const stored = await this.inner.load(key)
    return stored && this.#open(key, stored)
  }

  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    const [documentId, kind] = key
    // (A save still on its way from before the wipe finds no plan in memory: the flag stays.)
    if (kind === "snapshot" && this.wiped.has(documentId) && this.wholePlan(documentId)) this.wiped.delete(documentId)
    if (kind === "incremental" && this.wiped.has(documentId)) {
      const whole = this.wholePlan(documentId)
      if (whole) {
        const snapshot = [documentId, "snapshot", `whole-${crypto.randomUUID()}`]
        await this.inner.save(snapshot, await seal(whole, context(snapshot)))
        this.wiped.delete(documentId)
      }
    }
    await this.inner.save(key, await seal(data, context(key)))
  }

  remove(key: StorageKey): Promise<void> {
    return this.inner.remove(key)
  }

  async loadRange(keyPrefix: StorageKey): Promise<Chunk[]> {
    const chunks = await this.inner.loadRange(keyPrefix)
    return Promise.all(chunks.map(async chunk => ({ key: chunk.key, data: chunk.data && (await this.#open(chunk.key, chunk.data)) })))
  }

  removeRange(keyPrefix: StorageKey): Promise<void> {
    return this.inner.removeRange(keyPrefix)
  }

  #open(key: StorageKey, stored: Uint8Array): Promise<Uint8Array> {
    // (Plain values from before encryption are sealed at start: `sealPlainText`.)
    return isSealed(stored) ? unseal(stored, context(key)) : Promise.resolve(stored)
  }

  database(): Promise<IDBDatabase> {
    return (this.inner as unknown as { dbPromise: Promise<IDBDatabase> }).dbPromise
  }
}

function context(key: StorageKey): string {
  return `automerge:${JSON.stringify(key)}`
}

/**
 * A phone that kept plans before they were encrypted: every plain value is sealed where it lies,
 * once. Nothing is wiped: an edit made offline and not yet synced is kept (re-encrypted), which a
 * "wipe and sync again" could lose.
 */
async function sealPlainText(storage: SealedStorage, userId: string): Promise<void> {
  if (await getPlain<boolean>(`sealed.${userId}`)) return
  const db = await storage.database()
  const records = await new Promise<{ key: StorageKey; binary: Uint8Array }[]>((resolve, reject) => {
    const request = db.transaction("documents").objectStore("documents").getAll()
    request.onsuccess = () => resolve(request.result as { key: StorageKey; binary: Uint8Array }[])
    request.onerror = () => reject(request.error)
  })
  const plain = records.filter(record => record.binary instanceof Uint8Array && !isSealed(record.binary))
  const sealed = await Promise.all(plain.map(async record => ({ key: record.key, binary: await seal(record.binary, context(record.key)) })))
  if (sealed.length > 0) {
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction("documents", "readwrite")
      for (const record of sealed) tx.objectStore("documents").put(record, record.key)
      tx.oncomplete = () => resolve()
      tx.onerror = () => reject(tx.error)
    })
  }
  await putPlain(`sealed.${userId}`, true)
}

export class PlanStore {
  readonly repo: Repo
  readonly #storage: SealedStorage
  #adapter: WebSocketClientAdapter | null = null
  #listeners = new Set<() => void>()
  readonly #databaseName: string

  /** The plans of this account on this phone (the vault must be open). */
  static async open(userId: string, list: PlanList): Promise<PlanStore> {
    const storage = new SealedStorage(new IndexedDBStorageAdapter(`cairn-${userId}`))
    await sealPlainText(storage, userId)
    return new PlanStore(userId, list, storage)
  }

  private constructor(
    readonly userId: string,
    readonly list: PlanList,
    storage: SealedStorage
  ) {
    this.#databaseName = `cairn-${userId}`
    this.#storage = storage
    storage.wholePlan = documentId => {
      const handle = this.repo.handles[documentId as DocumentId]
      return handle?.isReady() ? Automerge.save(handle.doc()) : undefined
    }
    this.repo = new Repo({
      storage: this.#storage,
      network: [],
      peerId: `pwa-${userId}-${crypto.randomUUID()}` as never,
      sharePolicy: async () => true,
      // Save each change to IndexedDB at once (the default waits 100 ms): a phone closed right
      // after an edit made offline must still have it.
      saveDebounceRate: 0,
    })
    this.repo.networkSubsystem.on("peer", () => {
      // Remember the server's storage id: offline, its saved sync state says what it has.
      const storageId = this.serverStorageId()
      if (storageId) void putPlain("server-storage-id", storageId)
      this.changed()
    })
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
   * The plans on this phone with changes the server does not have yet (every plan of the list,
   * not only the open one). Online, from what the server said while syncing; offline, from the
   * sync state saved when it last synced. A plan never synced counts as not synced.
   */
  async unsyncedPlans(): Promise<LocalPlan[]> {
    const unsynced: LocalPlan[] = []
    const storageId = this.serverStorageId() ?? (await getPlain<StorageId>("server-storage-id"))
    for (const plan of this.list.plans()) {
      const handle = await within(this.find(plan.url), 3_000)
      if (!handle || !handle.isReady()) continue // not on this phone: nothing of it to lose
      if (this.isSynced(handle)) continue
      const heads = Automerge.getHeads(handle.doc())
      if (heads.length === 0) continue // nothing written in it
      const saved = storageId ? await this.#storage.load([plan.documentId, "sync-state", storageId]).catch(() => undefined) : undefined
      const shared = saved ? Automerge.decodeSyncState(saved).sharedHeads : []
      if (!(shared.length === heads.length && heads.every(head => shared.includes(head)))) unsynced.push(plan)
    }
    return unsynced
  }

  /** Lock: write everything, stop syncing, and let go of the database (nothing stays in memory
   * that the page could show). The store cannot be used again; unlocking opens a new one. */
  async close(): Promise<void> {
    await this.repo.flush().catch(() => undefined)
    this.disconnect()
    await this.repo.shutdown().catch(() => undefined)
    const db = await this.#storage.database().catch(() => null)
    db?.close()
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

  /**
   * Open a plan on this phone. A plan wiped earlier in this visit and now back (its owner invited
   * this account again) is first forgotten once more: automerge-repo remembers the server's
   * "unavailable" answer for it, and would otherwise never ask the server for it again.
   */
  find(url: AutomergeUrl): Promise<DocHandle<PlanDocument>> {
    const documentId = url.replace("automerge:", "")
    if (this.#storage.wiped.has(documentId) && this.repo.handles[documentId as DocumentId]?.state !== "ready") {
      this.repo.delete(url)
    }
    return this.repo.find<PlanDocument>(url)
  }

  /** Delete a plan's copy from this phone: from memory at once, and every stored byte of it
   * from IndexedDB, again once a save that was already on its way has landed. */
  async wipe(url: AutomergeUrl): Promise<void> {
    const documentId = url.replace("automerge:", "")
    this.#storage.wiped.add(documentId)
    this.repo.delete(url)
    await this.#storage.removeRange([documentId])
    await new Promise(resolve => setTimeout(resolve, 1_000))
    await this.#storage.removeRange([documentId])
  }

  /** Sign-out: stop syncing and delete every plan of this account from this phone. */
  async erase(): Promise<void> {
    this.disconnect()
    await this.repo.shutdown().catch(() => undefined)
    await this.list.erase()
    // Close this phone's connection to the database first: a deletion waits for every open
    // connection, and the next account to sign in on this tab would wait behind it for ever.
    const db = await this.#storage.database().catch(() => null)
    db?.close()
    await deleteDatabase(this.#databaseName)
  }
}

/** The promise's value, or undefined if it takes longer than `ms` or fails. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([promise.catch(() => undefined), new Promise<undefined>(resolve => setTimeout(() => resolve(undefined), ms))])
}

function socketUrl(accessToken: string): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:"
  return `${scheme}//${location.host}/sync?token=${encodeURIComponent(accessToken)}`
}
