// The vault: the key that everything Cairn keeps on this phone is encrypted under, and the small
// secrets kept beside the plans (the refresh token, the plan list with titles and names).
//
// One random AES-GCM data key (256 bits) encrypts every stored value: each plan's bytes in
// automerge-repo's IndexedDB (sync.ts wraps its storage) and the secrets here. The data key itself
// is only ever stored wrapped (encrypted) by another key:
// - no app lock: by a non-extractable device key kept in IndexedDB. This keeps plan text out of
//   plain-text storage, but anyone holding the unlocked phone can open the app, as before.
// - with a PIN: by a key derived from the PIN (PBKDF2-SHA256, 600 000 iterations, a random salt).
//   The device key is deleted; the data key exists only in this page's memory while unlocked.
// Locking drops the data key from memory. Nothing here is written to localStorage.
//
// Database `cairn-vault`, store `kv`: `key` (the wrapped data key and how it is wrapped),
// `settings` (lock settings: not secret), and `secret:<name>` values sealed with the data key.

const DB = "cairn-vault"
const STORE = "kv"
/** PBKDF2-SHA256 iterations for the PIN (OWASP's 2023 figure for this hash). */
export const PIN_ITERATIONS = 600_000
/** The first bytes of every value this app encrypts ("CRN" and format 1). */
const MAGIC = new Uint8Array([0x43, 0x52, 0x4e, 0x01])

/** The data key wrapped by a key from the phone's passkey (WebAuthn's PRF extension). */
interface PasskeyWrap {
  credentialId: ArrayBuffer
  /** The PRF input (its output is the key's secret). */
  salt: Uint8Array
  iv: Uint8Array
  wrapped: ArrayBuffer
}

type Wrapped =
  | { mode: "device"; kek: CryptoKey; iv: Uint8Array; wrapped: ArrayBuffer }
  | { mode: "pin"; salt: Uint8Array; iterations: number; iv: Uint8Array; wrapped: ArrayBuffer; passkey?: PasskeyWrap }

export interface LockSettings {
  /** Minutes without a touch or a key before the app locks (with a lock set). */
  idleMinutes: number
}

let dataKey: CryptoKey | null = null
let database: Promise<IDBDatabase> | null = null

function open(): Promise<IDBDatabase> {
  database ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1)
    request.onupgradeneeded = () => {
      // A vault made anew while this page holds a data key: the vault was deleted under it (site
      // data cleared, or another tab). The wrapped key went with it, so nothing may be sealed
      // with the key in memory any more (no one could read it again): forget it. Sealing then
      // fails, and what was about to be written stays where it was (an older version's session
      // and plan list stay in localStorage for the next start).
      dataKey = null
      request.result.createObjectStore(STORE)
    }
    request.onsuccess = () => {
      const db = request.result
      // Another tab deleting or upgrading the vault: let it, and open again next time.
      db.onversionchange = () => {
        db.close()
        database = null
      }
      resolve(db)
    }
    request.onerror = () => reject(request.error)
  })
  return database
}

async function get<T>(key: string): Promise<T | undefined> {
  const db = await open()
  return new Promise((resolve, reject) => {
    const request = db.transaction(STORE).objectStore(STORE).get(key)
    request.onsuccess = () => resolve(request.result as T | undefined)
    request.onerror = () => reject(request.error)
  })
}

async function put(key: string, value: unknown): Promise<void> {
  const db = await open()
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, "readwrite")
    tx.objectStore(STORE).put(value, key)
    tx.oncomplete = () => resolve()
    tx.onerror = () => reject(tx.error)
  })
}

async function remove(key: string): Promise<void> {
  const db = await open()
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, "readwrite")
    tx.objectStore(STORE).delete(key)
    tx.oncomplete = () => resolve()
    tx.onerror = () => reject(tx.error)
  })
}

function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(length))
}

async function newDataKey(): Promise<CryptoKey> {
  // Extractable only so that it can be wrapped again when the lock changes; it is never exported
  // in the clear.
  return crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt"])
}

