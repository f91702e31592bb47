/**
 * RabbitMQ's definitions file (what `rabbitmqctl export_definitions` and the management UI
 * write): its shape as a zod schema, and reading one. The schema both checks a file and types
 * what eventlab reads from it and writes into one. Pure: the command reads and writes the files.
 */
import { z } from "zod";
import { EventlabError } from "../errors.js";
import { joinPath } from "./issues.js";

const FILE_HINT =
  "give a file written by `rabbitmqctl export_definitions FILE.json`, the management UI's export, or `eventlab topology export`";

/** Problems listed in the error; the rest are counted. */
const SHOWN_PROBLEMS = 10;

const text = (what: string) => z.string({ error: `expected ${what} (text)` });
const flag = () => z.boolean({ error: "expected true or false" });
const table = () => z.record(z.string(), z.unknown(), { error: "expected an object" });
/** A vhost's own export (management API /api/definitions/<vhost>) leaves the vhost out. */
const vhost = () => text("a vhost name").optional();
/** A section of the file: a list of objects, empty when the file leaves it out. */
const section = <T extends z.ZodType>(item: T) =>
  z.array(item, { error: "expected a list" }).default([]);
const entry = <S extends z.ZodRawShape>(shape: S) =>
  z.object(shape, { error: "expected an object" });

/** Only what eventlab uses: other fields (and sections) are left out of what a file reads as. */
const definitionsExchangeSchema = entry({
  name: text("a name").default(""),
  vhost: vhost(),
  type: text("an exchange type").default("direct"),
  durable: flag().default(true),
  auto_delete: flag().default(false),
  internal: flag().default(false),
  arguments: table().default({}),
});

const definitionsQueueSchema = entry({
  name: text("a name").default(""),
  vhost: vhost(),
  durable: flag().default(true),
  auto_delete: flag().default(false),
  arguments: table().default({}),
  /** Newer RabbitMQ versions write the queue type here too (classic, quorum, stream). */
  type: text("a queue type").optional(),
});

const definitionsBindingSchema = entry({
  source: text("an exchange name").default(""),
  vhost: vhost(),
  destination: text("a name").default(""),
  destination_type: z
    .enum(["queue", "exchange"], { error: 'expected "queue" or "exchange"' })
    .default("queue"),
  routing_key: text("a routing key").default(""),
  arguments: table().default({}),
});

/** The vhosts a file defines; entries eventlab cannot read are left out, never an error. */
const vhostList = z
  .array(z.unknown())
  .catch([])
  .transform((items) =>
    items.flatMap((v) => {
      const parsed = z.object({ name: z.string() }).safeParse(v);
      return parsed.success ? [parsed.data] : [];
    }),
  );

const definitionsSchema = z.object({
  rabbit_version: z.string().optional().catch(undefined),
  vhosts: vhostList,
  exchanges: section(definitionsExchangeSchema),
  queues: section(definitionsQueueSchema),
  bindings: section(definitionsBindingSchema),
});

export type Definitions = z.output<typeof definitionsSchema>;
export type DefinitionsExchange = z.output<typeof definitionsExchangeSchema>;
export type DefinitionsQueue = z.output<typeof definitionsQueueSchema>;
export type DefinitionsBinding = z.output<typeof definitionsBindingSchema>;

const SECTIONS = ["exchanges", "queues", "bindings"] as const;

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** What a JSON value is, for messages: `number 5`, `a list`. */
function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** "at position 42" → line and column, for JSON.parse messages. */
function jsonSyntaxMessage(err: unknown, source: string): string {
  const raw = String((err as Error).message ?? err).split("\n")[0]!;
  const at = / at position (\d+)/.exec(raw);
  const clean = raw
    .replace(/ in JSON at position \d+.*$/, "")
    .replace(/ \(line \d+ column \d+\)$/, "");
  if (!at) {
    if (/end of JSON input/.test(raw)) return "the file ends too early (a missing } or ]?)";
    return clean;
  }
  const offset = Number(at[1]);
  const before = source.slice(0, offset).split("\n");
  return `${clean} at line ${before.length}, column ${before[before.length - 1]!.length + 1}`;
}

/** `queues[3].durable: expected true or false, got string "yes"`. */
function problemOf(issue: z.core.$ZodIssue): string {
  const input = "input" in issue ? issue.input : undefined;
  const got = input === undefined ? "nothing" : typeName(input);
  const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
  return `${joinPath(path)}: ${issue.message}, got ${got}`;
}

/** The JSON of a file that holds at least one of the sections, or why it is not one. */
function readJson(text: string, file: string): Record<string, unknown> {
  const source = text.startsWith("\uFEFF") ? text.slice(1) : text;
  if (source.trim() === "") {
    throw new EventlabError("config", `${file} is empty, not a definitions file`, {
      hint: FILE_HINT,
    });
  }
  let data: unknown;
  try {
    data = JSON.parse(source);
  } catch (err) {
    throw new EventlabError(
      "config",
      `${file} is not valid JSON: ${jsonSyntaxMessage(err, source)}`,
      { hint: `fix the syntax there; ${FILE_HINT}` },
    );
  }
  if (!isMapping(data) || !SECTIONS.some((s) => s in data)) {
    const got = isMapping(data)
      ? `an object with ${Object.keys(data).slice(0, 5).join(", ") || "no keys"}`
      : typeName(data);
    throw new EventlabError(
      "config",
      `${file} is not a RabbitMQ definitions file: expected an object with "exchanges", "queues" and "bindings" lists, got ${got}`,
      { hint: FILE_HINT },
    );
  }
  return data;
}

/**
 * Parse and check a definitions file, collecting every problem with its place
 * (`queues[3].durable: expected true or false`). Sections eventlab does not use (users,
 * permissions, policies, parameters, …) are ignored. `file` names the file in messages.
 */
export function parseDefinitions(text: string, file: string): Definitions {
  const result = definitionsSchema.safeParse(readJson(text, file), { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.map(problemOf);
  const shown = problems.slice(0, SHOWN_PROBLEMS);
  const more =
    problems.length > shown.length ? `\n  … and ${problems.length - shown.length} more` : "";
  throw new EventlabError(
    "config",
    `${file} is not a valid definitions file (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  ${shown.join("\n  ")}${more}`,
    { hint: FILE_HINT },
  );
}
