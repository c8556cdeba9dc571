/**
 * What the operator is told: errors in role=alert paragraphs (the gateway's message and code), status
 * messages in the polite live region, and the handlers of forms and buttons that say how it went.
 */
import { ApiError } from "./api.js";
import { el } from "./dom.js";

/** An error paragraph (role=alert), empty until `showError`. */
export function alertBox(id?: string): HTMLParagraphElement {
  return el("p", { id, role: "alert", class: "error" });
}

/**
 * The gateway's message and its code in an alert (with `prefix`: the prefix and the message only);
 * no error: the alert emptied.
 */
export function showError(target: HTMLElement, err?: unknown, prefix?: string): void {
  if (err === undefined) {
    target.textContent = "";
    return;
  }
  const e = err instanceof ApiError ? err : new ApiError(0, "", String(err));
  const text = (prefix ?? "") + e.message;
  const code = prefix === undefined ? e.code : "";
  // The same failure again (a poll): left as it is, not announced again.
  if (target.textContent === (code ? `${text} ${code}` : text)) return;
  target.textContent = text;
  if (code) target.append(" ", el("code", { text: code }));
}

/** An answer used, or its failure shown in `error`. */
export async function load<T>(error: HTMLElement, call: Promise<T>, use: (value: T) => void): Promise<void> {
  try {
    use(await call);
    showError(error);
  } catch (err) {
    showError(error, err);
  }
}

/**
 * A button's change: `run` (its answer is announced), then `after` (a reload), then the failure if any,
 * in `error` (after the reload, which would clear it).
 */
export function onAction(
  button: HTMLButtonElement,
  error: HTMLElement,
  run: () => Promise<string>,
  after?: () => Promise<void>,
): void {
  button.addEventListener("click", async () => {
    let said = "";
    let failure: unknown;
    try {
      said = await run();
    } catch (err) {
      failure = err;
    }
    await after?.();
    if (failure === undefined) announce(said);
    else showError(error, failure);
  });
}

let pending: number | undefined;

/** A polite status message (#status): cleared first so the same words are said again. */
export function announce(text: string): void {
  const status = document.getElementById("status");
  if (!status) return;
  status.textContent = "";
  window.clearTimeout(pending);
  pending = window.setTimeout(() => {
    status.textContent = text;
  }, 50);
}

/**
 * A form that never submits (form-action 'none'): `handler` runs instead, once at a time; its buttons are
 * aria-disabled meanwhile (not `disabled`, which would drop the keyboard focus).
 */
export function onSubmit(form: HTMLFormElement, handler: () => Promise<void>): void {
  let busy = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    const buttons = [...form.querySelectorAll("button")];
    for (const b of buttons) b.setAttribute("aria-disabled", "true");
    handler().finally(() => {
      busy = false;
      for (const b of buttons) b.removeAttribute("aria-disabled");
    });
  });
}
