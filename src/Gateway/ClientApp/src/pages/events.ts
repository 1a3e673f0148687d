import { api } from "../api";
import { fill, h, link } from "../dom";
import { formatDate, t } from "../i18n";
import type { Page } from "../main";
import type { EventSummary } from "../types";

const events: Page = async (main, ctx) => {
  const list = await api<EventSummary[]>("GET", "/api/events");
  fill(
    main,
    ctx.title(t("events.title")),
    list.length === 0
      ? h("p", {}, t("events.empty"))
      : h(
          "ul",
          { class: "cards" },
          ...list.map((e) =>
            h(
              "li",
              { class: "card" },
              h("h2", {}, link(`/events/${encodeURIComponent(e.eventId)}`, e.name)),
              h("p", {}, e.venue, " · ", formatDate(e.startsAt)),
              h(
                "p",
                { class: e.onSale ? "badge on" : "badge" },
                e.onSale ? t("events.onSale") : Date.parse(e.startsAt) <= Date.now() ? t("events.closed") : t("events.opensAt", { when: formatDate(e.salesOpenAt) }),
              ),
            ),
          ),
        ),
  );
};

export default events;
