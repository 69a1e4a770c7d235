// The admin console (`#/console`, `#/console/accounts`, `#/console/codes`, `#/console/audit`):
// what an agency's admin does in Cairn, in the same app, shown only to admin accounts whose
// session passed their second factor. Accounts (search, create, switch off and on, a reset code
// shown once, removing an authenticator app), enrollment codes (made with uses and an expiry,
// shown once as text and QR, listed without the code, revoked), counts, the audit log in
// sentences, and the server's health. The console never asks for, nor shows, a plan's content,
// title or members: the admin routes it calls have none to give.
import QRCode from "qrcode"
import type {
  Account,
  AdminHealth,
  AuditEntry,
  AuditPage,
  Counts,
  EnrollmentCode,
  EnrollmentCodeInfo,
  ResetCode,
} from "../../../client-schema/cairn.ts"
import { ApiError } from "../api.ts"
import { field, h } from "../dom.ts"
import { problem } from "../app/errors.ts"
import { catalogue, dateTime } from "../app/i18n.ts"
import { main, showing, type SignedIn } from "../app/shell.ts"

const t = catalogue(
  {
    title: "Agency admin",
    sections: "Admin sections",
    overview: "Overview",
    accounts: "Accounts",
    codes: "Enrollment codes",
    audit: "Audit log",
    myAccount: "This phone and my account",
    loading: "Loading…",
    needFactor: "Admin tools need an authenticator app on your account, used when you sign in. Set one up on your account page; it counts for this session at once.",
    needFactorLink: "Set up an authenticator app",
    notAdmin: "This account is not an admin account.",
    // overview
    countsTitle: "In numbers",
    members: "{count} member account|{count} member accounts",
    admins: "{count} admin account|{count} admin accounts",
    disabledCount: "{count} account switched off|{count} accounts switched off",
    plans: "{count} plan|{count} plans",
    supporters: "{count} supporter on a plan|{count} supporters on plans",
    countsNote: "Numbers only: admins never see what a plan says, what it is called, or who is on it.",
    healthTitle: "The server",
    version: "Cairn version {version}",
    databaseSqlite: "Database: SQLite (one file on the server)",
    databasePostgres: "Database: Postgres",
    reachable: "The database answers.",
    unreachable: "The database does not answer.",
    migrations: "Database updates: {applied} of {known} applied",
    migrationsPending: "Database updates: {applied} of {known} applied. Restart Cairn to apply the rest.",
    instances: "{count} Cairn instance running in the last {minutes} minutes|{count} Cairn instances running in the last {minutes} minutes",
    lastBackup: "Last backup: {date}",
    noBackup: "No backup recorded yet",
    // accounts
    search: "Search by name or username",
    searchButton: "Search",
    noneFound: "No account matches.",
    previous: "Previous page",
    next: "Next page",
    page: "Page {page}",
    member: "member",
    admin: "admin",
    switchedOff: "switched off",
    since: "account made {date}",
    switchOff: "Switch off {name}'s account",
    switchOffShort: "Switch off",
    confirmOff: "Switch off {name}'s account? They are signed out on every phone at once and cannot sign in until it is switched back on. Their plans stay as they are.",
    confirmOffYes: "Yes, switch it off",
    cancel: "Cancel",
    switchedOffDone: "{name}'s account is switched off. They are signed out everywhere.",
    switchOn: "Switch {name}'s account back on",
    switchedOnDone: "{name}'s account is switched back on.",
    resetCode: "Make a password reset code for {name}",
    resetTitle: "Reset code for {name}",
    resetOnce: "Shown only now. Read it to {name} or hand it over; it works once, until {date}. You never learn their new password.",
    readAloud: "To read aloud: {spelled}",
    resetFactor: "Remove {name}'s authenticator app",
    confirmFactor: "Remove {name}'s authenticator app? They sign in with their password alone until they set up a new one.",
    confirmFactorYes: "Yes, remove it",
    factorDone: "{name}'s authenticator app is removed. They were signed out everywhere.",
    noFactor: "{name} has no authenticator app.",
    createTitle: "Make an account",
    username: "Username",
    displayName: "Their name, as others will see it",
    password: "A first password (at least 8 characters)",
    passwordHint: "Give it to them in person; they can change it on their account page.",
    kind: "Kind of account",
    kindMember: "Member (writes plans)",
    kindAdmin: "Admin (runs Cairn for the agency)",
    create: "Make the account",
    created: "The account for {name} is made.",
    // codes
    newCode: "Make an enrollment code",
    codeIntro: "People create their own account with an enrollment code. You see the code only once, when you make it.",
    label: "Who it is for (optional, only you see it)",
    labelHint: "e.g. Tuesday group",
    uses: "How many people can use it",
    expires: "It stops working after",
    day: "1 day",
    days: "{count} days",
    makeCode: "Make the code",
    codeTitle: "The new enrollment code",
    codeOnce: "Shown only now. It lets {count} person create an account, until {date}.|Shown only now. It lets {count} people create an account, until {date}.",
    codeQr: "QR code of the enrollment code {code}",
    listTitle: "All enrollment codes",
    noCodes: "No enrollment codes yet.",
    noLabel: "No label",
    codeLine: "Used {uses} of {max} · made {made} · until {until}",
    stateActive: "Works now",
    stateUsedUp: "All used",
    stateExpired: "Expired",
    stateRevoked: "Revoked",
    revoke: "Revoke",
    revokeNamed: "Revoke the code “{label}”",
    revokeUnnamed: "Revoke the code made {date}",
    revoked: "The code is revoked: nobody can create an account with it now.",
    revokeQuestion: "Revoke this code? From now on nobody can create an account with it; accounts already made with it stay.",
    revokeYes: "Yes, revoke it",
    // audit
    auditIntro: "Every act of an admin, newest first. People see the acts on their own account in their account's activity.",
    noAudit: "Nothing here yet.",
    older: "Show older",
    someone: "An admin",
    commandLine: "Someone at the server's command line",
    aCode: "an account",
    actCreated: "{admin} made an account for {target}.",
    actDisabled: "{admin} switched off {target}'s account.",
    actEnabled: "{admin} switched {target}'s account back on.",
    actReset: "{admin} made a password reset code for {target}.",
    actFactor: "{admin} removed {target}'s authenticator app.",
    actIssued: "{admin} made an enrollment code for {count} person, for {hours} hours.|{admin} made an enrollment code for {count} people, for {hours} hours.",
    actIssuedDays: "{admin} made an enrollment code for {count} person, for {days} days.|{admin} made an enrollment code for {count} people, for {days} days.",
    actIssuedPlain: "{admin} made an enrollment code.",
    actRevoked: "{admin} revoked the enrollment code “{label}”.",
    actRevokedPlain: "{admin} revoked an enrollment code.",
    actKeys: "{admin} changed the master key.",
    // errors only the console meets
    adminOnly: "Only admin accounts can do this.",
    accountNotFound: "That account no longer exists.",
    codeNotFound: "That enrollment code no longer exists.",
    codeAlreadyRevoked: "That code was already revoked.",
    ownAccount: "You cannot switch off your own account.",
  },
  {
    title: "Administración",
    sections: "Secciones de administración",
    overview: "Resumen",
    accounts: "Cuentas",
    codes: "Códigos de registro",
    audit: "Registro de actos",
    myAccount: "Este teléfono y mi cuenta",
    loading: "Cargando…",
    needFactor: "Las herramientas de administración necesitan una app de autenticación en tu cuenta, usada al iniciar sesión. Configúrala en la página de tu cuenta; cuenta para esta sesión en el acto.",
    needFactorLink: "Configurar una app de autenticación",
    notAdmin: "Esta cuenta no es de administración.",
    countsTitle: "En números",
    members: "{count} cuenta de miembro|{count} cuentas de miembro",
    admins: "{count} cuenta de administración|{count} cuentas de administración",
    disabledCount: "{count} cuenta desactivada|{count} cuentas desactivadas",
    plans: "{count} plan|{count} planes",
    supporters: "{count} acompañante en un plan|{count} acompañantes en planes",
    countsNote: "Solo números: quien administra nunca ve lo que dice un plan, cómo se llama ni quién está en él.",
    healthTitle: "El servidor",
    version: "Cairn versión {version}",
    databaseSqlite: "Base de datos: SQLite (un archivo en el servidor)",
    databasePostgres: "Base de datos: Postgres",
    reachable: "La base de datos responde.",
    unreachable: "La base de datos no responde.",
    migrations: "Actualizaciones de la base de datos: {applied} de {known} aplicadas",
    migrationsPending: "Actualizaciones de la base de datos: {applied} de {known} aplicadas. Reinicia Cairn para aplicar las demás.",
    instances: "{count} instancia de Cairn en marcha en los últimos {minutes} minutos|{count} instancias de Cairn en marcha en los últimos {minutes} minutos",
    lastBackup: "Última copia de seguridad: {date}",
    noBackup: "Todavía no hay ninguna copia de seguridad registrada",
    search: "Buscar por nombre o nombre de usuario",
    searchButton: "Buscar",
    noneFound: "Ninguna cuenta coincide.",
    previous: "Página anterior",
    next: "Página siguiente",
    page: "Página {page}",
    member: "miembro",
    admin: "administración",
    switchedOff: "desactivada",
    since: "cuenta creada el {date}",
    switchOff: "Desactivar la cuenta de {name}",
    switchOffShort: "Desactivar",
    confirmOff: "¿Desactivar la cuenta de {name}? Se cierra su sesión en todos sus teléfonos al instante y no puede entrar hasta que se vuelva a activar. Sus planes quedan como están.",
    confirmOffYes: "Sí, desactivarla",
    cancel: "Cancelar",
    switchedOffDone: "La cuenta de {name} está desactivada. Su sesión se ha cerrado en todas partes.",
    switchOn: "Volver a activar la cuenta de {name}",
    switchedOnDone: "La cuenta de {name} vuelve a estar activa.",
    resetCode: "Crear un código para restablecer la contraseña de {name}",
    resetTitle: "Código para {name}",
    resetOnce: "Solo se muestra ahora. Léeselo a {name} o dáselo; sirve una vez, hasta el {date}. Nunca sabrás su nueva contraseña.",
    readAloud: "Para leerlo en voz alta: {spelled}",
    resetFactor: "Quitar la app de autenticación de {name}",
    confirmFactor: "¿Quitar la app de autenticación de {name}? Entrará solo con su contraseña hasta que configure otra.",
    confirmFactorYes: "Sí, quitarla",
    factorDone: "La app de autenticación de {name} está quitada. Su sesión se ha cerrado en todas partes.",
    noFactor: "{name} no tiene app de autenticación.",
    createTitle: "Crear una cuenta",
    username: "Nombre de usuario",
    displayName: "Su nombre, tal como lo verán los demás",
    password: "Una primera contraseña (al menos 8 caracteres)",
    passwordHint: "Dásela en persona; puede cambiarla en la página de su cuenta.",
    kind: "Tipo de cuenta",
    kindMember: "Miembro (escribe planes)",
    kindAdmin: "Administración (lleva Cairn para la organización)",
    create: "Crear la cuenta",
    created: "La cuenta de {name} está creada.",
    newCode: "Crear un código de registro",
    codeIntro: "Las personas crean su propia cuenta con un código de registro. Solo verás el código una vez, al crearlo.",
    label: "Para quién es (opcional, solo lo ves tú)",
    labelHint: "p. ej., Grupo del martes",
    uses: "Cuántas personas pueden usarlo",
    expires: "Deja de funcionar tras",
    day: "1 día",
    days: "{count} días",
    makeCode: "Crear el código",
    codeTitle: "El nuevo código de registro",
    codeOnce: "Solo se muestra ahora. Permite que {count} persona cree una cuenta, hasta el {date}.|Solo se muestra ahora. Permite que {count} personas creen una cuenta, hasta el {date}.",
    codeQr: "Código QR del código de registro {code}",
    listTitle: "Todos los códigos de registro",
    noCodes: "Todavía no hay códigos de registro.",
    noLabel: "Sin etiqueta",
    codeLine: "Usado {uses} de {max} · creado el {made} · hasta el {until}",
    stateActive: "Funciona",
    stateUsedUp: "Agotado",
    stateExpired: "Caducado",
    stateRevoked: "Revocado",
    revoke: "Revocar",
    revokeNamed: "Revocar el código «{label}»",
    revokeUnnamed: "Revocar el código creado el {date}",
    revoked: "El código está revocado: ya nadie puede crear una cuenta con él.",
    revokeQuestion: "¿Revocar este código? Desde ahora nadie podrá crear una cuenta con él; las cuentas ya creadas con él se quedan.",
    revokeYes: "Sí, revocarlo",
    auditIntro: "Cada acto de quien administra, del más reciente al más antiguo. Cada persona ve los actos sobre su propia cuenta en la actividad de su cuenta.",
    noAudit: "Todavía no hay nada.",
    older: "Ver anteriores",
    someone: "Alguien de administración",
    commandLine: "Alguien en la línea de órdenes del servidor",
    aCode: "una cuenta",
    actCreated: "{admin} creó una cuenta para {target}.",
    actDisabled: "{admin} desactivó la cuenta de {target}.",
    actEnabled: "{admin} volvió a activar la cuenta de {target}.",
    actReset: "{admin} creó un código para restablecer la contraseña de {target}.",
    actFactor: "{admin} quitó la app de autenticación de {target}.",
    actIssued: "{admin} creó un código de registro para {count} persona, por {hours} horas.|{admin} creó un código de registro para {count} personas, por {hours} horas.",
    actIssuedDays: "{admin} creó un código de registro para {count} persona, por {days} días.|{admin} creó un código de registro para {count} personas, por {days} días.",
    actIssuedPlain: "{admin} creó un código de registro.",
    actRevoked: "{admin} revocó el código de registro «{label}».",
    actRevokedPlain: "{admin} revocó un código de registro.",
    actKeys: "{admin} cambió la clave maestra.",
    adminOnly: "Solo las cuentas de administración pueden hacer esto.",
    accountNotFound: "Esa cuenta ya no existe.",
    codeNotFound: "Ese código de registro ya no existe.",
    codeAlreadyRevoked: "Ese código ya estaba revocado.",
    ownAccount: "No puedes desactivar tu propia cuenta.",
  }
)

