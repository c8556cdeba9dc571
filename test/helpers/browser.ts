import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { ROOT } from "./procs.js";

/** Debian's Chromium (`scripts/test-setup.sh` installs it): the browser the console's tests drive. */
export const CHROMIUM = "/usr/bin/chromium";

/** Where the console tests leave their screenshots for a person to look at (not committed). */
export const SCREENSHOTS = join(ROOT, "test-results", "console");

/** Headless Chromium, driven over the DevTools protocol by playwright-core. */
export function launchBrowser(): Promise<Browser> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // No sandbox: the tests run as root on the project machines, where Chromium refuses to start with one.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

/** A full-page screenshot, `NAME.png` in `SCREENSHOTS`. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export interface Violation {
  id: string;
  impact: string | null | undefined;
  help: string;
  nodes: string[];
}

/**
 * axe-core's serious and critical violations on the page as it is now (WCAG 2.1 A and AA rules). axe is
 * evaluated over the DevTools protocol, which the page's Content-Security-Policy does not apply to.
 */
export async function accessibilityViolations(page: Page): Promise<Violation[]> {
  if (!(await page.evaluate("typeof axe === 'object'"))) await page.evaluate(AXE);
  return page.evaluate(async () => {
    const result = await axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
      resultTypes: ["violations"],
    });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) }));
  });
}

// In the page (`page.evaluate`), not in Node.
declare const axe: { run(context: unknown, options: unknown): Promise<AxeResult> };
declare const document: unknown;

interface AxeResult {
  violations: Array<{ id: string; impact?: string | null; help: string; nodes: Array<{ target: string[] }> }>;
}
