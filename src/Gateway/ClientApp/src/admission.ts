// The admission token, kept per event in localStorage so every tab of this browser can shop with it.
// It is only a convenience: the queue page gets it again from the server on any device.

interface Admission {
  token: string;
  expiresAt: string;
}

const key = (eventId: string) => `tq.admission.${eventId}`;

export function admission(eventId: string): Admission | null {
  const raw = localStorage.getItem(key(eventId));
  const value = raw ? (JSON.parse(raw) as Admission) : null;
  if (value && new Date(value.expiresAt) > new Date()) return value;
  localStorage.removeItem(key(eventId));
  return null;
}

export function saveAdmission(eventId: string, token: string, expiresAt: string): void {
  localStorage.setItem(key(eventId), JSON.stringify({ token, expiresAt }));
}

export function forgetAdmission(eventId: string): void {
  localStorage.removeItem(key(eventId));
}

const nameKey = (eventId: string) => `tq.eventName.${eventId}`;

/** Remembers an event's name for later titles (the event page and the queue answers carry it). */
export function rememberEventName(eventId: string, name: string): void {
  sessionStorage.setItem(nameKey(eventId), name);
}

/** The event's name if this tab has seen it, else its id. */
export function knownEventName(eventId: string): string {
  return sessionStorage.getItem(nameKey(eventId)) ?? eventId;
}

/**
 * An event's name for a page's title: remembered from the event or waiting page, or else looked up
 * once in the event list (one small request, never the seat counts).
 */
export async function eventName(eventId: string): Promise<string> {
  const known = sessionStorage.getItem(nameKey(eventId));
  if (known) return known;
  try {
    const response = await fetch("/api/events", { headers: { accept: "application/json" } });
    const list = (await response.json()) as { eventId: string; name: string }[];
    for (const e of list) rememberEventName(e.eventId, e.name);
  } catch {
    // The id stands in for the name.
  }
  return knownEventName(eventId);
}