type Section = "overview" | "accounts" | "codes" | "audit"
const SECTIONS: Section[] = ["overview", "accounts", "codes", "audit"]
const PAGE = 20

/** The console's words for a failed call (the app's own words for the rest). */
function trouble(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === "admin_only") return t("adminOnly")
    if (err.code === "account_not_found") return t("accountNotFound")
    if (err.code === "enrollment_code_not_found") return t("codeNotFound")
    if (err.code === "enrollment_code_already_revoked") return t("codeAlreadyRevoked")
    if (err.code === "validation_failed" && /own account/i.test(err.message)) return t("ownAccount")
  }
  return problem(err)
}

/** Which console section the address names (`#/console/<section>`), or null if none. */
export function consoleSection(hash: string): Section | null {
  if (hash === "" || hash === "#/" || hash === "#/console") return "overview"
  const match = /^#\/console\/(accounts|codes|audit)$/.exec(hash)
  return match ? (match[1] as Section) : null
}

/** A code written to be read aloud: each character apart, the groups apart. */
function spelled(code: string): string {
  return code
    .split("-")
    .map(group => group.split("").join(" "))
    .join(" – ")
}

/** A code shown large, with the characters read one by one by a screen reader. */
function bigCode(code: string, data: Record<string, string> = {}): HTMLElement {
  return h("p", { class: "code big-code", "aria-label": spelled(code), ...data }, code)
}

