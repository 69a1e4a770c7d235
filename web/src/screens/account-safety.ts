// The account's safety, beside its device sessions: changing the password, recovery codes,
// passkeys, an authenticator app (second factor), the account's activity in sentences, and
// leaving Cairn (deleting the account, after saying what goes with it).
import type { ActivityEntry, PasskeyInfo } from "../../../client-schema/cairn.ts"
import { deviceName } from "../api.ts"
import { field, h } from "../dom.ts"
import { problem } from "../app/errors.ts"
import { catalogue, dateTime } from "../app/i18n.ts"
import { signOut, type SignedIn } from "../app/shell.ts"
import { recoveryCodesCard } from "./recovery-codes.ts"

const t = catalogue(
  {
    passwordTitle: "Change my password",
    currentPassword: "Current password",
    newPassword: "New password (at least 8 characters)",
    changePassword: "Change the password",
    passwordChanged: "Your password is changed. Every other phone or computer signed in to your account has been signed out; this one stays signed in.",
    codesTitle: "Recovery codes",
    codesLeft: "You have {count} unused recovery code. If you forget your password, a code lets you choose a new one.|You have {count} unused recovery codes. If you forget your password, a code lets you choose a new one.",
    codesNone: "You have no unused recovery codes. Make new ones, so that a forgotten password does not lock you out.",
    codesMade: "Made {date}.",
    newCodes: "Make new codes",
    codesPassword: "Your password, to make new codes",
    codesDone: "Your new codes are ready to use. The old ones no longer work.",
    passkeysTitle: "Passkeys",
    passkeysIntro: "A passkey lets you sign in with this phone's fingerprint, face or screen lock instead of your password.",
    passkeysNone: "You have no passkeys yet.",
    passkeyLine: "Added {date}",
    passkeyUsed: "last used {date}",
    passkeyName: "A name for the passkey",
    addPasskey: "Add a passkey",
    passkeyAdded: "The passkey “{name}” is added. You can sign in with it now.",
    passkeyCancelled: "No passkey was added.",
    passkeyUnsupported: "This browser cannot make passkeys.",
    removePasskey: "Remove",
    removePasskeyNamed: "Remove the passkey {name}",
    passkeyRemoved: "The passkey “{name}” is removed.",
    factorTitle: "Authenticator app (optional)",
    factorOff: "You can ask for a 6-digit code from an authenticator app each time you sign in, as well as your password.",
    factorOn: "Signing in asks for a code from your authenticator app.",
    factorStart: "Set up an authenticator app",
    factorSecret: "In your authenticator app, add an account with this key, or open the link on this phone. Then type the code it shows.",
    factorLink: "Open in an authenticator app",
    factorCode: "The 6-digit code",
    factorConfirm: "Turn it on",
    factorAdded: "Your authenticator app is on. Signing in asks for its code.",
    factorRemove: "Turn it off",
    factorRemoved: "Your authenticator app is off.",
    activityTitle: "What happened on my account",
    activityNone: "Nothing yet.",
    signedIn: "Signed in on {device}, {date}",
    signedInNoDevice: "Signed in, {date}",
    fromAddress: "(from {address})",
    passwordChangedEntry: "Password changed, {date}",
    passwordResetBy: "Password reset with a code from {by} (agency), {date}",
    passwordResetCode: "Password reset with a code from your agency, {date}",
    codesCreated: "New recovery codes made, {date}",
    codeUsed: "A recovery code was used to choose a new password, {date}",
    passkeyAddedEntry: "A passkey was added: {name}, {date}",
    passkeyRemovedEntry: "A passkey was removed: {name}, {date}",
    factorAddedEntry: "An authenticator app was turned on, {date}",
    factorRemovedEntry: "An authenticator app was turned off, {date}",
    accountCreated: "Account made by {by} (agency), {date}",
    accountDisabled: "Account switched off by {by} (agency), {date}",
    accountEnabled: "Account switched back on by {by} (agency), {date}",
    resetCodeIssued: "A password reset code was made by {by} (agency), {date}",
    factorReset: "Authenticator app removed by {by} (agency), {date}",
    anAdmin: "an administrator",
    leaveTitle: "Delete my account",
    leaveIntro: "Deleting your account cannot be undone.",
    leaveStart: "See what deleting my account means",
    leaveOwned: "These plans are yours and will be deleted, for everyone on them:",
    leaveOwnedLine: "“{title}” ({count} supporter loses it)|“{title}” ({count} supporters lose it)",
    leaveSupported: "You will leave these plans (they stay with their owners):",
    leaveSupportedLine: "“{title}”, {owner}'s plan",
    leaveNoPlans: "You have no plans: no one else loses anything.",
    leaveSessions: "Every phone or computer signed in to your account is signed out ({count}). Your passkeys and recovery codes go too. In other people's plans, what you wrote stays, signed “a former member”.|Every phone or computer signed in to your account is signed out ({count}). Your passkeys and recovery codes go too. In other people's plans, what you wrote stays, signed “a former member”.",
    leavePassword: "Your password, to confirm",
    leaveConfirm: "Delete my account for good",
    leaveWithPasskey: "Or confirm with your passkey instead of your password:",
    leaveConfirmPasskey: "Delete my account for good, with my passkey",
    leaveCancel: "Keep my account",
    deleted: "Your account is deleted, and nothing of it is left on this phone.",
    untitled: "Untitled plan",
  },
  {
    passwordTitle: "Cambiar mi contraseña",
    currentPassword: "Contraseña actual",
    newPassword: "Contraseña nueva (al menos 8 caracteres)",
    changePassword: "Cambiar la contraseña",
    passwordChanged: "Tu contraseña ha cambiado. Se ha cerrado la sesión en todos los demás teléfonos u ordenadores con tu cuenta; en este sigue abierta.",
    codesTitle: "Códigos de recuperación",
    codesLeft: "Te queda {count} código de recuperación sin usar. Si olvidas tu contraseña, un código te deja elegir otra.|Te quedan {count} códigos de recuperación sin usar. Si olvidas tu contraseña, un código te deja elegir otra.",
    codesNone: "No te queda ningún código de recuperación. Crea códigos nuevos para que una contraseña olvidada no te deje fuera.",
    codesMade: "Creados el {date}.",
    newCodes: "Crear códigos nuevos",
    codesPassword: "Tu contraseña, para crear códigos nuevos",
    codesDone: "Tus códigos nuevos ya sirven. Los antiguos ya no funcionan.",
    passkeysTitle: "Llaves de acceso",
    passkeysIntro: "Una llave de acceso te deja iniciar sesión con la huella, la cara o el bloqueo de pantalla de este teléfono en lugar de tu contraseña.",
    passkeysNone: "Todavía no tienes llaves de acceso.",
    passkeyLine: "Añadida el {date}",
    passkeyUsed: "último uso el {date}",
    passkeyName: "Un nombre para la llave de acceso",
    addPasskey: "Añadir una llave de acceso",
    passkeyAdded: "La llave de acceso «{name}» está añadida. Ya puedes iniciar sesión con ella.",
    passkeyCancelled: "No se añadió ninguna llave de acceso.",
    passkeyUnsupported: "Este navegador no puede crear llaves de acceso.",
    removePasskey: "Quitar",
    removePasskeyNamed: "Quitar la llave de acceso {name}",
    passkeyRemoved: "La llave de acceso «{name}» se ha quitado.",
    factorTitle: "App de autenticación (opcional)",
    factorOff: "Puedes pedir un código de 6 cifras de una app de autenticación cada vez que inicies sesión, además de tu contraseña.",
    factorOn: "Al iniciar sesión se pide un código de tu app de autenticación.",
    factorStart: "Configurar una app de autenticación",
    factorSecret: "En tu app de autenticación, añade una cuenta con esta clave o abre el enlace en este teléfono. Después escribe el código que muestra.",
    factorLink: "Abrir en una app de autenticación",
    factorCode: "El código de 6 cifras",
    factorConfirm: "Activarla",
    factorAdded: "Tu app de autenticación está activada. Al iniciar sesión se pide su código.",
    factorRemove: "Desactivarla",
    factorRemoved: "Tu app de autenticación está desactivada.",
    activityTitle: "Lo que ha pasado en mi cuenta",
    activityNone: "Nada todavía.",
    signedIn: "Sesión iniciada en {device}, {date}",
    signedInNoDevice: "Sesión iniciada, {date}",
    fromAddress: "(desde {address})",
    passwordChangedEntry: "Contraseña cambiada, {date}",
    passwordResetBy: "Contraseña restablecida con un código de {by} (organización), {date}",
    passwordResetCode: "Contraseña restablecida con un código de tu organización, {date}",
    codesCreated: "Códigos de recuperación nuevos creados, {date}",
    codeUsed: "Se usó un código de recuperación para elegir una contraseña nueva, {date}",
    passkeyAddedEntry: "Se añadió una llave de acceso: {name}, {date}",
    passkeyRemovedEntry: "Se quitó una llave de acceso: {name}, {date}",
    factorAddedEntry: "Se activó una app de autenticación, {date}",
    factorRemovedEntry: "Se desactivó una app de autenticación, {date}",
    accountCreated: "Cuenta creada por {by} (organización), {date}",
    accountDisabled: "Cuenta desactivada por {by} (organización), {date}",
    accountEnabled: "Cuenta activada de nuevo por {by} (organización), {date}",
    resetCodeIssued: "{by} (organización) creó un código para restablecer la contraseña, {date}",
    factorReset: "App de autenticación quitada por {by} (organización), {date}",
    anAdmin: "una persona administradora",
    leaveTitle: "Borrar mi cuenta",
    leaveIntro: "Borrar tu cuenta no se puede deshacer.",
    leaveStart: "Ver lo que significa borrar mi cuenta",
    leaveOwned: "Estos planes son tuyos y se borrarán para todas las personas que están en ellos:",
    leaveOwnedLine: "«{title}» ({count} acompañante lo pierde)|«{title}» ({count} acompañantes lo pierden)",
    leaveSupported: "Saldrás de estos planes (se quedan con sus dueños):",
    leaveSupportedLine: "«{title}», el plan de {owner}",
    leaveNoPlans: "No tienes planes: nadie más pierde nada.",
    leaveSessions: "Se cierra la sesión en todos los teléfonos u ordenadores con tu cuenta ({count}). También se borran tus llaves de acceso y tus códigos de recuperación. En los planes de otras personas, lo que escribiste se queda, firmado «una persona que ya no está».|Se cierra la sesión en todos los teléfonos u ordenadores con tu cuenta ({count}). También se borran tus llaves de acceso y tus códigos de recuperación. En los planes de otras personas, lo que escribiste se queda, firmado «una persona que ya no está».",
    leavePassword: "Tu contraseña, para confirmar",
    leaveConfirm: "Borrar mi cuenta para siempre",
    leaveWithPasskey: "O confirma con tu llave de acceso en lugar de tu contraseña:",
    leaveConfirmPasskey: "Borrar mi cuenta para siempre, con mi llave de acceso",
    leaveCancel: "Conservar mi cuenta",
    deleted: "Tu cuenta está borrada y en este teléfono no queda nada de ella.",
    untitled: "Plan sin nombre",
  }
)

