/**
 * DOM building: elements made with createElement(NS) and textContent only (no HTML strings, no inline
 * style or handlers); the headings, tables and fields every view uses.
 */

export type Child = Node | string | number | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | null | undefined>;

function setAttrs(node: Element, attrs: Attrs): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "style" || /^on/i.test(name)) throw new Error(`el: no ${name} attribute`);
    if (value === false || value === null || value === undefined) continue;
    if (name === "text") node.textContent = String(value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
}

function append(node: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "number" ? String(child) : child);
  }
}

/** An HTML element: `text` sets its text; every other attribute through setAttribute. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

/** An SVG element. */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}): SVGElementTagNameMap[K] {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  setAttrs(node, attrs);
  return node;
}

export function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`no #${id}`);
  return node as T;
}

/** A view's heading: the one h1, focusable by script when the route changes. */
export function heading(text: string): HTMLHeadingElement {
  return el("h1", { tabindex: -1, text });
}

/** A focusable, labelled container that scrolls what is too wide for the screen. */
export function scrollBox(label: string, content: Node, attrs: Attrs = {}): HTMLDivElement {
  return el("div", { class: "scroll", role: "region", tabindex: 0, "aria-label": label, ...attrs }, content);
}

export interface Table {
  /** The "none" line and the scroll box, to append. */
  node: HTMLDivElement;
  box: HTMLDivElement;
  body: HTMLTableSectionElement;
  /** Replace the rows (the box hidden, the "none" line shown, when there are none). */
  fill(rows: HTMLTableRowElement[]): void;
}

/** A labelled table (column headers) in a scroll box, with the line said when it has no row. */
export function dataTable(label: string, columns: string[], none = ""): Table {
  const head = el("tr", {}, ...columns.map((c) => el("th", { scope: "col", text: c })));
  const body = el("tbody");
  const box = scrollBox(`${label}, scrollable`, el("table", { "aria-label": label }, el("thead", {}, head), body));
  const empty = el("p", { hidden: true, text: none });
  const fill = (rows: HTMLTableRowElement[]) => {
    body.replaceChildren(...rows);
    box.hidden = rows.length === 0;
    empty.hidden = !none || rows.length > 0;
  };
  return { node: el("div", {}, empty, box), box, body, fill };
}

/** A table row: strings and nodes become cells; a ready `td` is kept as it is. */
export function row(attrs: Attrs, cells: Child[]): HTMLTableRowElement {
  const tr = el("tr", attrs);
  for (const cell of cells) tr.append(cell instanceof HTMLTableCellElement ? cell : el("td", {}, cell));
  return tr;
}

/** A labelled field (label above the control), stacked by the style sheet. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLDivElement {
  const hintNode = hint ? el("small", { id: `${control.id}-hint`, class: "hint", text: hint }) : null;
  if (hintNode) control.setAttribute("aria-describedby", hintNode.id);
  return el("div", { class: "field" }, el("label", { for: control.id, text: label }), control, hintNode);
}

/**
 * `parent`'s children kept in step with `items` by key: each made once, then updated in place, moved
 * only when out of order (a moved node would lose the focus).
 */
export function sync<T, H extends { node: Element }>(
  parent: Element,
  held: Map<string, H>,
  items: T[],
  key: (item: T) => string,
  make: (item: T) => H,
  update: (h: H, item: T) => void,
): void {
  const keys = new Set(items.map(key));
  for (const [k, h] of held) {
    if (keys.has(k)) continue;
    h.node.remove();
    held.delete(k);
  }
  items.forEach((item, i) => {
    const k = key(item);
    const h = held.get(k) ?? make(item);
    held.set(k, h);
    update(h, item);
    if (parent.children[i] !== h.node) parent.insertBefore(h.node, parent.children[i] ?? null);
  });
}
