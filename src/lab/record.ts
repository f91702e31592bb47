/**
 * A record file: what happened to every message of a run, as the embedded broker's event
 * ledger saw it (broker/model/events.ts), for `eventlab why --from FILE`. NDJSON:
 *
 *   {"type":"run","scenario":"orders","startedAt":"…","topology":{…}, …}
 *   {"type":"event","t":…,"kind":"published","id":"…","connection":"…", …}
 *   …
 *
 * The first line describes the run (its scenario, when it started, the config's topology so
 * that routing can be explained offline, and anything else a writer finds useful); every
 * `event` line after it is one MessageEvent, in order. Lines of other types are for later
 * versions and are skipped by readers. A file that does not fit gets an EventlabError naming
 * the file and the line.
 */
import { createWriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import type { MessageEvent, MessageEventKind } from "../broker/model/events.js";
import type { Topology } from "../config/schema.js";
import { EventlabError } from "../errors.js";

export interface RecordMeta {
  /** The scenario that ran. */
  scenario?: string | undefined;
  /** When the run started (ISO 8601). */
  startedAt: string;
  /** The config's topology, for explaining routing offline. */
  topology?: Topology | undefined;
  [key: string]: unknown;
}

export interface RunRecord {
  meta: RecordMeta;
  events: MessageEvent[];
}

const KINDS: ReadonlySet<MessageEventKind> = new Set<MessageEventKind>([
  "published",
  "routed",
  "unroutable",
  "enqueued",
  "delivered",
  "acked",
  "nacked",
  "rejected",
  "dead-lettered",
  "expired",
  "dropped",
]);

/** Write a record file (replacing any), streamed line by line: the events may be many. */
export async function writeRecord(path: string, record: RunRecord): Promise<void> {
  const out = createWriteStream(path, { encoding: "utf8" });
  const failed = new Promise<never>((_, reject) => out.once("error", reject));
  failed.catch(() => {});
  const write = async (line: string) => {
    if (!out.write(`${line}\n`)) {
      await Promise.race([new Promise<void>((r) => out.once("drain", () => r())), failed]);
    }
  };
  try {
    await write(JSON.stringify({ ...record.meta, type: "run" }));
    for (const e of record.events) await write(JSON.stringify({ type: "event", ...e }));
    await Promise.race([new Promise<void>((r) => out.end(() => r())), failed]);
  } catch (err) {
    out.destroy();
    throw new EventlabError("io", `cannot write the record file ${path}: ${reason(err)}`, {
      hint: "check that the directory exists and can be written to",
      cause: err,
    });
  }
}

function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file or directory";
  if (code === "EISDIR") return "it is a directory";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  return code ?? String((err as Error)?.message ?? err);
}

const HINT = "a record file is NDJSON written by `eventlab play --record FILE`";

function bad(path: string, line: number, what: string): EventlabError {
  return new EventlabError("io", `${path}:${line}: ${what}`, { hint: HINT });
}

/** Read a record file; an EventlabError names the file (and the line) when it does not fit. */
export async function readRecord(path: string): Promise<RunRecord> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new EventlabError("io", `cannot read the record file ${path}: ${reason(err)}`, {
      hint: `give the path of a record file (${HINT})`,
      cause: err,
    });
  }
  const lines = text.split("\n");
  let meta: RecordMeta | undefined;
  const events: MessageEvent[] = [];
  for (const [i, raw] of lines.entries()) {
    const n = i + 1;
    if (raw.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw bad(path, n, "not a JSON line");
    }
    if (value === null || typeof value !== "object" || Array.isArray(value))
      throw bad(path, n, "expected a JSON object");
    const { type, ...rest } = value as Record<string, unknown>;
    if (meta === undefined) {
      if (type !== "run") throw bad(path, n, 'the first line must be {"type":"run", …}');
      if (typeof rest["startedAt"] !== "string") throw bad(path, n, "the run has no startedAt");
      meta = rest as RecordMeta;
      continue;
    }
    if (type !== "event") continue;
    events.push(eventOf(rest, path, n));
  }
  if (meta === undefined) throw bad(path, 1, "the file is empty");
  return { meta, events };
}

function eventOf(o: Record<string, unknown>, path: string, line: number): MessageEvent {
  if (typeof o["t"] !== "number" || !Number.isFinite(o["t"]))
    throw bad(path, line, "an event needs a time t (ms since the epoch)");
  if (typeof o["kind"] !== "string" || !KINDS.has(o["kind"] as MessageEventKind))
    throw bad(path, line, `unknown event kind ${JSON.stringify(o["kind"])}`);
  if (typeof o["id"] !== "string") throw bad(path, line, "an event needs a message id");
  if (typeof o["connection"] !== "string") throw bad(path, line, "an event needs a connection");
  for (const key of ["queue", "exchange", "routingKey", "to", "reason", "consumerTag"]) {
    if (o[key] !== undefined && typeof o[key] !== "string")
      throw bad(path, line, `${key} must be text`);
  }
  if (o["queues"] !== undefined && !isTextList(o["queues"]))
    throw bad(path, line, "queues must be a list of names");
  return o as unknown as MessageEvent;
}

function isTextList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}
