// A few lines instead of a framework: elements are built from text, never from HTML strings, so
// nothing a user typed can become markup.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(name.slice(2).toLowerCase(), value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  el.append(...children.filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false).map((c) => (typeof c === "number" ? String(c) : c)));
  return el;
}

/** Replaces an element's children. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren(...children.filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false).map((c) => (typeof c === "number" ? String(c) : c)));
}

/** A link the router handles without a page load. */
export const link = (href: string, text: string, attrs: Attrs = {}): HTMLAnchorElement => h("a", { href, ...attrs }, text);

/** An alert region for errors: screen readers read it out when it changes. */
export function alertBox(): HTMLParagraphElement {
  return h("p", { class: "alert", role: "alert", hidden: true });
}

export function showAlert(box: HTMLElement, text: string | null): void {
  box.textContent = text ?? "";
  box.hidden = !text;
}
