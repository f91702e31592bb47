/**
 * The memory alarm's threshold, as RabbitMQ's `vm_memory_high_watermark` sets it: a fraction
 * of the memory the process may use (`relative`, default 0.4) or a size (`absolute`: bytes, or
 * a number with one of RabbitMQ's units). The memory the process may use is the machine's,
 * or its control group's limit when that is lower (a container), as RabbitMQ's cgroup-aware
 * memory detection does. Pure apart from `memoryLimit`, whose file reader can be replaced.
 */
import { readFileSync } from "node:fs";
import { totalmem } from "node:os";

export type Watermark = { relative: number } | { absolute: number };

/** RabbitMQ's default: 40% of the memory available. */
export const DEFAULT_WATERMARK: Watermark = { relative: 0.4 };

/** A watermark that cannot be used; the message says what to write instead. */
export class WatermarkError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = "WatermarkError";
  }
}

/**
 * RabbitMQ's information units (rabbit_resource_monitor_misc:parse_information_unit): k, M, G
 * and kiB, MiB, GiB are powers of 1024; kB, MB, GB powers of 1000. The spellings are RabbitMQ's
 * list, case variants included.
 */
const UNITS: Record<string, number> = {
  k: 1024,
  K: 1024,
  kiB: 1024,
  KiB: 1024,
  kib: 1024,
  KIB: 1024,
  m: 1024 ** 2,
  M: 1024 ** 2,
  MiB: 1024 ** 2,
  mib: 1024 ** 2,
  MIB: 1024 ** 2,
  g: 1024 ** 3,
  G: 1024 ** 3,
  GiB: 1024 ** 3,
  gib: 1024 ** 3,
  GIB: 1024 ** 3,
  kB: 1000,
  KB: 1000,
  kb: 1000,
  Kb: 1000,
  MB: 1000 ** 2,
  mb: 1000 ** 2,
  Mb: 1000 ** 2,
  GB: 1000 ** 3,
  gb: 1000 ** 3,
  Gb: 1000 ** 3,
};

export const WATERMARK_HELP =
  "a fraction of the memory available from 0 to 1 (e.g. 0.4, RabbitMQ's default) or a size: bytes or a whole number with a unit (e.g. 512MiB, 1GB; k, M, G and KiB, MiB, GiB count in 1024s, kB, MB, GB in 1000s)";

/**
 * A watermark from a number or text. A number below 1 is a fraction; a whole number from 1
 * up is bytes (so callers that always passed bytes keep their meaning, `1` included). Text
 * with a decimal point is a fraction (`0.4`, `1.0`); a whole number is bytes, with or
 * without a unit (`1073741824`, `512MiB`, `1GB`), as RabbitMQ's absolute form.
 */
export function parseWatermark(input: number | string): Watermark {
  if (typeof input === "number") {
    if (Number.isFinite(input) && input >= 0 && input < 1) return { relative: input };
    if (Number.isSafeInteger(input) && input >= 1) return { absolute: input };
    throw new WatermarkError(`${input} is not a memory high watermark: expected ${WATERMARK_HELP}`);
  }
  const text = input.trim();
  if (/^(\d+\.\d*|\.\d+)$/.test(text)) {
    const fraction = Number(text);
    if (fraction <= 1) return { relative: fraction };
    throw new WatermarkError(
      `'${input}' is more than all the memory available: a fraction goes from 0 to 1 (e.g. 0.4)`,
    );
  }
  const size = /^(\d+)([A-Za-z]+)?$/.exec(text);
  const multiplier = size?.[2] === undefined ? 1 : UNITS[size[2]];
  if (size && multiplier !== undefined) {
    const bytes = Number(size[1]) * multiplier;
    if (Number.isSafeInteger(bytes)) return { absolute: bytes };
  }
  throw new WatermarkError(`'${input}' is not a memory high watermark: expected ${WATERMARK_HELP}`);
}

/** Reads a small file as text, or undefined when it cannot be read. */
export type ReadText = (path: string) => string | undefined;

const readText: ReadText = (path) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
};

/** How much memory the process may use, and what says so. */
export interface MemoryLimit {
  bytes: number;
  source: "cgroup" | "system";
}

