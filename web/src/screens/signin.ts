// Signing in, or creating an account (with an agency's enrollment code where it needs one).
import { login, register } from "../api.ts"
import { field, h } from "../dom.ts"
import { problem } from "../app/errors.ts"
import { catalogue } from "../app/i18n.ts"
import { currentNotice, main, say, startSession } from "../app/shell.ts"

const t = catalogue(
  {
    createTitle: "Create your account",
    welcome: "Welcome to Cairn",
    intro: "Your recovery plan, in your own words, written with your supporter. It stays on this phone and syncs when you are online.",
    username: "Username",
    displayName: "Your name, as others will see it",
    password: "Password",
    passwordHint: "At least 8 characters.",
    enrollmentCode: "Enrollment code (if your agency gave you one)",
    create: "Create account",
    logIn: "Log in",
    haveAccount: "I already have an account",
    newHere: "New here? Create an account",
  },
  {
    createTitle: "Crea tu cuenta",
    welcome: "Te damos la bienvenida a Cairn",
    intro: "Tu plan de recuperación, con tus propias palabras, escrito junto a tu acompañante. Se guarda en este teléfono y se sincroniza cuando tienes conexión.",
    username: "Nombre de usuario",
    displayName: "Tu nombre, como lo verán los demás",
    password: "Contraseña",
    passwordHint: "Al menos 8 caracteres.",
    enrollmentCode: "Código de inscripción (si tu agencia te dio uno)",
    create: "Crear cuenta",
    logIn: "Iniciar sesión",
    haveAccount: "Ya tengo una cuenta",
    newHere: "¿Eres nuevo? Crea una cuenta",
  }
)

export function signInScreen(): void {
  let creating = false
  const render = () => {
    const username = h("input", { name: "username", autocomplete: "username", required: true, autocapitalize: "none" })
    const password = h("input", {
      name: "password",
      type: "password",
      autocomplete: creating ? "new-password" : "current-password",
      required: true,
      minlength: creating ? 8 : undefined,
    })
    const displayName = h("input", { name: "displayName", autocomplete: "nickname", required: true })
    const code = h("input", { name: "enrollmentCode", autocomplete: "off", autocapitalize: "characters" })
    const form = h(
      "form",
      {
        class: "card",
        onsubmit: async (event: Event) => {
          event.preventDefault()
          const value = (el: HTMLElement) => (el as HTMLInputElement).value
          try {
            const session = creating
              ? await register(value(username), value(displayName), value(password), value(code))
              : await login(value(username), value(password))
            await startSession(session)
          } catch (err) {
            say(problem(err))
          }
        },
      },
      h("h1", {}, creating ? t("createTitle") : t("welcome")),
      h("p", {}, t("intro")),
      field(t("username"), username),
      creating ? field(t("displayName"), displayName) : null,
      field(t("password"), password, creating ? t("passwordHint") : undefined),
      creating ? field(t("enrollmentCode"), code) : null,
      h("p", { id: "notice", class: "notice", role: "alert" }, currentNotice()),
      h("button", { type: "submit", class: "primary" }, creating ? t("create") : t("logIn")),
      h(
        "button",
        {
          type: "button",
          class: "link",
          onclick: () => {
            creating = !creating
            say("")
            render()
          },
        },
        creating ? t("haveAccount") : t("newHere")
      )
    )
    main.replaceChildren(form)
  }
  render()
}
