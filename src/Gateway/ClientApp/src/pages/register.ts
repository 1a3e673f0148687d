import { api, ApiError, saveSession, type Tokens } from "../api";
import { alertBox, fill, h, link, showAlert } from "../dom";
import { problemText, t } from "../i18n";
import type { Page } from "../main";
import { nextPath } from "./login";

const register: Page = async (main, ctx) => {
  const error = alertBox();
  const field = (id: string, label: string, attrs: Record<string, string | boolean>, hint?: string) => {
    const input = h("input", { id, name: id, required: true, "aria-describedby": hint ? `${id}-hint` : undefined, ...attrs });
    return { input, nodes: [h("label", { for: id }, label), input, hint ? h("small", { id: `${id}-hint` }, hint) : null] };
  };
  const name = field("displayName", t("register.name"), { type: "text", autocomplete: "nickname", maxlength: "100" });
  const email = field("email", t("login.email"), { type: "email", autocomplete: "email" });
  const password = field("password", t("login.password"), { type: "password", autocomplete: "new-password", minlength: "8" }, t("register.passwordHint"));
  const submit = h("button", { type: "submit" }, t("register.submit"));
  const form = h("form", { class: "card narrow" }, ...name.nodes, ...email.nodes, ...password.nodes, error, submit);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    submit.disabled = true;
    showAlert(error, null);
    for (const f of [name, email, password]) f.input.removeAttribute("aria-invalid");
    try {
      saveSession(await api<Tokens>("POST", "/api/auth/register", { email: email.input.value, password: password.input.value, displayName: name.input.value }));
      ctx.navigate(nextPath(ctx.query));
    } catch (err) {
      if (err instanceof ApiError) {
        // Point at the field the server blamed.
        const blamed = { displayName: name, email, password }[Object.keys(err.errors)[0] ?? ""];
        blamed?.input.setAttribute("aria-invalid", "true");
        showAlert(error, problemText(err.code, err.detail));
        blamed?.input.focus();
      } else {
        showAlert(error, t("common.error"));
      }
      submit.disabled = false;
    }
  });
  fill(main, ctx.title(t("register.title")), form, h("p", {}, t("register.haveAccount"), " ", link(`/login${location.search}`, t("login.title"))));
};

export default register;
