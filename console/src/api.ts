/**
 * The admin API client: the bearer token on every call, JSON in and out, failures as `ApiError`, and a
 * 401 handled once for every caller (the `whenUnauthorized` callback).
 */

import { getToken } from "./token.js";
import type { Access } from "./types.js";

/** A refused or failed call: `status` 0 when the gateway did not answer; `code` is the gateway's `data.code`. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

let unauthorized: () => void = () => {};

/** What to do when a call answers 401 (the token is no longer accepted). */
export function whenUnauthorized(callback: () => void): void {
  unauthorized = callback;
}

async function send(method: string, path: string, token: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { accept: "application/json", authorization: `Bearer ${token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  try {
    return await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, "", "The gateway did not answer.");
  }
}

interface ErrorBody {
  error?: { message?: unknown; data?: { code?: unknown } };
}

async function parse<T>(res: Response): Promise<T> {
  const text = await res.text().catch(() => "");
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (res.ok) return data as T;
  const error = (data as ErrorBody | null)?.error;
  const message = typeof error?.message === "string" ? error.message : `The gateway answered ${res.status}.`;
  const code = typeof error?.data?.code === "string" ? error.data.code : "";
  throw new ApiError(res.status, code, message);
}

/** One admin API call with the stored token (`path` absolute: `/admin/v1/...`). */
export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await send(method, path, getToken() ?? "", body);
  if (res.status === 401) unauthorized();
  return parse<T>(res);
}

/** `GET /admin/v1/me` with a token not stored yet (a 401 is the caller's to answer). */
export async function whoAmI(token: string): Promise<Access> {
  const me = await parse<{ access?: unknown }>(await send("GET", "/admin/v1/me", token));
  return me?.access === "admin" ? "admin" : "read";
}

/** `/admin/v1/` + each segment encoded. */
export function path(...segments: string[]): string {
  return `/admin/v1/${segments.map(encodeURIComponent).join("/")}`;
}
