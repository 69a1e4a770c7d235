// What a person reads when something did not work: the server's stable error codes (never its
// English sentences) mapped to friendly words in the app's language. A refused field
// (`validation_failed`) is told apart by the start of the server's sentence, which names the
// field ("username must be…", "password must be…"); the sentence itself is never shown.
import type { ErrorCode } from "../../../client-schema/cairn.ts"
import { ApiError, Offline } from "../api.ts"
import { catalogue } from "./i18n.ts"

const t = catalogue(
  {
    offline: "No connection right now. Try again when you are online.",
    unknown: "Something went wrong. Please try again.",
    invalidCredentials: "That username and password don't match. Check them and try again.",
    usernameTaken: "That username is taken (or one that looks just like it). Please choose another.",
    enrollmentCodeInvalid:
      "That enrollment code doesn't work: it may be mistyped or out of date. Check it, or ask your agency for a new one.",
    registrationClosed:
      "New accounts can't be made here right now. Ask the people who run this Cairn to make one for you.",
    rateLimited: "Too many tries for now. Please wait {count} minute and try again.|Too many tries for now. Please wait {count} minutes and try again.",
    rateLimitedSoon: "Too many tries for now. Please wait a little and try again.",
    accountDisabled: "This account has been switched off. If you think that's a mistake, talk to your agency.",
    secondFactorRequired: "This needs your authenticator app's code first. Sign out and log in again with it.",
    sessionEnded: "Your session has ended. Please log in again.",
    invitationNotFound: "That invitation code doesn't match any plan. Check it with the person who gave it to you.",
    invitationExpired: "That invitation code has run out. Ask the person for a new one.",
    invitationUsed: "That invitation code has already been used: each code works once. Ask the person for a new one.",
    alreadyMember: "You're already on this plan: it's in your list.",
    planLimitReached: "You have as many plans as this Cairn allows. Delete one you no longer need, or ask your agency.",
    ownerOnly: "Only the person whose plan it is can do that.",
    ownerCannotLeave: "This is your own plan, so you can't leave it.",
    adminCannotUsePlans: "This is an agency administrator's account. Plans are written with a member's account.",
    planNotFound: "That plan isn't available: it may have been deleted, or your access to it has ended.",
    memberNotFound: "That person is no longer on the plan.",
    sessionNotFound: "That session has already ended.",
    payloadTooLarge: "That's too much to save in one go. Try something shorter.",
    notReady: "Cairn is just starting up. Try again in a moment.",
    internal: "Something went wrong on Cairn's side. Please try again in a moment.",
    usernameRules:
      "A username has 3 to 32 letters or numbers (in any alphabet, accents welcome) and may use . _ or -, but no spaces.",
    usernameScripts: "That username mixes letters from different alphabets that can look alike. Please write it in one.",
    displayName: "Please write your name as others will see it (up to 80 characters).",
    passwordShort: "Your password needs at least 8 characters. A few words you'll remember work well.",
    passwordSpaces: "Your password can't be only spaces. A few words you'll remember work well.",
    passwordCommon:
      "That password is one of the common ones that attackers try first. Please choose another: a few words you'll remember work well.",
    title: "That plan name is too long. Please make it shorter.",
    wrongPassword: "That is not your current password. Check it and try again.",
    recoveryCodeInvalid: "That username and recovery code don't work together. Check both: each code works once.",
    resetCodeInvalid: "That username and reset code don't work together. Check both, or ask your agency for a new code: each works once and for one day.",
    soleAdmin: "You are the only administrator, so this account can't be deleted. Make someone else an administrator first.",
    passkeyNotFound: "That passkey has already been removed.",
    passkeyFailed: "Cairn could not use that passkey. Please try again.",
    secondFactorCode: "That code doesn't work. Type the 6 digits your authenticator app shows now.",
    secondFactorChallenge: "That took too long. Please log in again.",
    secondFactorNotFound: "There is no authenticator app on this account.",
    secondFactorEnabled: "An authenticator app is already set up on this account.",
    invalid: "Something in the form isn't quite right. Please check it and try again.",
    oidcFailed: "That sign-in through your agency didn't finish. Please try again.",
    oidcNotAllowed: "Your organisation's accounts can't sign in to this Cairn. Talk to the people who run it.",
    oidcUnavailable: "Your agency's sign-in can't be reached right now. Please try again in a moment.",
    oidcEnded: "Your agency's sign-in no longer lets this account in, so you've been signed out.",
    oidcOff: "Signing in through your agency isn't set up on this Cairn.",
  },
  {
    offline: "Ahora mismo no tienes conexión. Vuelve a intentarlo cuando la tengas.",
    unknown: "Algo salió mal. Vuelve a intentarlo, por favor.",
    invalidCredentials: "El nombre de usuario y la contraseña no coinciden. Revísalos y vuelve a intentarlo.",
    usernameTaken: "Ese nombre de usuario ya está en uso (o uno que se le parece mucho). Elige otro, por favor.",
    enrollmentCodeInvalid:
      "Ese código de registro no funciona: puede que tenga algún error o que haya caducado. Revísalo o pide uno nuevo a tu organización.",
    registrationClosed:
      "Ahora mismo no se pueden crear cuentas aquí. Pide a quienes gestionan este Cairn que te creen una.",
    rateLimited:
      "Demasiados intentos por ahora. Espera {count} minuto y vuelve a intentarlo.|Demasiados intentos por ahora. Espera {count} minutos y vuelve a intentarlo.",
    rateLimitedSoon: "Demasiados intentos por ahora. Espera un poco y vuelve a intentarlo.",
    accountDisabled: "Esta cuenta está desactivada. Si crees que es un error, habla con tu organización.",
    secondFactorRequired: "Antes hace falta el código de tu app de autenticación. Cierra sesión y vuelve a iniciarla con él.",
    sessionEnded: "Tu sesión ha terminado. Vuelve a iniciar sesión.",
    invitationNotFound: "Ese código de invitación no corresponde a ningún plan. Compruébalo con la persona que te lo dio.",
    invitationExpired: "Ese código de invitación ya caducó. Pide uno nuevo a la persona.",
    invitationUsed: "Ese código de invitación ya se usó: cada código sirve una sola vez. Pide uno nuevo a la persona.",
    alreadyMember: "Ya estás en este plan: lo tienes en tu lista.",
    planLimitReached: "Ya tienes todos los planes que permite este Cairn. Borra alguno que ya no necesites o pregunta a tu organización.",
    ownerOnly: "Solo la persona a quien pertenece el plan puede hacer eso.",
    ownerCannotLeave: "Este es tu propio plan, así que no puedes dejarlo.",
    adminCannotUsePlans: "Esta es una cuenta de administración de la organización. Los planes se escriben con una cuenta de miembro.",
    planNotFound: "Ese plan no está disponible: puede que se haya borrado o que tu acceso haya terminado.",
    memberNotFound: "Esa persona ya no está en el plan.",
    sessionNotFound: "Esa sesión ya había terminado.",
    payloadTooLarge: "Es demasiado para guardarlo de una vez. Prueba con algo más corto.",
    notReady: "Cairn se está poniendo en marcha. Vuelve a intentarlo en un momento.",
    internal: "Algo falló en el servidor de Cairn. Vuelve a intentarlo en un momento.",
    usernameRules:
      "El nombre de usuario lleva de 3 a 32 letras o números (de cualquier alfabeto, con tildes si quieres) y puede usar . _ o -, pero no espacios.",
    usernameScripts: "Ese nombre de usuario mezcla letras de alfabetos distintos que pueden confundirse. Escríbelo en uno solo, por favor.",
    displayName: "Escribe tu nombre tal como lo verán los demás (hasta 80 caracteres).",
    passwordShort: "Tu contraseña necesita al menos 8 caracteres. Unas cuantas palabras que recuerdes funcionan muy bien.",
    passwordSpaces: "Tu contraseña no puede ser solo espacios. Unas cuantas palabras que recuerdes funcionan muy bien.",
    passwordCommon:
      "Esa contraseña es de las más comunes, las primeras que prueban los atacantes. Elige otra: unas cuantas palabras que recuerdes funcionan muy bien.",
    title: "Ese nombre de plan es demasiado largo. Acórtalo, por favor.",
    wrongPassword: "Esa no es tu contraseña actual. Revísala y vuelve a intentarlo.",
    recoveryCodeInvalid: "Ese nombre de usuario y ese código de recuperación no funcionan juntos. Revisa los dos: cada código sirve una sola vez.",
    resetCodeInvalid: "Ese nombre de usuario y ese código de restablecimiento no funcionan juntos. Revisa los dos o pide un código nuevo a tu organización: cada uno sirve una vez y durante un día.",
    soleAdmin: "Eres la única persona administradora, así que esta cuenta no se puede borrar. Nombra antes a otra persona administradora.",
    passkeyNotFound: "Esa llave de acceso ya se había quitado.",
    passkeyFailed: "Cairn no pudo usar esa llave de acceso. Vuelve a intentarlo.",
    secondFactorCode: "Ese código no funciona. Escribe las 6 cifras que muestra ahora tu app de autenticación.",
    secondFactorChallenge: "Ha pasado demasiado tiempo. Vuelve a iniciar sesión.",
    secondFactorNotFound: "Esta cuenta no tiene ninguna app de autenticación.",
    secondFactorEnabled: "Esta cuenta ya tiene una app de autenticación.",
    invalid: "Algo del formulario no está del todo bien. Revísalo y vuelve a intentarlo.",
    oidcFailed: "El inicio de sesión con tu agencia no terminó. Vuelve a intentarlo.",
    oidcNotAllowed: "Las cuentas de tu organización no pueden entrar en este Cairn. Habla con quienes lo administran.",
    oidcUnavailable: "Ahora mismo no se puede contactar con el inicio de sesión de tu agencia. Vuelve a intentarlo en un momento.",
    oidcEnded: "El inicio de sesión de tu agencia ya no admite esta cuenta, así que se ha cerrado tu sesión.",
    oidcOff: "En este Cairn no está configurado el inicio de sesión con tu agencia.",
  }
)

