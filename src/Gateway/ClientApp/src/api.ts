// The gateway's REST API: JSON in, JSON out, RFC 9457 problems turned into ApiError. An expired
// access token is refreshed once (refresh tokens rotate); a refused refresh token logs out, a busy or
// unreachable service does not.

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  /** When this browser received the pair (ms since epoch), to refresh before the access token runs out. */
  receivedAt?: number;
}

export interface Account {
  userId: string;
  email: string;
  displayName: string;
  roles: string[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    readonly detail: string | undefined,
    readonly errors: Record<string, string[]> = {},
    /** Seconds the server asked to wait before trying again (Retry-After), if it said. */
    readonly retryAfter?: number,
  ) {
    super(detail ?? code ?? `HTTP ${status}`);
  }
}

const storageKey = "tq.auth";

export function session(): Tokens | null {
  const raw = localStorage.getItem(storageKey);
  return raw ? (JSON.parse(raw) as Tokens) : null;
}

export function saveSession(tokens: Tokens): void {
  localStorage.setItem(storageKey, JSON.stringify({ ...tokens, receivedAt: Date.now() }));
  account = null;
}

export function clearSession(): void {
  localStorage.removeItem(storageKey);
  account = null;
}

/**
 * Signs this browser out: forgotten here at once, and the server ends the session, so a copy of the
 * refresh token stops working too (the access token runs out by itself within minutes). The request
 * outlives the page (keepalive); if it cannot be sent, the browser is signed out all the same.
 */
export async function logout(): Promise<void> {
  const current = session();
  clearSession();
  if (current) await endSession(current.refreshToken);
}

async function endSession(refreshToken: string): Promise<void> {
  try {
    await fetch("/api/auth/logout", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refreshToken }),
      keepalive: true,
    });
  } catch {
    // Unreachable: nothing more this browser can do; the refresh token expires in time.
  }
}

/** How a refresh went: a new pair, the refresh token refused (signed out), or no answer worth acting on. */
type Refreshed = "refreshed" | "rejected" | "unavailable";

let refreshing: Promise<Refreshed> | null = null;

async function refresh(): Promise<Refreshed> {
  const current = session();
  if (!current) return "rejected";
  refreshing ??= (async (): Promise<Refreshed> => {
    try {
      const response = await fetch("/api/auth/refresh", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ refreshToken: current.refreshToken }),
      });
      if (response.ok) {
        const pair = (await response.json()) as Tokens;
        // Logged out while this was on its way: the new pair must not sign the browser in again, and
        // it is ended on the server too (the logout named the token this one replaced).
        if (session() === null) {
          await endSession(pair.refreshToken);
          return "rejected";
        }
        saveSession(pair);
        return "refreshed";
      }
      // Another tab may have rotated it first: its new pair is in storage now.
      const now = session();
      if (now && now.refreshToken !== current.refreshToken) return "refreshed";
      // Only a refused token signs out. A busy or unreachable service (429, 502, 503, a dropped network)
      // says nothing about the session: keep it and try again later.
      if (response.status !== 401) return "unavailable";
      clearSession();
      return "rejected";
    } catch {
      return "unavailable";
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** An access token good for at least another minute, for SignalR's accessTokenFactory. */
export async function freshAccessToken(): Promise<string> {
  const current = session();
  if (current && Date.now() > (current.receivedAt ?? 0) + (current.expiresIn - 60) * 1000) await refresh();
  return session()?.accessToken ?? "";
}

export async function api<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const token = session()?.accessToken;
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers: {
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "network", undefined);
    }

    if (response.status === 401 && token && attempt === 0) {
      const refreshed = await refresh();
      if (refreshed === "refreshed") continue;
      if (refreshed === "unavailable") throw new ApiError(503, "unavailable", undefined, {}, 2);
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    const json = parseJson(text);
    if (response.ok) return json as T;
    if (response.status === 401 && !path.startsWith("/api/auth/")) clearSession();
    const retryAfter = Number(response.headers.get("retry-after") ?? NaN);
    throw new ApiError(response.status, json?.code, json?.detail ?? json?.title, json?.errors ?? {}, Number.isFinite(retryAfter) ? retryAfter : undefined);
  }
}

let account: Promise<Account | null> | null = null;

/** Who is logged in (cached until the session changes). */
export function me(): Promise<Account | null> {
  if (!session()) return Promise.resolve(null);
  // A failed look (a busy service) is not remembered: the next call asks again.
  account ??= api<Account>("GET", "/api/auth/me").catch(() => {
    account = null;
    return null;
  });
  return account;
}

// A proxy's error page (502 from a load balancer) is HTML, not a problem: no code, the status says it.
function parseJson(text: string): any {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Answers worth trying again by themselves: no network, too many requests, the service busy or restarting. */
export function isTransient(err: unknown): err is ApiError {
  return err instanceof ApiError && [0, 429, 502, 503, 504].includes(err.status);
}

/**
 * Calls until an answer that is not transient, waiting the server's Retry-After or a doubling back-off
 * (1 s up to 30 s, with jitter so a crowd does not come back in step); <paramref name="waiting"/> hears each wait.
 */
export async function retrying<T>(call: () => Promise<T>, waiting: (err: ApiError) => void, stopped: () => boolean = () => false): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!isTransient(err) || stopped()) throw err;
      waiting(err);
      const backoff = Math.min(30, 2 ** attempt) * (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, 1000 * Math.max(err.retryAfter ?? 0, backoff)));
    }
  }
}
