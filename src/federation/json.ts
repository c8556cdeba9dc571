/** A JSON object as the virtual server reads members' and clients' messages. */
export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);