const notice = () => h("p", { class: "notice", role: "status" })
const card = (id: string, title: string, ...children: (Node | null)[]) =>
  h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...children)

/** Draw the console's section `section` for an admin. */
export function consoleScreen(session: SignedIn, section: Section): void {
  const { api } = session
  let left = false
  showing(() => {
    left = true
  })
  const nav = h(
    "nav",
    { class: "console-nav", "aria-label": t("sections") },
    ...SECTIONS.map(name =>
      h(
        "a",
        {
          href: name === "overview" ? "#/console" : `#/console/${name}`,
          class: "button-link",
          "aria-current": name === section ? "page" : undefined,
        },
        t(name)
      )
    )
  )
  const body = h("div", { class: "console" }, h("p", {}, t("loading")))
  main.replaceChildren(
    h("h1", { tabindex: "-1" }, `${t("title")}: ${t(section)}`),
    nav,
    body,
    h("p", { class: "about-link" }, h("a", { href: "#/account" }, t("myAccount")))
  )

  /** A failed first call: a missing second factor gets its own words and a way to add one. */
  const failed = (err: unknown) => {
    if (left) return
    if (err instanceof ApiError && err.code === "second_factor_required") {
      body.replaceChildren(
        h("section", { class: "card" }, h("p", {}, t("needFactor")), h("a", { href: "#/account", class: "button-link" }, t("needFactorLink")))
      )
    } else {
      body.replaceChildren(h("p", { class: "card", role: "alert" }, trouble(err)))
    }
  }

  if (section === "overview") void overview(api, body, () => left).catch(failed)
  else if (section === "accounts") void accounts(api, body, () => left).catch(failed)
  else if (section === "codes") void codes(api, body, () => left).catch(failed)
  else void audit(api, body, () => left).catch(failed)
}