async function wrapForDevice(key: CryptoKey): Promise<Wrapped> {
  const kek = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["wrapKey", "unwrapKey"])
  const iv = randomBytes(12)
  const wrapped = await crypto.subtle.wrapKey("raw", key, kek, { name: "AES-GCM", iv })
  return { mode: "device", kek, iv, wrapped }
}

async function pinKey(pin: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(pin), "PBKDF2", false, ["deriveKey"])
  return crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["wrapKey", "unwrapKey"]
  )
}

function unwrap(wrapped: ArrayBuffer, kek: CryptoKey, iv: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.unwrapKey("raw", wrapped, kek, { name: "AES-GCM", iv }, { name: "AES-GCM", length: 256 }, true, [
    "encrypt",
    "decrypt",
  ])
}

/**
 * Open the vault at the start: "open" when the data key is in memory (a new phone gets one, a
 * phone without a lock unwraps it), "locked" when a PIN is needed first.
 */
export async function openVault(): Promise<"open" | "locked"> {
  if (dataKey) return "open"
  const stored = await get<Wrapped>("key")
  if (!stored) {
    dataKey = await newDataKey()
    await put("key", await wrapForDevice(dataKey))
    return "open"
  }
  if (stored.mode === "pin") return "locked"
  try {
    dataKey = await unwrap(stored.wrapped, stored.kek, stored.iv as Uint8Array<ArrayBuffer>)
  } catch {
    // The device key no longer opens it (a damaged store): nothing sealed can be read again, so
    // start anew; what Cairn has comes back at the next log-in.
    await resetVault()
  }
  return "open"
}

/** Whether an app lock (a PIN) is set on this phone. */
export async function hasLock(): Promise<boolean> {
  return (await get<Wrapped>("key"))?.mode === "pin"
}

export function isOpen(): boolean {
  return dataKey !== null
}

/** Try a PIN: true when it opened the vault. */
export async function unlockWithPin(pin: string): Promise<boolean> {
  const stored = await get<Wrapped>("key")
  if (!stored || stored.mode !== "pin") return openVault().then(state => state === "open")
  try {
    const kek = await pinKey(pin, stored.salt as Uint8Array<ArrayBuffer>, stored.iterations)
    dataKey = await unwrap(stored.wrapped, kek, stored.iv as Uint8Array<ArrayBuffer>)
    return true
  } catch {
    return false
  }
}

/** Set (or change) the PIN: the data key is wrapped by the PIN's key and the device key deleted. */
export async function setPin(pin: string): Promise<void> {
  if (!dataKey) throw new Error("the vault is locked")
  const salt = randomBytes(16)
  const kek = await pinKey(pin, salt, PIN_ITERATIONS)
  const iv = randomBytes(12)
  const wrapped = await crypto.subtle.wrapKey("raw", dataKey, kek, { name: "AES-GCM", iv })
  // A passkey already added keeps working: it wraps the same data key.
  const before = await get<Wrapped>("key")
  const passkey = before?.mode === "pin" ? before.passkey : undefined
  await put("key", { mode: "pin", salt, iterations: PIN_ITERATIONS, iv, wrapped, passkey } satisfies Wrapped)
}

// ---- the phone's passkey -----------------------------------------------------------------------
//
// A passkey of this phone (fingerprint, face or screen lock) can open the lock too, where the
// platform offers WebAuthn's PRF extension: the authenticator turns a stored salt into a secret
// that never leaves it unless the person verifies, and that secret (through HKDF) wraps the data
// key. No server is involved: the passkey only releases a key on this phone. The PIN stays the
// way back in when the passkey is not at hand.

/** Why a passkey could not be added. */
export class NoPasskey extends Error {
  constructor(readonly reason: "unsupported" | "no-prf" | "cancelled") {
    super(reason)
  }
}

