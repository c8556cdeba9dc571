/** Shown in place of a secret. */
export const MASK = "••••••";

/** Keys whose values are secrets wherever they appear (tokens, passwords, client secrets, key material). */
const SECRET_KEY = /(token|secret|password|passphrase|apikey|api_key|privatekey)$/i;

/**
 * A configuration as an operator may see it (pure): every secret masked — the values of secret keys, of
 * every `headers` map (upstream credentials), of `env` entries (`NAME=value`), and the password in any
 * URL (`redis://user:password@host`). Names stay, so that the operator sees what is set.
 */
export function maskSecrets(value: unknown, key = ""): unknown {
  if (Array.isArray(value)) {
    if (key === "env") return value.map((e) => (typeof e === "string" ? e.replace(/=.*$/s, `=${MASK}`) : MASK));
    return value.map((v) => maskSecrets(v, key));
  }
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        k === "headers" && v !== null && typeof v === "object" && !Array.isArray(v)
          ? Object.fromEntries(Object.keys(v).map((name) => [name, MASK]))
          : maskSecrets(v, k),
      ]),
    );
  }
  if (value === undefined || value === null) return value;
  if (SECRET_KEY.test(key)) return MASK;
  if (typeof value === "string") return value.replace(/(\/\/[^/@\s]*?:)[^/@\s]*@/g, `$1${MASK}@`);
  return value;
}