/** Friendly words for the codes a person can meet in the app; others read as "something went
 * wrong". `admin_only` and `account_not_found` belong to the admin console, not this app. */
const byCode: Partial<Record<ErrorCode, (err: ApiError) => string>> = {
  invalid_credentials: () => t("invalidCredentials"),
  username_taken: () => t("usernameTaken"),
  enrollment_code_invalid: () => t("enrollmentCodeInvalid"),
  registration_closed: () => t("registrationClosed"),
  rate_limited: err =>
    err.retryAfter ? t("rateLimited", { count: Math.max(1, Math.ceil(err.retryAfter / 60)) }) : t("rateLimitedSoon"),
  account_disabled: () => t("accountDisabled"),
  second_factor_required: () => t("secondFactorRequired"),
  unauthenticated: () => t("sessionEnded"),
  invalid_token: () => t("sessionEnded"),
  invalid_refresh_token: () => t("sessionEnded"),
  refresh_token_reused: () => t("sessionEnded"),
  invitation_not_found: () => t("invitationNotFound"),
  invitation_expired: () => t("invitationExpired"),
  invitation_used: () => t("invitationUsed"),
  already_member: () => t("alreadyMember"),
  plan_limit_reached: () => t("planLimitReached"),
  owner_only: () => t("ownerOnly"),
  owner_cannot_leave: () => t("ownerCannotLeave"),
  admin_cannot_use_plans: () => t("adminCannotUsePlans"),
  plan_not_found: () => t("planNotFound"),
  member_not_found: () => t("memberNotFound"),
  session_not_found: () => t("sessionNotFound"),
  payload_too_large: () => t("payloadTooLarge"),
  not_ready: () => t("notReady"),
  internal: () => t("internal"),
  wrong_password: () => t("wrongPassword"),
  recovery_code_invalid: () => t("recoveryCodeInvalid"),
  reset_code_invalid: () => t("resetCodeInvalid"),
  sole_admin: () => t("soleAdmin"),
  passkey_not_found: () => t("passkeyNotFound"),
  passkey_registration_failed: () => t("passkeyFailed"),
  second_factor_code_invalid: () => t("secondFactorCode"),
  second_factor_challenge_invalid: () => t("secondFactorChallenge"),
  second_factor_not_found: () => t("secondFactorNotFound"),
  second_factor_already_enabled: () => t("secondFactorEnabled"),
  oidc_sign_in_failed: () => t("oidcFailed"),
  oidc_not_allowed: () => t("oidcNotAllowed"),
  oidc_provider_unavailable: () => t("oidcUnavailable"),
  oidc_session_ended: () => t("oidcEnded"),
  oidc_not_configured: () => t("oidcOff"),
  validation_failed: err => t(refusedField(err)?.words ?? "invalid"),
}

