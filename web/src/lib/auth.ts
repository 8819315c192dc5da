import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

export const tokenStorageKey = "chatsync.apiToken";

export function bearer(token: string): string {
  return `Bearer ${token}`;
}

// authInterceptor adds `Authorization: Bearer <token>` to every call that does
// not set its own (sign-in checks a candidate token that way), and reports
// Code.Unauthenticated answers to the stored token so the app can sign out.
export function authInterceptor(getToken: () => string, onRejected: (token: string) => void): Interceptor {
  return (next) => async (req) => {
    const token = getToken();
    const own = !req.header.has("Authorization");
    if (own && token) req.header.set("Authorization", bearer(token));
    try {
      return await next(req);
    } catch (e) {
      if (own && token && ConnectError.from(e).code === Code.Unauthenticated) onRejected(token);
      throw e;
    }
  };
}

// Reads the token kept in localStorage; "" when none or storage is blocked.
export function loadToken(storage: Pick<Storage, "getItem"> | undefined = globalThis.localStorage): string {
  try {
    return storage?.getItem(tokenStorageKey)?.trim() ?? "";
  } catch {
    return "";
  }
}

export function saveToken(token: string, storage: Pick<Storage, "setItem" | "removeItem"> | undefined = globalThis.localStorage): void {
  try {
    if (token) storage?.setItem(tokenStorageKey, token);
    else storage?.removeItem(tokenStorageKey);
  } catch {
    // Private mode or blocked storage: the token lives for this tab only.
  }
}

// normalizeToken accepts a pasted token with or without the "Bearer " prefix
// and surrounding whitespace or quotes.
export function normalizeToken(raw: string): string {
  return raw
    .trim()
    .replace(/^["']|["']$/g, "")
    .replace(/^bearer\s+/i, "")
    .trim();
}
