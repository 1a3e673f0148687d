import { knownEventName } from "../admission";
import { api, ApiError } from "../api";
import { alertBox, fill, h, link, showAlert } from "../dom";
import { formatDate, formatMoney, formatTime, problemText, t, type Key } from "../i18n";
import type { Page } from "../main";
import type { Reservation } from "../types";

const reservation: Page = async (main, ctx) => {
  const [id] = ctx.params;
  const path = `/api/reservations/${encodeURIComponent(id)}`;
  let r: Reservation;
  try {
    r = await api<Reservation>("GET", path);
  } catch (err) {
    fill(main, ctx.title(t("common.notFound")), h("p", {}, err instanceof ApiError ? problemText(err.code, err.detail) : t("common.error")), link("/reservations", t("nav.reservations")));
    return;
  }

  let countdown: number | undefined;
  const error = alertBox();

  function draw(): void {
    clearInterval(countdown);
    const eventName = knownEventName(r.eventId);
    const status = h("dd", { id: "status", class: `badge ${r.status}` }, t(`status.${r.status}` as Key));
    const content: (Node | null)[] = [
      ctx.title(t("reservation.title", { id: r.reservationId.slice(0, 8) })),
      r.status === "confirmed" ? h("p", { class: "success", role: "status" }, t("reservation.confirmed")) : null,
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, t("reservation.event")), h("dd", {}, link(`/events/${encodeURIComponent(r.eventId)}`, eventName)),
        h("dt", {}, t("reservation.seats")), h("dd", { id: "seats" }, `${r.blockId} · ${r.seats.join(", ")}`),
        h("dt", {}, t("reservation.amount")), h("dd", {}, formatMoney(r.amount, r.currency)),
        h("dt", {}, t("reservation.status")), status,
      ),
    ];

    if (r.status === "confirmed") {
      // The ticket: what a door scanner would read. Here it is the reservation id and the seats.
      content.push(
        h(
          "section",
          { class: "ticket", "aria-labelledby": "ticket-title" },
          h("h2", { id: "ticket-title" }, t("reservation.ticket")),
          h("p", { class: "ticket-seats" }, r.seats.join(" · ")),
          h("p", { class: "ticket-code" }, r.reservationId),
          r.payment && h("p", { class: "muted" }, t("reservation.payment", { id: r.payment.paymentId }), " · ", formatDate(r.confirmedAt ?? r.payment.approvedAt)),
        ),
      );
    }

    const actions = h("div", { class: "actions" });
    if (r.status === "pendingPayment") {
      const remaining = h("p", { id: "remaining", class: "notice" });
      const tick = () => {
        const left = Math.max(0, new Date(r.expiresAt).getTime() - Date.now());
        const m = Math.floor(left / 60000);
        const s = Math.floor((left % 60000) / 1000);
        remaining.textContent = `${t("reservation.holdUntil", { time: formatTime(r.expiresAt) })} ${t("reservation.remaining", { time: `${m}:${String(s).padStart(2, "0")}` })}`;
      };
      tick();
      countdown = window.setInterval(tick, 1000);
      content.push(remaining);
      const pay = h("button", { type: "button", class: "primary", id: "pay" }, t("reservation.pay"));
      pay.addEventListener("click", async () => {
        pay.disabled = true;
        pay.textContent = t("reservation.paying");
        showAlert(error, null);
        try {
          // The sandbox payment company's checkout first, then hand its payment id to us. Free tickets
          // have nothing to pay: confirming them needs no payment company.
          const paymentId = r.amount > 0
            ? (await api<{ paymentId: string }>("POST", "/api/payments/sandbox/checkout", { reservationId: r.reservationId })).paymentId
            : undefined;
          r = await api<Reservation>("POST", `${path}/payment`, { provider: "sandbox", paymentId });
          draw();
          main.querySelector<HTMLElement>("h1")?.focus();
        } catch (err) {
          showAlert(error, err instanceof ApiError ? problemText(err.code, err.detail) : t("common.error"));
          r = await api<Reservation>("GET", path).catch(() => r);
          pay.disabled = false;
          pay.textContent = t("reservation.pay");
          if (r.status !== "pendingPayment") draw();
        }
      });
      actions.append(pay);
    }
    if (r.status === "pendingPayment" || r.status === "confirmed") {
      const cancel = h("button", { type: "button", id: "cancel" }, t("reservation.cancel"));
      cancel.addEventListener("click", async () => {
        if (!confirm(t("reservation.cancelConfirm"))) return;
        cancel.disabled = true;
        try {
          r = await api<Reservation>("POST", `${path}/cancel`);
          draw();
        } catch (err) {
          showAlert(error, err instanceof ApiError ? problemText(err.code, err.detail) : t("common.error"));
          cancel.disabled = false;
        }
      });
      actions.append(cancel);
    }
    content.push(error, actions, h("p", {}, link("/reservations", t("nav.reservations"))));
    fill(main, ...content);
  }

  draw();
  return () => clearInterval(countdown);
};

export default reservation;
