// Cairn's `GET /sync` against the real JavaScript automerge-repo client (2.5.6): the scenarios
// a person and their supporter live through, each with fresh accounts on one cairn process.

import assert from "node:assert/strict"
import { after, before, describe, test } from "node:test"

import * as Automerge from "@automerge/automerge"
import { Repo, generateAutomergeUrl } from "@automerge/automerge-repo"

import {
  Cairn,
  MemoryStorage,
  authorIdOf,
  authorNameOf,
  closeRepo,
  connected,
  eventually,
  timed,
  waitFor,
  waitForDoc,
  wireOf,
} from "./harness.mjs"

const TEST_TIMEOUT = 45_000

/** @type {Cairn} */
let cairn

before(async () => {
  cairn = await Cairn.start()
  // Fail every scenario with one clear reason if /sync does not upgrade at all (a WebSocket
  // client adapter would otherwise throw "Unexpected server response" as an uncaught error).
  const probe = await cairn.register("probe")
  const answer = await cairn.tryUpgrade(`?token=${encodeURIComponent(probe.accessToken)}`)
  if (answer.status !== 101) {
    throw new Error(
      `GET /sync with a valid token did not upgrade to a WebSocket: HTTP ${answer.status} ${JSON.stringify(answer.body)}`
    )
  }
})

after(async () => {
  await cairn?.stop()
})

// ---- helpers -------------------------------------------------------------------------------