type Api = SignedIn["api"]

// ---- overview: counts and health ----------------------------------------------------------------

async function overview(api: Api, body: HTMLElement, left: () => boolean): Promise<void> {
  const [counts, health] = await Promise.all([
    api.call<Counts>("GET", "/api/v1/admin/counts"),
    api.call<AdminHealth>("GET", "/api/v1/admin/health"),
  ])
  if (left()) return
  const line = (text: string, data?: string) => h("li", data ? { "data-health": data } : {}, text)
  body.replaceChildren(
    card(
      "counts-title",
      t("countsTitle"),
      h(
        "ul",
        { class: "about-list" },
        line(t("members", { count: counts.members })),
        line(t("admins", { count: counts.admins })),
        line(t("disabledCount", { count: counts.disabledAccounts })),
        line(t("plans", { count: counts.plans })),
        line(t("supporters", { count: counts.supporterMemberships }))
      ),
      h("p", { class: "hint" }, t("countsNote"))
    ),
    card(
      "health-title",
      t("healthTitle"),
      h(
        "ul",
        { class: "about-list" },
        line(t("version", { version: health.version }), "version"),
        line(t(health.database === "postgres" ? "databasePostgres" : "databaseSqlite"), "database"),
        line(t(health.databaseReachable ? "reachable" : "unreachable"), "reachable"),
        line(
          t(health.migrationsApplied < health.migrationsKnown ? "migrationsPending" : "migrations", {
            applied: health.migrationsApplied,
            known: health.migrationsKnown,
          }),
          "migrations"
        ),
        line(t("instances", { count: health.instancesSeen, minutes: health.instancesWindowMinutes }), "instances"),
        line(health.lastBackup ? t("lastBackup", { date: dateTime(health.lastBackup) }) : t("noBackup"), "backup")
      )
    )
  )
}

