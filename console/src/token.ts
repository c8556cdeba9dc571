/** The operator's token: held in this tab's sessionStorage only (never a cookie, never localStorage, never a URL). */
const KEY = "switchyard.token";

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function clearToken(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // no storage: nothing held
  }
}
