// Nothing acknowledged is lost, with the real JavaScript client: three automerge-repo clients
// (owner and two supporters) stream edits into one plan through the real `cairn` binary, which
// is SIGKILLed in the middle. After a restart on the same data folder and database, every change
// that any client saw covered by heads the server sent is stored, and the clients, reconnecting
// with their own copies (unacknowledged edits included), re-converge with the server.
//
// "Acknowledged" is read off the wire: every `sync` message the server sends a client about the
// plan carries the server's heads (`Automerge.decodeSyncMessage(data).heads`). A client's own
// change is acknowledged once it is one of those heads or an ancestor of them.

import assert from "node:assert/strict"
import { after, before, test } from "node:test"

import * as Automerge from "@automerge/automerge"

import { Cairn, MemoryStorage, closeRepo, connected, eventually, waitFor, wireOf } from "./harness.mjs"

/** Kill the server once the clients hold at least this many acknowledged changes in all. */
const ACKNOWLEDGED_BEFORE_KILL = 60
/** Compact often, so the kill can land near a compaction (as in server/tests/durability.rs). */
const COMPACT_AFTER_CHANGES = 25
/** Keep editing this long after the kill: edits the server never saw. */
const OFFLINE_EDITING_MS = 300

/** @type {Cairn} */
let cairn

before(async () => {
  cairn = await Cairn.start({
    env: {
      CAIRN_COMPACT_AFTER_CHANGES: String(COMPACT_AFTER_CHANGES),
      // Each client edits every 4-12 ms, faster than any person types: above the default flood
      // limit (100 messages a second), which would cut the stream off. This test is about
      // durability, not floods (those are tested in the Rust suite).
      CAIRN_MAX_MESSAGES_PER_SECOND: "1000",
    },
  })
})

after(async () => {
  await cairn?.stop()
})

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const sorted = heads => [...heads].sort()
const same = (a, b) => JSON.stringify(sorted(a)) === JSON.stringify(sorted(b))

/**
 * The hashes in `candidates` that are among `heads` or their ancestors in `doc` (which must hold
 * all of `heads`): everything in `doc` minus what came after `heads`.
 */
function coveredBy(doc, heads, candidates) {
  const later = new Set(Automerge.getChangesMetaSince(doc, heads).map(change => change.hash))
  return candidates.filter(hash => !later.has(hash))
}

/** One member's client: a repo with its own storage, the plan open, and what the server acked. */
class Editor {
  /** Own change hashes, in the order they were made. */
  made = []
  /** Every non-empty heads list the server sent this client about the plan, in order. */
  serverHeads = []
  /** Own change hashes seen covered by server heads, while streaming. */
  acknowledged = new Set()
  #checked = 0

  constructor(label, account, documentId) {
    this.label = label
    this.account = account
    this.documentId = documentId
    this.storage = new MemoryStorage()
  }

  /** Connect to the running cairn and open the plan; records the server's heads from the start. */
  async open(url, token) {
    this.repo = cairn.newRepo(token, { label: this.label, storage: this.storage })
    this.wire = wireOf(this.repo)
    this.wire.on("received", message => {
      if (message.type !== "sync" || message.documentId !== this.documentId) return
      const { heads } = Automerge.decodeSyncMessage(message.data)
      if (heads.length > 0) this.serverHeads.push(heads)
    })
    await connected(this.repo)
    this.handle = await this.repo.find(url)
    return this.handle
  }

  /** One small edit: a new strength at the end of the list. */
  edit(n) {
    this.handle.change(doc => {
      doc.strengths.push({ id: `${this.label}-${n}`, text: `note ${n} from ${this.label}` })
    })
    const change = Automerge.getLastLocalChange(this.handle.doc())
    this.made.push(Automerge.decodeChange(change).hash)
  }

