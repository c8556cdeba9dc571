/**
 * The sign-in form: the token is tried on `GET /admin/v1/me` and stored (this tab only) when accepted.
 */
import { ApiError, whoAmI } from "./api.js";
import { el, field, heading } from "./dom.js";
import { alertBox, onSubmit, showError } from "./feedback.js";
import { setToken } from "./token.js";
import type { Access } from "./types.js";

export interface SignInOptions {
  /** Shown in the alert at once (why the operator was signed out). */
  message?: string;
  /** Move focus to the token field. */
  focus?: boolean;
  onSignedIn(access: Access): void;
}

function refusal(err: unknown, error: HTMLElement): void {
  if (err instanceof ApiError && err.status === 401) error.textContent = "That token was refused.";
  else if (err instanceof ApiError && err.status === 0) error.textContent = "The gateway did not answer.";
  else showError(error, err);
}

export function showSignIn(main: HTMLElement, options: SignInOptions): void {
  const input = el("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "current-password",
    spellcheck: "false",
    autocapitalize: "off",
  });
  const error = alertBox("signin-error");
  if (options.message) error.textContent = options.message;
  const form = el(
    "form",
    { id: "signin", novalidate: true, class: "stack" },
    field(
      "Admin token",
      input,
      "A read-only token works too. The token stays in this tab only: it is forgotten when the tab closes.",
    ),
    el("div", {}, el("button", { type: "submit", text: "Sign in" })),
    error,
  );
  onSubmit(form, async () => {
    const token = input.value.trim();
    if (!token) {
      error.textContent = "Type the token first.";
      input.focus();
      return;
    }
    error.textContent = "";
    try {
      const access = await whoAmI(token);
      setToken(token);
      input.value = "";
      options.onSignedIn(access);
    } catch (err) {
      refusal(err, error);
      input.focus();
    }
  });
  main.replaceChildren(heading("Sign in"), form);
  document.title = "Sign in · Switchyard console";
  if (options.focus) input.focus();
}
