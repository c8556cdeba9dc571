import { readFileSync } from "node:fs";
import { Agent, type Dispatcher, request } from "undici";

export interface HttpOptions {
  /** PEM file of a CA to trust besides the system's. */
  ca?: string;
  /** Accept any TLS certificate. */
  insecure?: boolean;
  /** Sent on every request (a credential, say). */
  headers: Record<string, string>;
  timeoutMs: number;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** The check's HTTP client: the deployment's TLS settings, the user's headers, a timeout on everything. */
export class CheckHttp {
  readonly dispatcher: Dispatcher;

  /** The audited endpoint's origin: the user's headers (a credential) go there only. */
  private readonly origin: string;

  constructor(
    readonly options: HttpOptions,
    target: URL,
  ) {
    this.origin = target.origin;
    this.dispatcher = new Agent({
      connect: {
        ...(options.ca ? { ca: readFileSync(options.ca) } : {}),
        rejectUnauthorized: options.insecure !== true,
      },
    });
  }

  /**
   * One request, its answer read whole. `fresh`: on a new connection (closed afterwards), so that a load
   * balancer that pins connections still spreads the requests over its replicas. `anonymous`: without
   * the user's headers (as a client with no credential yet).
   */
  async send(
    url: string,
    init: {
      method?: string;
      headers?: Record<string, string>;
      body?: string;
      fresh?: boolean;
      anonymous?: boolean;
    } = {},
  ): Promise<Answer> {
    const res = await request(url, {
      dispatcher: this.dispatcher,
      method: (init.method ?? "GET") as Dispatcher.HttpMethod,
      headers: { ...(init.anonymous ? {} : this.own(url)), ...init.headers },
      body: init.body,
      reset: init.fresh === true,
      headersTimeout: this.options.timeoutMs,
      bodyTimeout: this.options.timeoutMs,
      signal: AbortSignal.timeout(this.options.timeoutMs),
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, headers: res.headers, body };
  }

  /** A request whose answer is a stream: its head, and the body to read (or destroy). */
  open(url: string, headers: Record<string, string>, signal: AbortSignal) {
    return request(url, {
      dispatcher: this.dispatcher,
      method: "GET",
      headers: { ...this.own(url), ...headers },
      headersTimeout: this.options.timeoutMs,
      bodyTimeout: 0,
      signal,
    });
  }

  /** The user's headers, for the audited origin only (a discovery document may name other hosts). */
  private own(url: string): Record<string, string> {
    return new URL(url).origin === this.origin ? this.options.headers : {};
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}

export function header(answer: Answer, name: string): string | undefined {
  const v = answer.headers[name];
  return Array.isArray(v) ? v.join(", ") : v;
}
