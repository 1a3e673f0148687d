// An event's live dashboard: the queue's counters once a second, and the controls an operator
// needs during an opening: pause, resume, the admission rate and the bound on shoppers at once.
import { eventName } from "../admission";
import { api, ApiError, me } from "../api";
import { alertBox, fill, h, link, showAlert } from "../dom";
import { formatNumber, formatTime, problemText, t, type Key } from "../i18n";
import type { Page } from "../main";
import type { EventStats } from "../types";

const admin: Page = async (main, ctx) => {
  const [eventId] = ctx.params;
  const account = await me();
  if (!account?.roles.includes("admin")) {
    fill(main, ctx.title(t("admin.title")), h("p", { role: "alert" }, t("admin.forbidden")));
    return;
  }

  const path = `/api/admin/events/${encodeURIComponent(eventId)}`;
  let stats: EventStats;
  try {
    stats = await api<EventStats>("GET", `${path}/stats`);
  } catch (err) {
    fill(main, ctx.title(t("admin.title")), h("p", { role: "alert" }, err instanceof ApiError ? problemText(err.code, err.detail) : t("common.error")));
    return;
  }

  // Cursor readings of the last minute, to show the rate actually achieved next to the one set.
  const history: { at: number; cursor: number }[] = [];
  const tiles = h("dl", { class: "tiles", id: "stats" });
  const updated = h("p", { class: "muted", id: "updated" });
  const error = alertBox();
  const saved = h("p", { role: "status", class: "muted" });

  const pause = h("button", { type: "button", id: "pause", class: "primary" });
  const rate = h("input", { id: "rate", type: "number", min: 1, max: 1000000, inputmode: "numeric", required: true });
  const max = h("input", { id: "max", type: "number", min: 1, max: 1000000, inputmode: "numeric", required: true });
  const rateForm = h("form", { class: "inline" }, h("label", { for: "rate" }, t("admin.rate")), rate, h("button", { type: "submit" }, t("admin.setRate")));
  const maxForm = h("form", { class: "inline" }, h("label", { for: "max" }, t("admin.maxShoppers")), max, h("button", { type: "submit" }, t("admin.setMax")));
  rate.value = String(stats.admissionsPerMinute);
  max.value = String(stats.maxActiveShoppers);

  async function update(body: object): Promise<void> {
    showAlert(error, null);
    saved.textContent = "";
    try {
      stats = await api<EventStats>("PUT", `${path}/queue`, body);
      saved.textContent = t("admin.saved");
      draw();
    } catch (err) {
      showAlert(error, err instanceof ApiError ? problemText(err.code, err.detail) : t("common.error"));
    }
  }

  pause.addEventListener("click", () => void update({ paused: !stats.paused }));
  rateForm.addEventListener("submit", (e) => {
    e.preventDefault();
    void update({ admissionsPerMinute: Number(rate.value) });
  });
  maxForm.addEventListener("submit", (e) => {
    e.preventDefault();
    void update({ maxActiveShoppers: Number(max.value) });
  });

  function draw(): void {
    const now = Date.now();
    history.push({ at: now, cursor: stats.servingCursor });
    while (history.length > 1 && now - history[0].at > 60_000) history.shift();
    const measured = history.length > 1 ? stats.servingCursor - history[0].cursor : 0;
    const state = !stats.opened ? t("admin.notOpen") : stats.paused ? t("admin.pausedState") : t("admin.running");
    const tile = (key: Key, value: string, id: string) => h("div", { class: "tile" }, h("dt", {}, t(key)), h("dd", { id }, value));
    fill(
      tiles,
      tile("admin.state", state, "state"),
      tile("admin.waiting", formatNumber(stats.waiting), "waiting"),
      tile("admin.admitted", formatNumber(stats.admitted), "admitted-count"),
      tile("admin.active", formatNumber(stats.activeShoppers), "active"),
      tile("admin.held", formatNumber(stats.seatsHeld), "held"),
      tile("admin.sold", `${formatNumber(stats.seatsSold)} / ${formatNumber(stats.seatsTotal)}`, "sold"),
      tile("admin.rate", formatNumber(stats.admissionsPerMinute), "current-rate"),
      tile("admin.measured", formatNumber(measured), "measured"),
      tile("admin.cursor", formatNumber(stats.servingCursor), "cursor"),
      tile("admin.issued", formatNumber(stats.issued), "issued"),
    );
    pause.textContent = stats.paused ? t("admin.resume") : t("admin.pause");
    pause.setAttribute("aria-pressed", String(stats.paused));
    updated.textContent = t("admin.updated", { time: formatTime(new Date()) });
  }

  fill(
    main,
    ctx.title(`${t("admin.title")} · ${await eventName(eventId)}`),
    h("p", {}, link(`/events/${encodeURIComponent(eventId)}`, eventId)),
    tiles,
    updated,
    h("section", { class: "controls card" }, pause, rateForm, maxForm, error, saved),
  );
  draw();

  const timer = setInterval(async () => {
    try {
      stats = await api<EventStats>("GET", `${path}/stats`);
      draw();
    } catch {
      // The next second tries again; the last figures stay on screen.
    }
  }, 1000);
  return () => clearInterval(timer);
};

export default admin;
