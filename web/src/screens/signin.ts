// Signing in, or creating an account (with an agency's enrollment code where it needs one).
// Usernames may be written in any alphabet ("maría", "Łucja", "小林"): nothing here refuses one;
// the server says which names it takes, and a refusal reads in the app's own words.
import { login, register } from "../api.ts"
import { field, h } from "../dom.ts"
import { problem, problemField } from "../app/errors.ts"
import { catalogue } from "../app/i18n.ts"
import { currentNotice, main, say, startSession } from "../app/shell.ts"

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
  }
)

/** Which form is showing and what is typed in it: kept when the screen is drawn again (a switch
 * of language), forgotten once the person is signed in. */
let creating = false
let typed: Record<string, string> = {}

export function signInScreen(): void {
  const render = () => {
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
        autocomplete: "username",
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
    }
    const form = h(
      "form",
      {
        class: "card",
        onsubmit: async (event: Event) => {
          event.preventDefault()
          for (const control of Object.values(inputs)) control.removeAttribute("aria-invalid")
          try {
            const session = creating
              ? await register(inputs.username.value, inputs.displayName.value, inputs.password.value, inputs.enrollmentCode.value)
              : await login(inputs.username.value, inputs.password.value)
            creating = false
            typed = {}
            await startSession(session)
          } catch (err) {
            say(() => problem(err))
            // Point at the field the server refused, when it named one.
            const refused = problemField(err)
            const control = refused && refused !== "title" ? inputs[refused] : null
            if (control?.isConnected) {
              control.setAttribute("aria-invalid", "true")
              control.focus()
            }
          }
        },
      },
      h("h1", {}, creating ? t("createTitle") : t("welcome")),
      h("p", {}, t("intro")),
      field(t("username"), inputs.username, creating ? t("usernameHint") : undefined),
      creating ? field(t("displayName"), inputs.displayName) : null,
      field(t("password"), inputs.password, creating ? t("passwordHint") : undefined),
      creating ? field(t("enrollmentCode"), inputs.enrollmentCode) : null,
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
    main.replaceChildren(form, h("p", { class: "about-link" }, h("a", { href: "#/about" }, t("about"))))
  }
  render()
}