// ---- accounts -------------------------------------------------------------------------------------

async function accounts(api: Api, body: HTMLElement, left: () => boolean): Promise<void> {
  let query = ""
  let offset = 0
  const said = notice()
  const list = h("ul", { class: "sessions accounts", "aria-live": "polite" })
  const pager = h("div", { class: "actions" })
  const shown = h("div", {})
  const searchBox = h("input", { type: "search", name: "q", autocomplete: "off", maxlength: 200 }) as HTMLInputElement

  const draw = async () => {
    const params = new URLSearchParams({ q: query, limit: String(PAGE + 1), offset: String(offset) })
    const found = await api.call<Account[]>("GET", `/api/v1/admin/accounts?${params}`)
    if (left()) return
    const page = found.slice(0, PAGE)
    list.replaceChildren(...(page.length ? page.map(row) : [h("li", {}, t("noneFound"))]))
    const pages: (HTMLElement | null)[] = [
      offset > 0
        ? h("button", { type: "button", onclick: () => void move(-PAGE) }, t("previous"))
        : null,
      found.length > PAGE || offset > 0 ? h("span", { class: "hint" }, t("page", { page: offset / PAGE + 1 })) : null,
      found.length > PAGE ? h("button", { type: "button", onclick: () => void move(PAGE) }, t("next")) : null,
    ]
    pager.replaceChildren(...pages.filter(part => part !== null))
  }
  const move = async (by: number) => {
    offset = Math.max(0, offset + by)
    await draw().catch(err => (said.textContent = trouble(err)))
    list.querySelector<HTMLElement>("button")?.focus()
  }
  const act = async (work: () => Promise<string>, focus?: string) => {
    try {
      said.textContent = await work()
      await draw()
      if (focus) list.querySelector<HTMLElement>(`[data-focus="${CSS.escape(focus)}"]`)?.focus()
    } catch (err) {
      said.textContent = trouble(err)
    }
  }

  const row = (account: Account): HTMLElement => {
    const name = account.displayName
    const id = encodeURIComponent(account.id)
    const out = h("div", { class: "account-extra" })
    const confirmBox = (question: string, yes: string, then: () => void, back: HTMLElement) =>
      h(
        "div",
        { class: "confirm-delete", role: "group", "aria-label": question },
        h("p", {}, question),
        h("div", { class: "actions" },
          h("button", { type: "button", class: "danger", onclick: then }, yes),
          h("button", { type: "button", onclick: () => { out.replaceChildren(); back.focus() } }, t("cancel"))
        )
      )
    const switchButton: HTMLElement = account.disabled
      ? h(
          "button",
          {
            type: "button",
            "data-focus": `off-${account.id}`,
            onclick: () =>
              void act(async () => {
                await api.call("POST", `/api/v1/admin/accounts/${id}/enable`)
                return t("switchedOnDone", { name })
              }, `off-${account.id}`),
          },
          t("switchOn", { name })
        )
      : h(
          "button",
          {
            type: "button",
            class: "danger",
            "data-focus": `off-${account.id}`,
            onclick: () => {
              out.replaceChildren(
                confirmBox(t("confirmOff", { name }), t("confirmOffYes"), () =>
                  void act(async () => {
                    await api.call("POST", `/api/v1/admin/accounts/${id}/disable`)
                    return t("switchedOffDone", { name })
                  }, `off-${account.id}`), switchButton)
              )
              out.querySelector<HTMLElement>("button")?.focus()
            },
          },
          t("switchOff", { name })
        )
    const resetButton = h(
      "button",
      {
        type: "button",
        onclick: async () => {
          try {
            const code = await api.call<ResetCode>("POST", `/api/v1/admin/accounts/${id}/reset-code`)
            const title = h("h3", { tabindex: "-1" }, t("resetTitle", { name }))
            out.replaceChildren(
              h(
                "div",
                { class: "invitation reset-code" },
                title,
                bigCode(code.code, { "data-reset-code": code.code }),
                h("p", {}, t("resetOnce", { name, date: dateTime(code.expiresAt) })),
                h("p", { class: "hint" }, t("readAloud", { spelled: spelled(code.code) }))
              )
            )
            title.focus()
          } catch (err) {
            said.textContent = trouble(err)
          }
        },
      },
      t("resetCode", { name })
    )
    const factorButton: HTMLElement = h(
      "button",
      {
        type: "button",
        onclick: () => {
          out.replaceChildren(
            confirmBox(t("confirmFactor", { name }), t("confirmFactorYes"), async () => {
              out.replaceChildren()
              try {
                await api.call("POST", `/api/v1/admin/accounts/${id}/second-factor/reset`)
                said.textContent = t("factorDone", { name })
              } catch (err) {
                said.textContent =
                  err instanceof ApiError && err.code === "second_factor_not_found" ? t("noFactor", { name }) : trouble(err)
              }
              factorButton.focus()
            }, factorButton)
          )
          out.querySelector<HTMLElement>("button")?.focus()
        },
      },
      t("resetFactor", { name })
    )
    const mine = account.id === api.account.id
    const facts = [t(account.kind === "admin" ? "admin" : "member"), t("since", { date: dateTime(account.createdAt) })]
    if (account.disabled) facts.unshift(t("switchedOff"))
    return h(
      "li",
      { class: "account", "data-account": account.username },
      h("p", {}, h("strong", { class: "session-name" }, name), ` (${account.username})`),
      h("p", { class: "hint" }, facts.join(" · ")),
      // Not one's own account (the server refuses it), and no reset code for a switched-off one.
      mine ? null : h("div", { class: "stack" }, switchButton, account.disabled ? null : resetButton, factorButton),
      out
    )
  }

  // ---- making an account
  const username = h("input", { name: "username", autocomplete: "off", required: true, maxlength: 64 }) as HTMLInputElement
  const displayName = h("input", { name: "display-name", autocomplete: "off", required: true, maxlength: 200 }) as HTMLInputElement
  const password = h("input", { type: "password", name: "new-password", autocomplete: "new-password", required: true, minlength: 8 }) as HTMLInputElement
  const kind = h(
    "select",
    { name: "kind" },
    h("option", { value: "member" }, t("kindMember")),
    h("option", { value: "admin" }, t("kindAdmin"))
  ) as HTMLSelectElement
  const createdSaid = notice()
  const create = card(
    "create-title",
    t("createTitle"),
    h(
      "form",
      {
        onsubmit: async (event: Event) => {
          event.preventDefault()
          try {
            const made = await api.call<Account>("POST", "/api/v1/admin/accounts", {
              username: username.value,
              displayName: displayName.value,
              password: password.value,
              kind: kind.value,
            })
            createdSaid.textContent = t("created", { name: made.displayName })
            username.value = ""
            displayName.value = ""
            password.value = ""
            await draw()
          } catch (err) {
            createdSaid.textContent = trouble(err)
          }
        },
      },
      field(t("username"), username),
      field(t("displayName"), displayName),
      field(t("password"), password, t("passwordHint")),
      field(t("kind"), kind),
      createdSaid,
      h("button", { type: "submit", class: "primary" }, t("create"))
    )
  )

  shown.replaceChildren(
    card(
      "accounts-title",
      t("accounts"),
      h(
        "form",
        {
          role: "search",
          class: "inline",
          onsubmit: (event: Event) => {
            event.preventDefault()
            query = searchBox.value.trim()
            offset = 0
            void draw().catch(err => (said.textContent = trouble(err)))
          },
        },
        field(t("search"), searchBox),
        h("button", { type: "submit" }, t("searchButton"))
      ),
      said,
      list,
      pager
    ),
    create
  )
  await draw()
  if (left()) return
  body.replaceChildren(shown)
}