/** The schema-v1 skeleton a client writes for a plan it creates offline. */
function skeleton(title) {
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

function goal(id, text, createdBy) {
  return { id, text, status: "thinking", steps: [], createdBy, createdAt: new Date().toISOString() }
}

const ids = list => (list ?? []).map(item => item.id)
const hasItem = (doc, list, id) => ids(doc[list]).includes(id)
const heads = handle => [...Automerge.getHeads(handle.doc())].sort()
const sameHeads = (a, b) => JSON.stringify(heads(a)) === JSON.stringify(heads(b))

/** Hash (hex) of the change this handle's repo made last. */
function lastLocalHash(handle) {
  const change = Automerge.getLastLocalChange(handle.doc())
  assert.ok(change, "a local change was made")
  return Automerge.decodeChange(change).hash
}

/** An owner, a supporter who accepted an invitation, and the owner's plan. */
async function twoMembers(title) {
  const owner = await cairn.register("maria")
  const supporter = await cairn.register("sam")
  const plan = await cairn.createPlan(owner.accessToken, title)
  await cairn.addSupporter(owner.accessToken, plan.id, supporter.accessToken)
  return { owner, supporter, plan }
}

/** A connected client of `account` with the plan at `url` open. */
async function open(account, url, label, options = {}) {
  const repo = cairn.newRepo(account.accessToken, { label, ...options })
  await connected(repo)
  const handle = await repo.find(url)
  return { repo, handle, wire: wireOf(repo) }
}

/** Wait until both handles hold the same heads. */
function converged(a, b, what = "both clients to converge") {
  return waitFor(() => sameHeads(a, b), {
    what,
    on: [
      [a, "change"],
      [b, "change"],
    ],
    explain: () => `heads ${JSON.stringify(heads(a))} vs ${JSON.stringify(heads(b))}`,
  })
}

/** The plan document as the server holds it (REST). */
async function serverDoc(token, planId) {
  return (await cairn.getPlan(token, planId)).document
}

// ---- scenarios -----------------------------------------------------------------------------

describe("sync with the real automerge-repo client", { timeout: 110_000 }, () => {
  test("(a) finds a REST-created plan by its URL and reads the v1 skeleton", { timeout: TEST_TIMEOUT }, async t => {
    t.after(() => cairn.closeRepos())
    const owner = await cairn.register("maria")
    const plan = await cairn.createPlan(owner.accessToken, "Back to the allotment by spring")
    assert.equal(plan.url, `automerge:${plan.documentId}`)

    // Like an app at start-up: find at once, without waiting for the handshake first. The
    // client gives the server 1 s to answer `join` before treating every find as unavailable.
    const repo = cairn.newRepo(owner.accessToken, { label: "maria-phone" })
    const [outcome, ms] = await timed(repo.find(plan.url))
    t.diagnostic(`find of a REST-created plan took ${ms.toFixed(0)} ms`)
    assert.ifError(outcome.error)
    const handle = outcome.value
    const doc = handle.doc()
    assert.equal(doc.schemaVersion, 1)
    assert.equal(doc.title, "Back to the allotment by spring")
    assert.equal(doc.whatMatters, "")
    for (const list of ["strengths", "goals", "supports", "checkIns"]) {
      assert.deepEqual(doc[list], [], `${list} is an empty list`)
    }

    // An edit made through the client is stored by the server.
    handle.change(d => {
      d.strengths.push({ id: "s-1", text: "I keep showing up" })
    })
    await eventually(
      async () => hasItem(await serverDoc(owner.accessToken, plan.id), "strengths", "s-1"),
      { what: "the client's edit in GET /api/v1/plans/{id}" }
    )
  })

  test("(b) a plan created offline with repo.create() becomes the creator's plan", { timeout: TEST_TIMEOUT }, async t => {
    t.after(() => cairn.closeRepos())
    const owner = await cairn.register("dana")

    // On the bus, no network: the app creates the plan and its skeleton locally.
    const storage = new MemoryStorage()
    const offline = new Repo({ storage, network: [] })
    const created = offline.create(skeleton("Sleep before midnight"))
    created.change(d => {
      d.strengths.push({ id: "s-cook", text: "I cook for my kids" })
    })
    const { url, documentId } = created
    await offline.shutdown()

    // Back online: the same storage, now with a connection to Cairn.
    const phone = cairn.newRepo(owner.accessToken, { storage, label: "dana-phone" })
    const handle = await phone.find(url)
    assert.equal(handle.doc().title, "Sleep before midnight")

    const listed = await eventually(
      async () =>
        (await cairn.listPlans(owner.accessToken)).find(
          p => p.documentId === documentId || p.url === url
        ),
      { what: "the offline-created plan in GET /api/v1/plans" }
    )
    assert.equal(listed.role, "owner")
    assert.equal(listed.title, "Sleep before midnight")
    assert.equal(listed.url, url)

    // Another device of the same person gets it from the server.
    const laptop = cairn.newRepo(owner.accessToken, { label: "dana-laptop" })
    await connected(laptop)
    const copy = await laptop.find(url)
    await waitForDoc(copy, d => hasItem(d, "strengths", "s-cook"), "the offline edit on the laptop")
    assert.equal(copy.doc().schemaVersion, 1)

    // The wire: the phone announced the new document with `sync` (never `request`).
    const wire = wireOf(phone)
    assert.equal(wire.sentOf("request", documentId).length, 0)
    assert.ok(wire.sentOf("sync", documentId).length > 0)
  })

  test("(c) owner and supporter both edit and converge", { timeout: TEST_TIMEOUT }, async t => {
    t.after(() => cairn.closeRepos())
    const { owner, supporter, plan } = await twoMembers("Find steady work")
    const a = await open(owner, plan.url, "maria")
    const b = await open(supporter, plan.url, "sam")

    a.handle.change(d => {
      d.goals.push(goal("g-job", "A day job with regular hours", owner.account.id))
      Automerge.splice(d, ["whatMatters"], 0, 0, "My kids. ")
    })
    b.handle.change(d => {
      d.strengths.push({ id: "s-sam", text: "Maria never gives up" })
      Automerge.splice(d, ["whatMatters"], 0, 0, "Staying well. ")
    })

    const both = d => hasItem(d, "goals", "g-job") && hasItem(d, "strengths", "s-sam")
    await waitForDoc(a.handle, both, "the supporter's edit at the owner")
    await waitForDoc(b.handle, both, "the owner's edit at the supporter")
    await converged(a.handle, b.handle)
    assert.deepEqual(a.handle.doc(), b.handle.doc())
    assert.match(a.handle.doc().whatMatters, /My kids\. /)
    assert.match(a.handle.doc().whatMatters, /Staying well\. /)

    // Same rights: the supporter edits the owner's goal text, and it sticks.
    b.handle.change(d => {
      Automerge.splice(d, ["goals", 0, "text"], 0, 0, "Together: ")
    })
    await waitForDoc(a.handle, d => d.goals[0].text.startsWith("Together: "), "the supporter's goal edit at the owner")
    await converged(a.handle, b.handle)
    const stored = await serverDoc(owner.accessToken, plan.id)
    assert.deepEqual(stored.goals.map(g => g.text), a.handle.doc().goals.map(g => g.text))
  })

  test("(d) offline edits on both sides merge when the supporter reconnects", { timeout: TEST_TIMEOUT }, async t => {
    t.after(() => cairn.closeRepos())
    const { owner, supporter, plan } = await twoMembers("Keep the flat")
    const a = await open(owner, plan.url, "maria")

    // The supporter's phone syncs the plan into its own storage, then goes offline.
    const storage = new MemoryStorage()
    const first = await open(supporter, plan.url, "sam-phone", { storage })
    await converged(a.handle, first.handle, "the supporter's phone to have the plan")
    await closeRepo(first.repo)

    // Offline, the supporter edits (the app restarted without network: storage only).
    const offline = new Repo({ storage, network: [] })
    const offlineHandle = await offline.find(plan.url)
    offlineHandle.change(d => {
      d.supports.push({ id: "sup-office", text: "Housing office, Tuesdays 10-12" })
    })
    await offline.shutdown()

    // Meanwhile the owner edits online.
    a.handle.change(d => {
      d.goals.push(goal("g-rent", "Pay the rent on time", owner.account.id))
    })

    // The phone comes back online with what it stored.
    const again = cairn.newRepo(supporter.accessToken, { storage, label: "sam-phone" })
    const b = await again.find(plan.url)
    assert.ok(hasItem(b.doc(), "supports", "sup-office"), "the offline edit survived in storage")

    const both = d => hasItem(d, "supports", "sup-office") && hasItem(d, "goals", "g-rent")
    await waitForDoc(a.handle, both, "the supporter's offline edit at the owner")
    await waitForDoc(b, both, "the owner's edit at the reconnected supporter")
    await converged(a.handle, b)
    const stored = await serverDoc(owner.accessToken, plan.id)
    assert.ok(hasItem(stored, "supports", "sup-office") && hasItem(stored, "goals", "g-rent"))
  })

  test("(e) presence: broadcast reaches the other member live, both ways", { timeout: TEST_TIMEOUT }, async t => {
    t.after(() => cairn.closeRepos())
    const { owner, supporter, plan } = await twoMembers("Talk to my sister")
    const a = await open(owner, plan.url, "maria")
    const b = await open(supporter, plan.url, "sam")
    await converged(a.handle, b.handle)

    const atA = []
    const atB = []
    a.handle.on("ephemeral-message", e => atA.push(e))
    b.handle.on("ephemeral-message", e => atB.push(e))

    // A client-chosen name (or account id) is dropped: the server names the sender's account.
    const cursor = { cursor: { path: ["whatMatters"], index: 4 }, name: "Dr. Rivera (clinic)", userId: supporter.account.id }
    a.handle.broadcast(cursor)
    const fromMaria = e => e.message?.userId === owner.account.id
    const got = await waitFor(() => atB.find(fromMaria), {
      what: "the owner's presence at the supporter",
      on: [[b.handle, "ephemeral-message"]],
      explain: () => `supporter received ${b.wire.summary()}`,
    })
    assert.deepEqual(got.message, { userId: owner.account.id, cursor: cursor.cursor })
    assert.equal(got.senderId, a.repo.peerId, "the relay keeps the sender's peer id")

    const reply = { cursor: { path: ["goals"], index: 0 } }
    b.handle.broadcast(reply)
    const fromSam = e => e.message?.userId === supporter.account.id
    const back = await waitFor(() => atA.find(fromSam), {
      what: "the supporter's presence at the owner",
      on: [[a.handle, "ephemeral-message"]],
      explain: () =>
        `owner received ${a.wire.summary()}; the supporter's connection was closed ${b.wire.closes} time(s), errors: ${JSON.stringify(b.wire.receivedOf("error").map(m => m.message))}`,
    })
    assert.deepEqual(back.message, { userId: supporter.account.id, ...reply })
    assert.equal(back.senderId, b.repo.peerId)

    // Each message arrives once, and nobody was disconnected on the way (the receiving client
    // echoes relayed ephemeral messages back to the server, which must drop the echo).
    assert.equal(atB.filter(fromMaria).length, 1)
    assert.equal(atA.filter(fromMaria).length, 0, "no echo to the sender")
    for (const side of [a, b]) {
      assert.equal(side.wire.closes, 0, "the connection stayed up")
      assert.equal(side.wire.receivedOf("error").length, 0, side.wire.summary())
    }
    t.diagnostic(
      `supporter echoed ${b.wire.sentOf("ephemeral").filter(m => m.senderId === a.repo.peerId).length} relayed ephemeral message(s) back to the server`
    )

    // The supporter closes the app: the owner's handle hears from the server that Sam is gone.
    await closeRepo(b.repo)
    const gone = await waitFor(() => atA.find(e => e.message?.gone === true), {
      what: "the server saying the supporter is gone",
      on: [[a.handle, "ephemeral-message"]],
      explain: () => `owner received ${a.wire.summary()}`,
    })
    assert.deepEqual(gone.message, { userId: supporter.account.id, gone: true })
    assert.notEqual(gone.senderId, b.repo.peerId, "sent by the server, not by the supporter")
  })

  test("(f) a non-member's find is unavailable, and a bad token gets 401", { timeout: TEST_TIMEOUT }, async t => {
    t.after(() => cairn.closeRepos())
    const owner = await cairn.register("maria")
    const stranger = await cairn.register("eve")
    const plan = await cairn.createPlan(owner.accessToken, "Private plan")

    const repo = cairn.newRepo(stranger.accessToken, { label: "eve" })
    await connected(repo)
    const wire = wireOf(repo)

    const [outcome, ms] = await timed(repo.find(plan.url))
    t.diagnostic(`non-member find rejected after ${ms.toFixed(0)} ms`)
    assert.ok(outcome.error, "find must reject")
    assert.ok(ms < 1000, `a non-member's find is refused well under a second (took ${ms} ms)`)
    assert.match(outcome.error.message, /unavailable/)
    assert.ok(wire.receivedOf("doc-unavailable", plan.documentId).length >= 1)
    const leaks = wire
      .receivedOf("sync", plan.documentId)
      .map(m => Automerge.decodeSyncMessage(m.data))
      .filter(m => m.heads.length > 0 || m.changes.length > 0)
    assert.deepEqual(leaks, [], "no heads or changes of the plan are sent to a non-member")

    // A plan that does not exist looks exactly the same.
    const nowhere = generateAutomergeUrl()
    const [missing, missingMs] = await timed(repo.find(nowhere))
    t.diagnostic(`find of a nonexistent document rejected after ${missingMs.toFixed(0)} ms`)
    assert.match(missing.error?.message ?? "", /unavailable/)
    assert.ok(wire.receivedOf("doc-unavailable", nowhere.slice("automerge:".length)).length >= 1)
    assert.equal(wire.closes, 0, "refusals do not close the connection")

    // Bad or missing tokens: 401 before any upgrade; a good bearer header upgrades.
    assert.equal((await cairn.tryUpgrade("?token=not-a-token")).status, 401)
    assert.equal((await cairn.tryUpgrade("")).status, 401)
    assert.equal((await cairn.tryUpgrade("", { Authorization: "Bearer not-a-token" })).status, 401)
    assert.equal((await cairn.tryUpgrade("", { Authorization: `Bearer ${stranger.accessToken}` })).status, 101)
  })

  test("(g) a removed supporter's sync stops at once, both ways", { timeout: TEST_TIMEOUT }, async t => {
    t.after(() => cairn.closeRepos())
    const { owner, supporter, plan } = await twoMembers("Boundaries")
    const a = await open(owner, plan.url, "maria")
    const b = await open(supporter, plan.url, "sam")
    a.handle.change(d => {
      d.strengths.push({ id: "s-before", text: "Written while we worked together" })
    })
    await waitForDoc(b.handle, d => hasItem(d, "strengths", "s-before"), "live sync before the removal")

    const atRemoval = b.wire.received.length
    await cairn.removeMember(owner.accessToken, plan.id, supporter.account.id)
    // The server ends the supporter's sync of this plan: doc-unavailable (or a dropped socket).
    await waitFor(
      () =>
        b.wire.received.slice(atRemoval).some(m => m.type === "doc-unavailable" && m.documentId === plan.documentId) ||
        b.wire.closes > 0,
      {
        what: "the server to end the removed supporter's sync",
        on: [[b.wire, "received"], [b.wire, "closed"]],
        explain: () => b.wire.summary(),
      }
    )

    // The supporter keeps typing; the server refuses it (answers doc-unavailable).
    let mark = b.wire.received.length
    b.handle.change(d => {
      d.strengths.push({ id: "s-after", text: "Written after I was removed" })
    })
    await b.wire.waitForReceived(
      m => m.type === "doc-unavailable" && m.documentId === plan.documentId,
      "the server's refusal of the removed supporter's edit",
      mark
    )

    // The owner keeps writing; it is stored, but not sent to the removed supporter.
    a.handle.change(d => {
      d.goals.push(goal("g-after", "Written after the removal", owner.account.id))
    })
    await eventually(
      async () => hasItem(await serverDoc(owner.accessToken, plan.id), "goals", "g-after"),
      { what: "the owner's new edit on the server" }
    )
    // One more round trip on the supporter's connection, so anything the server sent it
    // about this plan has arrived.
    mark = b.wire.received.length
    b.handle.change(d => {
      d.strengths.push({ id: "s-after-2", text: "Still typing" })
    })
    await b.wire.waitForReceived(
      m => m.type === "doc-unavailable" && m.documentId === plan.documentId,
      "the server's refusal of the second edit",
      mark
    )

    const stored = await serverDoc(owner.accessToken, plan.id)
    assert.ok(!hasItem(stored, "strengths", "s-after"), "the removed supporter's edit was not stored")
    assert.ok(!hasItem(stored, "strengths", "s-after-2"))
    assert.ok(!hasItem(a.handle.doc(), "strengths", "s-after"), "nor sent to the owner")
    assert.ok(!hasItem(b.handle.doc(), "goals", "g-after"), "the owner's new edit did not reach the supporter")
    const syncsAfter = b.wire.received
      .slice(atRemoval)
      .filter(m => m.type === "sync" && m.documentId === plan.documentId)
    assert.deepEqual(syncsAfter, [], "no sync message about the plan after the removal")
    assert.equal((await cairn.request("GET", `/api/v1/plans/${plan.id}`, { token: supporter.accessToken })).status, 404)
  })

  test("(h) a change claiming another account's actor id is refused", { timeout: TEST_TIMEOUT }, async t => {
    t.after(() => cairn.closeRepos())
    const { owner, supporter, plan } = await twoMembers("Honest history")
    const a = await open(owner, plan.url, "maria")
    const b = await open(supporter, plan.url, "sam")

    // The owner writes: the server binds the owner's actor id to the owner's account.
    a.handle.change(d => {
      d.strengths.push({ id: "s-owner", text: "Written by Maria" })
    })
    await waitForDoc(b.handle, d => hasItem(d, "strengths", "s-owner"), "the owner's edit at the supporter")
    const ownerActor = Automerge.getActorId(a.handle.doc())

    // The supporter's client forges a change with the owner's actor id and syncs it.
    const forged = Automerge.change(
      Automerge.load(Automerge.save(b.handle.doc()), { actor: ownerActor }),
      d => {
        d.strengths.push({ id: "s-forged", text: "Maria agrees to daily drug tests" })
      }
    )
    assert.equal(Automerge.decodeChange(Automerge.getLastLocalChange(forged)).actor, ownerActor)
    const mark = b.wire.received.length
    b.handle.update(doc => Automerge.merge(doc, forged))

    const refusal = await b.wire.waitForReceived(
      m => m.type === "error",
      "an error message refusing the forged change",
      mark
    )
    t.diagnostic(`server said: ${refusal.message}`)
    await waitFor(() => b.wire.closes > 0, {
      what: "the server to close the forger's connection",
      on: [[b.wire, "closed"]],
    })

    const stored = await serverDoc(owner.accessToken, plan.id)
    assert.ok(hasItem(stored, "strengths", "s-owner"))
    assert.ok(!hasItem(stored, "strengths", "s-forged"), "the forged change was not stored")
    assert.ok(!hasItem(a.handle.doc(), "strengths", "s-forged"), "nor relayed to the owner")
    const history = await cairn.history(owner.accessToken, plan.id)
    const forgedHash = Automerge.decodeChange(Automerge.getLastLocalChange(forged)).hash
    assert.ok(!history.some(e => e.hash === forgedHash), "nor listed in the history")
  })

  test("(i) history lists every change with its real author", { timeout: TEST_TIMEOUT }, async t => {
    t.after(() => cairn.closeRepos())
    const { owner, supporter, plan } = await twoMembers("Our plan")
    const a = await open(owner, plan.url, "maria")
    const b = await open(supporter, plan.url, "sam")

    a.handle.change(d => {
      d.goals.push(goal("g-1", "Call the clinic", owner.account.id))
    })
    const ownerHash = lastLocalHash(a.handle)
    await waitForDoc(b.handle, d => hasItem(d, "goals", "g-1"), "the owner's edit at the supporter")
    b.handle.change(d => {
      d.goals[0].steps.push({ id: "st-1", text: "I'll find the number", who: "supporter", done: false })
    })
    const supporterHash = lastLocalHash(b.handle)
    await converged(a.handle, b.handle)

    const expectations = [
      [ownerHash, owner.account.id, "Maria"],
      [supporterHash, supporter.account.id, "Sam"],
    ]
    for (const reader of [owner, supporter]) {
      const history = await eventually(
        async () => {
          const entries = await cairn.history(reader.accessToken, plan.id)
          return expectations.every(([hash]) => entries.some(e => e.hash === hash)) && entries
        },
        { what: "both changes in the history" }
      )
      for (const [hash, authorId, name] of expectations) {
        const entry = history.find(e => e.hash === hash)
        assert.equal(authorIdOf(entry), authorId, `author of ${hash}`)
        assert.equal(authorNameOf(entry), name)
        assert.ok(entry.time ?? entry.receivedAt ?? entry.madeAt, "each entry has a time")
      }
    }
  })

  test("(j) everyday edits take the server's shortcut, not automerge's general sync", { timeout: TEST_TIMEOUT }, async t => {
    t.after(() => cairn.closeRepos())
    const { owner, supporter, plan } = await twoMembers("Small steps")
    const a = await open(owner, plan.url, "maria")
    const b = await open(supporter, plan.url, "sam")
    a.handle.change(d => {
      d.goals.push(goal("g-walk", "Walk every day", owner.account.id))
    })
    await waitForDoc(b.handle, d => hasItem(d, "goals", "g-walk"), "the first goal at the supporter")
    await converged(a.handle, b.handle)

    /** Cairn's sync step counters, from GET /metrics. */
    const steps = async () => {
      const { status, body } = await cairn.request("GET", "/metrics")
      assert.equal(status, 200)
      const value = name => Number(String(body).match(new RegExp(`^${name} (\\d+)$`, "m"))?.[1])
      return {
        shortcut: value("cairn_sync_shortcut_steps_total"),
        general: value("cairn_sync_general_steps_total"),
      }
    }
    const before = await steps()
    assert.ok(Number.isInteger(before.shortcut) && Number.isInteger(before.general), JSON.stringify(before))
    // Edits one at a time, each seen by the other member before the next, from both sides.
    for (let n = 0; n < 10; n++) {
      const [writer, reader] = n % 2 === 0 ? [a, b] : [b, a]
      writer.handle.change(d => {
        Automerge.splice(d, ["goals", 0, "text"], 0, 0, `${n} `)
      })
      await waitForDoc(reader.handle, d => d.goals[0].text.startsWith(`${n} `), `edit ${n} at the other member`)
    }
    await converged(a.handle, b.handle)
    const after = await steps()
    const shortcut = after.shortcut - before.shortcut
    const general = after.general - before.general
    // Each edit is taken in, acknowledged and passed on, and the pass acknowledged.
    assert.ok(shortcut >= 30, `shortcut steps ${shortcut}, general ${general}`)
    assert.ok(general <= shortcut / 4, `shortcut steps ${shortcut}, general ${general}`)
  })
})
