// Test harness: starts the real `cairn` binary on a free port with a fresh data folder, talks to
// its REST API, and builds real automerge-repo clients (Repo + WebSocketClientAdapter) that sync
// with its `/sync` endpoint. Everything it starts it also stops, so `node --test` exits.

import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { EventEmitter } from "node:events"
import { mkdtemp, rm } from "node:fs/promises"
import http from "node:http"
import { tmpdir } from "node:os"
import path from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"

import { Repo, cbor } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"

const here = path.dirname(fileURLToPath(import.meta.url))

/** The cairn binary: `CAIRN_BIN`, else the workspace's debug build. */
export const CAIRN_BIN = path.resolve(
  here,
  process.env.CAIRN_BIN || "../../target/debug/cairn"
)

/** How long one wait (a start-up, a sync, a REST poll) may take before the test fails. */
export const WAIT_MS = Number(process.env.CAIRN_INTEROP_WAIT_MS || 10_000)

/** The password every test account gets. */
export const PASSWORD = "a long enough password"

/** Print cairn's own log lines (stderr) while tests run: `CAIRN_INTEROP_VERBOSE=1`. */
const VERBOSE = process.env.CAIRN_INTEROP_VERBOSE === "1"

const LISTENING = /Cairn listening on (http:\/\/127\.0\.0\.1:(\d+))/

// ---------------------------------------------------------------------------------------------
// Waiting

/**
 * Wait until `predicate()` is truthy (it is checked at once, on every event named in `on`, and
 * every `interval` ms), at most `timeout` ms. Resolves with the predicate's value; rejects with
 * an error naming `what` (and whatever `explain()` returns) on time-out.
 */
export function waitFor(
  predicate,
  { what = "condition", timeout = WAIT_MS, interval = 25, on = [], explain } = {}
) {
  return new Promise((resolve, reject) => {
    let done = false
    const started = Date.now()
    const cleanups = []
    const finish = (err, value) => {
      if (done) return
      done = true
      for (const cleanup of cleanups) cleanup()
      if (err) reject(err)
      else resolve(value)
    }
    const check = () => {
      if (done) return
      let value
      try {
        value = predicate()
      } catch (err) {
        finish(err)
        return
      }
      if (value) finish(null, value)
      else if (Date.now() - started >= timeout) {
        let detail = ""
        if (explain) {
          try {
            detail = `: ${explain()}`
          } catch (err) {
            detail = ` (explain failed: ${err})`
          }
        }
        finish(new Error(`timed out after ${timeout} ms waiting for ${what}${detail}`))
      }
    }
    for (const [emitter, event] of on) {
      const listener = () => check()
      emitter.on(event, listener)
      cleanups.push(() => emitter.off(event, listener))
    }
    const timer = setInterval(check, interval)
    cleanups.push(() => clearInterval(timer))
    const deadline = setTimeout(check, timeout + 1)
    cleanups.push(() => clearTimeout(deadline))
    check()
  })
}

/**
 * Poll an async `probe()` every `interval` ms until it resolves to something truthy (for state
 * only the REST API shows, where there is no event to wait on); resolves with that value.
 */