export async function passkeyAvailable(): Promise<boolean> {
  try {
    return "PublicKeyCredential" in window && (await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable())
  } catch {
    return false
  }
}

export async function hasPasskey(): Promise<boolean> {
  const stored = await get<Wrapped>("key")
  return stored?.mode === "pin" && stored.passkey !== undefined
}

async function passkeyKey(secret: ArrayBuffer): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey("raw", secret, "HKDF", false, ["deriveKey"])
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: new TextEncoder().encode("cairn app lock") },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["wrapKey", "unwrapKey"]
  )
}

type PrfResults = { prf?: { enabled?: boolean; results?: { first?: ArrayBuffer } } }

async function prfSecret(credentialId: ArrayBuffer, salt: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer> {
  let credential: PublicKeyCredential | null
  try {
    credential = (await navigator.credentials.get({
      publicKey: {
        challenge: randomBytes(32),
        allowCredentials: [{ type: "public-key", id: credentialId }],
        userVerification: "required",
        timeout: 60_000,
        extensions: { prf: { eval: { first: salt } } } as AuthenticationExtensionsClientInputs,
      },
    })) as PublicKeyCredential | null
  } catch {
    throw new NoPasskey("cancelled")
  }
  const secret = (credential?.getClientExtensionResults() as PrfResults | undefined)?.prf?.results?.first
  if (!secret) throw new NoPasskey("no-prf")
  return secret
}

/** Add this phone's passkey to the lock (a PIN must be set, and the vault open). */
export async function addPasskey(name: string): Promise<void> {
  if (!dataKey) throw new Error("the vault is locked")
  const stored = await get<Wrapped>("key")
  if (stored?.mode !== "pin") throw new Error("set a PIN first")
  if (!(await passkeyAvailable())) throw new NoPasskey("unsupported")
  const salt = randomBytes(32)
  let credential: PublicKeyCredential | null
  try {
    credential = (await navigator.credentials.create({
      publicKey: {
        challenge: randomBytes(32),
        rp: { name: "Cairn" },
        user: { id: randomBytes(16), name, displayName: name },
        pubKeyCredParams: [
          { type: "public-key", alg: -7 },
          { type: "public-key", alg: -257 },
        ],
        authenticatorSelection: { authenticatorAttachment: "platform", userVerification: "required", residentKey: "discouraged" },
        timeout: 60_000,
        extensions: { prf: { eval: { first: salt } } } as AuthenticationExtensionsClientInputs,
      },
    })) as PublicKeyCredential | null
  } catch {
    throw new NoPasskey("cancelled")
  }
  if (!credential) throw new NoPasskey("cancelled")
  const results = credential.getClientExtensionResults() as PrfResults
  if (!results.prf?.enabled) throw new NoPasskey("no-prf")
  const secret = results.prf.results?.first ?? (await prfSecret(credential.rawId, salt))
  const iv = randomBytes(12)
  const wrapped = await crypto.subtle.wrapKey("raw", dataKey, await passkeyKey(secret), { name: "AES-GCM", iv })
  await put("key", { ...stored, passkey: { credentialId: credential.rawId, salt, iv, wrapped } } satisfies Wrapped)
}

export async function removePasskey(): Promise<void> {
  const stored = await get<Wrapped>("key")
  if (stored?.mode !== "pin") return
  await put("key", { ...stored, passkey: undefined } satisfies Wrapped)
}

/** Open the lock with the phone's passkey: true when it opened. */
export async function unlockWithPasskey(): Promise<boolean> {
  const stored = await get<Wrapped>("key")
  if (stored?.mode !== "pin" || !stored.passkey) return false
  const { credentialId, salt, iv, wrapped } = stored.passkey
  const secret = await prfSecret(credentialId, salt as Uint8Array<ArrayBuffer>)
  try {
    dataKey = await unwrap(wrapped, await passkeyKey(secret), iv as Uint8Array<ArrayBuffer>)
    return true
  } catch {
    return false
  }
}

/** Remove the lock: the data key is wrapped by a device key again. */
export async function removePin(): Promise<void> {
  if (!dataKey) throw new Error("the vault is locked")
  await put("key", await wrapForDevice(dataKey))
}

/** Forget the data key (the app locks). Only a PIN brings it back. */
export function forgetKey(): void {
  dataKey = null
}

/**
 * Sign-out (or a forgotten PIN): every secret and the key itself are deleted, and a fresh data
 * key (with no lock) is made for whoever signs in next. What the old key encrypted can no longer
 * be read by anyone.
 */
export async function resetVault(): Promise<void> {
  const db = await open()
  await new Promise<void>((resolve, reject) => {
    const tx = db.transaction(STORE, "readwrite")
    tx.objectStore(STORE).clear()
    tx.oncomplete = () => resolve()
    tx.onerror = () => reject(tx.error)
  })
  dataKey = await newDataKey()
  await put("key", await wrapForDevice(dataKey))
}

// ---- sealing values ----------------------------------------------------------------------------

/** Whether these bytes are a value this app encrypted (as opposed to older plain-text storage). */
export function isSealed(bytes: Uint8Array): boolean {
  return bytes.length > MAGIC.length + 12 && MAGIC.every((byte, i) => bytes[i] === byte)
}

/** Encrypt `plain`, bound to `context` (where it is stored: a value moved elsewhere fails). */
export async function seal(plain: Uint8Array, context: string): Promise<Uint8Array> {
  if (!dataKey) throw new Error("the vault is locked")
  const iv = randomBytes(12)
  const cipher = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(context) },
    dataKey,
    plain as Uint8Array<ArrayBuffer>
  )
  const out = new Uint8Array(MAGIC.length + iv.length + cipher.byteLength)
  out.set(MAGIC, 0)
  out.set(iv, MAGIC.length)
  out.set(new Uint8Array(cipher), MAGIC.length + iv.length)
  return out
}