/** One activity entry as a sentence. */
function sentence(entry: ActivityEntry): string {
  const date = dateTime(entry.at)
  const by = entry.byName || t("anAdmin")
  const name = entry.detail ?? ""
  let text: string
  switch (entry.kind) {
    case "signed-in":
      text = entry.deviceName ? t("signedIn", { device: entry.deviceName, date }) : t("signedInNoDevice", { date })
      break
    case "password-changed":
      text = t("passwordChangedEntry", { date })
      break
    case "password-reset":
      text = entry.byId ? t("passwordResetBy", { by, date }) : t("passwordResetCode", { date })
      break
    case "recovery-codes-created":
      text = t("codesCreated", { date })
      break
    case "recovery-code-used":
      text = t("codeUsed", { date })
      break
    case "passkey-added":
      text = t("passkeyAddedEntry", { name, date })
      break
    case "passkey-removed":
      text = t("passkeyRemovedEntry", { name, date })
      break
    case "second-factor-added":
      text = t("factorAddedEntry", { date })
      break
    case "second-factor-removed":
      text = t("factorRemovedEntry", { date })
      break
    case "account-created":
      text = t("accountCreated", { by, date })
      break
    case "account-disabled":
      text = t("accountDisabled", { by, date })
      break
    case "account-enabled":
      text = t("accountEnabled", { by, date })
      break
    case "reset-code-issued":
      text = t("resetCodeIssued", { by, date })
      break
    case "second-factor-reset":
      text = t("factorReset", { by, date })
      break
    default:
      text = date
  }
  return entry.address ? `${text} ${t("fromAddress", { address: entry.address })}` : text
}

