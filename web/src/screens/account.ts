// "This phone and my account": the account's device sessions (this phone marked, renaming it,
// ending the others), the app lock (a PIN, the idle time), and signing out, which first checks
// that nothing written on this phone would be lost (`#/sign-out`).
import type { DeviceSession } from "../../../client-schema/cairn.ts"
import { ApiError, deviceName } from "../api.ts"
import { field, h } from "../dom.ts"
import { problem } from "../app/errors.ts"
import { catalogue, dateTime, names } from "../app/i18n.ts"
import { lockChanged, lockIsSet, lockNow } from "../app/lock.ts"
import {
  NoPasskey,
  addPasskey,
  hasPasskey,
  lockSettings,
  passkeyAvailable,
  removePasskey,
  removePin,
  saveLockSettings,
  setPin,
} from "../app/vault.ts"
import { safetyCards } from "./account-safety.ts"
import { account, loadedStore, main, planStore, showing, signOut, type SignedIn } from "../app/shell.ts"

const t = catalogue(
  {
    title: "This phone and my account",
    back: "‹ My plans",
    signedInAs: "Signed in as {name} ({username}).",
    devices: "Where you are signed in",
    devicesIntro: "Each phone or computer signed in to your account. End a session you do not recognise: that device is signed out the next time it connects, and your plans leave it (changes it never sent stay locked away on it until you log in there again).",
    loading: "Loading…",
    thisPhone: "This phone",
    unnamed: "A device with no name",
    since: "Signed in {date}",
    lastUsed: "last used {date}",
    end: "End this session",
    endNamed: "End this session ({name})",
    ended: "That session has ended.",
    rename: "Rename",
    renameLabel: "This phone's name",
    renamed: "This phone is now called “{name}”.",
    renameUnsupported: "This Cairn server cannot rename devices yet.",
    lockTitle: "App lock",
    lockOff: "No lock is set: anyone who opens Cairn on this phone sees your plans. A PIN keeps them locked when you leave the app or stop using it.",
    lockOn: "Cairn is locked with a PIN. It locks when you leave the app and after a while without use.",
    newPin: "New PIN (at least 4 digits)",
    againPin: "The same PIN again",
    setPin: "Set the lock",
    changePin: "Change the PIN",
    pinTooShort: "The PIN needs at least 4 digits, and only digits.",
    pinsDiffer: "The two PINs are not the same.",
    pinSet: "The lock is set. Remember your PIN: without it, the plans on this phone cannot be opened.",
    working: "Setting the lock…",
    idle: "Lock after this long without use",
    minutes: "{count} minute|{count} minutes",
    idleSet: "Cairn now locks after {time} without use.",
    removeLock: "Remove the lock",
    lockRemoved: "The lock is removed.",
    lockNowButton: "Lock now",
    passkeyNone: "This phone offers no passkey (fingerprint, face or screen lock) to this app: your PIN opens the lock.",
    passkeyAdd: "Unlock with this phone's passkey too",
    passkeyAdded: "This phone's passkey opens the lock too. Your PIN still does.",
    passkeyOn: "This phone's passkey (fingerprint, face or screen lock) opens the lock too.",
    passkeyRemove: "Stop unlocking with the passkey",
    passkeyNoPrf: "This phone's passkeys cannot open Cairn's lock (the browser does not offer the PRF extension). Your PIN opens it.",
    passkeyCancelled: "No passkey was added.",
    about: "About this app: what stays on this phone",
    signOut: "Sign out of this phone",
    // the sign-out check
    checking: "Checking what is on this phone…",
    unsyncedTitle: "Some changes are only on this phone",
    unsyncedText: "Changes to {titles} have not reached Cairn yet. If you sign out now, they are lost.",
    offlineText: "This phone is offline. When it connects, they sync by themselves.",
    wait: "Wait for sync, then sign out",
    anyway: "Sign out anyway (lose them)",
    cancel: "Stay signed in",
    waiting: "Waiting for your changes to reach Cairn. You will be signed out as soon as they have.",
    waitingOffline: "Waiting for a connection. Keep Cairn open; you will be signed out once your changes are on Cairn.",
    untitled: "Untitled plan",
  },
  {
    title: "Este teléfono y mi cuenta",
    back: "‹ Mis planes",
    signedInAs: "Sesión iniciada como {name} ({username}).",
    devices: "Dónde tienes la sesión iniciada",
    devicesIntro: "Cada teléfono u ordenador con tu cuenta abierta. Cierra una sesión que no reconozcas: ese dispositivo sale de tu cuenta la próxima vez que se conecte, y tus planes se borran de él (los cambios que nunca envió se quedan bajo llave allí hasta que vuelvas a iniciar sesión en él).",
    loading: "Cargando…",
    thisPhone: "Este teléfono",
    unnamed: "Un dispositivo sin nombre",
    since: "Sesión iniciada el {date}",
    lastUsed: "último uso el {date}",
    end: "Cerrar esta sesión",
    endNamed: "Cerrar esta sesión ({name})",
    ended: "Esa sesión se ha cerrado.",
    rename: "Cambiar nombre",
    renameLabel: "El nombre de este teléfono",
    renamed: "Este teléfono ahora se llama «{name}».",
    renameUnsupported: "Este servidor de Cairn todavía no puede cambiar el nombre de los dispositivos.",
    lockTitle: "Bloqueo de la app",
    lockOff: "No hay bloqueo: cualquiera que abra Cairn en este teléfono ve tus planes. Un PIN los mantiene bloqueados cuando sales de la app o dejas de usarla.",
    lockOn: "Cairn está bloqueado con un PIN. Se bloquea cuando sales de la app y después de un rato sin usarla.",
    newPin: "PIN nuevo (al menos 4 cifras)",
    againPin: "El mismo PIN otra vez",
    setPin: "Poner el bloqueo",
    changePin: "Cambiar el PIN",
    pinTooShort: "El PIN necesita al menos 4 cifras, y solo cifras.",
    pinsDiffer: "Los dos PIN no coinciden.",
    pinSet: "El bloqueo está puesto. Recuerda tu PIN: sin él, los planes de este teléfono no se pueden abrir.",
    working: "Poniendo el bloqueo…",
    idle: "Bloquear tras este tiempo sin usarla",
    minutes: "{count} minuto|{count} minutos",
    idleSet: "Ahora Cairn se bloquea tras {time} sin usarla.",
    removeLock: "Quitar el bloqueo",
    lockRemoved: "El bloqueo se ha quitado.",
    lockNowButton: "Bloquear ahora",
    passkeyNone: "Este teléfono no ofrece llave de acceso (huella, cara o bloqueo de pantalla) a esta app: tu PIN abre el bloqueo.",
    passkeyAdd: "Desbloquear también con la llave de acceso del teléfono",
    passkeyAdded: "La llave de acceso del teléfono también abre el bloqueo. Tu PIN sigue sirviendo.",
    passkeyOn: "La llave de acceso del teléfono (huella, cara o bloqueo de pantalla) también abre el bloqueo.",
    passkeyRemove: "Dejar de desbloquear con la llave de acceso",
    passkeyNoPrf: "Las llaves de acceso de este teléfono no pueden abrir el bloqueo de Cairn (el navegador no ofrece la extensión PRF). Tu PIN lo abre.",
    passkeyCancelled: "No se añadió ninguna llave de acceso.",
    about: "Sobre esta app: lo que se queda en este teléfono",
    signOut: "Cerrar sesión en este teléfono",
    checking: "Comprobando lo que hay en este teléfono…",
    unsyncedTitle: "Algunos cambios solo están en este teléfono",
    unsyncedText: "Los cambios en {titles} todavía no han llegado a Cairn. Si cierras sesión ahora, se pierden.",
    offlineText: "Este teléfono no tiene conexión. Cuando se conecte, se sincronizarán solos.",
    wait: "Esperar a que se sincronicen y cerrar sesión",
    anyway: "Cerrar sesión de todos modos (se perderán)",
    cancel: "Seguir con la sesión iniciada",
    waiting: "Esperando a que tus cambios lleguen a Cairn. Se cerrará la sesión en cuanto lleguen.",
    waitingOffline: "Esperando conexión. Deja Cairn abierto; se cerrará la sesión cuando tus cambios estén en Cairn.",
    untitled: "Plan sin nombre",
  }
)

