/** SSE parsing rules shared by the gateway's readers of upstream streams. Pure. */

/** One field line → `[name, value]` (one space after the colon dropped); undefined for a comment. */
export function parseField(line: string): [string, string] | undefined {
  if (line.charCodeAt(0) === 0x3a) return undefined;
  const colon = line.indexOf(":");
  if (colon < 0) return [line, ""];
  const value = line.slice(colon + 1);
  return [line.slice(0, colon), value.charCodeAt(0) === 0x20 ? value.slice(1) : value];
}

export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
}

/** The complete events of an SSE text (an unterminated last event is left out). */
export function parseEvents(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  let event = "";
  let id: string | undefined;
  let data: string[] = [];
  const lines = text.split(/\r\n|\n|\r/);
  lines.pop();
  for (const line of lines) {
    if (line === "") {
      if (data.length > 0) events.push({ event: event || "message", data: data.join("\n"), id });
      event = "";
      id = undefined;
      data = [];
      continue;
    }
    const field = parseField(line);
    if (!field) continue;
    if (field[0] === "event") event = field[1];
    else if (field[0] === "data") data.push(field[1]);
    else if (field[0] === "id") id = field[1];
  }
  return events;
}
