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