export async function eventually(
  probe,
  { what = "condition", timeout = WAIT_MS, interval = 100 } = {}
) {
  const started = Date.now()
  let last
  for (;;) {
    last = await probe()
    if (last) return last
    if (Date.now() - started >= timeout) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}`)
    }
    await new Promise(resolve => setTimeout(resolve, interval))
  }
}

/** Wait until the handle's document satisfies `predicate(doc)`; resolves with that doc. */
export function waitForDoc(handle, predicate, what = "the document to change") {
  return waitFor(
    () => {
      const doc = handle.isReady() ? handle.doc() : undefined
      return doc !== undefined && predicate(doc) ? doc : undefined
    },
    {
      what,
      on: [[handle, "change"]],
      explain: () =>
        `state ${handle.state}, doc ${JSON.stringify(handle.isReady() ? handle.doc() : null)}`,
    }
  )
}

/** Run `promise` and return `[outcome, elapsed ms]`, outcome being `{value}` or `{error}`. */
export async function timed(promise) {
  const started = performance.now()
  try {
    const value = await promise
    return [{ value }, performance.now() - started]
  } catch (error) {
    return [{ error }, performance.now() - started]
  }
}

// ---------------------------------------------------------------------------------------------
// Clients

/** A storage adapter that keeps chunks in a Map: survives across Repos, like a phone's IndexedDB. */
export class MemoryStorage {
  #chunks = new Map()
  #key = key => key.join("\u0000")

  async load(key) {
    const data = this.#chunks.get(this.#key(key))
    return data ? new Uint8Array(data) : undefined
  }
  async save(key, data) {
    this.#chunks.set(this.#key(key), new Uint8Array(data))
  }
  async remove(key) {
    this.#chunks.delete(this.#key(key))
  }
  async loadRange(prefix) {
    const start = this.#key(prefix)
    const found = []
    for (const [joined, data] of this.#chunks) {
      if (joined === start || joined.startsWith(start + "\u0000") || prefix.length === 0) {
        found.push({ key: joined.split("\u0000"), data: new Uint8Array(data) })
      }
    }
    return found
  }
  async removeRange(prefix) {
    for (const { key } of await this.loadRange(prefix)) this.#chunks.delete(this.#key(key))
  }
}

/**
 * What a client's WebSocket carried: every decoded frame it received and sent, and how often
 * the server dropped it. Emits "received", "sent" and "closed".
 */
export class Wire extends EventEmitter {
  /** @type {any[]} */ received = []
  /** @type {any[]} */ sent = []
  closes = 0
  shutDown = false

  constructor(adapter) {
    super()
    this.adapter = adapter
  }

  /** Received messages of `type` (and for `documentId`, if given). */
  receivedOf(type, documentId) {
    return this.received.filter(
      m => m.type === type && (documentId === undefined || m.documentId === documentId)
    )
  }

  /** Sent messages of `type` (and for `documentId`, if given). */
  sentOf(type, documentId) {
    return this.sent.filter(
      m => m.type === type && (documentId === undefined || m.documentId === documentId)
    )
  }

  /**
   * Wait until a message received after the first `from` ones satisfies `predicate`;
   * resolves with it.
   */
  waitForReceived(predicate, what, from = 0) {
    return waitFor(() => this.received.slice(from).find(predicate), {
      what,
      on: [[this, "received"]],
      explain: () => `received so far: ${this.summary()}`,
    })
  }

  /** A short, content-free list of what came in (types and document ids). */
  summary() {
    return JSON.stringify(
      this.received.map(m => [m.type, m.documentId ?? m.message ?? ""].filter(Boolean))
    )
  }
}

const wires = new WeakMap()

/** The wire tap of a repo made by `newRepoAt`. */
export function wireOf(repo) {
  const wire = wires.get(repo)
  if (!wire) throw new Error("not a repo made by the harness")
  return wire
}

/** A unique, readable peer id. */
export function peerId(label = "peer") {
  return `interop-${label}-${randomBytes(4).toString("hex")}`
}

/**
 * A real automerge-repo client syncing with the WebSocket at `url`: a Repo with one
 * WebSocketClientAdapter, `storage` if given (else none, like an ephemeral tab), and a unique
 * peer id. Its traffic is recorded (see `wireOf`). Close it with `closeRepo`.
 */
export function newRepoAt(url, { storage, label = "client", retryInterval = 2000 } = {}) {
  const adapter = new WebSocketClientAdapter(url, retryInterval)
  const wire = new Wire(adapter)

  // Record every frame in both directions (the adapter's own handlers still run unchanged).
  const receive = adapter.receiveMessage.bind(adapter)
  adapter.receiveMessage = bytes => {
    try {
      const message = cbor.decode(new Uint8Array(bytes))
      wire.received.push(message)
      wire.emit("received", message)
    } catch {
      // the adapter logs undecodable frames itself
    }
    return receive(bytes)
  }
  const send = adapter.send.bind(adapter)
  adapter.send = message => {
    wire.sent.push(message)
    wire.emit("sent", message)
    return send(message)
  }
  adapter.on("peer-disconnected", () => {
    wire.closes += 1
    wire.emit("closed")
  })
  // After shutdown, the adapter must not reconnect: its close handler may already have
  // scheduled a reconnection when the server dropped the socket.
  const connect = adapter.connect.bind(adapter)
  adapter.connect = (...args) => {
    if (!wire.shutDown) connect(...args)
  }

  const repo = new Repo({
    network: [adapter],
    storage,
    peerId: peerId(label),
  })
  wires.set(repo, wire)
  return repo
}

/** Wait until the repo has completed the join/peer handshake with the server. */
export function connected(repo, what = "the WebSocket handshake (join → peer)") {
  return waitFor(() => repo.peers.length > 0, {
    what,
    on: [[repo.networkSubsystem, "peer"]],
    explain: () => `received: ${wires.get(repo)?.summary()}`,
  })
}

/**
 * Shut a repo down cleanly: disconnect its socket (waiting briefly for the close handshake so no
 * socket outlives the test), flush its storage, and cancel pending document look-ups.
 */
export async function closeRepo(repo) {
  const wire = wires.get(repo)
  if (wire?.shutDown) return
  const socket = wire?.adapter.socket
  if (wire) wire.shutDown = true
  // Closing a socket that is still connecting makes `ws` emit "error" after the adapter has
  // removed its listeners; without a listener that would be an uncaught exception.
  socket?.on?.("error", () => {})
  try {
    await repo.shutdown()
  } catch {
    // disconnecting an adapter that never connected throws; nothing is left open then
  }
  for (const handle of Object.values(repo.handles)) {
    if (!["ready", "unavailable", "deleted", "unloaded"].includes(handle.state)) {
      handle.unload()
    }
  }
  if (socket && socket.readyState !== socket.CLOSED) {
    await new Promise(resolve => {
      const timer = setTimeout(() => {
        socket.terminate?.()
        resolve()
      }, 2000)
      socket.once?.("close", () => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP upgrade (to see the status of a refused WebSocket)

/**
 * Attempt a WebSocket upgrade of `url` (http://…) with `headers` and report
 * `{status, body}`: 101 when the server switched protocols, otherwise its HTTP answer.
 */
export function tryUpgrade(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
        ...headers,
      },
      timeout: WAIT_MS,
    })
    request.on("upgrade", (response, socket) => {
      socket.destroy()
      resolve({ status: response.statusCode, body: null })
    })
    request.on("response", response => {
      let text = ""
      response.setEncoding("utf8")
      response.on("data", chunk => (text += chunk))
      response.on("end", () => {
        let body = text
        try {
          body = JSON.parse(text)
        } catch {
          // not JSON
        }
        resolve({ status: response.statusCode, body })
      })
    })
    request.on("timeout", () => request.destroy(new Error(`upgrade of ${url} timed out`)))
    request.on("error", reject)
    request.end()
  })
}

// ---------------------------------------------------------------------------------------------
// The server

/** "maria" → "Maria". */
export function displayName(username) {
  return username.charAt(0).toUpperCase() + username.slice(1)
}

/** A running cairn binary and helpers for its REST API and its `/sync` WebSocket. */
export class Cairn {
  /** @type {import('node:child_process').ChildProcess} */ child
  baseUrl = ""
  port = 0
  dataDir = ""
  log = []
  /** Extra `CAIRN_*` settings given to `start` (kept for `restart`). */
  extraEnv = {}
  #repos = new Set()
  #exited

  /**
   * Start cairn (see the README for the environment it gets) and wait until it listens.
   * `env` adds settings, e.g. `{ CAIRN_COMPACT_AFTER_CHANGES: "25" }`; they apply to restarts too.
   */
  static async start({ env = {} } = {}) {
    const cairn = new Cairn()
    cairn.extraEnv = { ...env }
    await cairn.#start()
    return cairn
  }

  async #start() {
    if (!this.dataDir) this.dataDir = await mkdtemp(path.join(tmpdir(), "cairn-interop-"))
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith("CAIRN_"))
    )
    // Open registration unless a test asks for another mode (`CAIRN_REGISTRATION` in `env`).
    Object.assign(env, { CAIRN_REGISTRATION: "open" }, this.extraEnv, {
      CAIRN_DATA_DIR: this.dataDir,
      CAIRN_LISTEN: "127.0.0.1:0",
      // Every test person signs up from 127.0.0.1; the attempt limits are tested in Rust.
      CAIRN_REGISTRATIONS_PER_ADDRESS_PER_HOUR: "100000",
      RUST_LOG: process.env.RUST_LOG || "info",
    })
    if (process.env.TEST_DATABASE_URL_FOR_INTEROP) {
      env.CAIRN_DATABASE_URL = process.env.TEST_DATABASE_URL_FOR_INTEROP
    }
    const child = spawn(CAIRN_BIN, ["serve"], { env, stdio: ["ignore", "pipe", "pipe"] })
    this.child = child
    this.#exited = new Promise(resolve => child.once("exit", (code, signal) => resolve({ code, signal })))
    const killOnExit = () => child.kill("SIGKILL")
    process.once("exit", killOnExit)
    child.once("exit", () => process.off("exit", killOnExit))

    createInterface({ input: child.stderr }).on("line", line => {
      this.log.push(line)
      if (this.log.length > 400) this.log.shift()
      if (VERBOSE) process.stderr.write(`[cairn] ${line}\n`)
    })
    const stdout = createInterface({ input: child.stdout })

    const address = await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`cairn did not print its address within 30 s${this.#tail()}`)),
        30_000
      )
      child.once("error", err => {
        clearTimeout(timer)
        reject(new Error(`could not start ${CAIRN_BIN}: ${err.message} (set CAIRN_BIN?)`))
      })
      child.once("exit", (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`cairn exited (code ${code}, signal ${signal}) before listening${this.#tail()}`))
      })
      stdout.on("line", line => {
        if (VERBOSE) process.stderr.write(`[cairn stdout] ${line}\n`)
        const match = LISTENING.exec(line)
        if (match) {
          clearTimeout(timer)
          resolve(match)
        }
      })
    }).catch(async err => {
      child.kill("SIGKILL")
      await rm(this.dataDir, { recursive: true, force: true })
      throw err
    })
    this.baseUrl = address[1]
    this.port = Number(address[2])
  }

  /**
   * SIGKILL cairn by its pid (no shutdown of any kind) and wait until it is gone; resolves with
   * `{code, signal}`. The data folder and the database stay; clients are left as they are.
   */
  async kill() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGKILL")
    }
    return this.#exited
  }

  /**
   * Start cairn again on the same data folder and database after `kill` (or after it died). It
   * gets a new port, so `baseUrl`, `port` and `syncUrl` change: clients need new repos. Repos made
   * by `newRepo` for the old instance are shut down first.
   */
  async restart() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      throw new Error("restart: cairn is still running (kill it first)")
    }
    await this.closeRepos()
    this.log.push("---- harness: cairn restarted on the same data ----")
    await this.#start()
  }

  #tail() {
    return this.log.length ? `; its last log lines:\n${this.log.slice(-30).join("\n")}` : ""
  }

  /** `ws://127.0.0.1:PORT/sync?token=…`. */
  syncUrl(token) {
    return `ws://127.0.0.1:${this.port}/sync?token=${encodeURIComponent(token)}`
  }

  /** A real automerge-repo client of `token`'s account (see `newRepoAt`). */
  newRepo(token, options = {}) {
    const repo = newRepoAt(this.syncUrl(token), options)
    this.#repos.add(repo)
    return repo
  }

  /** Shut down every repo made by `newRepo` (safe to call more than once). */
  async closeRepos() {
    const repos = [...this.#repos]
    this.#repos.clear()
    await Promise.all(repos.map(closeRepo))
  }

  /** Close all repos, stop cairn by its pid and delete its data folder. */
  async stop() {
    await this.closeRepos()
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGTERM")
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000)
      await this.#exited
      clearTimeout(timer)
    }
    await rm(this.dataDir, { recursive: true, force: true })
  }

  // ---- REST ----------------------------------------------------------------------------------

  /** Send a request; resolves with `{status, body}` (body parsed as JSON when it is JSON). */
  async request(method, route, { token, body } = {}) {
    const headers = {}
    if (token) headers.authorization = `Bearer ${token}`
    if (body !== undefined) headers["content-type"] = "application/json"
    const response = await fetch(this.baseUrl + route, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(WAIT_MS),
    })
    const text = await response.text()
    let parsed = text
    try {
      parsed = text ? JSON.parse(text) : null
    } catch {
      // not JSON
    }
    return { status: response.status, body: parsed }
  }

  async #expect(status, method, route, options) {
    const answer = await this.request(method, route, options)
    if (answer.status !== status) {
      throw new Error(
        `${method} ${route}: expected ${status}, got ${answer.status}: ${JSON.stringify(answer.body)}`
      )
    }
    return answer.body
  }

  /**
   * Register a member (open registration) under a unique name starting with `username`;
   * resolves with the tokens answer `{accessToken, refreshToken, account: {id, …}, …}`.
   */
  async register(username) {
    const unique = `${username.slice(0, 20)}-${randomBytes(3).toString("hex")}`
    return this.#expect(201, "POST", "/api/v1/auth/register", {
      body: {
        username: unique,
        displayName: displayName(username),
        password: PASSWORD,
        deviceName: "interop test",
      },
    })
  }

  /** Log in again as `username`; resolves with the tokens answer (like `register`). */
  login(username) {
    return this.#expect(200, "POST", "/api/v1/auth/login", {
      body: { username, password: PASSWORD, deviceName: "interop test" },
    })
  }

  /**
   * `GET /api/v1/plans/{id}/changes` (optionally `?since=` hex heads): resolves with
   * `{bytes, heads}`: the concatenated Automerge change bytes and the `X-Automerge-Heads` list.
   */
  async changes(token, planId, since = []) {
    const query = since.length ? `?since=${since.join(",")}` : ""
    const route = `/api/v1/plans/${encodeURIComponent(planId)}/changes${query}`
    const response = await fetch(this.baseUrl + route, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(WAIT_MS),
    })
    const bytes = new Uint8Array(await response.arrayBuffer())
    if (response.status !== 200) {
      throw new Error(`GET ${route}: expected 200, got ${response.status}: ${new TextDecoder().decode(bytes)}`)
    }
    const header = response.headers.get("x-automerge-heads") ?? ""
    return { bytes, heads: header.split(",").filter(Boolean) }
  }

  /** Create a plan; resolves with `{id, documentId, url, title, …}`. */
  createPlan(token, title) {
    return this.#expect(201, "POST", "/api/v1/plans", { token, body: { title } })
  }

  /** Invite a supporter to a plan; resolves with the code. */
  async invite(token, planId) {
    const invitation = await this.#expect(201, "POST", `/api/v1/plans/${planId}/invitations`, {
      token,
      body: {},
    })
    return invitation.code
  }

  /** Accept an invitation. */
  accept(token, code) {
    return this.#expect(200, "POST", `/api/v1/invitations/${encodeURIComponent(code)}/accept`, {
      token,
      body: {},
    })
  }

  /** Invite and accept: `supporter` joins `owner`'s plan. */
  async addSupporter(ownerToken, planId, supporterToken) {
    await this.accept(supporterToken, await this.invite(ownerToken, planId))
  }

  /** Remove a member (the owner removes a supporter, or a supporter leaves). */
  removeMember(token, planId, userId) {
    return this.#expect(204, "DELETE", `/api/v1/plans/${planId}/members/${userId}`, { token })
  }

  /** The caller's plans. */
  listPlans(token) {
    return this.#expect(200, "GET", "/api/v1/plans", { token })
  }

  /** One plan: its metadata and its `document` as JSON. */
  getPlan(token, planId) {
    return this.#expect(200, "GET", `/api/v1/plans/${encodeURIComponent(planId)}`, { token })
  }

  /** The plan's change history (a list of entries). */
  async history(token, planId) {
    const body = await this.#expect(200, "GET", `/api/v1/plans/${planId}/history`, { token })
    return Array.isArray(body) ? body : (body.changes ?? body.entries ?? body.history ?? [])
  }

  /** `GET /sync` as a raw upgrade request; see `tryUpgrade`. */
  tryUpgrade(query = "", headers = {}) {
    return tryUpgrade(`${this.baseUrl}/sync${query}`, headers)
  }
}

/** The author id of a history entry, whichever shape the server chose. */
export function authorIdOf(entry) {
  return entry.author?.id ?? entry.author?.userId ?? entry.authorId ?? entry.author_id
}

/** The author's display name of a history entry, whichever shape the server chose. */
export function authorNameOf(entry) {
  return entry.author?.displayName ?? entry.author?.name ?? entry.authorName
}
