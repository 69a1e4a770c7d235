// Staff sign-in with the agency's identity provider, in the browser (issue 27): the sign-in
// screen offers "Sign in with <agency>" when Cairn is configured for a provider; the button goes
// through a real OpenID provider (tests/oidc/provider.mjs, panva's oidc-provider, on loopback)
// and back, and the app trades the handoff code for a session; a tenant the agency does not
// allow reads as a refusal in the app's words (here in Spanish). At 360 px, checked by axe-core.
// Cairn is started here on a port picked first (the provider must know its callback before).
import assert from "node:assert/strict"
import { spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import net from "node:net"
import { tmpdir } from "node:os"
import path from "node:path"
import { createInterface } from "node:readline"
import { after, before, test } from "node:test"
import { chromium } from "playwright-core"
import { CAIRN_BIN } from "../interop/harness.mjs"
import { CHROMIUM, CHROMIUM_ARGS, PHONE, WAIT, WEB_DIR, axeViolations, here } from "./phones.mjs"

const world = {}

function freePort() {
  return new Promise(resolve => {
    const server = net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

before(async () => {
  const port = await freePort()
  world.base = `http://localhost:${port}`
  world.provider = spawn("node", ["provider.mjs", `${world.base}/api/v1/auth/oidc/callback`], {
    cwd: path.resolve(here, "../oidc"),
    stdio: ["pipe", "pipe", "ignore"],
  })
  world.issuer = await new Promise(resolve =>
    createInterface({ input: world.provider.stdout }).once("line", line => resolve(JSON.parse(line).issuer))
  )
  world.dataDir = await mkdtemp(path.join(tmpdir(), "cairn-staff-"))
  world.cairn = spawn(CAIRN_BIN, ["serve"], {
    env: {
      PATH: process.env.PATH,
      CAIRN_DATA_DIR: world.dataDir,
      CAIRN_LISTEN: `127.0.0.1:${port}`,
      CAIRN_WEB_DIR: WEB_DIR,
      CAIRN_REGISTRATION: "closed",
      CAIRN_OIDC_ISSUER: world.issuer,
      CAIRN_OIDC_CLIENT_ID: "cairn",
      CAIRN_OIDC_CLIENT_SECRET: "cairn-test-secret",
      CAIRN_OIDC_DISPLAY_NAME: "Riverside Recovery",
      CAIRN_OIDC_ADMIN_VALUES: "cairn-admins",
      CAIRN_OIDC_ALLOWED_TENANTS: "agency-tenant",
      CAIRN_OIDC_PROMPT: "consent",
      RUST_LOG: "info",
    },
    stdio: ["ignore", "ignore", "pipe"],
  })
  await new Promise((resolve, reject) => {
    world.cairn.once("exit", code => reject(new Error(`cairn exited (${code})`)))
    createInterface({ input: world.cairn.stderr }).on("line", line => {
      if (/Cairn is listening/.test(line)) resolve()
    })
  })
  world.browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
})

after(async () => {
  await world.browser?.close()
  world.cairn?.kill()
  world.provider?.kill()
  if (world.dataDir) await rm(world.dataDir, { recursive: true, force: true })
})

async function nextLogin(account, amr = ["pwd"]) {
  const answer = await fetch(`${world.issuer}/test/next-login`, {
    method: "POST",
    body: JSON.stringify({ account, amr }),
  })
  assert.equal(answer.status, 204)
}

test("a staff member signs in with the agency's account and lands signed in", async () => {
  await nextLogin("bob")
  const context = await world.browser.newContext({ ...PHONE })
  const page = await context.newPage()
  await page.goto(world.base)
  const button = page.getByRole("link", { name: "Sign in with Riverside Recovery" })
  await button.waitFor({ timeout: WAIT })
  assert.deepEqual(await axeViolations(page), [], "axe-core violations on the sign-in screen")
  await button.click()
  await page.getByText("Hello, Bob Staff").waitFor({ timeout: WAIT })
  assert.ok(!page.url().includes("#oidc"), `the handoff code left the address: ${page.url()}`)
  await context.close()
})

test("a tenant the agency does not allow is told so, in Spanish", async () => {
  await nextLogin("mallory", ["pwd", "mfa"])
  const context = await world.browser.newContext({ ...PHONE, locale: "es" })
  const page = await context.newPage()
  await page.goto(world.base)
  await page.getByRole("link", { name: "Entrar con Riverside Recovery" }).click()
  await page.getByText("Las cuentas de tu organización no pueden entrar en este Cairn").waitFor({ timeout: WAIT })
  assert.ok(!page.url().includes("oidc-error"), `the refusal left the address: ${page.url()}`)
  await context.close()
})