  /**
   * Check the server heads not checked yet against this client's document; heads it does not
   * hold yet (another client's change still on its way here) are checked again later.
   */
  checkAcknowledged() {
    const doc = this.handle.doc()
    while (this.#checked < this.serverHeads.length) {
      const heads = this.serverHeads[this.#checked]
      if (!Automerge.hasHeads(doc, heads)) break
      const pending = this.made.filter(hash => !this.acknowledged.has(hash))
      for (const hash of coveredBy(doc, heads, pending)) this.acknowledged.add(hash)
      this.#checked += 1
    }
  }

  /** Edit every few ms until `stop.now`, checking acknowledgements as it goes. */
  async stream(stop) {
    for (let n = 0; !stop.now; n++) {
      this.edit(n)
      this.checkAcknowledged()
      await sleep(4 + Math.floor(Math.random() * 8))
    }
  }
}

test("SIGKILL mid-stream: nothing acknowledged is lost, and the clients re-converge", { timeout: 60_000 }, async t => {
  // ---- an owner, two supporters, one plan ----------------------------------------------------
  const owner = await cairn.register("owner")
  const plan = await cairn.createPlan(owner.accessToken, "Stream of small edits")
  const members = [["owner", owner]]
  for (const name of ["sup-a", "sup-b"]) {
    const supporter = await cairn.register(name)
    await cairn.addSupporter(owner.accessToken, plan.id, supporter.accessToken)
    members.push([name, supporter])
  }
  const editors = members.map(([label, account]) => new Editor(label, account, plan.documentId))
  for (const editor of editors) await editor.open(plan.url, editor.account.accessToken)

  // ---- stream edits from all three, concurrently; SIGKILL once enough are acknowledged -------
  const stop = { now: false }
  const streams = editors.map(editor => editor.stream(stop))
  const acknowledgedSoFar = () => editors.reduce((sum, e) => sum + e.acknowledged.size, 0)
  try {
    await waitFor(() => acknowledgedSoFar() >= ACKNOWLEDGED_BEFORE_KILL, {
      what: `${ACKNOWLEDGED_BEFORE_KILL} acknowledged changes`,
      interval: 10,
      explain: () =>
        editors
          .map(e => `${e.label}: made ${e.made.length}, acknowledged ${e.acknowledged.size}, server heads seen ${e.serverHeads.length}, closes ${e.wire.closes}`)
          .join("; "),
    })
  } catch (err) {
    stop.now = true
    await Promise.all(streams)
    throw err
  }
  const exit = await cairn.kill()
  const madeAtKill = editors.map(e => e.made.length)
  assert.equal(exit.signal, "SIGKILL", `cairn died of SIGKILL (it exited with ${JSON.stringify(exit)})`)

  // The clients notice the dropped connection and keep editing offline for a moment.
  try {
    await waitFor(() => editors.every(e => e.wire.closes > 0), {
      what: "every client to see the connection drop",
      on: editors.map(e => [e.wire, "closed"]),
    })
    await sleep(OFFLINE_EDITING_MS)
  } finally {
    stop.now = true
    await Promise.all(streams)
  }

  // Everything the server sent before it died is in: decide "acknowledged" against the union of
  // all clients' documents (a server head may be another client's change not yet relayed here).
  let union = Automerge.init()
  for (const editor of editors) union = Automerge.merge(union, Automerge.clone(editor.handle.doc()))
  const acknowledged = new Set()
  const unknownHeads = []
  for (const editor of editors) {
    for (const heads of editor.serverHeads) {
      if (!Automerge.hasHeads(union, heads)) {
        unknownHeads.push(...Automerge.getMissingDeps(union, heads))
        continue
      }
      for (const hash of coveredBy(union, heads, editor.made)) acknowledged.add(hash)
    }
  }
  assert.deepEqual(unknownHeads, [], "every head the server sent is a change some client holds")
  for (const editor of editors) {
    for (const hash of editor.acknowledged) {
      assert.ok(acknowledged.has(hash), `${editor.label}'s live acknowledgement ${hash} holds up`)
    }
  }
  const made = editors.reduce((sum, e) => sum + e.made.length, 0)
  t.diagnostic(
    `before the kill: ${editors.map((e, i) => `${e.label} made ${madeAtKill[i]} (${e.made.length} with offline edits), ${e.acknowledged.size} acknowledged live, ${e.serverHeads.length} server heads`).join("; ")}`
  )
  t.diagnostic(`${acknowledged.size} of ${made} changes acknowledged by the server before it was killed`)
  assert.ok(acknowledged.size >= ACKNOWLEDGED_BEFORE_KILL, `the stream was under way: ${acknowledged.size} acknowledged`)
  assert.ok(acknowledged.size < made, "some edits were never acknowledged (made while the server was dead)")

  // The phones put their copies away (flushing storage) and the old repos shut down.
  const copies = editors.map(e => Automerge.save(e.handle.doc()))
  const copyHeads = editors.map(e => Automerge.getHeads(e.handle.doc()))
  for (const editor of editors) await closeRepo(editor.repo)

  // ---- restart on the same data folder and database ------------------------------------------
  await cairn.restart()
  const oldToken = await cairn.request("GET", `/api/v1/plans/${plan.id}`, { token: owner.accessToken })
  t.diagnostic(`an access token from before the kill answers ${oldToken.status} after the restart`)
  const tokens = []
  for (const editor of editors) tokens.push((await cairn.login(editor.account.account.username)).accessToken)

  const stored = await cairn.changes(tokens[0], plan.id)
  const storedDoc = Automerge.loadIncremental(Automerge.init(), stored.bytes)
  assert.deepEqual(Automerge.getMissingDeps(storedDoc, []), [], "the stored changes are complete (no missing dependencies)")
  assert.deepEqual(sorted(stored.heads), sorted(Automerge.getHeads(storedDoc)), "X-Automerge-Heads matches the body")
  const lost = [...acknowledged].filter(hash => !Automerge.hasHeads(storedDoc, [hash]))
  assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.size} acknowledged changes were lost`)
  const storedOfMade = editors.flatMap(e => e.made).filter(hash => Automerge.hasHeads(storedDoc, [hash])).length
  t.diagnostic(`after the restart the server holds ${storedOfMade} of the ${made} changes the clients made`)

  // ---- the clients reconnect with their own copies and converge -------------------------------
  let expected = Automerge.clone(storedDoc)
  for (const copy of copies) expected = Automerge.merge(expected, Automerge.load(copy))
  const expectedHeads = sorted(Automerge.getHeads(expected))

  const again = editors.map(
    (e, i) => new Editor(`${e.label}-again`, { ...e.account, accessToken: tokens[i] }, plan.documentId)
  )
  for (const [i, editor] of again.entries()) {
    editor.storage = editors[i].storage // the same phone storage
    await editor.open(plan.url, tokens[i])
    assert.ok(
      Automerge.hasHeads(editor.handle.doc(), copyHeads[i]),
      `${editor.label} reopened its own copy, unacknowledged edits included`
    )
  }

  let serverHeads = []
  await eventually(
    async () => {
      if (!again.every(e => same(Automerge.getHeads(e.handle.doc()), expectedHeads))) return false
      serverHeads = (await cairn.changes(tokens[0], plan.id)).heads
      return same(serverHeads, expectedHeads)
    },
    { what: "all three clients and the server to reach the same heads" }
  ).catch(err => {
    const detail = again.map(e => `${e.label}: ${JSON.stringify(sorted(Automerge.getHeads(e.handle.doc())))}`)
    throw new Error(
      `${err.message}; expected ${JSON.stringify(expectedHeads)}, ${detail.join("; ")}; server ${JSON.stringify(sorted(serverHeads))}`
    )
  })

  const final = Automerge.loadIncremental(Automerge.init(), (await cairn.changes(tokens[0], plan.id)).bytes)
  const missingAtServer = editors.flatMap(e => e.made).filter(hash => !Automerge.hasHeads(final, [hash]))
  assert.deepEqual(missingAtServer, [], "after re-convergence the server holds every change any client made")
  const plain = doc => JSON.parse(JSON.stringify(doc))
  for (const editor of again) {
    assert.deepEqual(plain(editor.handle.doc()), plain(final), `${editor.label} shows what the server stores`)
  }
  assert.equal(final.strengths.length, made, "every edit is in the plan exactly once")
  for (const editor of again) {
    assert.equal(editor.wire.receivedOf("error").length, 0, `${editor.label} got no error: ${editor.wire.summary()}`)
  }
  await cairn.closeRepos()
})