const IDLE_CHOICES = [1, 2, 5, 10, 15, 30]

/** Whether this server renames sessions (a 404/405 from an older one says no, for this visit). */
let renameSupported = true

export function accountScreen(session: SignedIn): void {
  const { api } = session
  const me = api.account
  const notice = h("p", { id: "notice", class: "notice", role: "status" })
  // Each card says what happened in it, next to the button pressed.
  const devicesNotice = h("p", { class: "notice", role: "status" })
  const lockNotice = h("p", { class: "notice", role: "status" })
  const tell = (text: string, where: HTMLElement = notice) => {
    where.textContent = text
  }
  const devices = h("ul", { class: "sessions" }, h("li", { class: "empty" }, t("loading")))

  const drawSessions = async () => {
    let sessions: DeviceSession[]
    try {
      sessions = await api.sessions()
    } catch (err) {
      devices.replaceChildren(h("li", { class: "empty" }, problem(err)))
      return
    }
    sessions.sort((a, b) => Number(b.current) - Number(a.current) || b.lastUsedAt.localeCompare(a.lastUsedAt))
    devices.replaceChildren(
      ...sessions.map(device => {
        const name = device.deviceName || (device.current ? deviceName() : t("unnamed"))
        const row = h(
          "li",
          { class: "session", "data-session": device.id },
          h("span", { class: "session-name" }, name),
          device.current ? h("span", { class: "tag" }, t("thisPhone")) : null,
          h("span", { class: "plan-who" }, `${t("since", { date: dateTime(device.createdAt) })} · ${t("lastUsed", { date: dateTime(device.lastUsedAt) })}`)
        )
        if (device.current && renameSupported) {
          const input = h("input", { name: "deviceName", value: name, maxlength: 60, autocomplete: "off", "data-key": "device-name" }) as HTMLInputElement
          row.append(
            h(
              "form",
              {
                class: "inline rename",
                onsubmit: async (event: Event) => {
                  event.preventDefault()
                  const wanted = input.value.trim()
                  if (!wanted) return
                  try {
                    await api.renameSession(device.id, wanted)
                    tell(t("renamed", { name: wanted }), devicesNotice)
                    void drawSessions()
                  } catch (err) {
                    if (err instanceof ApiError && (err.status === 405 || (err.status === 404 && err.code !== "session_not_found"))) {
                      renameSupported = false
                      tell(t("renameUnsupported"), devicesNotice)
                      void drawSessions()
                    } else tell(problem(err), devicesNotice)
                  }
                },
              },
              field(t("renameLabel"), input),
              h("button", { type: "submit" }, t("rename"))
            )
          )
        }
        if (!device.current) {
          row.append(
            h(
              "button",
              {
                type: "button",
                "aria-label": t("endNamed", { name }),
                onclick: async () => {
                  try {
                    await api.endSession(device.id)
                    tell(t("ended"), devicesNotice)
                  } catch (err) {
                    tell(problem(err), devicesNotice)
                  }
                  void drawSessions()
                },
              },
              t("end")
            )
          )
        }
        return row
      })
    )
  }

  const lockCard = h("section", { class: "card", "aria-labelledby": "lock-title" })
  const drawLock = async () => {
    const set = lockIsSet()
    const first = h("input", { type: "password", inputmode: "numeric", autocomplete: "new-password", name: "new-pin", "data-key": "new-pin" }) as HTMLInputElement
    const again = h("input", { type: "password", inputmode: "numeric", autocomplete: "new-password", name: "again-pin", "data-key": "again-pin" }) as HTMLInputElement
    const submit = h("button", { type: "submit", class: set ? "" : "primary" }, set ? t("changePin") : t("setPin")) as HTMLButtonElement
    const pinForm = h(
      "form",
      {
        onsubmit: async (event: Event) => {
          event.preventDefault()
          if (!/^\d{4,12}$/.test(first.value)) return tell(t("pinTooShort"), lockNotice)
          if (first.value !== again.value) return tell(t("pinsDiffer"), lockNotice)
          submit.disabled = true
          tell(t("working"), lockNotice)
          try {
            await setPin(first.value)
            await lockChanged()
            tell(t("pinSet"), lockNotice)
          } catch (err) {
            tell(problem(err), lockNotice)
          }
          void drawLock()
        },
      },
      field(t("newPin"), first),
      field(t("againPin"), again),
      submit
    )
    const settings = await lockSettings()
    const idle = h(
      "select",
      {
        name: "idle",
        onchange: async (event: Event) => {
          const idleMinutes = Number((event.target as HTMLSelectElement).value)
          await saveLockSettings({ ...settings, idleMinutes })
          await lockChanged()
          tell(t("idleSet", { time: t("minutes", { count: idleMinutes }) }), lockNotice)
        },
      },
      ...IDLE_CHOICES.map(minutes =>
        h("option", { value: String(minutes), selected: minutes === settings.idleMinutes }, t("minutes", { count: minutes }))
      )
    )
    lockCard.replaceChildren(
      ...[
      h("h2", { id: "lock-title" }, t("lockTitle")),
      lockNotice,
      h("p", {}, set ? t("lockOn") : t("lockOff")),
      set ? field(t("idle"), idle) : null,
      set ? h("p", {}, h("button", { type: "button", onclick: () => void lockNow() }, t("lockNowButton"))) : null,
      set ? h("details", { class: "change-pin" }, h("summary", {}, t("changePin")), pinForm) : pinForm,
      set
        ? h(
            "p",
            {},
            h(
              "button",
              {
                type: "button",
                onclick: async () => {
                  await removePin()
                  await lockChanged()
                  tell(t("lockRemoved"), lockNotice)
                  void drawLock()
                },
              },
              t("removeLock")
            )
          )
        : null,
      ].filter((node): node is HTMLElement => node !== null)
    )
    if (set) lockCard.append(await passkeyPart())
  }

  const passkeyPart = async (): Promise<HTMLElement> => {
    if (!(await passkeyAvailable())) return h("p", { class: "hint" }, t("passkeyNone"))
    if (await hasPasskey()) {
      return h(
        "div",
        {},
        h("p", {}, t("passkeyOn")),
        h(
          "button",
          {
            type: "button",
            onclick: async () => {
              await removePasskey()
              void drawLock()
            },
          },
          t("passkeyRemove")
        )
      )
    }
    return h(
      "p",
      {},
      h(
        "button",
        {
          type: "button",
          onclick: async () => {
            try {
              await addPasskey(me.username)
              tell(t("passkeyAdded"), lockNotice)
            } catch (err) {
              tell(err instanceof NoPasskey ? (err.reason === "no-prf" ? t("passkeyNoPrf") : err.reason === "cancelled" ? t("passkeyCancelled") : t("passkeyNone")) : problem(err), lockNotice)
            }
            void drawLock()
          },
        },
        t("passkeyAdd")
      )
    )
  }

  // Password, recovery codes, passkeys, second factor, activity; and leaving, last.
  const safety = safetyCards(session)
  window.scrollTo(0, 0)
  main.replaceChildren(
    h(
      "section",
      { class: "card" },
      h("p", { class: "crumb" }, h("a", { href: "#/", class: "back" }, t("back"))),
      h("h1", {}, t("title")),
      h("p", {}, t("signedInAs", { name: me.displayName, username: me.username })),
      notice
    ),
    h("section", { class: "card", "aria-labelledby": "devices-title" }, h("h2", { id: "devices-title" }, t("devices")), h("p", { class: "hint" }, t("devicesIntro")), devicesNotice, devices),
    ...safety.slice(0, -1),
    lockCard,
    h(
      "section",
      { class: "card stack" },
      h("a", { href: "#/about" }, t("about")),
      h("button", { type: "button", onclick: () => (location.hash = "#/sign-out") }, t("signOut"))
    ),
    safety[safety.length - 1]
  )
  void drawSessions()
  void drawLock()
}

