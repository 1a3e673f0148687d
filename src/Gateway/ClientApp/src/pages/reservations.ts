import { knownEventName } from "../admission";
import { api } from "../api";
import { fill, h, link } from "../dom";
import { formatDate, formatMoney, t, type Key } from "../i18n";
import type { Page } from "../main";
import type { Reservation } from "../types";

const reservations: Page = async (main, ctx) => {
  const list = await api<Reservation[]>("GET", "/api/reservations");
  list.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  fill(
    main,
    ctx.title(t("reservations.title")),
    list.length === 0
      ? h("p", {}, t("reservations.empty"))
      : h(
          "ul",
          { class: "cards" },
          ...list.map((r) =>
            h(
              "li",
              { class: "card" },
              h("h2", {}, link(`/reservations/${r.reservationId}`, `${knownEventName(r.eventId)} · ${r.seats.join(", ")}`)),
              h("p", {}, formatDate(r.createdAt), " · ", formatMoney(r.amount, r.currency)),
              h("p", { class: `badge ${r.status}` }, t(`status.${r.status}` as Key)),
            ),
          ),
        ),
  );
};

export default reservations;
