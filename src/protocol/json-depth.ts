/**
 * Deepest nesting of arrays and objects a message may have. Real MCP messages stay far below it (tool
 * arguments, schemas: tens of levels); code that walks a value recursively (cache keys, an upstream's
 * validator) overflows its stack some thousands of levels down.
 */
export const MAX_JSON_DEPTH = 512;

/**
 * Whether JSON text nests arrays and objects deeper than `max`: one pass over the text, brackets inside
 * strings ignored, nothing built. Pure; any text is accepted (a malformed one is only scanned).
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}
