/**
 * Synchronisation by polling for a server-side marker (a metric, a log line, a request seen), never by a
 * fixed sleep: a test waits exactly as long as the machine needs, and says what it waited for when it
 * gives up.
 */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; everyMs?: number } = {},
): Promise<void> {
  const { timeoutMs = 15_000, everyMs = 25 } = options;
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= end) break;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  const why = last instanceof Error ? ` (last error: ${last.message})` : "";
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
}

/** The value of one Prometheus sample on a `/metrics` page (`name{labels}` exactly as printed), or 0. */
export async function metricValue(
  metricsUrl: string,
  series: string,
  headers: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(metricsUrl, { headers })).text();
  for (const line of text.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}
