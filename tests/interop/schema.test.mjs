// Documents written by the real JavaScript client fit Cairn's generated client contract: a person
// and their supporter write a whole plan through automerge-repo 2.5.6 (goals with steps,
// strengths, supports, check-ins, the person's words as Automerge text), and the plan, read back
// both from the server (`GET /api/v1/plans/{id}` → `document`) and from the client's own copy,
// validates against `client-schema/plan.schema.json` with ajv (JSON Schema 2020-12, formats
// asserted) and type-checks against `client-schema/cairn.ts` with the TypeScript compiler. A
// document that does not fit, whether written by hand or through the client, fails both.
//
// Automerge 3.x: a plain JS string written into a document IS collaborative text (what
// `new Automerge.Text` was in 2.x); `Automerge.updateText` and `Automerge.splice` edit it in
// place so concurrent typing merges. Scalar strings (ids, statuses, dates, account ids: values
// that are replaced, never typed into) are `new Automerge.ImmutableString(...)`, as the server's
// own writes (`cairn_shared::plan::write`) make them. Both read as plain strings in JSON.

import assert from "node:assert/strict"
import { readFile } from "node:fs/promises"
import path from "node:path"
import { after, before, describe, test } from "node:test"
import { fileURLToPath } from "node:url"

import * as Automerge from "@automerge/automerge"
import Ajv2020 from "ajv/dist/2020.js"
import addFormats from "ajv-formats"
import ts from "typescript"

import { Cairn, connected, eventually, waitFor, waitForDoc } from "./harness.mjs"

const here = path.dirname(fileURLToPath(import.meta.url))
const CLIENT_SCHEMA = path.resolve(here, "../../client-schema")
const TEST_TIMEOUT = 60_000

const readJson = async file => JSON.parse(await readFile(path.join(CLIENT_SCHEMA, file), "utf8"))
const { ImmutableString } = Automerge
const scalar = value => new ImmutableString(value)

/** @type {Cairn} */
let cairn
/** @type {import("ajv").ValidateFunction} */
let validatePlan

before(async () => {
  // Strict: unknown keywords, unknown formats and loose schemas are errors, not warnings.
  // Union types (`["string", "null"]` for optional fields) are standard 2020-12.
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true })
  addFormats(ajv)
  validatePlan = ajv.compile(await readJson("plan.schema.json"))
  cairn = await Cairn.start()
})

after(async () => {
  await cairn?.stop()
})

// ---- helpers -------------------------------------------------------------------------------

