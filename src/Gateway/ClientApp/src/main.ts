// The shell: header, router and language switch. Each page is its own module, loaded when first
// visited, so the waiting page loads only what it needs.
import "./styles.css";
import { ApiError, isTransient, logout, me, session } from "./api";
import { fill, h, link } from "./dom";
import { lang, problemText, setLang, t } from "./i18n";

/** What a page gets: the route's parameters, and a way to move on. */
export interface PageContext {
  params: string[];
  query: URLSearchParams;
  navigate: (path: string, replace?: boolean) => void;
  /** Set the page's title (document title and the heading screen readers land on). */
  title: (text: string) => HTMLHeadingElement;
}

/** A page renders into main and returns what to stop when the user leaves (timers, connections). */
export type Page = (main: HTMLElement, ctx: PageContext) => Promise<(() => void) | void>;

interface Route {
  pattern: RegExp;
  load: () => Promise<{ default: Page }>;
  auth?: boolean;
}

const routes: Route[] = [
  { pattern: /^\/(?:events\/?)?$/, load: () => import("./pages/events") },
  { pattern: /^\/login$/, load: () => import("./pages/login") },
  { pattern: /^\/register$/, load: () => import("./pages/register") },
  { pattern: /^\/events\/([^/]+)$/, load: () => import("./pages/event") },
  { pattern: /^\/queue\/([^/]+)$/, load: () => import("./pages/queue"), auth: true },
  { pattern: /^\/reservations$/, load: () => import("./pages/reservations"), auth: true },
  { pattern: /^\/reservations\/([^/]+)$/, load: () => import("./pages/reservation"), auth: true },
  { pattern: /^\/admin\/events\/([^/]+)$/, load: () => import("./pages/admin"), auth: true },
];

const main = document.getElementById("main")!;
const bar = document.getElementById("bar")!;
let leave: (() => void) | void;
let generation = 0;

function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  void render();
}

async function renderBar(): Promise<void> {
  const account = await me();
  const loggedIn = session() !== null;
  fill(
    bar,
    h("a", { href: "/events", class: "brand" }, "TicketQueue"),
    h(
      "nav",
      { "aria-label": "main" },
      link("/events", t("nav.events")),
      loggedIn && link("/reservations", t("nav.reservations")),
      loggedIn
        ? h("button", { type: "button", class: "linkish", onclick: () => { void logout(); navigate("/login"); } }, t("nav.logout"))
        : link("/login", t("nav.login")),
      h("button", { type: "button", class: "lang", lang: lang === "ko" ? "en" : "ko", "aria-label": t("nav.languageLabel"), onclick: () => { setLang(lang === "ko" ? "en" : "ko"); void render(); } }, t("nav.language")),
    ),
    account && h("span", { class: "who" }, account.displayName),
  );
  document.querySelector(".skip")!.textContent = t("skip");
}

// Loads of the current page that failed in a row, for the back-off of its automatic retry.
let failedLoads = 0;

async function render(): Promise<void> {
  const current = ++generation;
  leave?.();
  leave = undefined;
  const path = location.pathname;
  const route = routes.find((r) => r.pattern.test(path));
  void renderBar();
  if (!route) {
    document.title = "TicketQueue";
    fill(main, h("h1", {}, t("common.notFound")), link("/events", t("nav.events")));
    return;
  }

  if (route.auth && !session()) {
    navigate(`/login?next=${encodeURIComponent(path + location.search)}`, true);
    return;
  }

  // Each page draws into a container of its own: one still loading when the visitor moves on (a join
  // being retried, a slow answer) draws into a container no longer on screen, never over the page they
  // went to, even when they came back to the same address.
  const root = h("div", { class: "page" });
  fill(main, root);
  fill(root, h("p", { class: "loading", role: "status" }, t("common.loading")));
  const page = (await route.load()).default;
  if (current !== generation) return;
  const ctx: PageContext = {
    params: route.pattern.exec(path)!.slice(1).map(decodeURIComponent),
    query: new URLSearchParams(location.search),
    navigate,
    title: (text) => {
      document.title = `${text} · TicketQueue`;
      return h("h1", { tabindex: "-1" }, text);
    },
  };
  let stop: void | (() => void);
  try {
    stop = await page(root, ctx);
  } catch (err) {
    if (current !== generation) return;
    // Signed out meanwhile (the refresh token was refused): sign in again, then come back here.
    if (err instanceof ApiError && err.status === 401 && !session()) {
      navigate(`/login?next=${encodeURIComponent(path + location.search)}`, true);
      return;
    }

    // A page that could not load says why and offers to try again, instead of "Loading…" for good; a
    // busy service is tried again by itself too (its Retry-After, else a few seconds).
    fill(
      root,
      h("p", { role: "alert", id: "page-error" }, err instanceof ApiError ? problemText(err.code, err.detail) : t("common.error")),
      h("button", { type: "button", onclick: () => void render() }, t("common.retry")),
    );
    if (isTransient(err)) {
      // Doubling from 2 s to a minute, with jitter: a crowd of open tabs must not hammer a service that is down.
      const backoff = Math.min(60, 2 ** ++failedLoads) * (0.5 + Math.random());
      window.setTimeout(() => current === generation && void render(), 1000 * Math.max(err.retryAfter ?? 0, backoff));
    }
    return;
  }

  failedLoads = 0;
  if (current !== generation) {
    stop?.();
    return;
  }
  leave = stop;
  // Move focus to the new page's heading, so keyboard and screen-reader users start there.
  root.querySelector<HTMLElement>("h1")?.focus({ preventScroll: true });
}

document.addEventListener("click", (e) => {
  const a = (e.target as Element).closest?.("a");
  if (!a || a.target || a.origin !== location.origin || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  if (a.pathname + a.search !== location.pathname + location.search) navigate(a.pathname + a.search);
});
window.addEventListener("popstate", () => void render());
void render();
