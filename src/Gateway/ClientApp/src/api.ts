// The gateway's REST API: JSON in, JSON out, RFC 9457 problems turned into ApiError. An expired
// access token is refreshed once (refresh tokens rotate); a failed refresh logs out.

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

let refreshing: Promise<boolean> | null = null;

async function refresh(): Promise<boolean> {
  const current = session();
  if (!current) return false;
  refreshing ??= (async () => {
    try {
      const response = await fetch("/api/auth/refresh", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ refreshToken: current.refreshToken }),
      });
      if (!response.ok) {
        // Another tab may have rotated it first: its new pair is in storage now.
        const now = session();
        if (now && now.refreshToken !== current.refreshToken) return true;
        clearSession();
        return false;
      }
      saveSession((await response.json()) as Tokens);
      return true;
    } catch {
      return false;
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

    if (response.status === 401 && token && attempt === 0 && (await refresh())) continue;
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    const json = text ? JSON.parse(text) : undefined;
    if (response.ok) return json as T;
    if (response.status === 401 && !path.startsWith("/api/auth/")) clearSession();
    throw new ApiError(response.status, json?.code, json?.detail ?? json?.title, json?.errors ?? {});
  }
}

let account: Promise<Account | null> | null = null;

/** Who is logged in (cached until the session changes). */
export function me(): Promise<Account | null> {
  if (!session()) return Promise.resolve(null);
  account ??= api<Account>("GET", "/api/auth/me").catch(() => null);
  return account;
}
