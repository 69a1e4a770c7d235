// The harness itself: cairn starts and stops, and the REST helpers work. Runs without /sync.

import assert from "node:assert/strict"
import { after, before, test } from "node:test"

import { Cairn, tryUpgrade } from "./harness.mjs"

let cairn

before(async () => {
  cairn = await Cairn.start()
})

after(async () => {
  await cairn?.stop()
})

test("cairn starts on a free port and answers /healthz", async () => {
  assert.ok(cairn.port > 0)
  const answer = await cairn.request("GET", "/healthz")
  assert.equal(answer.status, 200, JSON.stringify(answer.body))
})

test("register, create a plan, invite, accept, list, remove", async () => {
  const owner = await cairn.register("maria")
  const supporter = await cairn.register("sam")
  assert.ok(owner.accessToken && owner.refreshToken && owner.account.id)
  assert.notEqual(owner.account.id, supporter.account.id)

  const plan = await cairn.createPlan(owner.accessToken, "Back to the allotment")
  assert.ok(plan.id)
  assert.equal(plan.url, `automerge:${plan.documentId}`)

  await cairn.addSupporter(owner.accessToken, plan.id, supporter.accessToken)
  const [seen] = (await cairn.listPlans(supporter.accessToken)).filter(p => p.id === plan.id)
  assert.ok(seen, "the supporter lists the plan")
  assert.equal(seen.role, "supporter")
  assert.deepEqual(seen.members.map(m => m.role).sort(), ["owner", "supporter"])

  const detail = await cairn.getPlan(owner.accessToken, plan.url)
  assert.equal(detail.document.title, "Back to the allotment")
  assert.equal(detail.document.schemaVersion, 1)

  await cairn.removeMember(owner.accessToken, plan.id, supporter.account.id)
  const left = (await cairn.listPlans(supporter.accessToken)).filter(p => p.id === plan.id)
  assert.deepEqual(left, [])
})

test("tryUpgrade reports the HTTP status of a refused upgrade", async () => {
  const answer = await tryUpgrade(`${cairn.baseUrl}/no-such-route`)
  assert.equal(typeof answer.status, "number")
  assert.notEqual(answer.status, 101)
})
