import { api, ApiError, saveSession, type Tokens } from "../api";
import { alertBox, fill, h, link, showAlert } from "../dom";
import { problemText, t } from "../i18n";
import type { Page } from "../main";

/** Where to go after logging in: only a path on this site, never another origin. */
export function nextPath(query: URLSearchParams): string {
  const next = query.get("next") ?? "";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/events";
}

const login: Page = async (main, ctx) => {
  const error = alertBox();
  const email = h("input", { id: "email", name: "email", type: "email", autocomplete: "username", required: true });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, t("login.submit"));
  const form = h(
    "form",
    { class: "card narrow", novalidate: false },
    h("label", { for: "email" }, t("login.email")), email,
    h("label", { for: "password" }, t("login.password")), password,
    error,
    submit,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    submit.disabled = true;
    showAlert(error, null);
    try {
      saveSession(await api<Tokens>("POST", "/api/auth/login", { email: email.value, password: password.value }));
      ctx.navigate(nextPath(ctx.query));
    } catch (err) {
      showAlert(error, err instanceof ApiError ? problemText(err.code, err.detail) : t("common.error"));
      submit.disabled = false;
    }
  });
  const registerHref = `/register${ctx.query.has("next") ? `?next=${encodeURIComponent(ctx.query.get("next")!)}` : ""}`;
  fill(main, ctx.title(t("login.title")), form, h("p", {}, t("login.noAccount"), " ", link(registerHref, t("login.toRegister"))));
};

export default login;
