// A few lines of DOM building: elements with attributes, listeners and children. Text always goes
// in as text nodes, never as HTML, so nothing a person writes in a plan can run as code.

type Child = Node | string | null | undefined | false
type Attributes = Record<string, string | number | boolean | EventListener | undefined>

export function h(tag: string, attributes: Attributes = {}, ...children: (Child | Child[])[]): HTMLElement {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value)
    } else if (name === "value" && "value" in element) {
      ;(element as HTMLInputElement).value = String(value)
    } else if (name === "checked" && "checked" in element) {
      ;(element as HTMLInputElement).checked = Boolean(value)
    } else {
      element.setAttribute(name, value === true ? "" : String(value))
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue
    element.append(typeof child === "string" ? document.createTextNode(child) : child)
  }
  return element
}

/** A labelled field: the label names the control for screen readers and taps. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  // The control may come wrapped (with a note of who else is writing there): label the control.
  const labelled = control.matches("input, textarea, select")
    ? control
    : (control.querySelector<HTMLElement>("input, textarea, select") ?? control)
  const id = labelled.id || `f-${Math.random().toString(36).slice(2)}`
  labelled.id = id
  const hintId = hint ? `${id}-hint` : undefined
  if (hintId) labelled.setAttribute("aria-describedby", hintId)
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hint ? h("p", { class: "hint", id: hintId }, hint) : null)
}

/** Replace `parent`'s content, keeping the focus (and the caret) in the control with the same
 * `data-key`, so that a live update never throws a person out of what they are typing. */
export function replaceKeepingFocus(parent: HTMLElement, content: Node[]): void {
  const active = document.activeElement as HTMLInputElement | HTMLTextAreaElement | null
  const key = active && parent.contains(active) ? active.dataset.key : undefined
  const selection =
    key && active && "selectionStart" in active && typeof active.selectionStart === "number"
      ? [active.selectionStart, active.selectionEnd ?? active.selectionStart]
      : null
  parent.replaceChildren(...content)
  if (!key) return
  const again = parent.querySelector<HTMLInputElement | HTMLTextAreaElement>(`[data-key="${CSS.escape(key)}"]`)
  if (!again) return
  again.focus({ preventScroll: true })
  if (selection && "setSelectionRange" in again) {
    try {
      again.setSelectionRange(selection[0], selection[1])
    } catch {
      // not a text control
    }
  }
}

// ---- updating in place -------------------------------------------------------------------------
// The plan screen is built once and then brought up to date piece by piece: a live edit from the
// other phone changes the words that changed and nothing else, so focus, the caret and a screen
// reader's place stay where they are. (Hand-written rather than a DOM-morphing library: the
// screen's parts are few and known, and a morphing library would still need every listener moved
// to delegation and a rule for the focused field; the helpers below are all it takes.)

/** Set an element's text, only if it differs. */
export function setText(element: HTMLElement, text: string): void {
  if (element.textContent !== text) element.textContent = text
}

/** Set (or, with null, remove) an attribute, only if it differs. */
export function setAttr(element: Element, name: string, value: string | null): void {
  if (value === null) {
    if (element.hasAttribute(name)) element.removeAttribute(name)
  } else if (element.getAttribute(name) !== value) {
    element.setAttribute(name, value)
  }
}

/** Bring a text control to `value`. In a control with focus the caret keeps its place among the
 * words around it: words added or removed before it move it, words after it do not. */
export function setValue(control: HTMLInputElement | HTMLTextAreaElement, value: string): void {
  const old = control.value
  if (old === value) return
  if (document.activeElement !== control || control.selectionStart === null) {
    control.value = value
    return
  }
  let prefix = 0
  while (prefix < old.length && prefix < value.length && old[prefix] === value[prefix]) prefix++
  let suffix = 0
  while (
    suffix < old.length - prefix &&
    suffix < value.length - prefix &&
    old[old.length - 1 - suffix] === value[value.length - 1 - suffix]
  )
    suffix++
  const moved = (at: number) => (at <= prefix ? at : at >= old.length - suffix ? at + value.length - old.length : prefix)
  const start = moved(control.selectionStart)
  const end = moved(control.selectionEnd ?? control.selectionStart)
  control.value = value
  control.setSelectionRange(start, end)
}

/** A part of a screen with its own element, brought up to date with `update`. */
export interface Part<T> {
  readonly element: HTMLElement
  update(item: T, index: number): void
}

/**
 * The children of `parent`, one per item, matched by key: an item's element is made once and
 * then updated in place; a new item gets a new element; a removed item's element goes. Elements
 * move only when the order changed, so focus inside an unmoved item stays.
 */
export class Keyed<T, P extends Part<T>> {
  readonly #parts = new Map<string, P>()

  constructor(
    readonly parent: HTMLElement,
    readonly key: (item: T) => string,
    readonly make: (item: T) => P,
    /** Where focus goes when the element that had it is removed (by the other phone's edit). */
    readonly focusAfterRemoval?: () => HTMLElement | null
  ) {}

  get(key: string): P | undefined {
    return this.#parts.get(key)
  }

  update(items: T[]): void {
    const seen = new Set<string>()
    const wanted: HTMLElement[] = []
    items.forEach((item, index) => {
      const key = this.key(item)
      if (seen.has(key)) return // a duplicated id (two phones' merges): show it once
      seen.add(key)
      let part = this.#parts.get(key)
      if (!part) {
        part = this.make(item)
        this.#parts.set(key, part)
      }
      part.update(item, index)
      wanted.push(part.element)
    })
    for (const [key, part] of this.#parts) {
      if (seen.has(key)) continue
      const hadFocus = part.element.contains(document.activeElement)
      part.element.remove()
      this.#parts.delete(key)
      if (hadFocus) this.focusAfterRemoval?.()?.focus({ preventScroll: true })
    }
    wanted.forEach((element, index) => {
      if (this.parent.children[index] !== element) this.parent.insertBefore(element, this.parent.children[index] ?? null)
    })
  }
}