// ---- enrollment codes -----------------------------------------------------------------------------

async function codes(api: Api, body: HTMLElement, left: () => boolean): Promise<void> {
  const said = notice()
  const list = h("ul", { class: "sessions codes-list" })
  const made = h("div", {})
  const stateWords = {
    active: t("stateActive"),
    "used-up": t("stateUsedUp"),
    expired: t("stateExpired"),
    revoked: t("stateRevoked"),
  }
  const draw = async () => {
    const all = await api.call<EnrollmentCodeInfo[]>("GET", "/api/v1/admin/enrollment-codes")
    if (left()) return
    list.replaceChildren(...(all.length ? all.map(row) : [h("li", {}, t("noCodes"))]))
  }
  const row = (code: EnrollmentCodeInfo): HTMLElement => {
    const made = dateTime(code.createdAt)
    const name = code.label ?? t("noLabel")
    const confirmRevoke = h("div", {})
    const revoke = async () => {
      try {
        await api.call("DELETE", `/api/v1/admin/enrollment-codes/${encodeURIComponent(code.id)}`)
        said.textContent = t("revoked")
      } catch (err) {
        said.textContent = trouble(err)
      }
      await draw().catch(() => undefined)
      const again = list.querySelector<HTMLElement>(`[data-code-id="${CSS.escape(code.id)}"]`)
      again?.setAttribute("tabindex", "-1")
      again?.focus()
    }
    const revokeButton: HTMLElement | null =
      code.state === "active"
        ? h(
            "button",
            {
              type: "button",
              class: "danger",
              "aria-label": code.label ? t("revokeNamed", { label: code.label }) : t("revokeUnnamed", { date: made }),
              onclick: () => {
                confirmRevoke.replaceChildren(
                  h(
                    "div",
                    { class: "confirm-delete", role: "group", "aria-label": t("revokeQuestion") },
                    h("p", {}, t("revokeQuestion")),
                    h(
                      "div",
                      { class: "actions" },
                      h("button", { type: "button", class: "danger", onclick: () => void revoke() }, t("revokeYes")),
                      h(
                        "button",
                        {
                          type: "button",
                          onclick: () => {
                            confirmRevoke.replaceChildren()
                            revokeButton?.focus()
                          },
                        },
                        t("cancel")
                      )
                    )
                  )
                )
                confirmRevoke.querySelector<HTMLElement>("button")?.focus()
              },
            },
            t("revoke")
          )
        : null
    return h(
      "li",
      { "data-code-id": code.id },
      h("p", {}, h("strong", { class: "session-name" }, name), " · ", h("span", { class: "tag" }, stateWords[code.state])),
      h("p", { class: "hint" }, t("codeLine", { uses: code.uses, max: code.maxUses, made, until: dateTime(code.expiresAt) })),
      revokeButton,
      confirmRevoke
    )
  }

  const label = h("input", { name: "label", autocomplete: "off", maxlength: 100, placeholder: t("labelHint") }) as HTMLInputElement
  const uses = h("input", { type: "number", name: "uses", min: 1, max: 1000, value: 1, inputmode: "numeric", required: true }) as HTMLInputElement
  const expiry = h(
    "select",
    { name: "expires" },
    ...[1, 7, 30, 90].map(days => h("option", { value: days * 24 }, days === 1 ? t("day") : t("days", { count: days })))
  ) as HTMLSelectElement
  expiry.value = String(7 * 24)
  const madeSaid = notice()
  const form = h(
    "form",
    {
      onsubmit: async (event: Event) => {
        event.preventDefault()
        try {
          const code = await api.call<EnrollmentCode>("POST", "/api/v1/admin/enrollment-codes", {
            maxUses: Number(uses.value),
            expiresInHours: Number(expiry.value),
            label: label.value.trim() || undefined,
          })
          const qr = await QRCode.toDataURL(code.code, { margin: 1, width: 200, color: { dark: "#1b1b1b", light: "#ffffff" } })
          const title = h("h3", { tabindex: "-1" }, t("codeTitle"))
          made.replaceChildren(
            h(
              "div",
              { class: "invitation" },
              title,
              bigCode(code.code, { "data-enrollment-code": code.code }),
              h("img", { src: qr, alt: t("codeQr", { code: spelled(code.code) }), width: 200, height: 200 }),
              h("p", {}, t("codeOnce", { count: code.maxUses, date: dateTime(code.expiresAt) })),
              h("p", { class: "hint" }, t("readAloud", { spelled: spelled(code.code) }))
            )
          )
          madeSaid.textContent = ""
          label.value = ""
          title.focus()
          await draw()
        } catch (err) {
          madeSaid.textContent = trouble(err)
        }
      },
    },
    h("p", {}, t("codeIntro")),
    field(t("label"), label),
    field(t("uses"), uses),
    field(t("expires"), expiry),
    madeSaid,
    h("button", { type: "submit", class: "primary" }, t("makeCode"))
  )
  await draw()
  if (left()) return
  body.replaceChildren(card("new-code-title", t("newCode"), form, made), card("codes-title", t("listTitle"), said, list))
}

