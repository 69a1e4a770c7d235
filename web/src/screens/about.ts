// "About this app": what Cairn keeps on this phone, who can see what, and what the lock, the quick
// exit and signing out do, in plain words. Open signed in or not (`#/about`).
import { h } from "../dom.ts"
import { catalogue } from "../app/i18n.ts"
import { account, main } from "../app/shell.ts"

const t = catalogue(
  {
    title: "About this app",
    back: "‹ Back",
    intro: "Cairn keeps your recovery plan, written with your supporter, on this phone and on your agency's Cairn server. Here is what stays where, and who can see it.",
    phoneTitle: "What stays on this phone",
    phone1: "Your plans, so that you can read and write them with no signal. They are kept encrypted: the words of your plans are never stored as plain text on the phone.",
    phone2: "The list of your plans (their names and the names of the people on them) and what keeps you signed in. These are kept encrypted too, never in the browser's plain storage.",
    phone3: "Your choice of language, and the lock settings. These say nothing about you or your plans.",
    phone4: "Files you download (Markdown, JSON, FHIR) or print are copies of your plan outside Cairn: they stay where you put them, unencrypted, until you delete them.",
    whoTitle: "Who can see what",
    who1: "Your plan: you and the supporters you invited. Nobody else: not other supporters, not your agency's administrators.",
    who2: "Who opened or exported your plan, and when: everyone on the plan can read this in the plan's access log.",
    who3: "Your agency's administrators can see that your account exists, and how many plans there are, never what they say.",
    who4: "Anyone holding this phone while Cairn is open can see your plans. Without a lock, so can anyone who opens Cairn on it.",
    lockTitle: "If you share this phone",
    lock1: "Set a PIN in “This phone and my account” (and, where the phone offers it, let its passkey open the lock too: your fingerprint, face or screen lock). With a PIN, Cairn locks when you leave the app and after a few minutes without use, and your plans cannot be read from the phone's storage without it. What you were typing is kept and comes back when you unlock.",
    lock2: "A short PIN can be guessed by someone who copies the phone's storage and tries every number; a longer PIN is safer.",
    lock3: "Quick exit (the button at the top, or the Escape key three times) leaves Cairn at once for a blank page. With a PIN, Cairn is locked too; without one, anyone who goes back sees Cairn again.",
    outTitle: "Signing out",
    out1: "Signing out removes your plans and everything else of your account from this phone. If some changes have not reached Cairn yet, the app tells you first and can wait for them.",
    out3: "If your session ends without you signing out (it ran out, or you ended it from another phone), changes that had not reached Cairn stay on this phone, locked away, until you log in again here. If someone else logs in on it, they are removed.",
    out2: "In “This phone and my account” you can see every phone where you are signed in and end a session you do not recognise.",
    removedTitle: "When a plan ends for you",
    removed1: "If the person removes you from their plan, or deletes it, its copy is removed from this phone as soon as Cairn says so.",
  },
  {
    title: "Sobre esta app",
    back: "‹ Volver",
    intro: "Cairn guarda tu plan de recuperación, escrito con tu acompañante, en este teléfono y en el servidor de Cairn de tu organización. Esto es lo que se queda en cada sitio y quién puede verlo.",
    phoneTitle: "Lo que se queda en este teléfono",
    phone1: "Tus planes, para que puedas leerlos y escribirlos sin cobertura. Se guardan cifrados: las palabras de tus planes nunca se guardan como texto legible en el teléfono.",
    phone2: "La lista de tus planes (sus nombres y los nombres de las personas que están en ellos) y lo que mantiene tu sesión iniciada. También se guardan cifrados, nunca en el almacenamiento simple del navegador.",
    phone3: "El idioma que elegiste y los ajustes del bloqueo. No dicen nada de ti ni de tus planes.",
    phone4: "Los archivos que descargas (Markdown, JSON, FHIR) o imprimes son copias de tu plan fuera de Cairn: se quedan donde los pongas, sin cifrar, hasta que los borres.",
    whoTitle: "Quién puede ver qué",
    who1: "Tu plan: tú y las personas que invitaste a acompañarte. Nadie más: ni otros acompañantes ni quienes administran tu organización.",
    who2: "Quién abrió o exportó tu plan, y cuándo: todas las personas del plan pueden leerlo en su registro de accesos.",
    who3: "Quienes administran tu organización pueden ver que tu cuenta existe y cuántos planes hay, nunca lo que dicen.",
    who4: "Quien tenga este teléfono mientras Cairn está abierto puede ver tus planes. Sin bloqueo, también quien abra Cairn en él.",
    lockTitle: "Si compartes este teléfono",
    lock1: "Pon un PIN en «Este teléfono y mi cuenta» (y, si el teléfono lo ofrece, deja que su llave de acceso también abra el bloqueo: tu huella, tu cara o el bloqueo de pantalla). Con un PIN, Cairn se bloquea cuando sales de la app y tras unos minutos sin usarla, y tus planes no se pueden leer del almacenamiento del teléfono sin él. Lo que estabas escribiendo se guarda y vuelve cuando desbloqueas.",
    lock2: "Un PIN corto lo puede adivinar alguien que copie el almacenamiento del teléfono y pruebe todos los números; un PIN más largo es más seguro.",
    lock3: "La salida rápida (el botón de arriba, o la tecla Escape tres veces) sale de Cairn al instante a una página en blanco. Con un PIN, Cairn también se bloquea; sin él, quien vuelva atrás ve Cairn otra vez.",
    outTitle: "Cerrar sesión",
    out1: "Al cerrar sesión se borran de este teléfono tus planes y todo lo demás de tu cuenta. Si algunos cambios todavía no han llegado a Cairn, la app te avisa antes y puede esperar a que lleguen.",
    out3: "Si tu sesión termina sin que la cierres (caducó, o la cerraste desde otro teléfono), los cambios que no habían llegado a Cairn se quedan bajo llave en este teléfono hasta que vuelvas a iniciar sesión aquí. Si otra persona inicia sesión en él, se borran.",
    out2: "En «Este teléfono y mi cuenta» puedes ver cada teléfono donde tienes la sesión iniciada y cerrar una sesión que no reconozcas.",
    removedTitle: "Cuando un plan termina para ti",
    removed1: "Si la persona te quita de su plan, o lo borra, su copia se borra de este teléfono en cuanto Cairn lo confirma.",
  }
)

export function aboutScreen(): void {
  const section = (title: string, ...lines: string[]) =>
    h("section", { class: "card" }, h("h2", {}, title), h("ul", { class: "about-list" }, ...lines.map(line => h("li", {}, line))))
  window.scrollTo(0, 0)
  main.replaceChildren(
    h(
      "section",
      { class: "card" },
      h("p", { class: "crumb" }, h("a", { href: account() ? "#/account" : "#/", class: "back" }, t("back"))),
      h("h1", {}, t("title")),
      h("p", {}, t("intro"))
    ),
    section(t("phoneTitle"), t("phone1"), t("phone2"), t("phone3"), t("phone4")),
    section(t("whoTitle"), t("who1"), t("who2"), t("who3"), t("who4")),
    section(t("lockTitle"), t("lock1"), t("lock2"), t("lock3")),
    section(t("outTitle"), t("out1"), t("out3"), t("out2")),
    section(t("removedTitle"), t("removed1"))
  )
}
