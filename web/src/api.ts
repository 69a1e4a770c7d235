// The REST client: the signed-in session kept on this phone, every call Cairn's API offers the
// app, and refreshing the short-lived access token with the single-use refresh token.
import { deleteSecret, getSecret, putSecret } from "./app/vault.ts"
import type {
  AccessLogEntry,
  ActivityEntry,
  LeavingPreview,
  OidcSignInOption,
  PasskeyChallenge,
  PasskeyInfo,
  RecoveryCodes,
  RecoveryCodeStatus,
  SecondFactorChallenge,
  SecondFactorStatus,
  TotpEnrolment,
  AuthTokens,
  DeviceSession,
  ErrorBody,
  HistoryEntry,
  HistorySession,
  Invitation,
  PlanMember,
  PlanSummary,
  PlanVersion,
  PlanVersionView,
} from "../../client-schema/cairn.ts"

/** Where an older version of the app kept the session (in plain text): moved into the vault. */
const OLD_SESSION_KEY = "cairn.session"

/** An answer from the API that was not a success: its status and stable error code (and, for a
 * 429, how many seconds the server asks to wait). The message is the server's English sentence,
 * for the console: the app shows words of its own (app/errors.ts). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfter: number | null = null
  ) {
    super(message)
  }
}

/** The network could not be reached at all (offline, or the server is down). */
export class Offline extends Error {}

/** What this phone keeps of the signed-in account. The access token lives only in memory; the
 * refresh token and the account are sealed in the vault (app/vault.ts), never in localStorage. */
export interface Session {
  tokens: AuthTokens
  /** When the access token stops working (ms since the epoch). */
  accessExpiresAt: number
}

interface KeptSession {
  refreshToken: string
  account: AuthTokens["account"]
}

/** The session kept in the vault (the vault must be open), with no access token yet: the first
 * call trades the refresh token for one. An older version's plain-text session moves in here. */
export async function loadSession(): Promise<Session | null> {
  let kept = await getSecret<KeptSession>("session")
  try {
    const old = localStorage.getItem(OLD_SESSION_KEY)
    if (old) {
      const session = JSON.parse(old) as Session
      if (!kept) {
        const moved = { refreshToken: session.tokens.refreshToken, account: session.tokens.account }
        await putSecret("session", moved)
        kept = moved
      }
      // Only once it is safe in the vault: a write that failed leaves it for the next start.
      localStorage.removeItem(OLD_SESSION_KEY)
    }
  } catch (err) {
    // Nothing readable there, or the vault could not keep it (it stays where it was).
    if (localStorage.getItem(OLD_SESSION_KEY)) console.warn("the session could not be moved into the vault", err)
  }
  if (!kept) return null
  const tokens = { accessToken: "", refreshToken: kept.refreshToken, account: kept.account, expiresIn: 0 } as AuthTokens
  return { tokens, accessExpiresAt: 0 }
}

/** Writes of the session, one after another (a newer refresh token never loses to an older). */
let saving: Promise<void> = Promise.resolve()

function saveSession(tokens: AuthTokens): Session {
  const session = { tokens, accessExpiresAt: Date.now() + tokens.expiresIn * 1000 }
  const kept: KeptSession = { refreshToken: tokens.refreshToken, account: tokens.account }
  saving = saving.then(() => putSecret("session", kept)).catch(err => console.warn("the session could not be kept", err))
  return session
}

/** Wait until the session is written (before the page may be left). */
export function sessionSaved(): Promise<void> {
  return saving
}

export async function forgetSession(): Promise<void> {
  await saving
  await deleteSecret("session").catch(() => undefined)
  try {
    localStorage.removeItem(OLD_SESSION_KEY)
  } catch {
    // nothing to remove
  }
}

/**
 * A readable name for this device, from the browser itself: "Chrome on Android", "Safari on
 * iPhone". Shown in the account's list of devices (and editable there).
 */