export async function unseal(sealed: Uint8Array, context: string): Promise<Uint8Array> {
  if (!dataKey) throw new Error("the vault is locked")
  const iv = sealed.slice(MAGIC.length, MAGIC.length + 12)
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(context) },
    dataKey,
    sealed.slice(MAGIC.length + 12)
  )
  return new Uint8Array(plain)
}

/** Keep a small secret (JSON) sealed in the vault. */
export async function putSecret(name: string, value: unknown): Promise<void> {
  const key = `secret:${name}`
  await put(key, await seal(new TextEncoder().encode(JSON.stringify(value)), key))
}

export async function getSecret<T>(name: string): Promise<T | undefined> {
  const key = `secret:${name}`
  const stored = await get<Uint8Array>(key)
  if (!stored) return undefined
  try {
    return JSON.parse(new TextDecoder().decode(await unseal(stored, key))) as T
  } catch {
    return undefined
  }
}

export function deleteSecret(name: string): Promise<void> {
  return remove(`secret:${name}`)
}

// ---- plain settings ----------------------------------------------------------------------------

export async function lockSettings(): Promise<LockSettings> {
  return { idleMinutes: 5, ...((await get<LockSettings>("settings")) ?? {}) }
}

export function saveLockSettings(settings: LockSettings): Promise<void> {
  return put("settings", settings)
}

/** A plain (not secret) flag or value, such as the server's storage id. */
/** Delete one IndexedDB database of this phone. Resolves when it is gone, or when another open
 * connection blocks it (it then goes as soon as that connection closes). */
export function deleteDatabase(name: string): Promise<void> {
  return new Promise(resolve => {
    const request = indexedDB.deleteDatabase(name)
    request.onsuccess = request.onerror = request.onblocked = () => resolve()
  })
}

export function getPlain<T>(name: string): Promise<T | undefined> {
  return get<T>(`plain:${name}`)
}

export function putPlain(name: string, value: unknown): Promise<void> {
  return put(`plain:${name}`, value)
}
