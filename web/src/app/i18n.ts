// The app's languages: every string a person reads comes from a message catalogue, in English and
// Spanish. Each screen keeps its own catalogue (its `messages` beside it), with the Spanish typed
// against the English so that a missing translation does not compile. The language is the phone's
// own (navigator.languages) until the person picks one in the app; dates and times are written
// the way the chosen language writes them.

export const LOCALES = ["en", "es"] as const
export type Locale = (typeof LOCALES)[number]

/** The name of each language, in that language (what the switch shows). */
export const LOCALE_NAMES: Record<Locale, string> = { en: "English", es: "Español" }

const CHOSEN_KEY = "cairn.locale"

function isLocale(value: unknown): value is Locale {
  return typeof value === "string" && (LOCALES as readonly string[]).includes(value)
}

/** The language chosen in the app, else the first of the phone's languages Cairn speaks. */
function initialLocale(): Locale {
  try {
    const chosen = localStorage.getItem(CHOSEN_KEY)
    if (isLocale(chosen)) return chosen
  } catch {
    // storage unavailable: fall back to the phone's language
  }
  for (const tag of navigator.languages ?? [navigator.language]) {
    const language = tag.toLowerCase().split("-")[0]
    if (isLocale(language)) return language
  }
  return "en"
}

let current: Locale = initialLocale()
const listeners = new Set<() => void>()

export function locale(): Locale {
  return current
}

/** Switch the app's language (remembered on this phone); every screen is drawn again. */
export function setLocale(next: Locale): void {
  current = next
  try {
    localStorage.setItem(CHOSEN_KEY, next)
  } catch {
    // not remembered: the switch still holds for this visit
  }
  document.documentElement.lang = next
  for (const listener of listeners) listener()
}

export function onLocaleChange(listener: () => void): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

export type Vars = Record<string, string | number>

/** Fill `{name}` placeholders; a `{count}` also picks the `one`/`other` form in `a|b` texts. */
function fill(text: string, vars: Vars | undefined): string {
  if (!vars) return text
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole))
}

/**
 * A screen's catalogue: English texts and the same keys in Spanish. Returns the function that
 * reads a text in the current language. A text with `{count}` may hold two forms, "one|other",
 * chosen by the language's plural rules.
 */
export function catalogue<const Keys extends string>(en: Record<Keys, string>, es: Record<Keys, string>) {
  const texts: Record<Locale, Record<Keys, string>> = { en, es }
  return (key: Keys, vars?: Vars): string => {
    let text = texts[current][key]
    if (text.includes("|") && vars && typeof vars.count === "number") {
      const [one, other] = text.split("|")
      text = new Intl.PluralRules(current).select(vars.count) === "one" ? one : other
    }
    return fill(text, vars)
  }
}

/**
 * The locale dates and names are written in: the phone's own tag for the chosen language when it
 * has one ("es-MX", "en-GB": their own order of day and month), else the language alone.
 */
export function intlLocale(): string {
  for (const tag of navigator.languages ?? [navigator.language]) {
    if (tag.toLowerCase().split("-")[0] !== current) continue
    try {
      return Intl.getCanonicalLocales(tag)[0]
    } catch {
      // not a valid tag: try the next
    }
  }
  return current
}

/** A date and time, as the chosen language (and the phone's region) writes them. */
export function dateTime(value: string | number | Date): string {
  return new Intl.DateTimeFormat(intlLocale(), { dateStyle: "medium", timeStyle: "short" }).format(new Date(value))
}

/** A calendar day (`YYYY-MM-DD` in the plan), as the chosen language writes it. */
export function day(value: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value)
  if (!match) return value
  const date = new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]))
  return new Intl.DateTimeFormat(intlLocale(), { dateStyle: "medium" }).format(date)
}

/** A list of names joined the language's way ("Sam and Dee", "Sam y Dee"). */
export function names(list: string[]): string {
  return new Intl.ListFormat(intlLocale(), { style: "long", type: "conjunction" }).format(list)
}

document.documentElement.lang = current
