// Signing in, or creating an account (with an agency's enrollment code where it needs one).
// Usernames may be written in any alphabet ("maría", "Łucja", "小林"): nothing here refuses one;
// the server says which names it takes, and a refusal reads in the app's own words.
import { ApiError, SecondFactorAsked, login, oidcExchange, oidcSignInOption, passkeySignIn, redeemCode, register, secondFactor, type Session } from "../api.ts"
import type { OidcSignInOption } from "../../../client-schema/cairn.ts"
import { field, h } from "../dom.ts"
import { problem, problemField } from "../app/errors.ts"
import { catalogue } from "../app/i18n.ts"
import { currentNotice, main, say, startSession } from "../app/shell.ts"
import { recoveryCodesCard } from "./recovery-codes.ts"

const t = catalogue(
  {
    createTitle: "Create your account",
    welcome: "Welcome to Cairn",
    intro: "Your recovery plan, in your own words, written with your supporter. It stays on this phone and syncs when you are online.",
    username: "Username",
    usernameHint: "Letters or numbers, accents welcome; no spaces.",
    displayName: "Your name, as others will see it",
    password: "Password",
    passwordHint: "At least 8 characters.",
    enrollmentCode: "Enrollment code (if your agency gave you one)",
    create: "Create account",
    logIn: "Log in",
    haveAccount: "I already have an account",
    newHere: "New here? Create an account",
    about: "About this app: what stays on this phone",
    forgot: "Forgot password?",
    passkey: "Sign in with a passkey",
    passkeyTitle: "Sign in with a passkey",
    passkeyIntro: "Type your username, then use the passkey you added to your account (this phone's fingerprint, face or screen lock).",
    passkeyGo: "Use my passkey",
    passkeyCancelled: "No passkey was used. Try again, or log in with your password.",
    back: "‹ Back to log in",
    forgotTitle: "Forgot your password?",
    forgotIntro: "There are two ways back into your account. Your plans are still there either way.",
    wayCode: "I have a recovery code",
    wayCodeHint: "One of the codes you wrote down or printed when you made your account (or later, on your account's page).",
    wayAgency: "Ask your agency for a reset code",
    wayAgencyHint: "No codes? The people at your agency who run Cairn can give you a reset code. They never learn your password or see your plans, and you will see it in your account's activity.",
    recoverTitle: "A new password with a recovery code",
    resetTitle: "A new password with a reset code",
    resetIntro: "Ask your agency for a reset code for your username. It works once, within a day. Then type it here.",
    recoveryCode: "Recovery code",
    resetCode: "Reset code from your agency",
    newPassword: "New password (at least 8 characters)",
    setPassword: "Set my new password",
    codeAfter: "Every other phone or computer signed in to your account is signed out.",
    secondTitle: "One more step",
    secondIntro: "Type the 6-digit code your authenticator app shows now.",
    secondCode: "Code",
    secondGo: "Continue",
    agency: "Sign in with {name}",
    agencyHint: "For staff: your work account.",
    agencyFinishing: "Finishing your sign-in…",
  },
  {
    createTitle: "Crea tu cuenta",
    welcome: "Te damos la bienvenida a Cairn",
    intro: "Tu plan de recuperación, con tus propias palabras, escrito junto a tu acompañante. Se guarda en este teléfono y se sincroniza cuando tienes conexión.",
    username: "Nombre de usuario",
    usernameHint: "Letras o números, con tildes si quieres; sin espacios.",
    displayName: "Tu nombre, tal como lo verán los demás",
    password: "Contraseña",
    passwordHint: "Al menos 8 caracteres.",
    enrollmentCode: "Código de registro (si tu organización te dio uno)",
    create: "Crear cuenta",
    logIn: "Iniciar sesión",
    haveAccount: "Ya tengo una cuenta",
    newHere: "¿Primera vez aquí? Crea una cuenta",
    about: "Sobre esta app: lo que se queda en este teléfono",
    forgot: "¿Olvidaste tu contraseña?",
    passkey: "Entrar con una llave de acceso",
    passkeyTitle: "Entrar con una llave de acceso",
    passkeyIntro: "Escribe tu nombre de usuario y usa la llave de acceso que añadiste a tu cuenta (la huella, la cara o el bloqueo de pantalla de este teléfono).",
    passkeyGo: "Usar mi llave de acceso",
    passkeyCancelled: "No se usó ninguna llave de acceso. Vuelve a intentarlo o inicia sesión con tu contraseña.",
    back: "‹ Volver a iniciar sesión",
    forgotTitle: "¿Olvidaste tu contraseña?",
    forgotIntro: "Hay dos formas de volver a tu cuenta. Tus planes siguen ahí en los dos casos.",
    wayCode: "Tengo un código de recuperación",
    wayCodeHint: "Uno de los códigos que anotaste o imprimiste al crear tu cuenta (o después, en la página de tu cuenta).",
    wayAgency: "Pedir a mi organización un código de restablecimiento",
    wayAgencyHint: "¿No tienes códigos? Quienes gestionan Cairn en tu organización pueden darte un código de restablecimiento. Nunca conocen tu contraseña ni ven tus planes, y lo verás en la actividad de tu cuenta.",
    recoverTitle: "Una contraseña nueva con un código de recuperación",
    resetTitle: "Una contraseña nueva con un código de restablecimiento",
    resetIntro: "Pide a tu organización un código de restablecimiento para tu nombre de usuario. Sirve una vez, durante un día. Después escríbelo aquí.",
    recoveryCode: "Código de recuperación",
    resetCode: "Código de restablecimiento de tu organización",
    newPassword: "Contraseña nueva (al menos 8 caracteres)",
    setPassword: "Guardar mi contraseña nueva",
    codeAfter: "Se cierra la sesión en todos los demás teléfonos u ordenadores con tu cuenta.",
    secondTitle: "Un paso más",
    secondIntro: "Escribe el código de 6 cifras que muestra ahora tu app de autenticación.",
    secondCode: "Código",
    secondGo: "Continuar",
    agency: "Entrar con {name}",
    agencyHint: "Para el personal: tu cuenta del trabajo.",
    agencyFinishing: "Terminando de iniciar sesión…",
  }
)