/** The cgroup paths of this process: v2's unified one and v1's memory controller's. */
function cgroupPaths(selfCgroup: string | undefined): { v2?: string; v1?: string } {
  const out: { v2?: string; v1?: string } = {};
  for (const line of (selfCgroup ?? "").split("\n")) {
    const [id, controllers, path] = [
      line.slice(0, line.indexOf(":")),
      line.slice(line.indexOf(":") + 1, line.lastIndexOf(":")),
      line.slice(line.lastIndexOf(":") + 1),
    ];
    if (!path.startsWith("/")) continue;
    if (id === "0" && controllers === "") out.v2 = path;
    else if (controllers.split(",").includes("memory")) out.v1 = path;
  }
  return out;
}

/** `/a/b` → [`/a/b`, `/a`, ``]: a cgroup and its ancestors, each limit applying. */
function ancestors(path: string): string[] {
  const parts = path.split("/").filter((p) => p !== "");
  const out: string[] = [];
  for (let n = parts.length; n >= 0; n--)
    out.push(n === 0 ? "" : `/${parts.slice(0, n).join("/")}`);
  return out;
}

/** A limit file's bytes; "max", a number too large to mean anything, or junk: none. */
function limitOf(text: string | undefined, total: number): number | undefined {
  const t = text?.trim();
  if (t === undefined || !/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  // cgroup v1 writes "no limit" as a page-rounded 2^63-1; anything at or above the
  // machine's memory limits nothing.
  return n > 0 && n < total ? n : undefined;
}

/**
 * The memory this process may use: the machine's, or the lowest cgroup memory limit over the
 * process's cgroup and its ancestors (v2 `memory.max`, v1 `memory.limit_in_bytes`), and the
 * namespace root's files, which are the container's own.
 */
export function memoryLimit(read: ReadText = readText, total = totalmem()): MemoryLimit {
  const { v2, v1 } = cgroupPaths(read("/proc/self/cgroup"));
  const files = new Set<string>(["/sys/fs/cgroup/memory.max"]);
  if (v2 !== undefined) {
    for (const p of ancestors(v2)) files.add(`/sys/fs/cgroup${p}/memory.max`);
  }
  files.add("/sys/fs/cgroup/memory/memory.limit_in_bytes");
  if (v1 !== undefined) {
    for (const p of ancestors(v1)) files.add(`/sys/fs/cgroup/memory${p}/memory.limit_in_bytes`);
  }
  let lowest: number | undefined;
  for (const file of files) {
    const n = limitOf(read(file), total);
    if (n !== undefined && (lowest === undefined || n < lowest)) lowest = n;
  }
  return lowest === undefined
    ? { bytes: total, source: "system" }
    : { bytes: lowest, source: "cgroup" };
}

/** The alarm's threshold in bytes; an absolute one above the limit is capped, as RabbitMQ does. */
export function watermarkBytes(w: Watermark, limit: MemoryLimit): number {
  return "relative" in w ? Math.floor(w.relative * limit.bytes) : Math.min(w.absolute, limit.bytes);
}

/** What the broker's memory alarm works with, for its stats and its start-up line. */
export interface MemoryBudget {
  /** Bytes above which publishers are blocked. */
  highWatermark: number;
  /** The fraction it was given as, when it was one. */
  relative: number | undefined;
  /** The memory the process may use, and what says so. */
  limit: MemoryLimit;
}

export function memoryBudget(
  input: number | string | undefined,
  limit: MemoryLimit = memoryLimit(),
): MemoryBudget {
  const w = input === undefined ? DEFAULT_WATERMARK : parseWatermark(input);
  return {
    highWatermark: watermarkBytes(w, limit),
    relative: "relative" in w ? w.relative : undefined,
    limit,
  };
}

/** 1536 → "1.5 KiB", as a person reads sizes. */
export function formatBytes(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  if (i === 0) return `${n} bytes`;
  const shown = v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${shown.includes(".") ? shown.replace(/\.?0+$/, "") : shown} ${units[i]}`;
}

/** "9.4 GiB (0.4 of 23.5 GiB, the machine's memory)", for the broker's start-up line. */
export function describeBudget(b: MemoryBudget): string {
  const of = `${formatBytes(b.limit.bytes)}, ${b.limit.source === "cgroup" ? "the cgroup's memory limit" : "the machine's memory"}`;
  if (b.relative !== undefined) return `${formatBytes(b.highWatermark)} (${b.relative} of ${of})`;
  return `${formatBytes(b.highWatermark)} (of ${of})`;
}