export function deviceName(): string {
  const data = (navigator as Navigator & { userAgentData?: { brands?: { brand: string }[]; platform?: string } }).userAgentData
  const ua = navigator.userAgent
  let browser = ""
  const brands = (data?.brands ?? []).map(b => b.brand).filter(b => !/not.?a.?brand/i.test(b))
  for (const [brand, name] of [
    ["Microsoft Edge", "Edge"],
    ["Samsung Internet", "Samsung Internet"],
    ["Opera", "Opera"],
    ["Google Chrome", "Chrome"],
    ["HeadlessChrome", "Chromium"],
    ["Chromium", "Chromium"],
  ]) {
    if (brands.includes(brand)) {
      browser = name
      break
    }
  }
  if (!browser) {
    browser = /SamsungBrowser/.test(ua)
      ? "Samsung Internet"
      : /EdgA?\//.test(ua)
        ? "Edge"
        : /OPR\/|Opera/.test(ua)
          ? "Opera"
          : /Firefox\/|FxiOS/.test(ua)
            ? "Firefox"
            : /HeadlessChrome/.test(ua)
              ? "Chromium"
              : /Chrome\/|CriOS/.test(ua)
                ? "Chrome"
                : /Safari\//.test(ua)
                  ? "Safari"
                  : "A browser"
  }
  const platform = data?.platform || ""
  const system = /iPhone/.test(ua)
    ? "iPhone"
    : /iPad/.test(ua)
      ? "iPad"
      : /Android/.test(ua) || platform === "Android"
        ? "Android"
        : /CrOS/.test(ua) || platform === "Chrome OS"
          ? "ChromeOS"
          : /Windows/.test(ua) || platform === "Windows"
            ? "Windows"
            : /Macintosh/.test(ua) || platform === "macOS"
              ? "Mac"
              : /Linux/.test(ua) || platform === "Linux"
                ? "Linux"
                : ""
  return (system ? `${browser} on ${system}` : browser).slice(0, 60)
}

async function send(method: string, path: string, body?: unknown, token?: string): Promise<Response> {
  const headers: Record<string, string> = {}
  if (body !== undefined) headers["Content-Type"] = "application/json"
  if (token) headers.Authorization = `Bearer ${token}`
  try {
    return await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    })
  } catch {
    throw new Offline("no connection to Cairn")
  }
}

async function read<T>(response: Response): Promise<T> {
  if (response.ok) {
    return (response.status === 204 ? undefined : await response.json()) as T
  }
  let code = "unknown"
  let message = `Cairn answered ${response.status}`
  try {
    const body = (await response.json()) as ErrorBody
    code = body.error.code
    message = body.error.message
  } catch {
    // not a JSON error body
  }
  const wait = Number(response.headers.get("Retry-After"))
  throw new ApiError(response.status, code, message, Number.isFinite(wait) && wait > 0 ? wait : null)
}

/** A username as typed, in one Unicode form ("maría" typed with a combining accent is the same
 * name): the server compares names case-insensitively and refuses look-alikes. */
function typedName(text: string): string {
  return text.normalize("NFC").trim()
}

export async function register(
  username: string,
  displayName: string,
  password: string,
  enrollmentCode: string
): Promise<Session> {
  const tokens = await read<AuthTokens>(
    await send("POST", "/api/v1/auth/register", {
      username: typedName(username),
      displayName: typedName(displayName),
      password,
      enrollmentCode: enrollmentCode.trim() || null,
      deviceName: deviceName(),
    })
  )
  return saveSession(tokens)
}

/** The password was right, and the account asks for its second factor: the challenge to answer
 * with a code (`secondFactor`). */
export class SecondFactorAsked extends Error {
  constructor(readonly challenge: SecondFactorChallenge) {
    super("second factor needed")
  }
}

export async function login(username: string, password: string): Promise<Session> {
  const answer = await read<AuthTokens | { secondFactor: SecondFactorChallenge }>(
    await send("POST", "/api/v1/auth/login", { username: typedName(username), password, deviceName: deviceName() })
  )
  if ("secondFactor" in answer) throw new SecondFactorAsked(answer.secondFactor)
  return saveSession(answer)
}

/** Answer a sign-in's second-factor challenge with a code from the authenticator app (or a
 * recovery code, where the server takes one). */
export async function secondFactor(challenge: string, code: string): Promise<Session> {
  const tokens = await read<AuthTokens>(
    await send("POST", "/api/v1/auth/second-factor", { challenge, code: code.trim(), deviceName: deviceName() })
  )
  return saveSession(tokens)
}

