import { computed, readonly, ref } from "vue";
import { loadToken, saveToken } from "../lib/auth";

// The signed-in state: one API token, kept in localStorage. Module-level, so
// the transport's interceptor and every component see the same token.
const token = ref(loadToken());
const notice = ref("");

export function currentToken(): string {
  return token.value;
}

export function signIn(t: string): void {
  token.value = t;
  notice.value = "";
  saveToken(t);
}

export function signOut(reason = ""): void {
  token.value = "";
  notice.value = reason;
  saveToken("");
}

// Called by the auth interceptor and the stream when the server answers
// Code.Unauthenticated to the stored token.
export function tokenRejected(t: string): void {
  if (t !== "" && token.value === t) {
    signOut("The server no longer accepts your API token. Paste a valid one to continue.");
  }
}

export function useAuth() {
  return {
    token: readonly(token),
    signedIn: computed(() => token.value !== ""),
    notice: readonly(notice),
    signIn,
    signOut,
  };
}
