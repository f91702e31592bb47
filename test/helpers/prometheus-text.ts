/**
 * A strict parser of Prometheus' text exposition format 0.0.4, for tests: what a scraper
 * reads, with every rule of the format checked, so that a test fails on output that a
 * Prometheus server would reject or misread. It follows the grammar of the format's
 * documentation and of Prometheus' own parser (expfmt's TextParser), and is stricter where
 * the documentation says "must": `# HELP` and `# TYPE` at most once per family and before
 * its samples, a family's lines in one group, no series twice, histogram buckets with `le`,
 * cumulative and ending in `+Inf` with `_count` equal to it, counters not negative.
 *
 * Why not an npm package: the one maintained for this (parse-prometheus-text-format) is
 * lenient. It accepts an unterminated label value, a non-numeric sample value, an unknown
 * TYPE and the same series twice without an error, so it cannot tell valid output from
 * invalid. The format is frozen (0.0.4), small, and its rules are listed here one by one.
 */

export type FamilyType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface ParsedSample {
  /** The sample's own name (a histogram's `_bucket`, `_sum`, `_count`). */
  name: string;
  labels: Record<string, string>;
  value: number;
  timestampMs?: number;
}

export interface ParsedFamily {
  name: string;
  type: FamilyType;
  help: string | undefined;
  samples: ParsedSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set<FamilyType>(["counter", "gauge", "histogram", "summary", "untyped"]);

export class ExpositionError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = "ExpositionError";
  }
}

/** A float as Go's strconv.ParseFloat reads it (what Prometheus accepts as a sample value). */
function parseValue(raw: string, line: number): number {
  if (/^[+-]?(Inf|inf|INF|Infinity)$/.test(raw)) {
    return raw.startsWith("-") ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  if (/^(NaN|nan)$/.test(raw)) return Number.NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)) {
    throw new ExpositionError(line, `bad sample value '${raw}'`);
  }
  return Number(raw);
}

/** The family a sample name belongs to, given the families typed so far. */
function familyOf(name: string, typed: Map<string, FamilyType>): string {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const t = typed.get(base);
    if (t === "histogram" || (t === "summary" && suffix !== "_bucket")) return base;
  }
  return name;
}

function unescapeText(raw: string, allowQuote: boolean, line: number): string {
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== "\\") {
      out += c;
      continue;
    }
    const next = raw[++i];
    if (next === "\\") out += "\\";
    else if (next === "n") out += "\n";
    else if (next === '"' && allowQuote) out += '"';
    else throw new ExpositionError(line, `bad escape '\\${next ?? ""}'`);
  }
  return out;
}

/** Labels from `{` (at text[0]) to its `}`; returns them and the rest of the line. */
function parseLabels(text: string, line: number): [Record<string, string>, string] {
  const labels: Record<string, string> = {};
  let rest = text.slice(1);
  for (;;) {
    rest = rest.replace(/^[ \t]+/, "");
    if (rest.startsWith("}")) return [labels, rest.slice(1)];
    const name = LABEL.exec(rest)?.[0];
    if (!name) throw new ExpositionError(line, `bad label name at '${rest.slice(0, 20)}'`);
    if (name.startsWith("__")) throw new ExpositionError(line, `reserved label name '${name}'`);
    if (name in labels) throw new ExpositionError(line, `label '${name}' twice`);
    rest = rest.slice(name.length).replace(/^[ \t]+/, "");
    if (!rest.startsWith("=")) throw new ExpositionError(line, `'=' expected after '${name}'`);
    rest = rest.slice(1).replace(/^[ \t]+/, "");
    if (!rest.startsWith('"')) throw new ExpositionError(line, `'"' expected for '${name}'`);
    let i = 1;
    while (i < rest.length && rest[i] !== '"') i += rest[i] === "\\" ? 2 : 1;
    if (i >= rest.length) throw new ExpositionError(line, `unterminated value of '${name}'`);
    labels[name] = unescapeText(rest.slice(1, i), true, line);
    rest = rest.slice(i + 1).replace(/^[ \t]+/, "");
    if (rest.startsWith(",")) rest = rest.slice(1);
    else if (!rest.startsWith("}")) throw new ExpositionError(line, "',' or '}' expected");
  }
}

