/** The admin API's answers, as the console reads them. */
export type Access = "admin" | "read";

export interface Bucket {
  at: number;
  requests: number;
  errors: number;
}

export interface Replica {
  id: string;
  state: "joining" | "serving" | "draining" | "gone";
  healthy: boolean;
  inFlight: number;
}

export interface RouteView {
  name: string;
  kind: "route" | "tenant server" | "virtual server";
  transport?: string;
  replicas?: Replica[];
  traffic: Bucket[];
}

export interface Overview {
  routes: RouteView[];
  inFlight: number;
  streams: number;
  sessions: number | null;
  phase: { unready: boolean; draining: boolean };
  bucketSeconds: number;
  /** The gateway's clock (epoch ms) when it answered: how much of the last bucket has passed. */
  now: number;
}

export interface Session {
  route: string;
  id: string;
  replica: string;
  principal: string;
  transport: string;
  createdAt: string;
  ageSeconds: number;
  idleSeconds: number;
}

export interface SessionList {
  sessions: Session[];
  truncated: boolean;
  signedIds: boolean;
}

export interface Quotas {
  sessions: number;
  streams: number;
  rps: number;
  burst: number;
  maxBodyBytes: number;
}

export interface Tenant {
  id: string;
  createdAt: string;
  keys: number;
  servers: number;
  quotas: Quotas;
  allow: string[];
}

export interface TenantKey {
  id: string;
  createdAt: string;
}

export interface TenantServer {
  name: string;
  url: string;
  transport: "streamable-http" | "sse";
  headers: string[];
  createdAt: string;
}

export interface ConfigView {
  config: unknown;
  loadedAt: string;
  lastRefused?: { trigger: string; at: string; errors: string[] };
}

export type FindingStatus = "pass" | "warn" | "fail" | "skip";

export interface Finding {
  id: string;
  status: FindingStatus;
  title: string;
  detail?: string;
  fix?: string;
}

export interface Report {
  url: string;
  ok: boolean;
  counts: Record<FindingStatus, number>;
  findings: Finding[];
}