/** The form fields a refusal can name, and the words for each way the server refuses them. */
type Field = "username" | "displayName" | "password" | "title"
const REFUSALS: { field: Field; start: RegExp; words: Parameters<typeof t>[0] }[] = [
  { field: "username", start: /^username mixes/i, words: "usernameScripts" },
  { field: "username", start: /^username/i, words: "usernameRules" },
  { field: "displayName", start: /^display ?name/i, words: "displayName" },
  { field: "password", start: /^password cannot be only spaces/i, words: "passwordSpaces" },
  { field: "password", start: /^password/i, words: "passwordShort" },
  { field: "password", start: /^that password is on a list/i, words: "passwordCommon" },
  { field: "title", start: /^title/i, words: "title" },
]

function refusedField(err: unknown) {
  if (!(err instanceof ApiError) || err.code !== "validation_failed") return undefined
  return REFUSALS.find(refusal => refusal.start.test(err.message.trim()))
}

/** The field a refusal is about (to point the person at it), if the server named one. */
export function problemField(err: unknown): Field | undefined {
  if (err instanceof ApiError && err.code === "username_taken") return "username"
  return refusedField(err)?.field
}

/** The words for a failed call, in the app's language. Never the server's own sentence. */
export function problem(err: unknown): string {
  if (err instanceof Offline) return t("offline")
  if (err instanceof ApiError) {
    const words = byCode[err.code as ErrorCode]
    if (words) return words(err)
  }
  return t("unknown")
}
