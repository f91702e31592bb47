/**
 * Writing a config file: the only file I/O of src/config besides load.ts. Reads the current
 * text (undefined when there is none), lets the caller compute the new text, and replaces the
 * file atomically (a temporary file renamed over it), so a failed write leaves the old file.
 *
 * `editYamlText` computes such a text for YAML: the caller edits a `yaml` Document, and only the
 * text of the nodes it changed is rewritten, so everything else (flow collections and their
 * spacing, trailing comments, blank lines, quoting, key order) stays byte for byte.
 */
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import {
  Document,
  isMap,
  isScalar,
  isSeq,
  type Node,
  Pair,
  parseDocument,
  Scalar,
  YAMLMap,
  YAMLSeq,
} from "yaml";
import { EventlabError } from "../errors.js";

export async function readConfigIfAny(full: string, shown: string): Promise<string | undefined> {
  try {
    return await readFile(full, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw writeError(err, shown, "read");
  }
}

export async function writeConfigText(full: string, shown: string, text: string): Promise<void> {
  const tmp = path.join(path.dirname(full), `.${path.basename(full)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, text, "utf8");
    await rename(tmp, full);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw writeError(err, shown, "write");
  }
}

function writeError(err: unknown, shown: string, what: "read" | "write"): EventlabError {
  const code = (err as NodeJS.ErrnoException).code ?? String(err);
  return new EventlabError("io", `cannot ${what} config file ${shown} (${code})`, {
    hint:
      code === "EISDIR"
        ? "name a .yaml or .json file, not a directory"
        : "check that the directory exists and is writable",
    cause: err,
  });
}

// -- editing YAML in place -------------------------------------------------------------------

/** Replace text[start, end) with `text`. */
interface TextEdit {
  start: number;
  end: number;
  text: string;
}

type Range = [number, number, number];
const rangeOf = (n: unknown): Range | undefined =>
  (n as { range?: Range | null } | null | undefined)?.range ?? undefined;

/** The name of a mapping key, as the config sees it (`123:` is the key "123"). */
export function keyName(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

/**
 * Apply `edit` to the YAML `text` through the `yaml` Document API and return the new text, in
 * which only the changed nodes are rewritten: a changed scalar in place (its comment stays), a
 * new map entry or list item as new lines after the last one (or after `, ` in a flow
 * collection), a removed entry as its lines gone. Where that cannot be done (a node changes
 * style, an empty `{}` gets entries), the smallest enclosing entry is rendered by the library.
 * The result reads back as the edited document; if it would not, the whole document is
 * rendered by the library instead.
 */
export function editYamlText(text: string, edit: (doc: Document) => void): string {
  const before = parseDocument(text);
  const after = parseDocument(text);
  edit(after);
  const patcher = new Patcher(text, before, after);
  const whole = () => after.toString({ lineWidth: 0, indent: patcher.step });
  const edits = patcher.node(before.contents, after.contents);
  if (edits === undefined) return whole();
  const out = applyEdits(text, edits);
  if (out === undefined) return whole();
  const check = parseDocument(out);
  if (check.errors.length > 0 || !isDeepStrictEqual(check.toJS(), after.toJS())) return whole();
  return out;
}

function applyEdits(text: string, edits: TextEdit[]): string | undefined {
  // At one position, edits of inner collections come first (they were found first).
  const order = edits.map((e, i) => ({ e, i })).sort((a, b) => a.e.start - b.e.start || a.i - b.i);
  let out = "";
  let at = 0;
  for (const { e } of order) {
    if (e.start < at) return undefined;
    out += text.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + text.slice(at);
}

class Patcher {
  /** The file's indentation step, for rendered nodes. */
  readonly step: number;
  /** The file's line break: new lines use it too. */
  private readonly eol: string;

  constructor(
    private readonly text: string,
    private readonly before: Document,
    private readonly after: Document,
  ) {
    this.step = this.indentStep();
    this.eol = text.includes("\r\n") ? "\r\n" : "\n";
  }

  /** Edits turning `a` (of the text) into `b`, or undefined when the parent must render `b`. */
  node(a: unknown, b: unknown): TextEdit[] | undefined {
    if (this.same(a, b)) return [];
    if (isMap(a) && isMap(b) && a.items.length > 0 && b.items.length > 0 && !a.flow === !b.flow)
      return a.flow ? this.flowMap(a, b) : this.blockMap(a, b);
    if (isSeq(a) && isSeq(b) && a.items.length > 0 && !a.flow === !b.flow)
      return a.flow ? this.flowSeq(a, b) : this.blockSeq(a, b);
    if (isScalar(a) && isScalar(b)) return this.replaceInline(a, b, false);
    return undefined;
  }

  private same(a: unknown, b: unknown): boolean {
    if (a === null || b === null || a === undefined || b === undefined) return a === b;
    const kind = (n: unknown) => (isMap(n) ? "map" : isSeq(n) ? "seq" : isScalar(n) ? "scalar" : n);
    if (kind(a) !== kind(b)) return false;
    if (!(a as { flow?: boolean }).flow !== !(b as { flow?: boolean }).flow) return false;
    try {
      return isDeepStrictEqual(
        (a as Node).toJS(this.before as never),
        (b as Node).toJS(this.after as never),
      );
    } catch {
      return false;
    }
  }

  private blockMap(a: YAMLMap, b: YAMLMap): TextEdit[] | undefined {
    const edits: TextEdit[] = [];
    const inB = new Map(b.items.map((p) => [keyName(p.key), p]));
    const inA = new Set(a.items.map((p) => keyName(p.key)));
    for (const pa of a.items) {
      const pb = inB.get(keyName(pa.key));
      const inner = pb === undefined ? undefined : this.node(pa.value, pb.value);
      if (inner !== undefined) {
        edits.push(...inner);
        continue;
      }
      const lines = this.pairLines(pa);
      const rendered = pb === undefined ? "" : this.blockPair(pb, lines?.column ?? 0);
      if (lines === undefined || rendered === undefined) return undefined;
      edits.push({ start: lines.start, end: lines.end, text: rendered });
    }
    const added = b.items.filter((p) => !inA.has(keyName(p.key)));
    if (added.length > 0) {
      const first = this.pairLines(a.items[0]!);
      const last = this.pairLines(a.items[a.items.length - 1]!);
      if (first === undefined || last === undefined) return undefined;
      const rendered = added.map((p) => this.blockPair(p, first.column));
      if (rendered.some((r) => r === undefined)) return undefined;
      edits.push(this.insertLines(last.end, rendered.join("")));
    }
    return edits;
  }

  private blockSeq(a: YAMLSeq, b: YAMLSeq): TextEdit[] | undefined {
    if (b.items.length < a.items.length) return undefined;
    const edits: TextEdit[] = [];
    for (const [i, item] of a.items.entries()) {
      const inner = this.node(item, b.items[i]);
      if (inner !== undefined) {
        edits.push(...inner);
        continue;
      }
      const lines = this.itemLines(item);
      const rendered = lines && this.blockItem(b.items[i], lines.column);
      if (lines === undefined || rendered === undefined) return undefined;
      edits.push({ start: lines.start, end: lines.end, text: rendered });
    }
    if (b.items.length > a.items.length) {
      const first = this.itemLines(a.items[0]);
      const last = this.itemLines(a.items[a.items.length - 1]);
      if (first === undefined || last === undefined) return undefined;
      const rendered = b.items.slice(a.items.length).map((n) => this.blockItem(n, first.column));
      if (rendered.some((r) => r === undefined)) return undefined;
      edits.push(this.insertLines(last.end, rendered.join("")));
    }
    return edits;
  }

  private flowMap(a: YAMLMap, b: YAMLMap): TextEdit[] | undefined {
    const padded = this.padded(a);
    const edits: TextEdit[] = [];
    const inB = new Map(b.items.map((p) => [keyName(p.key), p]));
    const inA = new Set(a.items.map((p) => keyName(p.key)));
    for (const pa of a.items) {
      const pb = inB.get(keyName(pa.key));
      if (pb === undefined) return undefined;
      const inner = this.node(pa.value, pb.value) ?? this.replaceInline(pa.value, pb.value, padded);
      if (inner === undefined) return undefined;
      edits.push(...inner);
    }
    const added = b.items.filter((p) => !inA.has(keyName(p.key)));
    if (added.length > 0) {
      const last = a.items[a.items.length - 1]!;
      const end = rangeOf(last.value)?.[1] ?? rangeOf(last.key)?.[1];
      if (end === undefined) return undefined;
      const entries = added.map((p) => this.inlineEntry(p, padded));
      if (entries.some((e) => e === undefined)) return undefined;
      edits.push({ start: end, end, text: this.flowTail(a, last.key, entries as string[]) });
    }
    return edits;
  }

  private flowSeq(a: YAMLSeq, b: YAMLSeq): TextEdit[] | undefined {
    if (b.items.length < a.items.length) return undefined;
    const padded = this.padded(a);
    const edits: TextEdit[] = [];
    for (const [i, item] of a.items.entries()) {
      const inner = this.node(item, b.items[i]) ?? this.replaceInline(item, b.items[i], padded);
      if (inner === undefined) return undefined;
      edits.push(...inner);
    }
    if (b.items.length > a.items.length) {
      const end = rangeOf(a.items[a.items.length - 1])?.[1];
      const rendered = b.items.slice(a.items.length).map((n) => this.inline(n, padded));
      if (end === undefined || rendered.some((r) => r === undefined)) return undefined;
      const last = a.items[a.items.length - 1];
      edits.push({ start: end, end, text: this.flowTail(a, last, rendered as string[]) });
    }
    return edits;
  }

  private replaceInline(a: unknown, b: unknown, padded: boolean): TextEdit[] | undefined {
    const r = rangeOf(a);
    const text = this.inline(b, padded);
    if (r === undefined || r[0] === r[1] || text === undefined) return undefined;
    return [{ start: r[0], end: r[1], text }];
  }

  /**
   * New entries after the last one of a flow collection: `, x` on its line, or, when the
   * collection spans lines, each on a line of its own at the column of the last entry.
   */
  private flowTail(n: YAMLMap | YAMLSeq, last: unknown, entries: string[]): string {
    const r = rangeOf(n);
    const from = rangeOf(last)?.[0];
    if (r === undefined || from === undefined || !this.text.slice(r[0], r[1]).includes("\n"))
      return entries.map((e) => `, ${e}`).join("");
    const pad = " ".repeat(this.column(from));
    return entries.map((e) => `,${this.eol}${pad}${e}`).join("");
  }

  /** Does this flow collection write `{ a: 1 }` rather than `{a: 1}`? */
  private padded(n: YAMLMap | YAMLSeq): boolean {
    const r = rangeOf(n);
    return r !== undefined && /^[[{][ \t]/.test(this.text.slice(r[0], r[0] + 2));
  }

  /**
   * `node` on one line, in flow style, without its own comments (the text keeps those).
   * Scalars are rendered inside a flow sequence and taken out of it, so that they are quoted
   * wherever a flow collection needs it (`a,b`).
   */
  private inline(node: unknown, padded: boolean): string | undefined {
    if (isMap(node) || isSeq(node)) {
      const copy = bare(node) as YAMLMap | YAMLSeq;
      copy.flow = true;
      return this.render(copy, { flowCollectionPadding: padded });
    }
    const seq = new YAMLSeq();
    seq.flow = true;
    seq.items = [bare(node)];
    return this.render(seq, { flowCollectionPadding: false })?.slice(1, -1);
  }

  /** `key: value` on one line, for a flow mapping: `{key: value}` without its braces. */
  private inlineEntry(p: Pair, padded: boolean): string | undefined {
    const map = new YAMLMap();
    map.flow = true;
    map.items = [new Pair(bare(p.key), p.value)];
    const s = this.render(map, { flowCollectionPadding: padded });
    return padded ? s?.slice(2, -2) : s?.slice(1, -1);
  }

  /** `key: value` as lines at `column`, for a block mapping. */
  private blockPair(p: Pair, column: number): string | undefined {
    const map = new YAMLMap();
    map.items = [new Pair(bare(p.key, true), p.value)];
    return this.indented(this.render(map, {}, true), column);
  }

  /** `- item` as lines at `column` (the dash's), for a block sequence. */
  private blockItem(item: unknown, column: number): string | undefined {
    const seq = new YAMLSeq();
    seq.items = [item];
    return this.indented(this.render(seq, {}, true), column);
  }

  private indented(s: string | undefined, column: number): string | undefined {
    if (s === undefined) return undefined;
    const pad = " ".repeat(column);
    return s.replace(/^(?=.)/gm, pad).replace(/\n/g, this.eol);
  }

  /** The library's rendering of one node; undefined when it cannot stand alone (an alias). */
  private render(
    node: unknown,
    options: { flowCollectionPadding?: boolean },
    lines = false,
  ): string | undefined {
    try {
      const doc = new Document();
      doc.contents = node as never;
      const s = doc.toString({ lineWidth: 0, indent: this.step, ...options });
      if (lines) return s;
      const one = s.replace(/\n+$/, "");
      return one.includes("\n") ? undefined : one;
    } catch {
      return undefined;
    }
  }

  private column(offset: number): number {
    return offset - (this.text.lastIndexOf("\n", offset - 1) + 1);
  }

  /** Where the line holding `offset` starts, if only spaces come before it there (or `- `). */
  private lineStart(offset: number, dash: boolean): number | undefined {
    const start = this.text.lastIndexOf("\n", offset - 1) + 1;
    const before = this.text.slice(start, offset);
    return (dash ? /^ *- +$/ : /^ *$/).test(before) ? start : undefined;
  }

  /** Just past the line that `offset` ends in, if only spaces or a comment follow it there. */
  private lineEnd(offset: number): number | undefined {
    if (offset === this.text.length || this.text[offset - 1] === "\n") return offset;
    const nl = this.text.indexOf("\n", offset);
    const rest = this.text.slice(offset, nl === -1 ? undefined : nl);
    if (!/^[ \t\r]*(#.*)?$/.test(rest)) return undefined;
    return nl === -1 ? this.text.length : nl + 1;
  }

  /** The whole lines of a block mapping's entry, from its key to the end of its value. */
  private pairLines(p: Pair): { start: number; end: number; column: number } | undefined {
    const key = rangeOf(p.key);
    const end = rangeOf(p.value)?.[2] ?? key?.[2];
    if (key === undefined || end === undefined) return undefined;
    const start = this.lineStart(key[0], false);
    const stop = this.lineEnd(end);
    if (start === undefined || stop === undefined) return undefined;
    return { start, end: stop, column: this.column(key[0]) };
  }

  /** The whole lines of a block sequence's item, from its dash; column is the dash's. */
  private itemLines(item: unknown): { start: number; end: number; column: number } | undefined {
    const r = rangeOf(item);
    if (r === undefined) return undefined;
    const start = this.lineStart(r[0], true);
    const stop = this.lineEnd(r[2]);
    if (start === undefined || stop === undefined) return undefined;
    return { start, end: stop, column: this.text.indexOf("-", start) - start };
  }

  /** New lines at `offset` (a line start), after a line break if the text ends without one. */
  private insertLines(offset: number, lines: string): TextEdit {
    const needsBreak = offset > 0 && this.text[offset - 1] !== "\n";
    return { start: offset, end: offset, text: needsBreak ? `${this.eol}${lines}` : lines };
  }

  /** The indentation of the first nested block mapping: how far its keys are in. */
  private indentStep(): number {
    const root = this.before.contents;
    if (!isMap(root)) return 2;
    for (const p of root.items) {
      const inner = p.value;
      const outer = rangeOf(p.key);
      if (!isMap(inner) || inner.flow || inner.items.length === 0 || outer === undefined) continue;
      const key = rangeOf(inner.items[0]!.key);
      if (key === undefined) continue;
      const step = this.column(key[0]) - this.column(outer[0]);
      if (step > 0) return step;
    }
    return 2;
  }
}

/**
 * A copy of a node without what belongs to the text around it: the comment and blank lines
 * before it, and (unless `keepComment`, for a key: `key: # comment`) the comment after it.
 */
function bare(n: unknown, keepComment = false): unknown {
  if (!(n instanceof Scalar) && !isMap(n) && !isSeq(n)) return n;
  const copy = (n as Node).clone() as Node;
  if (!keepComment) delete copy.comment;
  delete copy.commentBefore;
  delete copy.spaceBefore;
  return copy;
}