// ---- the audit log --------------------------------------------------------------------------------

/** One admin act as a sentence. */
function sentence(entry: AuditEntry): string {
  const admin = entry.adminName ?? (entry.adminId ? t("someone") : t("commandLine"))
  const target = entry.targetName ?? t("aCode")
  switch (entry.action) {
    case "account-created":
      return t("actCreated", { admin, target })
    case "account-disabled":
      return t("actDisabled", { admin, target })
    case "account-enabled":
      return t("actEnabled", { admin, target })
    case "reset-code-issued":
      return t("actReset", { admin, target })
    case "second-factor-reset":
      return t("actFactor", { admin, target })
    case "enrollment-code-issued": {
      const match = /^(\d+) uses?, (\d+) h$/.exec(entry.detail ?? "")
      if (!match) return t("actIssuedPlain", { admin })
      const [count, hours] = [Number(match[1]), Number(match[2])]
      return hours % 24 === 0
        ? t("actIssuedDays", { admin, count, days: hours / 24 })
        : t("actIssued", { admin, count, hours })
    }
    case "enrollment-code-revoked":
      return entry.detail ? t("actRevoked", { admin, label: entry.detail }) : t("actRevokedPlain", { admin })
    case "keys-rotated":
      return t("actKeys", { admin })
    default:
      return admin
  }
}