const card = (id: string, title: string, ...children: (HTMLElement | null)[]) =>
  h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...children)
const say = () => h("p", { class: "notice", role: "status" })

/** The account's safety cards, for the account screen. */
export function safetyCards(session: SignedIn): HTMLElement[] {
  const { api } = session

  // ---- password
  const passwordNotice = say()
  const current = h("input", { type: "password", name: "current-password", autocomplete: "current-password", required: true }) as HTMLInputElement
  const next = h("input", { type: "password", name: "new-password", autocomplete: "new-password", required: true, minlength: 8 }) as HTMLInputElement
  const password = card(
    "password-title",
    t("passwordTitle"),
    h(
      "form",
      {
        onsubmit: async (event: Event) => {
          event.preventDefault()
          try {
            await api.changePassword(current.value, next.value)
            current.value = ""
            next.value = ""
            passwordNotice.textContent = t("passwordChanged")
          } catch (err) {
            passwordNotice.textContent = problem(err)
          }
        },
      },
      field(t("currentPassword"), current),
      field(t("newPassword"), next),
      passwordNotice,
      h("button", { type: "submit" }, t("changePassword"))
    )
  )

  // ---- recovery codes
  const codes = card("codes-card-title", t("codesTitle"))
  const codesNotice = say()
  // A new set is as good as the password: someone holding an unlocked phone must not get one.
  const codesPassword = h("input", { type: "password", name: "codes-password", autocomplete: "current-password", required: true }) as HTMLInputElement
  const drawCodes = async () => {
    let status
    try {
      status = await api.recoveryCodes()
    } catch (err) {
      codes.replaceChildren(h("h2", { id: "codes-card-title" }, t("codesTitle")), h("p", {}, problem(err)))
      return
    }
    codes.classList.remove("recovery-codes")
    codes.replaceChildren(
      h("h2", { id: "codes-card-title" }, t("codesTitle")),
      h("p", {}, status.remaining > 0 ? t("codesLeft", { count: status.remaining }) : t("codesNone")),
      status.createdAt ? h("p", { class: "hint" }, t("codesMade", { date: dateTime(status.createdAt) })) : "",
      codesNotice,
      h(
        "form",
        {
          onsubmit: async (event: Event) => {
            event.preventDefault()
            try {
              const made = await api.newRecoveryCodes(codesPassword.value)
              const shown = recoveryCodesCard(made.codes, () => {
                shown.replaceWith(codes)
                codesNotice.textContent = t("codesDone")
                void drawCodes()
              }, { username: api.account.username })
              codes.replaceWith(shown)
              shown.querySelector<HTMLElement>("h2")?.focus()
            } catch (err) {
              codesNotice.textContent = problem(err)
              codesPassword.focus()
            }
          },
        },
        field(t("codesPassword"), codesPassword),
        h("button", { type: "submit" }, t("newCodes"))
      )
    )
  }

  // ---- passkeys
  const passkeys = card("passkeys-title", t("passkeysTitle"))
  const passkeysNotice = say()
  const drawPasskeys = async () => {
    let list: PasskeyInfo[]
    try {
      list = await api.passkeys()
    } catch (err) {
      passkeys.replaceChildren(h("h2", { id: "passkeys-title" }, t("passkeysTitle")), h("p", {}, problem(err)))
      return
    }
    const name = h("input", { name: "passkey-name", value: deviceName(), maxlength: 60, autocomplete: "off" }) as HTMLInputElement
    passkeys.replaceChildren(
      h("h2", { id: "passkeys-title" }, t("passkeysTitle")),
      h("p", { class: "hint" }, t("passkeysIntro")),
      list.length === 0
        ? h("p", {}, t("passkeysNone"))
        : h(
            "ul",
            { class: "sessions" },
            ...list.map(key =>
              h(
                "li",
                {},
                h("span", { class: "session-name" }, key.name),
                h("span", { class: "plan-who" }, [t("passkeyLine", { date: dateTime(key.createdAt) }), key.lastUsedAt ? t("passkeyUsed", { date: dateTime(key.lastUsedAt) }) : ""].filter(Boolean).join(" · ")),
                h(
                  "button",
                  {
                    type: "button",
                    "aria-label": t("removePasskeyNamed", { name: key.name }),
                    onclick: async () => {
                      try {
                        await api.removePasskey(key.id)
                        passkeysNotice.textContent = t("passkeyRemoved", { name: key.name })
                      } catch (err) {
                        passkeysNotice.textContent = problem(err)
                      }
                      void drawPasskeys()
                    },
                  },
                  t("removePasskey")
                )
              )
            )
          ),
      passkeysNotice,
      h(
        "form",
        {
          onsubmit: async (event: Event) => {
            event.preventDefault()
            if (!window.PublicKeyCredential) {
              passkeysNotice.textContent = t("passkeyUnsupported")
              return
            }
            const wanted = name.value.trim() || deviceName()
            try {
              await api.addPasskey(wanted)
              passkeysNotice.textContent = t("passkeyAdded", { name: wanted })
            } catch (err) {
              passkeysNotice.textContent = err instanceof DOMException ? t("passkeyCancelled") : problem(err)
            }
            void drawPasskeys()
            void drawActivity()
          },
        },
        field(t("passkeyName"), name),
        h("button", { type: "submit" }, t("addPasskey"))
      )
    )
  }

  // ---- second factor (an authenticator app)
  const factor = card("factor-title", t("factorTitle"))
  const factorNotice = say()
  const codeInput = () =>
    h("input", { name: "factor-code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 6, required: true }) as HTMLInputElement
  const drawFactor = async () => {
    let on = false
    try {
      on = (await api.secondFactor()).methods.length > 0
    } catch (err) {
      factor.replaceChildren(h("h2", { id: "factor-title" }, t("factorTitle")), h("p", {}, problem(err)))
      return
    }
    const code = codeInput()
    const body: HTMLElement[] = on
      ? [
          h("p", {}, t("factorOn")),
          h(
            "form",
            {
              onsubmit: async (event: Event) => {
                event.preventDefault()
                try {
                  await api.removeTotp(code.value)
                  factorNotice.textContent = t("factorRemoved")
                  void drawFactor()
                } catch (err) {
                  factorNotice.textContent = problem(err)
                }
              },
            },
            field(t("factorCode"), code),
            h("button", { type: "submit" }, t("factorRemove"))
          ),
        ]
      : [
          h("p", {}, t("factorOff")),
          h(
            "button",
            {
              type: "button",
              onclick: async () => {
                try {
                  const started = await api.startTotp()
                  const confirm = codeInput()
                  factor.replaceChildren(
                    h("h2", { id: "factor-title" }, t("factorTitle")),
                    h("p", {}, t("factorSecret")),
                    h("p", { class: "secret" }, started.secret),
                    h("p", {}, h("a", { href: started.otpauthUri }, t("factorLink"))),
                    factorNotice,
                    h(
                      "form",
                      {
                        onsubmit: async (event: Event) => {
                          event.preventDefault()
                          try {
                            await api.confirmTotp(confirm.value)
                            factorNotice.textContent = t("factorAdded")
                            void drawFactor()
                          } catch (err) {
                            factorNotice.textContent = problem(err)
                          }
                        },
                      },
                      field(t("factorCode"), confirm),
                      h("button", { type: "submit", class: "primary" }, t("factorConfirm"))
                    )
                  )
                } catch (err) {
                  factorNotice.textContent = problem(err)
                }
              },
            },
            t("factorStart")
          ),
        ]
    factor.replaceChildren(h("h2", { id: "factor-title" }, t("factorTitle")), factorNotice, ...body)
  }

  // ---- activity
  const activityList = h("ul", { class: "activity" })
  const activity = card("activity-title", t("activityTitle"), activityList)
  const drawActivity = async () => {
    try {
      const entries = await api.activity()
      activityList.replaceChildren(
        ...(entries.length ? entries.map(entry => h("li", {}, sentence(entry))) : [h("li", {}, t("activityNone"))])
      )
    } catch (err) {
      activityList.replaceChildren(h("li", {}, problem(err)))
    }
  }

  // ---- leaving
  const leaveNotice = h("p", { class: "notice", role: "alert" })
  const leave = card("leave-title", t("leaveTitle"))
  leave.classList.add("danger-zone")
  const drawLeave = () => {
    leave.replaceChildren(
      h("h2", { id: "leave-title" }, t("leaveTitle")),
      h("p", {}, t("leaveIntro")),
      leaveNotice,
      h(
        "button",
        {
          type: "button",
          onclick: async () => {
            try {
              const preview = await api.leavingPreview()
              // A passkey confirms as the password does, where the account has one and the
              // browser can use it.
              const hasPasskey = "PublicKeyCredential" in window && (await api.passkeys().catch(() => [])).length > 0
              const gone = async (confirmed: () => Promise<void>, retry: HTMLElement) => {
                try {
                  await confirmed()
                } catch (err) {
                  leaveNotice.textContent = problem(err)
                  retry.focus()
                  return
                }
                // As signing out: nothing of the account stays on this phone.
                await signOut(() => t("deleted"))
              }
              const confirm = h("input", { type: "password", name: "leave-password", autocomplete: "current-password", required: true }) as HTMLInputElement
              leave.replaceChildren(
                h("h2", { id: "leave-title", tabindex: "-1" }, t("leaveTitle")),
                h("p", {}, t("leaveIntro")),
                preview.ownedPlans.length
                  ? h("div", {}, h("p", {}, t("leaveOwned")), h("ul", {}, ...preview.ownedPlans.map(plan => h("li", {}, t("leaveOwnedLine", { title: plan.title || t("untitled"), count: plan.supporters })))))
                  : "",
                preview.supportedPlans.length
                  ? h("div", {}, h("p", {}, t("leaveSupported")), h("ul", {}, ...preview.supportedPlans.map(plan => h("li", {}, t("leaveSupportedLine", { title: plan.title || t("untitled"), owner: plan.ownerName })))))
                  : "",
                preview.ownedPlans.length + preview.supportedPlans.length === 0 ? h("p", {}, t("leaveNoPlans")) : "",
                h("p", {}, t("leaveSessions", { count: preview.deviceSessions })),
                leaveNotice,
                h(
                  "form",
                  {
                    onsubmit: async (event: Event) => {
                      event.preventDefault()
                      await gone(() => api.deleteAccount(confirm.value), confirm)
                    },
                  },
                  field(t("leavePassword"), confirm),
                  h(
                    "div",
                    { class: "actions" },
                    h("button", { type: "submit", class: "danger" }, t("leaveConfirm")),
                    h("button", { type: "button", onclick: () => drawLeave() }, t("leaveCancel"))
                  )
                ),
                hasPasskey
                  ? h(
                      "div",
                      { class: "passkey-confirm" },
                      h("p", {}, t("leaveWithPasskey")),
                      h(
                        "button",
                        {
                          type: "button",
                          class: "danger",
                          onclick: (event: Event) => gone(() => api.deleteAccountWithPasskey(), event.currentTarget as HTMLElement),
                        },
                        t("leaveConfirmPasskey")
                      )
                    )
                  : ""
              )
              leave.querySelector<HTMLElement>("h2")?.focus()
            } catch (err) {
              leaveNotice.textContent = problem(err)
            }
          },
        },
        t("leaveStart")
      )
    )
  }

  void drawCodes()
  void drawPasskeys()
  void drawFactor()
  void drawActivity()
  drawLeave()
  return [password, codes, passkeys, factor, activity, leave]
}