/** The plan's errors against plan.schema.json, readable. */
function schemaErrors(document) {
  if (validatePlan(document)) return []
  return validatePlan.errors.map(e => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`)
}

/** A JS doc as JSON: ImmutableStrings become strings (their `toJSON`), text already is one. */
const asJson = doc => JSON.parse(JSON.stringify(doc))

/**
 * Type-check TypeScript sources against client-schema/cairn.ts (strict, in memory); resolves
 * with the compiler's messages. `files` maps a file name (in client-schema/) to its source.
 */
function typeErrors(files) {
  const options = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2022.d.ts"],
    types: [],
  }
  const virtual = new Map(Object.entries(files).map(([name, source]) => [path.join(CLIENT_SCHEMA, name), source]))
  const host = ts.createCompilerHost(options)
  const getSourceFile = host.getSourceFile.bind(host)
  const fileExists = host.fileExists.bind(host)
  const readFile = host.readFile.bind(host)
  host.getSourceFile = (name, version, ...rest) =>
    virtual.has(name) ? ts.createSourceFile(name, virtual.get(name), version) : getSourceFile(name, version, ...rest)
  host.fileExists = name => virtual.has(name) || fileExists(name)
  host.readFile = name => virtual.get(name) ?? readFile(name)
  const program = ts.createProgram([path.join(CLIENT_SCHEMA, "cairn.ts"), ...virtual.keys()], options, host)
  return ts.getPreEmitDiagnostics(program).map(d => {
    const where = d.file ? `${path.basename(d.file.fileName)}: ` : ""
    return where + ts.flattenDiagnosticMessageText(d.messageText, "\n")
  })
}

/** TypeScript that states `value` is a `type` (an object literal, so extra fields are errors). */
const typed = (name, type, value) => `export const ${name}: ${type} = ${JSON.stringify(value, null, 2)};\n`

/** Wait until both handles hold the same heads. */
function converged(a, b) {
  const heads = h => JSON.stringify([...Automerge.getHeads(h.doc())].sort())
  return waitFor(() => heads(a) === heads(b), {
    what: "both clients to converge",
    on: [
      [a, "change"],
      [b, "change"],
    ],
  })
}

async function open(account, url, label) {
  const repo = cairn.newRepo(account.accessToken, { label })
  await connected(repo)
  return repo.find(url)
}

// ---- the test ------------------------------------------------------------------------------

describe("client-schema against documents from the real JS client", { timeout: 3 * TEST_TIMEOUT }, () => {
  test("the generated files are consistent on their own", { timeout: TEST_TIMEOUT }, async () => {
    for (const example of ["examples/plan-written-together.json", "examples/skeleton.json"]) {
      assert.deepEqual(schemaErrors(await readJson(example)), [], `${example} fits plan.schema.json`)
    }
    const openapi = await readJson("openapi.json")
    assert.equal(openapi.openapi.slice(0, 4), "3.1.")
    assert.deepEqual(
      openapi.components.schemas.GoalStatus.enum,
      (await readJson("plan.schema.json")).$defs.GoalStatus.enum,
      "openapi.json and plan.schema.json share the plan's schema"
    )
    assert.deepEqual(
      typeErrors({
        "__check_examples.ts":
          `import type { PlanDocument } from "./cairn";\n` +
          typed("together", "PlanDocument", await readJson("examples/plan-written-together.json")) +
          typed("skeleton", "PlanDocument", await readJson("examples/skeleton.json")),
      }),
      [],
      "cairn.ts compiles (strict) and the examples are PlanDocuments"
    )
  })

  test("a plan written together through automerge-repo fits plan.schema.json and cairn.ts", { timeout: TEST_TIMEOUT }, async t => {
    t.after(() => cairn.closeRepos())
    const maria = await cairn.register("maria")
    const sam = await cairn.register("sam")
    const plan = await cairn.createPlan(maria.accessToken, "Plan")
    await cairn.addSupporter(maria.accessToken, plan.id, sam.accessToken)

    // Maria, on her phone.
    const mine = await open(maria, plan.url, "maria-phone")
    mine.change(d => {
      Automerge.updateText(d, ["title"], "My way forward")
      Automerge.updateText(d, ["whatMatters"], "Being there for my kids. Growing things again.")
      d.strengths.push({
        id: scalar("strength-showing-up"),
        text: "I keep showing up, even on the hard days",
        addedBy: scalar(maria.account.id),
      })
      d.goals.push({
        id: scalar("goal-allotment"),
        text: "Get back to the allotment by spring",
        status: scalar("working"),
        steps: [
          { id: scalar("step-ring"), text: "Ring the allotment society", who: scalar("me"), done: false },
        ],
        createdBy: scalar(maria.account.id),
        createdAt: scalar(new Date().toISOString()),
      })
      d.supports.push({
        id: scalar("support-dee"),
        name: "Dee, my sister",
        kind: scalar("person"),
        contact: "07700 900123",
      })
    })

    // Sam, on his, during their session; Maria keeps typing at the same time.
    const his = await open(sam, plan.url, "sam-phone")
    await waitForDoc(his, d => d.goals?.length === 1, "Maria's goal on Sam's phone")
    his.change(d => {
      d.goals[0].steps.push({
        id: scalar("step-bus"),
        text: "I'll find out which bus goes there on Saturdays",
        who: scalar("supporter"),
        done: false,
        due: scalar("2026-11-28"),
      })
      d.goals[0].steps.push({ id: scalar("step-visit"), text: "Go and see the plot", who: scalar("together"), done: false })
      d.strengths.push({ id: scalar("strength-honest"), text: "Says what's hard out loud", addedBy: scalar(sam.account.id) })
      d.supports.push({
        id: scalar("support-cafe"),
        name: "Recovery café on Mill Street",
        kind: scalar("resource"),
        note: "Open Tuesdays and Fridays",
      })
      d.checkIns.push({
        id: scalar("check-in-1"),
        date: scalar("2026-11-21"),
        by: scalar(sam.account.id),
        howItWent: "A hard week, and Maria still made it to the café.",
        whatWeLearned: "Mornings go better with the bus times sorted the night before.",
      })
    })
    mine.change(d => {
      // Typing into her own words: a splice into the goal's text, not a new string.
      Automerge.splice(d, ["goals", 0, "text"], "Get back to the allotment".length, 0, " — plot 14")
      d.goals[0].steps[0].done = true
      d.goals.push({
        id: scalar("goal-sleep"),
        text: "Sleep before midnight",
        status: scalar("thinking"),
        steps: [],
        createdBy: scalar(maria.account.id),
        createdAt: scalar(new Date().toISOString()),
      })
    })
    await converged(mine, his)

    // The client's copy: text fields are collaborative text, scalars are scalars.
    const doc = mine.doc()
    assert.equal(typeof doc.goals[0].text, "string", "a goal's text reads as a string (Automerge text)")
    assert.equal(doc.goals[0].text, "Get back to the allotment — plot 14 by spring")
    assert.ok(doc.goals[0].status instanceof ImmutableString, "a goal's status is a scalar string")
    const clientJson = asJson(doc)
    assert.deepEqual(schemaErrors(clientJson), [], "the client's copy fits plan.schema.json")

    // The server's copy, over REST.
    const detail = await eventually(
      async () => {
        const answer = await cairn.getPlan(maria.accessToken, plan.id)
        return answer.document.checkIns?.length === 1 && answer.document.goals?.length === 2 ? answer : undefined
      },
      { what: "both people's edits in GET /api/v1/plans/{id}" }
    )
    assert.deepEqual(schemaErrors(detail.document), [], "the server's copy fits plan.schema.json")
    assert.deepEqual(detail.document, clientJson, "server and client hold the same plan")
    assert.equal(detail.title, "My way forward")

    // And both fit the TypeScript types: the document, and the whole REST answer.
    assert.deepEqual(
      typeErrors({
        "__check_client.ts":
          `import type { PlanDetail, PlanDocument } from "./cairn";\n` +
          typed("fromClient", "PlanDocument", clientJson) +
          typed("fromServer", "PlanDetail", detail),
      }),
      [],
      "the documents type-check as PlanDocument and PlanDetail"
    )

    // The server's own check (it runs within half a second of a change; the type check above
    // took longer) agrees with ajv: the plan fits, so it is not flagged.
    const checked = await cairn.getPlan(maria.accessToken, plan.id)
    assert.equal(checked.schemaIssue, null, "the server agrees the plan fits schema v1")
  })

  test("documents that do not fit are refused", { timeout: TEST_TIMEOUT }, async t => {
    t.after(() => cairn.closeRepos())
    const good = await readJson("examples/plan-written-together.json")

    // By hand: each kind of misfit, with where it is.
    const cases = [
      ["a field outside the schema", d => (d.riskScore = 7), "/", "additionalProperties"],
      ["an unknown goal status", d => (d.goals[0].status = "maybe"), "/goals/0/status", "enum"],
      ["a goal without its text", d => delete d.goals[0].text, "/goals/0", "required"],
      ["an unknown `who`", d => (d.goals[0].steps[0].who = "staff"), "/goals/0/steps/0/who", "enum"],
      ["a date that is not one", d => (d.checkIns[0].date = "last Tuesday"), "/checkIns/0/date", "format"],
      ["another schema version", d => (d.schemaVersion = 2), "/schemaVersion", "const"],
    ]
    for (const [what, spoil, where, keyword] of cases) {
      const bad = structuredClone(good)
      spoil(bad)
      assert.equal(validatePlan(bad), false, `plan.schema.json accepts ${what}`)
      assert.ok(
        validatePlan.errors.some(e => (e.instancePath || "/") === where && e.keyword === keyword),
        `${what}: expected ${keyword} at ${where}, got ${JSON.stringify(validatePlan.errors)}`
      )
    }

    // Through the client: the server keeps and syncs what a client wrote, but it does not fit.
    const dana = await cairn.register("dana")
    const plan = await cairn.createPlan(dana.accessToken, "Plan")
    const handle = await open(dana, plan.url, "dana-phone")
    handle.change(d => {
      d.riskScore = 7
      d.goals.push({
        id: scalar("goal-x"),
        text: "Something",
        status: scalar("someday"),
        steps: [],
        createdBy: scalar(dana.account.id),
        createdAt: scalar(new Date().toISOString()),
      })
    })
    const stored = await eventually(
      async () => {
        const answer = await cairn.getPlan(dana.accessToken, plan.id)
        return answer.document.riskScore === 7 && answer.document.goals?.length === 1 ? answer : undefined
      },
      { what: "the misfit edits in GET /api/v1/plans/{id}" }
    )
    // The server's own check flags it (and keeps it): the Rust reader and ajv agree.
    const flagged = await eventually(
      async () => {
        const answer = await cairn.getPlan(dana.accessToken, plan.id)
        return answer.schemaIssue ? answer : undefined
      },
      { what: "schemaIssue set on the misfit plan" }
    )
    t.diagnostic(`schemaIssue: ${JSON.stringify(flagged.schemaIssue)}`)
    assert.match(flagged.schemaIssue, /riskScore|goals\[0\]\.status/)
    const errors = schemaErrors(stored.document)
    assert.ok(errors.some(e => e.startsWith("/ ") && e.includes("riskScore")), `riskScore refused: ${errors}`)
    assert.ok(errors.some(e => e.startsWith("/goals/0/status ")), `status refused: ${errors}`)

    // The TypeScript types refuse it too.
    const misfits = typeErrors({
      "__check_misfit.ts":
        `import type { PlanDocument } from "./cairn";\n` + typed("misfit", "PlanDocument", stored.document),
    })
    assert.ok(misfits.length > 0, "cairn.ts accepts a document that does not fit the schema")
  })
})
