// The waiting room: the page 100,000 people load in the same minute. One SignalR connection brings
// the serving cursor; the browser works out its own position from its ticket number. When the
// connection is down (or WebSockets are blocked) the page asks GET .../queue/me every few seconds
// instead, and goes back to live updates as soon as the connection is back.
import { HttpTransportType, HubConnectionBuilder, HubConnectionState, LogLevel, type HubConnection } from "@microsoft/signalr";
import { forgetAdmission, rememberEventName, saveAdmission } from "../admission";
import { api, ApiError, freshAccessToken, retrying } from "../api";
import { fill, h, link } from "../dom";
import { formatDate, formatNumber, problemText, t } from "../i18n";
import type { Page } from "../main";
import type { AdmittedMessage, CursorMessage, QueueResponse, TicketAssignedMessage } from "../types";

type Mode = "connecting" | "live" | "reconnecting" | "polling";

const pollMs = 5000;

const queue: Page = async (main, ctx) => {
  const [eventId] = ctx.params;
  const path = `/api/events/${encodeURIComponent(eventId)}/queue`;

  // The visitor may leave while the join is still being retried: then the retries stop, and this page
  // draws nothing over the one they went to.
  const here = location.pathname;
  const left = () => location.pathname !== here;
  let state: QueueResponse;
  try {
    // Joining is idempotent per account: a returning tab or another device gets the same place. At the
    // opening surge the answer may be "busy, retry" (503 with Retry-After): the page tries again itself.
    state = await retrying(
      () => api<QueueResponse>("POST", path),
      (err) => fill(main, ctx.title(t("queue.title")), h("p", { role: "status", id: "join-retrying" }, problemText(err.code, err.detail))),
      left,
    );
  } catch (err) {
    if (left()) return;
    fill(main, ctx.title(t("queue.title")), h("p", { role: "alert" }, err instanceof ApiError ? problemText(err.code, err.detail) : t("common.error")), link(`/events/${encodeURIComponent(eventId)}`, t("common.back")));
    return;
  }

  if (left()) return;

  let rate = 0;
  let mode: Mode = "connecting";
  let stopped = false;
  let pollTimer: number | undefined;
  let restartTimer: number | undefined;
  let turnCheck: number | undefined;
  let followRetry: number | undefined;
  let lastAnnounced: { position: number; at: number } | null = null;

  const position = h("p", { id: "position", class: "big" });
  const ticketNumber = h("p", { id: "ticket-number" });
  const bar = h("div", { class: "bar-fill" });
  const progress = h("div", { id: "progress", class: "progress", role: "progressbar", "aria-label": t("queue.progress"), "aria-valuemin": 0, "aria-valuemax": 100 }, bar);
  const eta = h("p", { id: "eta" });
  const rateText = h("p", { id: "rate", class: "muted" });
  const notice = h("p", { id: "notice", class: "notice", hidden: true });
  const connection = h("p", { id: "connection", class: "connection", role: "status" });
  const announcer = h("p", { class: "visually-hidden", "aria-live": "polite", id: "announcer" });
  const admitted = h("section", { id: "admitted", class: "admitted", hidden: true, role: "alert" });
  const leave = h("button", { type: "button", class: "linkish" }, t("queue.leave"));
  const waiting = h(
    "section",
    { class: "waiting card" },
    h("p", { class: "label" }, t("queue.ahead")), position,
    progress,
    h("p", { class: "label" }, t("queue.eta")), eta,
    ticketNumber, rateText,
  );

  // The join's answer names the event: a visitor arriving straight from a link costs no other request.
  const heading = ctx.title(`${state.eventName} · ${t("queue.title")}`);
  rememberEventName(eventId, state.eventName);
  fill(main, heading, notice, waiting, admitted, connection, announcer, h("p", { class: "muted" }, t("queue.keep")), leave);

  // The first position seen for this ticket is the start of the progress bar; kept across tabs and reloads.
  const startKey = `tq.queueStart.${eventId}`;
  function startPosition(current: number): number {
    const saved = JSON.parse(localStorage.getItem(startKey) ?? "null") as { ticket: number; start: number } | null;
    if (saved && saved.ticket === state.ticketNumber) return Math.max(saved.start, current);
    localStorage.setItem(startKey, JSON.stringify({ ticket: state.ticketNumber, start: current }));
    return current;
  }

  function announce(pos: number, force = false): void {
    const now = Date.now();
    // Politely, not every tick: on the first reading, when the line has halved since the last
    // announcement, in the last few places, or once a minute.
    const due = force || !lastAnnounced || pos <= lastAnnounced.position / 2 || (pos <= 5 && pos !== lastAnnounced.position) || (now - lastAnnounced.at > 60_000 && pos !== lastAnnounced.position);
    if (!due) return;
    lastAnnounced = { position: pos, at: now };
    announcer.textContent = t("queue.announce", { n: formatNumber(pos) });
  }

  function draw(): void {
    notice.hidden = true;
    if (state.status === "admitted" && state.admissionToken && state.admissionExpiresAt) {
      showAdmitted(state.admissionToken, state.admissionExpiresAt);
      return;
    }
    if (state.status === "expired") {
      waiting.hidden = true;
      forgetAdmission(eventId);
      // Drawn once: every cursor message redraws, and a new button each second would take the focus away.
      if (admitted.dataset.view === "expired" && !admitted.hidden) return;
      const problem = h("p", { role: "alert", id: "rejoin-error", hidden: true });
      const again = h("button", { type: "button", class: "primary" }, t("queue.rejoin"));
      again.addEventListener("click", async () => {
        again.disabled = true;
        problem.hidden = true;
        try {
          state = await api<QueueResponse>("POST", path);
        } catch (err) {
          // Sales closed meanwhile, or the service is busy: say so, and let the visitor try again.
          fill(problem, err instanceof ApiError ? problemText(err.code, err.detail) : t("common.error"));
          problem.hidden = false;
          again.disabled = false;
          return;
        }
        localStorage.removeItem(startKey);
        waiting.hidden = false;
        admitted.hidden = true;
        delete admitted.dataset.view;
        draw();
        void follow();
      });
      fill(admitted, h("h2", {}, t("queue.expired")), again, problem);
      admitted.dataset.view = "expired";
      admitted.hidden = false;
      return;
    }
    if (state.salesClosed) {
      // The event has started: nobody more is admitted. Say so instead of a line that never moves.
      waiting.hidden = true;
      stopPolling();
      fill(admitted, h("h2", { id: "sales-closed" }, t("queue.salesClosed")), link(`/events/${encodeURIComponent(eventId)}`, t("common.back")));
      delete admitted.dataset.view;
      admitted.hidden = false;
      return;
    }
    if (state.status === "preQueue" || state.ticketNumber === null) {
      fill(position, "—");
      fill(eta, "—");
      fill(ticketNumber);
      notice.textContent = t("queue.preQueue", { when: formatDate(state.salesOpenAt) });
      notice.hidden = false;
      progress.setAttribute("aria-valuenow", "0");
      bar.style.width = "0%";
      return;
    }

    // The browser's own arithmetic: position = ticket − cursor.
    const pos = Math.max(0, state.ticketNumber - state.servingCursor);
    const start = startPosition(pos);
    const done = start === 0 ? 100 : Math.round(((start - pos) / start) * 100);
    fill(position, pos === 0 ? t("queue.soon") : t("queue.people", { n: formatNumber(pos) }));
    fill(ticketNumber, `${t("queue.yourNumber")} #${formatNumber(state.ticketNumber)}`);
    progress.setAttribute("aria-valuenow", String(done));
    bar.style.width = `${done}%`;
    const perMinute = rate || (state.estimatedWaitSeconds && state.position ? (state.position * 60) / state.estimatedWaitSeconds : 0);
    fill(rateText, perMinute ? t("queue.rate", { n: formatNumber(Math.round(perMinute)) }) : "");
    fill(eta, state.paused || !perMinute ? "—" : etaText((pos * 60) / perMinute));
    if (state.paused) {
      notice.textContent = t("queue.paused");
      notice.hidden = false;
    }
    if (pos > 0) announce(pos);
  }

  function showAdmitted(token: string, expiresAt: string): void {
    saveAdmission(eventId, token, expiresAt);
    localStorage.removeItem(startKey);
    if (!admitted.hidden) return;
    waiting.hidden = true;
    leave.hidden = true;
    const go = link(`/events/${encodeURIComponent(eventId)}`, t("queue.goShop"), { class: "button primary", id: "go-shop" });
    fill(admitted, h("h2", {}, t("queue.admitted")), go);
    delete admitted.dataset.view;
    admitted.hidden = false;
    document.title = `✔ ${t("queue.admitted")} · TicketQueue`;
    go.focus();
    void connectionHandle?.stop();
    stopPolling();
  }

  function setMode(next: Mode): void {
    mode = next;
    connection.dataset.mode = next;
    fill(connection, { connecting: t("common.loading"), live: t("queue.live"), reconnecting: t("queue.reconnecting"), polling: t("queue.polling") }[next]);
  }

  // The line has reached this place, so the gateway's word should follow within a second. If it does not
  // (lost with a dropped connection, or not sent: the place expired meanwhile, or was left and taken again
  // elsewhere), ask once, a few seconds on, instead of showing "soon" for good.
  function checkTurnSoon(): void {
    if (turnCheck !== undefined || stopped) return;
    turnCheck = window.setTimeout(async () => {
      if (stopped || !admitted.hidden) return;
      try {
        state = await api<QueueResponse>("GET", `${path}/me`);
        draw();
      } catch (err) {
        if (err instanceof ApiError && err.code === "not-in-queue") showNotInQueue();
        else if (err instanceof ApiError && err.status === 401) signedOut();
      } finally {
        turnCheck = undefined;
      }
    }, 8000 + Math.random() * 4000);
  }

  // ---- polling fallback ----
  async function poll(): Promise<void> {
    pollTimer = undefined;
    if (stopped || mode === "live") return;
    try {
      state = await api<QueueResponse>("GET", `${path}/me`);
      draw();
    } catch (err) {
      if (err instanceof ApiError && err.code === "not-in-queue") {
        showNotInQueue();
        return;
      }
      if (err instanceof ApiError && err.status === 401) {
        signedOut();
        return;
      }
    }
    if (!stopped && (mode as Mode) !== "live" && admitted.hidden) pollTimer = window.setTimeout(poll, pollMs + Math.random() * 2000);
  }

  // Signed out meanwhile (in another tab, or the session was ended): nothing on this page can work any
  // more, and asking again every few seconds would go on for as long as the tab is open. Sign in again,
  // then come back here: the place is kept.
  function signedOut(): void {
    stopped = true;
    stopPolling();
    clearTimeout(restartTimer);
    void connectionHandle?.stop();
    if (!left()) ctx.navigate(`/login?next=${encodeURIComponent(here)}`, true);
  }

  // The place is gone (left from another tab or device): say so; joining again is the visitor's choice.
  function showNotInQueue(): void {
    stopped = true;
    stopPolling();
    clearTimeout(restartTimer);
    void connectionHandle?.stop();
    waiting.hidden = true;
    fill(admitted, h("h2", {}, t("queue.notInQueue")), link(`/events/${encodeURIComponent(eventId)}`, t("common.back")));
    delete admitted.dataset.view;
    admitted.hidden = false;
  }

  function startPolling(): void {
    // The first look comes 2-7 s after the connection dropped, spread like the reconnects.
    if (pollTimer === undefined && !stopped) pollTimer = window.setTimeout(poll, 2000 + Math.random() * 5000);
  }

  function stopPolling(): void {
    clearTimeout(pollTimer);
    pollTimer = undefined;
  }

  // ---- live updates ----
  const connectionHandle: HubConnection | null = new HubConnectionBuilder()
    .withUrl("/hubs/queue", {
      accessTokenFactory: freshAccessToken,
      // WebSockets straight away: no negotiate round trip for each of 100,000 browsers. Where
      // WebSockets are blocked, polling GET .../queue/me takes over (no long polling on the server).
      transport: HttpTransportType.WebSockets,
      skipNegotiation: true,
    })
    // Full jitter: when a gateway restarts, its followers come back spread over the first 5 s (then 10,
    // 20, 30 s), not all in the same second.
    .withAutomaticReconnect({ nextRetryDelayInMilliseconds: (r) => 250 + Math.random() * Math.min(30_000, 5000 * 2 ** Math.min(r.previousRetryCount, 3)) })
    .configureLogging(LogLevel.None)
    .build();

  connectionHandle.on("cursor", (m: CursorMessage) => {
    if (m.eventId !== eventId) return;
    state = { ...state, servingCursor: Math.max(state.servingCursor, m.servingCursor), paused: m.paused, salesClosed: m.salesClosed };
    rate = m.pacePerMinute;
    draw();
    if (state.status === "waiting" && state.ticketNumber !== null && state.servingCursor >= state.ticketNumber) checkTurnSoon();
  });
  connectionHandle.on("admitted", (m: AdmittedMessage) => {
    if (m.eventId !== eventId) return;
    // May arrive twice (two tabs on two gateways): showing it again is harmless. A drawn number that
    // arrives after it (from another gateway) must not redraw the line over it.
    state = { ...state, status: "admitted" };
    showAdmitted(m.admissionToken, m.admissionExpiresAt);
  });
  connectionHandle.on("ticketAssigned", (m: TicketAssignedMessage) => {
    // Told beside the admissions, the number may come after the admission it led to: that one stands.
    if (m.eventId !== eventId || state.status === "admitted") return;
    state = { ...state, status: "waiting", ticketNumber: m.ticketNumber, position: m.position };
    draw();
    // The draw is news of its own: say the number, and count it as the latest announcement.
    announcer.textContent = t("queue.ticketAssigned", { n: formatNumber(m.ticketNumber) });
    lastAnnounced = { position: Math.max(0, m.ticketNumber - state.servingCursor), at: Date.now() };
  });
  connectionHandle.onreconnecting(() => {
    setMode("reconnecting");
    startPolling();
  });
  connectionHandle.onreconnected(() => void follow());
  connectionHandle.onclose(() => {
    if (stopped || !admitted.hidden) return;
    setMode("polling");
    startPolling();
    scheduleRestart();
  });

  async function follow(): Promise<void> {
    try {
      state = await connectionHandle!.invoke<QueueResponse>("Follow", eventId, state.ticket);
      setMode("live");
      stopPolling();
      draw();
    } catch (err) {
      // A stale ticket: the place changed (left, and joined again elsewhere) or is gone (left). Ask
      // which; never join again on the visitor's behalf.
      if (String(err).includes("ticket-stale")) {
        try {
          state = await api<QueueResponse>("GET", `${path}/me`);
          return follow();
        } catch (stale) {
          if (stale instanceof ApiError && stale.code === "not-in-queue") {
            showNotInQueue();
            return;
          }
        }
      }
      setMode("polling");
      startPolling();
      // The connection is open but following failed (the gateway could not subscribe, a claim timed
      // out): try again a little later, so the page does not poll for good on a working connection.
      clearTimeout(followRetry);
      followRetry = window.setTimeout(() => {
        if (!stopped && admitted.hidden && (mode as Mode) !== "live" && connectionHandle!.state === HubConnectionState.Connected) void follow();
      }, 5000 + Math.random() * 10000);
    }
  }

  let restarts = 0;
  function scheduleRestart(): void {
    clearTimeout(restartTimer);
    const delay = Math.min(30_000, 2000 * 2 ** Math.min(restarts++, 4)) * (0.5 + Math.random());
    restartTimer = window.setTimeout(start, delay);
  }

  async function start(): Promise<void> {
    if (stopped || !admitted.hidden || connectionHandle!.state !== HubConnectionState.Disconnected) return;
    try {
      await connectionHandle!.start();
      restarts = 0;
      await follow();
    } catch {
      setMode("polling");
      startPolling();
      scheduleRestart();
    }
  }

  leave.addEventListener("click", async () => {
    if (!confirm(t("queue.leaveConfirm"))) return;
    await api("DELETE", `${path}/me`).catch(() => undefined);
    localStorage.removeItem(startKey);
    ctx.navigate(`/events/${encodeURIComponent(eventId)}`);
  });

  setMode("connecting");
  draw();
  if (admitted.hidden) void start();

  return () => {
    stopped = true;
    stopPolling();
    clearTimeout(restartTimer);
    clearTimeout(turnCheck);
    clearTimeout(followRetry);
    void connectionHandle.stop();
  };
};

function etaText(seconds: number): string {
  if (seconds < 60) return t("queue.etaSeconds");
  const minutes = Math.ceil(seconds / 60);
  return minutes < 60 ? t("queue.etaMinutes", { n: minutes }) : t("queue.etaHours", { h: Math.floor(minutes / 60), m: minutes % 60 });
}

export default queue;
