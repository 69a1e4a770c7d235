// The language switch in the top bar (on every screen, sign-in too) and the parts of the page
// outside the screens that speak: `<html lang>` and the skip link. The switch is one button that
// names the other language in that language ("Español" on an English screen, "English" on a
// Spanish one), marked with its own `lang` so a screen reader says it right.
import { h } from "../dom.ts"
import { LOCALES, LOCALE_NAMES, catalogue, locale, onLocaleChange, setLocale, type Locale } from "./i18n.ts"

const t = catalogue(
  {
    skip: "Skip to content",
  },
  {
    skip: "Saltar al contenido",
  }
)

function other(): Locale {
  return LOCALES.find(code => code !== locale()) ?? "en"
}

/** Put the switch in the top bar and keep the page's own words in the chosen language. */
export function startLanguage(bar: HTMLElement): void {
  const button = h("button", {
    type: "button",
    class: "language",
    "data-language-switch": "",
    onclick: () => {
      setLocale(other())
      // The screen is drawn again in the new language; the finger (and focus) stays here.
      button.focus()
    },
  })
  const skip = document.querySelector<HTMLElement>(".skip")
  const show = () => {
    const next = other()
    button.textContent = LOCALE_NAMES[next]
    button.lang = next
    document.documentElement.lang = locale()
    if (skip) skip.textContent = t("skip")
  }
  show()
  onLocaleChange(show)
  // Beside the bar's other buttons (lock, quick exit) when it has them, first of them.
  const group = bar.querySelector(".bar-actions")
  if (group) group.prepend(button)
  else bar.append(button)
}
