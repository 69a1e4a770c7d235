// Recovery codes shown once (after sign-up, or when the person makes a new set): to write down or
// print, with a tick that they have, before going on.
import { h } from "../dom.ts"
import { catalogue } from "../app/i18n.ts"

const t = catalogue(
  {
    title: "Your recovery codes",
    forAccount: "For the Cairn account “{username}”.",
    intro: "If you forget your password, one of these codes lets you choose a new one. Write these down or print them, and keep them somewhere safe. Each code works once. They replace any codes you had before. Cairn shows them only now.",
    print: "Print the codes",
    ticked: "I have written them down or printed them",
    goOn: "Continue",
    later: "Later (you can make new codes from your account)",
    tickFirst: "Please tick the box once you have written the codes down or printed them.",
  },
  {
    title: "Tus códigos de recuperación",
    forAccount: "Para la cuenta de Cairn «{username}».",
    intro: "Si olvidas tu contraseña, uno de estos códigos te deja elegir otra. Anótalos o imprímelos y guárdalos en un lugar seguro. Cada código sirve una sola vez. Sustituyen a los códigos que tuvieras antes. Cairn solo los muestra ahora.",
    print: "Imprimir los códigos",
    ticked: "Los he anotado o impreso",
    goOn: "Continuar",
    later: "Más tarde (puedes crear códigos nuevos desde tu cuenta)",
    tickFirst: "Marca la casilla cuando hayas anotado o impreso los códigos.",
  }
)

/** The codes, a Print button (the print stylesheet shows only this card), and the tick;
 * `done` runs once the person goes on (`later` offers to go on without the tick). */
export function recoveryCodesCard(codes: string[], done: () => void, { later = false, heading = "h2", username = "" } = {}): HTMLElement {
  const tick = h("input", { type: "checkbox", id: "codes-ticked", name: "codes-ticked" }) as HTMLInputElement
  const notice = h("p", { class: "notice", role: "alert" })
  return h(
    "section",
    { class: "card recovery-codes", "aria-labelledby": "codes-title" },
    h(heading, { id: "codes-title", tabindex: "-1" }, t("title")),
    username ? h("p", {}, t("forAccount", { username })) : null,
    h("p", {}, t("intro")),
    h("ol", { class: "codes", "aria-label": t("title") }, ...codes.map(code => h("li", {}, h("code", {}, code)))),
    h(
      "p",
      { class: "no-print" },
      h(
        "button",
        {
          type: "button",
          onclick: () => {
            document.body.classList.add("print-codes")
            window.print()
            document.body.classList.remove("print-codes")
          },
        },
        t("print")
      )
    ),
    h("label", { class: "check no-print" }, tick, h("span", {}, t("ticked"))),
    notice,
    h(
      "div",
      { class: "actions no-print" },
      h(
        "button",
        {
          type: "button",
          class: "primary",
          onclick: () => {
            if (!tick.checked) {
              notice.textContent = t("tickFirst")
              tick.focus()
              return
            }
            done()
          },
        },
        t("goOn")
      ),
      later ? h("button", { type: "button", class: "link", onclick: () => done() }, t("later")) : null
    )
  )
}
