import { admission, forgetAdmission, rememberEventName } from "../admission";
import { api, ApiError, isTransient, me } from "../api";
import { alertBox, fill, h, link, showAlert } from "../dom";
import { formatDate, formatMoney, formatNumber, formatTime, problemText, t, type Key } from "../i18n";
import type { Page } from "../main";
import type { Block, EventDetail, Reservation, Seat } from "../types";

const event: Page = async (main, ctx) => {
  const [eventId] = ctx.params;
  let detail: EventDetail;
  try {
    detail = await api<EventDetail>("GET", `/api/events/${encodeURIComponent(eventId)}`);
  } catch (err) {
    fill(main, ctx.title(t("common.notFound")), h("p", {}, err instanceof ApiError ? problemText(err.code, err.detail) : t("common.error")), link("/events", t("nav.events")));
    return;
  }
  rememberEventName(eventId, detail.name);
  const account = await me();
  const admitted = admission(eventId);

  const blocks = h(
    "table",
    { class: "blocks" },
    h("caption", {}, t("event.blocks")),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("event.block")), h("th", { scope: "col" }, t("event.price")), h("th", { scope: "col" }, t("event.available")))),
    h("tbody", {}, ...detail.blocks.map((b) => h("tr", {}, h("th", { scope: "row" }, b.name), h("td", {}, formatMoney(b.price, detail.currency)), h("td", { "data-available": b.blockId }, `${formatNumber(b.availableSeats)} / ${formatNumber(b.totalSeats)}`)))),
  );

  fill(
    main,
    ctx.title(detail.name),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, t("event.venue")), h("dd", {}, detail.venue),
      h("dt", {}, t("event.startsAt")), h("dd", {}, formatDate(detail.startsAt)),
      h("dt", {}, t("event.salesOpenAt")), h("dd", {}, formatDate(detail.salesOpenAt)),
    ),
    h("p", {}, t("event.limit", { n: detail.ticketLimitPerUser })),
    blocks,
    account?.roles.includes("admin") && h("p", {}, link(`/admin/events/${encodeURIComponent(eventId)}`, t("event.dashboard"))),
  );

  if (!admitted && Date.parse(detail.startsAt) <= Date.now()) {
    main.append(h("p", { class: "notice", id: "sales-closed" }, t("event.closed")));
    return;
  }

  if (!admitted) {
    main.append(h("p", {}, link(`/queue/${encodeURIComponent(eventId)}`, detail.onSale ? t("event.enterQueue") : t("event.preQueue"), { class: "button primary" })));
    return;
  }

  return seatPicker(main, detail, admitted.token, admitted.expiresAt, ctx.navigate);
};

