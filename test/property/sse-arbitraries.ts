import fc from "fast-check";

/** Generators of SSE byte streams: well-formed ones with every line end, and hostile byte soups. */

const EOL = fc.constantFrom("\n", "\r\n", "\r");

/** A field value: no CR or LF (they end the line), otherwise anything, colons and leading spaces included. */
export const fieldValue = fc
  .oneof(
    fc.string({ maxLength: 20 }),
    fc.string({ unit: "binary", maxLength: 12 }),
    fc.constantFrom("", " ", ":", " x", "a: b", "\u0000", "\uFEFF", "é", "/messages?sessionId=1"),
  )
  .map((s) => s.replace(/[\r\n]/g, ""));

const fieldLine = fc.oneof(
  { weight: 4, arbitrary: fieldValue.map((v) => `data: ${v}`) },
  { weight: 1, arbitrary: fieldValue.map((v) => `data:${v}`) },
  { weight: 1, arbitrary: fc.constant("data") },
  { weight: 2, arbitrary: fc.oneof(fieldValue, fc.constantFrom("message", "endpoint")).map((v) => `event: ${v}`) },
  { weight: 2, arbitrary: fieldValue.map((v) => `id: ${v}`) },
  { weight: 1, arbitrary: fc.nat(10_000).map((n) => `retry: ${n}`) },
  { weight: 1, arbitrary: fieldValue.map((v) => `:${v}`) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom("x", "Data", "ev", "id ", " data"), fieldValue).map(([n, v]) => `${n}:${v}`),
  },
);

/** One event block: field lines, each with its own line end, then an empty line. */
const block = fc
  .tuple(fc.array(fc.tuple(fieldLine, EOL), { maxLength: 5 }), EOL)
  .map(([lines, end]) => `${lines.map(([l, e]) => l + e).join("")}${end}`);

/** An endpoint event as an HTTP+SSE server writes it (optionally with an id), with any line ends. */
export const endpointBlock = fc
  .tuple(
    fc.option(fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/), { nil: undefined }),
    fc.webPath(),
    fc.stringMatching(/^[A-Za-z0-9-]{1,36}$/),
    EOL,
  )
  .map(
    ([id, path, sid, e]) =>
      `${id === undefined ? "" : `id: ${id}${e}`}event: endpoint${e}data: ${path || "/messages"}?sessionId=${sid}${e}${e}`,
  );

/** A well-formed stream (blocks, maybe a BOM first, maybe an unfinished tail), as bytes. */
export function sseStreamOf(options: { bom: boolean; tail: boolean }): fc.Arbitrary<Buffer> {
  return fc
    .tuple(
      options.bom ? fc.boolean() : fc.constant(false),
      fc.array(block, { maxLength: 8 }),
      options.tail ? fc.oneof(fc.constant(""), fieldLine) : fc.constant(""),
    )
    .map(([bom, blocks, tail]) => Buffer.from(`${bom ? "\uFEFF" : ""}${blocks.join("")}${tail}`));
}

export const sseStream = sseStreamOf({ bom: true, tail: true });

/** Bytes from the pieces that matter to a reader (line ends, colons, field names, BOM, NUL, UTF-8). */
export const byteSoup = fc
  .array(
    fc.constantFrom(
      "\n",
      "\r",
      "\r\n",
      ":",
      " ",
      "data",
      "event",
      "id",
      "retry",
      "endpoint",
      "x",
      "\u0000",
      "\uFEFF",
      "é",
      "/m?s=1",
    ),
    { maxLength: 80, size: "medium" },
  )
  .chain((pieces) =>
    // Sometimes a broken UTF-8 byte too.
    fc.option(fc.integer({ min: 0x80, max: 0xff }), { freq: 4 }).map((b) => {
      const buf = Buffer.from(pieces.join(""));
      return b === null ? buf : Buffer.concat([buf, Buffer.of(b), buf]);
    }),
  );

/** Offsets to cut a stream at (taken modulo its length + 1). */
export const cuts = fc.array(fc.nat(), { maxLength: 12 });
