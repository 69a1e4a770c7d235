// The REST client: the signed-in session kept on this phone, every call Cairn's API offers the
// app, and refreshing the short-lived access token with the single-use refresh token.
import type {
  AuthTokens,
  ErrorBody,
  HistoryEntry,
  Invitation,
  PlanMember,
  PlanSummary,
} from "../../client-schema/cairn.ts"

const SESSION_KEY = "cairn.session"

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

/** What this phone keeps of the signed-in account. */
export interface Session {
  tokens: AuthTokens
  /** When the access token stops working (ms since the epoch). */
  accessExpiresAt: number
}

export function loadSession(): Session | null {
  try {
    const text = localStorage.getItem(SESSION_KEY)
    return text ? (JSON.parse(text) as Session) : null
  } catch {
    return null
  }
}

function saveSession(tokens: AuthTokens): Session {
  const session = { tokens, accessExpiresAt: Date.now() + tokens.expiresIn * 1000 }
  localStorage.setItem(SESSION_KEY, JSON.stringify(session))
  return session
}

export function forgetSession(): void {
  localStorage.removeItem(SESSION_KEY)
}

function deviceName(): string {
  const mobile = /Android|iPhone|iPad/i.exec(navigator.userAgent)?.[0]
  return mobile ? `${mobile} browser` : "Browser"
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

export async function login(username: string, password: string): Promise<Session> {
  const tokens = await read<AuthTokens>(
    await send("POST", "/api/v1/auth/login", { username: typedName(username), password, deviceName: deviceName() })
  )
  return saveSession(tokens)
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

  async logout(): Promise<void> {
    try {
      await this.call("POST", "/api/v1/auth/logout")
    } catch {
      // Signing out on this phone works offline too; the session then ends when it expires.
    }
  }
}