function seatPicker(main: HTMLElement, detail: EventDetail, token: string, expiresAt: string, navigate: (path: string) => void): () => void {
  const limit = detail.ticketLimitPerUser;
  let block: Block = detail.blocks.find((b) => b.availableSeats > 0) ?? detail.blocks[0];
  let seats: Seat[] = [];
  const chosen = new Set<string>();

  const error = alertBox();
  const summary = h("p", { class: "chosen", "aria-live": "polite" });
  const map = h("div", { class: "seatmap", role: "group" });
  const holdChosen = h("button", { type: "button", class: "primary", disabled: true }, t("seats.hold"));
  const quantity = h("input", { id: "quantity", type: "number", min: 1, max: limit, value: Math.min(2, limit), inputmode: "numeric" });
  const holdBest = h("button", { type: "button" }, t("seats.holdBest", { n: quantity.value }));
  quantity.addEventListener("input", () => (holdBest.textContent = t("seats.holdBest", { n: quantity.value })));

  const blockSelect = h("select", { id: "block" }, ...detail.blocks.map((b) => h("option", { value: b.blockId, selected: b === block }, `${b.name} · ${formatMoney(b.price, detail.currency)}`)));
  blockSelect.addEventListener("change", () => {
    block = detail.blocks.find((b) => b.blockId === blockSelect.value)!;
    chosen.clear();
    void load();
  });

  const statusText = (s: Seat) => t(chosen.has(s.seatId) ? "seats.selected" : (`seats.${s.status}` as Key));

  function drawSummary(): void {
    summary.textContent = chosen.size ? t("seats.chosen", { seats: [...chosen].join(", ") }) : t("seats.none");
    holdChosen.disabled = chosen.size === 0;
  }

  function draw(): void {
    map.setAttribute("aria-label", t("seats.map", { block: block.name }));
    const rows = new Map<string, Seat[]>();
    for (const s of seats) rows.set(s.row, [...(rows.get(s.row) ?? []), s]);
    let first = true;
    fill(
      map,
      h("div", { class: "stage", "aria-hidden": "true" }, t("seats.stage")),
      ...[...rows].map(([row, rowSeats]) =>
        h(
          "div",
          { class: "row", role: "group", "aria-label": t("seats.row", { row }) },
          h("span", { class: "rowname", "aria-hidden": "true" }, row),
          ...rowSeats.map((s) => {
            const selected = chosen.has(s.seatId);
            const button = h(
              "button",
              {
                type: "button",
                class: `seat ${s.status}${selected ? " selected" : ""}`,
                "data-seat": s.seatId,
                "aria-pressed": s.status === "available" ? String(selected) : null,
                "aria-disabled": s.status === "available" ? null : "true",
                "aria-label": t("seats.seat", { seat: s.seatId, status: statusText(s) }),
                title: s.seatId,
                // One seat in the tab order; arrow keys move within the map (see keydown below).
                tabindex: first ? 0 : -1,
              },
              String(s.number),
            );
            first = false;
            button.addEventListener("click", () => toggle(s));
            return button;
          }),
        ),
      ),
    );
    drawSummary();
  }

  function toggle(s: Seat): void {
    if (s.status !== "available") return;
    if (chosen.has(s.seatId)) chosen.delete(s.seatId);
    else if (chosen.size >= limit) {
      showAlert(error, t("seats.limit", { n: limit }));
      return;
    } else chosen.add(s.seatId);
    showAlert(error, null);
    const button = map.querySelector<HTMLButtonElement>(`[data-seat="${CSS.escape(s.seatId)}"]`)!;
    button.classList.toggle("selected", chosen.has(s.seatId));
    button.setAttribute("aria-pressed", String(chosen.has(s.seatId)));
    button.setAttribute("aria-label", t("seats.seat", { seat: s.seatId, status: statusText(s) }));
    drawSummary();
  }

  map.addEventListener("keydown", (e) => {
    const current = (e.target as Element).closest<HTMLButtonElement>("button.seat");
    if (!current) return;
    const all = [...map.querySelectorAll<HTMLButtonElement>("button.seat")];
    const perRow = block.seatsPerRow;
    const i = all.indexOf(current);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, ArrowDown: i + perRow, ArrowUp: i - perRow, Home: 0, End: all.length - 1 }[e.key];
    if (next === undefined || !all[next]) return;
    e.preventDefault();
    current.tabIndex = -1;
    all[next].tabIndex = 0;
    all[next].focus();
  });

  async function load(): Promise<void> {
    const asked = block;
    const answer = await api<Seat[]>("GET", `/api/events/${encodeURIComponent(detail.eventId)}/blocks/${encodeURIComponent(asked.blockId)}/seats`);
    // The visitor switched blocks while this was on its way (a refresh, or a quick second switch): the
    // answer is another block's, and drawing it would show its seats under this block's name.
    if (asked !== block) return;
    seats = answer;
    // A seat someone else took since it was chosen is no longer ours to ask for.
    for (const id of chosen) if (seats.find((s) => s.seatId === id)?.status !== "available") chosen.delete(id);
    // The blocks table above shows this block's seats left as of now, not as of the page's first load.
    const left = main.querySelector(`[data-available="${CSS.escape(asked.blockId)}"]`);
    if (left) left.textContent = `${formatNumber(seats.filter((s) => s.status === "available").length)} / ${formatNumber(seats.length)}`;
    draw();
  }

  // The last hold whose answer never came (network, busy service): asking again for the same seats
  // reuses its Idempotency-Key, so a hold that was made after all is found, not made twice.
  let unanswered: { body: string; key: string } | null = null;

  async function hold(body: object, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    showAlert(error, null);
    const text = JSON.stringify(body);
    const key = unanswered?.body === text ? unanswered.key : crypto.randomUUID();
    unanswered = { body: text, key };
    try {
      const reservation = await api<Reservation>("POST", `/api/events/${encodeURIComponent(detail.eventId)}/reservations`, body, {
        "X-Admission-Token": token,
        "Idempotency-Key": key,
      });
      unanswered = null;
      navigate(`/reservations/${reservation.reservationId}`);
    } catch (err) {
      if (!isTransient(err)) unanswered = null;
      const code = err instanceof ApiError ? err.code : undefined;
      if (code === "seats-unavailable") showAlert(error, t("seats.taken"));
      else if (code === "not-enough-seats" || code === "no-seats") showAlert(error, t("seats.notEnough"));
      else if (code === "admission-expired" || code === "admission-revoked" || code === "admission-mismatch") {
        forgetAdmission(detail.eventId);
        showAlert(error, t("seats.sessionOver"));
        error.append(" ", link(`/queue/${encodeURIComponent(detail.eventId)}`, t("queue.rejoin")));
      } else showAlert(error, err instanceof ApiError ? problemText(err.code, err.detail) : t("common.error"));
      button.disabled = false;
      await load();
    }
  }

  holdChosen.addEventListener("click", () => void hold({ blockId: block.blockId, seatIds: [...chosen] }, holdChosen));
  holdBest.addEventListener("click", () => void hold({ blockId: block.blockId, quantity: Number(quantity.value) }, holdBest));

  main.append(
    h(
      "section",
      { class: "picker", "aria-labelledby": "seats-title" },
      h("h2", { id: "seats-title" }, t("seats.title")),
      h("p", { class: "notice" }, t("event.admitted", { time: formatTime(expiresAt) })),
      h("label", { for: "block" }, t("seats.block")),
      blockSelect,
      map,
      summary,
      error,
      h("div", { class: "actions" }, holdChosen),
      h("fieldset", { class: "best" }, h("legend", {}, t("seats.best")), h("label", { for: "quantity" }, t("seats.quantity")), quantity, holdBest),
    ),
  );
  void load();
  // Others hold and buy meanwhile: keep the map current without a reload.
  const refresh = setInterval(() => void load().catch(() => undefined), 5000);
  return () => clearInterval(refresh);
}

export default event;
