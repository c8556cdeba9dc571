/** When the running configuration was loaded, and the last reload refused: for the admin API (`/admin/v1/config`). */
export class ConfigHistory {
  loadedAt = Date.now();
  lastRefused: { at: number; trigger: "signal" | "file"; errors: string[] } | undefined;

  applied(): void {
    this.loadedAt = Date.now();
  }

  refused(trigger: "signal" | "file", errors: string[]): void {
    this.lastRefused = { at: Date.now(), trigger, errors };
  }
}