/** A new password with a recovery code (`recover`) or an agency's reset code (`reset`). */
export async function redeemCode(way: "recover" | "reset", username: string, code: string, newPassword: string): Promise<Session> {
  const tokens = await read<AuthTokens>(
    await send("POST", `/api/v1/auth/${way}`, {
      username: typedName(username),
      code: code.trim(),
      newPassword,
      deviceName: deviceName(),
    })
  )
  return saveSession(tokens)
}

// ---- WebAuthn: webauthn-rs writes binary fields as base64url without padding --------------------

function fromBase64url(text: string): ArrayBuffer {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/")
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4))
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes.buffer
}

function toBase64url(buffer: ArrayBuffer | null | undefined): string | null {
  if (!buffer) return null
  let binary = ""
  for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")
}

type Json = Record<string, unknown>

function decodeCredentialList(list: unknown): PublicKeyCredentialDescriptor[] | undefined {
  if (!Array.isArray(list)) return undefined
  return list.map((item: Json) => ({ ...item, id: fromBase64url(item.id as string) }) as PublicKeyCredentialDescriptor)
}

/** Make a passkey with the server's creation options; the answer as webauthn-rs reads it. */
export async function createPasskey(options: unknown): Promise<unknown> {
  const publicKey = { ...((options as Json).publicKey as Json) }
  const user = publicKey.user as Json
  const made = (await navigator.credentials.create({
    publicKey: {
      ...publicKey,
      challenge: fromBase64url(publicKey.challenge as string),
      user: { ...user, id: fromBase64url(user.id as string) },
      excludeCredentials: decodeCredentialList(publicKey.excludeCredentials),
    } as unknown as PublicKeyCredentialCreationOptions,
  })) as PublicKeyCredential | null
  if (!made) throw new Error("no passkey was made")
  const response = made.response as AuthenticatorAttestationResponse
  return {
    id: made.id,
    rawId: toBase64url(made.rawId),
    type: made.type,
    response: {
      attestationObject: toBase64url(response.attestationObject),
      clientDataJSON: toBase64url(response.clientDataJSON),
      transports: response.getTransports?.() ?? undefined,
    },
    extensions: {},
  }
}

/** Sign with a passkey for the server's request options; the answer as webauthn-rs reads it. */
export async function usePasskey(options: unknown): Promise<unknown> {
  const publicKey = { ...((options as Json).publicKey as Json) }
  const got = (await navigator.credentials.get({
    publicKey: {
      ...publicKey,
      challenge: fromBase64url(publicKey.challenge as string),
      allowCredentials: decodeCredentialList(publicKey.allowCredentials),
    } as unknown as PublicKeyCredentialRequestOptions,
  })) as PublicKeyCredential | null
  if (!got) throw new Error("no passkey answered")
  const response = got.response as AuthenticatorAssertionResponse
  return {
    id: got.id,
    rawId: toBase64url(got.rawId),
    type: got.type,
    response: {
      authenticatorData: toBase64url(response.authenticatorData),
      clientDataJSON: toBase64url(response.clientDataJSON),
      signature: toBase64url(response.signature),
      userHandle: toBase64url(response.userHandle),
    },
    extensions: {},
  }
}

/** Sign in with a passkey: the server's ceremony, the phone's passkey, the server's tokens. */
export async function passkeySignIn(username: string): Promise<Session> {
  const started = await read<PasskeyChallenge>(await send("POST", "/api/v1/auth/passkey/start", { username: typedName(username) }))
  const credential = await usePasskey(started.options)
  const tokens = await read<AuthTokens>(
    await send("POST", "/api/v1/auth/passkey/finish", { ceremonyId: started.ceremonyId, credential, deviceName: deviceName() })
  )
  return saveSession(tokens)
}

/** Whether staff can sign in with the agency's identity provider (null when this Cairn has it
 * off, or cannot say now). */
export async function oidcSignInOption(): Promise<OidcSignInOption | null> {
  try {
    const response = await send("GET", "/api/v1/auth/oidc")
    return response.ok ? await read<OidcSignInOption>(response) : null
  } catch {
    return null
  }
}