/** Staff sign-in through the agency's identity provider, when this Cairn has it (asked once). */
let agency: OidcSignInOption | null = null
let agencyAsked = false

/** What the server's callback left in the address: a handoff code to trade, or a refusal's
 * code. Read once and taken out of the address (and the history) at once. */
function takeHandoff(): { code?: string; error?: string } | null {
  const fragment = location.hash.replace(/^#/, "")
  const params = new URLSearchParams(fragment)
  const code = params.get("oidc")
  const error = params.get("oidc-error")
  if (!code && !error) return null
  history.replaceState(null, "", location.pathname + location.search)
  return { code: code ?? undefined, error: error ?? undefined }
}

/** Which form is showing and what is typed in it: kept when the screen is drawn again (a switch
 * of language), forgotten once the person is signed in. */
type Mode = "login" | "create" | "forgot" | "recover" | "reset" | "passkey" | "second"
let mode: Mode = "login"
let typed: Record<string, string> = {}
/** The sign-in's second-factor challenge, while the code is asked for. */
let challenge = ""
/** Recovery codes from sign-up, shown once before going on. */
let freshCodes: { codes: string[]; session: Session; username: string } | null = null

export function signInScreen(): void {
  const go = (next: Mode) => {
    mode = next
    say("")
    render()
  }
  const signedIn = async (session: Session) => {
    mode = "login"
    typed = {}
    challenge = ""
    await startSession(session)
  }
  /** The card on screen, to tell whether the sign-in screen is still showing. */
  let shownCard: HTMLElement | null = null
  const render = () => {
    if (freshCodes) {
      const { codes, session, username } = freshCodes
      const card = recoveryCodesCard(
        codes,
        () => {
          freshCodes = null
          void signedIn(session)
        },
        { later: true, heading: "h1", username }
      )
      main.replaceChildren(card)
      card.querySelector<HTMLElement>("h1")?.focus()
      return
    }
    const creating = mode === "create"
    const input = (name: string, attributes: Record<string, string | boolean | undefined>) =>
      h("input", {
        name,
        value: typed[name] ?? "",
        oninput: (event: Event) => {
          typed[name] = (event.target as HTMLInputElement).value
        },
        ...attributes,
      }) as HTMLInputElement
    const inputs = {
      username: input("username", {
        autocomplete: mode === "passkey" ? "username webauthn" : "username",
        required: true,
        autocapitalize: "none",
        autocorrect: "off",
        spellcheck: "false",
      }),
      password: input("password", {
        type: "password",
        autocomplete: creating ? "new-password" : "current-password",
        required: true,
        minlength: creating ? "8" : undefined,
      }),
      displayName: input("displayName", { autocomplete: "nickname", required: true }),
      enrollmentCode: input("enrollmentCode", { autocomplete: "off", autocapitalize: "characters" }),
      code: input("code", { autocomplete: mode === "second" ? "one-time-code" : "off", autocapitalize: "characters", required: true, inputmode: mode === "second" ? "numeric" : undefined }),
      newPassword: input("newPassword", { type: "password", autocomplete: "new-password", required: true, minlength: "8" }),
    }
    const noticeLine = h("p", { id: "notice", class: "notice", role: "alert" }, currentNotice())
    const refused = (err: unknown) => {
      say(() => problem(err))
      // Point at the field the server refused, when it named one.
      const named = problemField(err)
      const control = named === "password" && (mode === "recover" || mode === "reset") ? inputs.newPassword : named && named !== "title" ? inputs[named] : null
      if (control?.isConnected) {
        control.setAttribute("aria-invalid", "true")
        control.focus()
      }
    }
    const back = h("button", { type: "button", class: "link", onclick: () => go("login") }, t("back"))
    const form = (title: string, submit: string, act: () => Promise<void>, ...content: (HTMLElement | null)[]) =>
      h(
        "form",
        {
          class: "card",
          onsubmit: async (event: Event) => {
            event.preventDefault()
            for (const control of Object.values(inputs)) control.removeAttribute("aria-invalid")
            try {
              await act()
            } catch (err) {
              if (err instanceof SecondFactorAsked) {
                challenge = err.challenge.challenge
                typed.code = ""
                return go("second")
              }
              if (err instanceof DOMException) return say(() => t("passkeyCancelled"))
              refused(err)
            }
          },
        },
        h("h1", { tabindex: "-1" }, title),
        ...content,
        noticeLine,
        h("button", { type: "submit", class: "primary" }, submit)
      )
    let card: HTMLElement
    if (mode === "login" || mode === "create") {
      card = form(
        creating ? t("createTitle") : t("welcome"),
        creating ? t("create") : t("logIn"),
        async () => {
          if (creating) {
            const session = await register(inputs.username.value, inputs.displayName.value, inputs.password.value, inputs.enrollmentCode.value)
            const codes = session.tokens.recoveryCodes
            delete session.tokens.recoveryCodes
            if (codes?.length) {
              freshCodes = { codes, session, username: session.tokens.account.username }
              typed = {}
              mode = "login"
              return render()
            }
            return signedIn(session)
          }
          await signedIn(await login(inputs.username.value, inputs.password.value))
        },
        h("p", {}, t("intro")),
        field(t("username"), inputs.username, creating ? t("usernameHint") : undefined),
        creating ? field(t("displayName"), inputs.displayName) : null,
        field(t("password"), inputs.password, creating ? t("passwordHint") : undefined),
        creating ? field(t("enrollmentCode"), inputs.enrollmentCode) : null
      )
      card.append(
        h("button", { type: "button", class: "link", onclick: () => go(creating ? "login" : "create") }, creating ? t("haveAccount") : t("newHere"))
      )
      if (!creating && agency) {
        const start = agency.startPath
        card.append(
          h(
            "div",
            { class: "stack" },
            h("a", { class: "button-link", href: start, onclick: () => say(() => t("agencyFinishing")) }, t("agency", { name: agency.displayName })),
            h("p", { class: "hint" }, t("agencyHint"))
          )
        )
      }
      if (!creating) {
        card.append(
          h(
            "div",
            { class: "stack" },
            h("button", { type: "button", class: "link", onclick: () => go("forgot") }, t("forgot")),
            h("button", { type: "button", class: "link", onclick: () => go("passkey") }, t("passkey"))
          )
        )
      }
    } else if (mode === "forgot") {
      card = h(
        "section",
        { class: "card" },
        h("h1", { tabindex: "-1" }, t("forgotTitle")),
        h("p", {}, t("forgotIntro")),
        h("div", { class: "stack" }, h("button", { type: "button", class: "primary", onclick: () => go("recover") }, t("wayCode")), h("p", { class: "hint" }, t("wayCodeHint"))),
        h("div", { class: "stack" }, h("button", { type: "button", onclick: () => go("reset") }, t("wayAgency")), h("p", { class: "hint" }, t("wayAgencyHint"))),
        back
      )
    } else if (mode === "recover" || mode === "reset") {
      const way = mode
      card = form(
        way === "recover" ? t("recoverTitle") : t("resetTitle"),
        t("setPassword"),
        async () => signedIn(await redeemCode(way, inputs.username.value, inputs.code.value, inputs.newPassword.value)),
        way === "reset" ? h("p", {}, t("resetIntro")) : null,
        field(t("username"), inputs.username),
        field(way === "recover" ? t("recoveryCode") : t("resetCode"), inputs.code),
        field(t("newPassword"), inputs.newPassword, t("codeAfter"))
      )
      card.append(h("button", { type: "button", class: "link", onclick: () => go("forgot") }, t("forgotTitle")), back)
    } else if (mode === "passkey") {
      card = form(t("passkeyTitle"), t("passkeyGo"), async () => signedIn(await passkeySignIn(inputs.username.value)), h("p", {}, t("passkeyIntro")), field(t("username"), inputs.username))
      card.append(back)
    } else {
      card = form(t("secondTitle"), t("secondGo"), async () => signedIn(await secondFactor(challenge, inputs.code.value)), h("p", {}, t("secondIntro")), field(t("secondCode"), inputs.code))
      card.append(back)
    }
    main.replaceChildren(card, h("p", { class: "about-link" }, h("a", { href: "#/about" }, t("about"))))
    shownCard = card
    if (mode !== "login" && mode !== "create") card.querySelector<HTMLElement>("h1")?.focus()
  }
  render()
  const handoff = takeHandoff()
  if (handoff?.code) {
    say(() => t("agencyFinishing"))
    oidcExchange(handoff.code).then(signedIn, (err: unknown) => {
      if (err instanceof SecondFactorAsked) {
        challenge = err.challenge.challenge
        typed.code = ""
        return go("second")
      }
      say(() => problem(err))
      render()
    })
  } else if (handoff?.error) {
    const refusal = new ApiError(400, handoff.error, "", null)
    say(() => problem(refusal))
    render()
  }
  if (!agencyAsked) {
    agencyAsked = true
    void oidcSignInOption().then(option => {
      agency = option
      if (option && shownCard?.isConnected && (mode === "login" || mode === "create")) render()
    })
  }
}