/**
 * Signing out: plans are wiped from the phone, so first every plan on it is checked for changes
 * that Cairn does not have yet. None: signed out at once. Some: say so, and offer to wait (the
 * phone connects, and signs out once they are synced) or to sign out anyway.
 */
export async function signOutScreen(session: SignedIn): Promise<void> {
  const card = h("section", { class: "card" }, h("h1", {}, t("signOut")), h("p", { role: "status" }, t("checking")))
  window.scrollTo(0, 0)
  main.replaceChildren(card)
  let stopped = false
  let timer = 0
  showing(() => {
    stopped = true
    window.clearTimeout(timer)
  })
  const unsynced = async () => {
    const store = loadedStore() ?? (await planStore().catch(() => null))
    return store ? store.unsyncedPlans() : []
  }
  const titles = (plans: { title: string }[]) => names(plans.map(plan => `“${plan.title || t("untitled")}”`))
  const first = await unsynced()
  if (stopped || account() !== session) return
  if (first.length === 0) return signOut()

  const explain = h("p", {}, t("unsyncedText", { titles: titles(first) }))
  const offline = h("p", { class: "notice" }, navigator.onLine ? "" : t("offlineText"))
  const progress = h("p", { role: "status", "aria-live": "polite" })
  const waitButton = h(
    "button",
    {
      type: "button",
      class: "primary",
      onclick: () => {
        waitButton.hidden = true
        const check = async () => {
          if (stopped || account() !== session) return
          progress.textContent = navigator.onLine && loadedStore()?.state === "online" ? t("waiting") : t("waitingOffline")
          const left = await unsynced()
          if (stopped || account() !== session) return
          if (left.length === 0) return void signOut()
          explain.textContent = t("unsyncedText", { titles: titles(left) })
          offline.textContent = navigator.onLine ? "" : t("offlineText")
          timer = window.setTimeout(() => void check(), 1_000)
        }
        void check()
      },
    },
    t("wait")
  )
  card.replaceChildren(
    h("h1", {}, t("unsyncedTitle")),
    explain,
    offline,
    progress,
    h(
      "div",
      { class: "actions" },
      waitButton,
      h("button", { type: "button", onclick: () => void signOut() }, t("anyway")),
      h("button", { type: "button", onclick: () => (location.hash = "#/") }, t("cancel"))
    )
  )
}