/** Finish a sign-in through the agency: trade the handoff code the server put in the address's
 * fragment (`#oidc=`) for a session, or its second-factor challenge. */
export async function oidcExchange(code: string): Promise<Session> {
  const answer = await read<AuthTokens | { secondFactor: SecondFactorChallenge }>(
    await send("POST", "/api/v1/auth/oidc/exchange", { code, deviceName: deviceName() })
  )
  if ("secondFactor" in answer) throw new SecondFactorAsked(answer.secondFactor)
  return saveSession(answer)
}

/** The API for a signed-in account; refreshes the access token when it runs out. */
export class Api {
  #refreshing: Promise<Session> | null = null

  constructor(
    public session: Session,
    private readonly signedOut: () => void
  ) {}

  get account() {
    return this.session.tokens.account
  }

  /** An access token good for at least another minute (refreshing it if needed). */
  async accessToken(): Promise<string> {
    if (this.session.accessExpiresAt - Date.now() < 60_000) await this.refresh()
    return this.session.tokens.accessToken
  }

  /** Trade the refresh token for new tokens (one refresh at a time: each token works once). */
  refresh(): Promise<Session> {
    this.#refreshing ??= (async () => {
      try {
        const response = await send("POST", "/api/v1/auth/refresh", {
          refreshToken: this.session.tokens.refreshToken,
        })
        if (response.status === 401) {
          // The session ended (signed out elsewhere, or ended from another device).
          this.signedOut()
        }
        this.session = saveSession(await read<AuthTokens>(response))
        return this.session
      } finally {
        this.#refreshing = null
      }
    })()
    return this.#refreshing
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response = await send(method, path, body, await this.accessToken())
    if (response.status === 401) {
      await this.refresh()
      response = await send(method, path, body, this.session.tokens.accessToken)
    }
    return read<T>(response)
  }

  plans(): Promise<PlanSummary[]> {
    return this.call("GET", "/api/v1/plans")
  }

  createPlan(title: string): Promise<PlanSummary> {
    return this.call("POST", "/api/v1/plans", { title })
  }

  invite(planId: string): Promise<Invitation> {
    return this.call("POST", `/api/v1/plans/${encodeURIComponent(planId)}/invitations`, {})
  }

  accept(code: string): Promise<PlanSummary> {
    return this.call("POST", `/api/v1/invitations/${encodeURIComponent(code.trim())}/accept`)
  }

  members(planId: string): Promise<PlanMember[]> {
    return this.call("GET", `/api/v1/plans/${encodeURIComponent(planId)}/members`)
  }

  removeMember(planId: string, userId: string): Promise<void> {
    return this.call("DELETE", `/api/v1/plans/${encodeURIComponent(planId)}/members/${encodeURIComponent(userId)}`)
  }

  history(planId: string): Promise<HistoryEntry[]> {
    return this.call("GET", `/api/v1/plans/${encodeURIComponent(planId)}/history`)
  }

  /** The history in sessions of editing, each said item by item. */
  historySessions(planId: string): Promise<HistorySession[]> {
    return this.call("GET", `/api/v1/plans/${encodeURIComponent(planId)}/history/sessions`)
  }

  /** The plan's named versions, oldest first. */
  versions(planId: string): Promise<PlanVersion[]> {
    return this.call("GET", `/api/v1/plans/${encodeURIComponent(planId)}/versions`)
  }

  /** Name the plan as it stands. */
  nameVersion(planId: string, name: string): Promise<PlanVersion> {
    return this.call("POST", `/api/v1/plans/${encodeURIComponent(planId)}/versions`, { name })
  }

  /** The other member acknowledges a named version. */
  acknowledgeVersion(planId: string, versionId: string): Promise<PlanVersion> {
    return this.call("POST", `/api/v1/plans/${encodeURIComponent(planId)}/versions/${encodeURIComponent(versionId)}/acknowledge`)
  }

  /** A named version as it was, and what changed since. */
  openVersion(planId: string, versionId: string): Promise<PlanVersionView> {
    return this.call("GET", `/api/v1/plans/${encodeURIComponent(planId)}/versions/${encodeURIComponent(versionId)}`)
  }

  /** Restore a named version as a new change (the server sends it to every device). */
  restoreVersion(planId: string, versionId: string): Promise<{ heads: string[] }> {
    return this.call("POST", `/api/v1/plans/${encodeURIComponent(planId)}/versions/${encodeURIComponent(versionId)}/restore`)
  }

  accessLog(planId: string): Promise<AccessLogEntry[]> {
    return this.call("GET", `/api/v1/plans/${encodeURIComponent(planId)}/access-log`)
  }

  /** An export of the plan (or of a named version of it) as a file (logged in the plan's access log). */
  async export(planId: string, format: "json" | "markdown" | "fhir", version?: string): Promise<Blob> {
    const of = version ? `&version=${encodeURIComponent(version)}` : ""
    const path = `/api/v1/plans/${encodeURIComponent(planId)}/export?format=${format}${of}`
    let response = await send("GET", path, undefined, await this.accessToken())
    if (response.status === 401) {
      await this.refresh()
      response = await send("GET", path, undefined, this.session.tokens.accessToken)
    }
    if (!response.ok) await read(response)
    return response.blob()
  }

  sessions(): Promise<DeviceSession[]> {
    return this.call("GET", "/api/v1/me/sessions")
  }

  endSession(sessionId: string): Promise<void> {
    return this.call("DELETE", `/api/v1/me/sessions/${encodeURIComponent(sessionId)}`)
  }

  /** Rename a device session (a newer server: an older one answers 404 or 405). */
  renameSession(sessionId: string, name: string): Promise<DeviceSession | undefined> {
    return this.call("PATCH", `/api/v1/me/sessions/${encodeURIComponent(sessionId)}`, { deviceName: name })
  }

  changePassword(currentPassword: string, newPassword: string): Promise<void> {
    return this.call("POST", "/api/v1/me/password", { currentPassword, newPassword })
  }

  recoveryCodes(): Promise<RecoveryCodeStatus> {
    return this.call("GET", "/api/v1/me/recovery-codes")
  }

  newRecoveryCodes(password: string): Promise<RecoveryCodes> {
    return this.call("POST", "/api/v1/me/recovery-codes", { password })
  }

  passkeys(): Promise<PasskeyInfo[]> {
    return this.call("GET", "/api/v1/me/passkeys")
  }

  async addPasskey(name: string): Promise<PasskeyInfo> {
    const started = await this.call<PasskeyChallenge>("POST", "/api/v1/me/passkeys/registration")
    const credential = await createPasskey(started.options)
    return this.call("POST", "/api/v1/me/passkeys", { ceremonyId: started.ceremonyId, credential, name })
  }

  removePasskey(id: string): Promise<void> {
    return this.call("DELETE", `/api/v1/me/passkeys/${encodeURIComponent(id)}`)
  }

  secondFactor(): Promise<SecondFactorStatus> {
    return this.call("GET", "/api/v1/me/second-factor")
  }

  startTotp(): Promise<TotpEnrolment> {
    return this.call("POST", "/api/v1/me/second-factor/totp")
  }

  confirmTotp(code: string): Promise<void> {
    return this.call("POST", "/api/v1/me/second-factor/totp/confirm", { code: code.trim() })
  }

  removeTotp(code: string): Promise<void> {
    return this.call("DELETE", "/api/v1/me/second-factor/totp", { code: code.trim() })
  }

  activity(): Promise<ActivityEntry[]> {
    return this.call("GET", "/api/v1/me/activity?limit=50")
  }

  leavingPreview(): Promise<LeavingPreview> {
    return this.call("GET", "/api/v1/me/leaving")
  }

  deleteAccount(password: string): Promise<void> {
    return this.call("DELETE", "/api/v1/me", { password })
  }

  /** Delete the account, confirmed by one of its passkeys instead of the password. */
  async deleteAccountWithPasskey(): Promise<void> {
    const started = await this.call<PasskeyChallenge>("POST", "/api/v1/me/passkeys/confirmation")
    const credential = await usePasskey(started.options)
    return this.call("DELETE", "/api/v1/me", { passkey: { ceremonyId: started.ceremonyId, credential } })
  }

  async logout(): Promise<void> {
    try {
      await this.call("POST", "/api/v1/auth/logout")
    } catch {
      // Signing out on this phone works offline too; the session then ends when it expires.
    }
  }
}