function seriesKey(name: string, labels: Record<string, string>): string {
  return `${name}${JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
}

/** The state of one parse: the families so far, and the rules that span lines. */
class Parser {
  readonly families = new Map<string, ParsedFamily>();
  private readonly typed = new Map<string, FamilyType>();
  private readonly closed = new Set<string>();
  private readonly series = new Set<string>();
  private current: string | undefined;

  /** The family `name`, which must not have been left for another one before. */
  private enter(name: string, line: number): ParsedFamily {
    if (this.current !== name) {
      if (this.closed.has(name)) {
        throw new ExpositionError(line, `'${name}' appears again after other families`);
      }
      if (this.current !== undefined) this.closed.add(this.current);
      this.current = name;
    }
    let f = this.families.get(name);
    if (!f) {
      f = { name, type: "untyped", help: undefined, samples: [] };
      this.families.set(name, f);
    }
    return f;
  }

  /** A line starting with '#': HELP, TYPE, or a comment. */
  comment(raw: string, line: number): void {
    const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(raw);
    if (!m) return;
    const [, keyword, name = "", rest = ""] = m;
    if (NAME.exec(name)?.[0] !== name) throw new ExpositionError(line, `bad name '${name}'`);
    const f = this.enter(name, line);
    if (keyword === "HELP") {
      if (f.help !== undefined) throw new ExpositionError(line, `second HELP for '${name}'`);
      f.help = unescapeText(rest, false, line);
      return;
    }
    if (this.typed.has(name)) throw new ExpositionError(line, `second TYPE for '${name}'`);
    if (f.samples.length > 0)
      throw new ExpositionError(line, `TYPE for '${name}' after its samples`);
    const type = rest.trim() as FamilyType;
    if (!TYPES.has(type)) throw new ExpositionError(line, `unknown type '${rest.trim()}'`);
    this.typed.set(name, type);
    f.type = type;
  }

  /** A sample line: name, labels, value, optional timestamp. */
  sample(raw: string, line: number): void {
    const name = NAME.exec(raw)?.[0];
    if (!name) throw new ExpositionError(line, `bad metric name at '${raw.slice(0, 20)}'`);
    let rest = raw.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith("{")) [labels, rest] = parseLabels(rest, line);
    const fields = rest.trim().split(/[ \t]+/);
    if (!/^[ \t]/.test(rest) || fields.length > 2 || fields[0] === "") {
      throw new ExpositionError(line, `'${raw}': expected a value and an optional timestamp`);
    }
    const sample: ParsedSample = { name, labels, value: parseValue(fields[0] as string, line) };
    if (fields[1] !== undefined) {
      if (!/^-?\d+$/.test(fields[1])) throw new ExpositionError(line, "bad timestamp");
      sample.timestampMs = Number(fields[1]);
    }
    const key = seriesKey(name, labels);
    if (this.series.has(key)) throw new ExpositionError(line, `series ${key} twice`);
    this.series.add(key);
    const f = this.enter(familyOf(name, this.typed), line);
    checkSample(f, sample, line);
    f.samples.push(sample);
  }
}

/** A sample's rules that depend on its family's type. */
function checkSample(f: ParsedFamily, s: ParsedSample, line: number): void {
  if (f.type === "histogram" && s.name === `${f.name}_bucket` && s.labels["le"] === undefined) {
    throw new ExpositionError(line, `bucket of '${f.name}' without 'le'`);
  }
  if (f.type === "histogram" && s.name === f.name) {
    throw new ExpositionError(line, `histogram '${f.name}' has a plain sample`);
  }
  if (f.type === "counter" && !(s.value >= 0)) {
    throw new ExpositionError(line, `counter '${s.name}' is ${s.value}`);
  }
}

/** Every family of `text`, in order; throws ExpositionError at the first broken rule. */
export function parseExposition(text: string): ParsedFamily[] {
  if (text !== "" && !text.endsWith("\n")) {
    throw new ExpositionError(text.split("\n").length, "the last line must end in a newline");
  }
  const parser = new Parser();
  const lines = text.split("\n");
  lines.pop();
  lines.forEach((raw, index) => {
    if (/^[ \t]*$/.test(raw)) return;
    if (raw.startsWith("#")) parser.comment(raw, index + 1);
    else parser.sample(raw, index + 1);
  });
  const families = [...parser.families.values()];
  for (const f of families) if (f.type === "histogram") checkHistogram(f);
  return families;
}

/** Each series of a histogram: cumulative buckets ending in +Inf, and _count equal to it. */
function checkHistogram(f: ParsedFamily): void {
  const bySeries = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = seriesKey("", rest);
    const entry = bySeries.get(key) ?? { buckets: [] };
    bySeries.set(key, entry);
    if (s.name === `${f.name}_bucket`) entry.buckets.push([parseValue(le ?? "", 0), s.value]);
    else if (s.name === `${f.name}_count`) entry.count = s.value;
    else if (s.name === `${f.name}_sum`) entry.sum = s.value;
  }
  for (const [key, e] of bySeries) {
    const where = `histogram ${f.name}${key}`;
    const sorted = [...e.buckets].sort((a, b) => a[0] - b[0]);
    const last = sorted.at(-1);
    if (!last || last[0] !== Number.POSITIVE_INFINITY) throw new Error(`${where}: no +Inf bucket`);
    for (let i = 1; i < sorted.length; i++) {
      if ((sorted[i] as [number, number])[1] < (sorted[i - 1] as [number, number])[1]) {
        throw new Error(`${where}: buckets are not cumulative`);
      }
    }
    if (e.count !== last[1])
      throw new Error(`${where}: _count ${e.count} ≠ +Inf bucket ${last[1]}`);
    if (e.sum === undefined) throw new Error(`${where}: no _sum`);
  }
}

/** The families by name. */
export function familiesByName(text: string): Map<string, ParsedFamily> {
  return new Map(parseExposition(text).map((f) => [f.name, f]));
}

/** The value of the one sample of `name` whose labels include `labels`; throws unless one. */
export function sampleValue(
  families: Map<string, ParsedFamily>,
  name: string,
  labels: Record<string, string> = {},
): number {
  // A histogram's or summary's _bucket, _sum and _count are in the family of the base name.
  const f = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ""));
  if (!f) throw new Error(`no family ${name}`);
  const found = f.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length !== 1) {
    throw new Error(`${found.length} samples of ${name}${JSON.stringify(labels)}`);
  }
  return (found[0] as ParsedSample).value;
}