async function audit(api: Api, body: HTMLElement, left: () => boolean): Promise<void> {
  const list = h("ul", { class: "activity audit" })
  const more = h("div", {})
  const said = notice()
  const load = async (before: number | null) => {
    const page = await api.call<AuditPage>("GET", `/api/v1/admin/audit?limit=${PAGE}${before === null ? "" : `&before=${before}`}`)
    if (left()) return
    const items = page.entries.map(entry =>
      h("li", { "data-action": entry.action }, h("span", { class: "hint audit-when" }, dateTime(entry.at)), " ", sentence(entry))
    )
    if (before === null && items.length === 0) items.push(h("li", {}, t("noAudit")))
    list.append(...items)
    const first = items[0]
    more.replaceChildren(
      ...(page.nextBefore != null
        ? [h(
            "button",
            {
              type: "button",
              onclick: async () => {
                try {
                  await load(page.nextBefore ?? null)
                } catch (err) {
                  said.textContent = trouble(err)
                }
              },
            },
            t("older")
          )]
        : [])
    )
    if (before !== null && first) {
      first.setAttribute("tabindex", "-1")
      first.focus()
    }
  }
  await load(null)
  if (left()) return
  body.replaceChildren(card("audit-title", t("audit"), h("p", { class: "hint" }, t("auditIntro")), list, said, more))
}
