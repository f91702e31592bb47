/**
 * `eventlab topology import` into an existing config: the summary says per kind what was
 * added, replaced (and how) and left unchanged, and the file changes only on the lines of the
 * objects the import added or replaced; everything else stays byte for byte.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { structuredPatch } from "diff";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isMap, isSeq, parseDocument } from "yaml";
import { parseConfig } from "../../src/config/load.js";
import { mergeTopology, type TopologyInput } from "../../src/config/topology-merge.js";
import { keyName } from "../../src/config/write.js";
import { runCli } from "../helpers/cli.js";

const definitions = path.resolve(__dirname, "../fixtures/topology/import/definitions.json");

/**
 * The config a person wrote. It lives here, not in a fixture file, so that no formatter tidies
 * the spacing the tests are about.
 */
const written = `# A lab config as a person writes it: flow collections with and without inner spaces,
# trailing comments, blank lines, quoted strings. An import must leave all of it as it is
# wherever it changes nothing.
broker:
  url: "amqp://guest:guest@127.0.0.1:5672"   # the local one

topology:
  exchanges:
    orders:   # keep an eye on this one
      type: direct
    audit: {type: fanout, internal: true}  # fed by orders only

    'alerts':
      type: headers
  queues:
    inventory: { maxLength: 10, deadLetterExchange: 'orders.dlx' }   # small on purpose
    cards:
      messageTtl: 1h      # stale after that
      arguments: {x-queue-mode: "lazy"}
    unrouted: {}

  bindings:
    - {source: orders, destination: inventory, routingKey: "order.*"}   # flow binding
    - source: alerts
      destination: cards
      match: any
      headers: {region: eu, tier: "gold"}

templates:
  hello:
    exchange: orders
    routingKey: "order.created"   # quoted on purpose
    headers: {tags: [a, b]}
    body: {id: "{{uuid}}", items: [1, 2,3]}
`;

/** `written` after importing `definitions`: 2 added, 3 replaced, every other line as it was. */
const imported = `# A lab config as a person writes it: flow collections with and without inner spaces,
# trailing comments, blank lines, quoted strings. An import must leave all of it as it is
# wherever it changes nothing.
broker:
  url: "amqp://guest:guest@127.0.0.1:5672"   # the local one

topology:
  exchanges:
    orders:   # keep an eye on this one
      type: topic
    audit: {type: fanout, internal: true}  # fed by orders only

    'alerts':
      type: headers
    orders.dlx:
      type: direct
  queues:
    inventory: { maxLength: 20, deadLetterExchange: 'orders.dlx' }   # small on purpose
    cards:
      messageTtl: 30m      # stale after that
    unrouted: {}
    dead: {}

  bindings:
    - {source: orders, destination: inventory, routingKey: "order.*"}   # flow binding
    - source: alerts
      destination: cards
      match: any
      headers: {region: eu, tier: "gold"}

templates:
  hello:
    exchange: orders
    routingKey: "order.created"   # quoted on purpose
    headers: {tags: [a, b]}
    body: {id: "{{uuid}}", items: [1, 2,3]}
`;

let dir: string;
let config: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "eventlab-import-"));
  config = path.join(dir, "eventlab.config.yaml");
  await writeFile(config, written);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The lines (1-based, inclusive) of a YAML entry or list item: from its key to its value's end. */
function linesOf(text: string, at: Array<string | number>): [number, number] {
  const doc = parseDocument(text);
  const parent = doc.getIn(at.slice(0, -1), true);
  const last = at[at.length - 1]!;
  let start: number | undefined;
  let end: number | undefined;
  if (isMap(parent)) {
    const pair = parent.items.find((p) => keyName(p.key) === last);
    start = (pair?.key as { range?: number[] } | undefined)?.range?.[0];
    end = (pair?.value as { range?: number[] } | undefined)?.range?.[2];
  } else if (isSeq(parent)) {
    const item = parent.items[last as number] as { range?: number[] } | undefined;
    start = item?.range?.[0];
    end = item?.range?.[2];
  }
  if (start === undefined || end === undefined) throw new Error(`no ${at.join(".")} in the text`);
  const line = (offset: number) => text.slice(0, offset).split("\n").length;
  return [line(start), line(end - 1)];
}

/** The line numbers a line diff removes from `before` and adds in `after`. */
function changedLines(before: string, after: string): { removed: number[]; added: number[] } {
  const removed: number[] = [];
  const added: number[] = [];
  for (const hunk of structuredPatch("a", "b", before, after, "", "", { context: 0 }).hunks) {
    let oldLine = hunk.oldStart;
    let newLine = hunk.newStart;
    for (const l of hunk.lines) {
      if (l.startsWith("-")) removed.push(oldLine++);
      else if (l.startsWith("+")) added.push(newLine++);
      else if (!l.startsWith("\\")) {
        oldLine++;
        newLine++;
      }
    }
  }
  return { removed, added };
}

const within = (line: number, ranges: Array<[number, number]>) =>
  ranges.some(([from, to]) => line >= from && line <= to);

describe("import into a config a person wrote", () => {
  it("says per kind what it added, replaced (and how) and left unchanged", async () => {
    const r = await runCli(["topology", "import", definitions], { cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        "✓ updated eventlab.config.yaml: 2 added (1 exchange, 1 queue), 3 replaced (1 exchange, 2 queues), 5 unchanged (2 exchanges, 1 queue, 2 bindings)",
        "! replaced exchange orders: type direct → topic",
        "! replaced queue inventory: maxLength 10 → 20",
        '! replaced queue cards: messageTtl 1h → 30m, arguments {"x-queue-mode":"lazy"} → {}',
        "  (same name, other settings: the definitions file's settings replace the config's)",
        "",
      ].join("\n"),
    );
  });

  it("rewrites only the lines of what it added or replaced (golden file)", async () => {
    const before = await readFile(config, "utf8");
    const r = await runCli(["topology", "import", definitions], { cwd: dir });
    expect(r.code).toBe(0);
    const after = await readFile(config, "utf8");
    expect(after).toBe(imported);

    // Every line the diff touches belongs to an object the import added or replaced.
    const replaced = [
      ["topology", "exchanges", "orders"],
      ["topology", "queues", "inventory"],
      ["topology", "queues", "cards"],
    ];
    const added = [
      ["topology", "exchanges", "orders.dlx"],
      ["topology", "queues", "dead"],
    ];
    const { removed, added: addedLines } = changedLines(before, after);
    expect(removed.length + addedLines.length).toBeGreaterThan(0);
    const oldRanges = replaced.map((p) => linesOf(before, p));
    const newRanges = [...replaced, ...added].map((p) => linesOf(after, p));
    for (const line of removed)
      expect({ line, inObject: within(line, oldRanges) }).toEqual({ line, inObject: true });
    for (const line of addedLines)
      expect({ line, inObject: within(line, newRanges) }).toEqual({ line, inObject: true });

    const { exchanges, queues } = parseConfig(after, "eventlab.config.yaml").topology;
    const { orders } = exchanges;
    const { inventory, cards } = queues;
    expect(orders?.type).toBe("topic");
    expect(inventory).toMatchObject({ maxLength: 20, deadLetterExchange: "orders.dlx" });
    expect(cards).toMatchObject({ messageTtl: 1_800_000, arguments: {} });
    expect(Object.keys(exchanges)).toEqual(["orders", "audit", "alerts", "orders.dlx"]);
    expect(Object.keys(queues)).toEqual(["inventory", "cards", "unrouted", "dead"]);
  });

  it("a second import of the same definitions changes nothing and leaves the file alone", async () => {
    expect((await runCli(["topology", "import", definitions], { cwd: dir })).code).toBe(0);
    const once = await readFile(config);
    const inode = (await stat(config)).ino;
    const r = await runCli(["topology", "import", definitions], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      "✓ nothing new: eventlab.config.yaml already holds all of it: 10 unchanged (4 exchanges, 4 queues, 2 bindings); not rewritten\n",
    );
    expect((await readFile(config)).equals(once)).toBe(true);
    // Not even rewritten with the same bytes: a write replaces the file (a new inode).
    expect((await stat(config)).ino).toBe(inode);
  });

  it("--json gives the same counts, and what changed in each replaced object", async () => {
    const r = await runCli(["topology", "import", definitions, "--json"], { cwd: dir });
    expect(r.code).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o).toMatchObject({
      file: "eventlab.config.yaml",
      created: false,
      changed: true,
      written: true,
      counts: {
        added: { exchanges: 1, queues: 1, bindings: 0 },
        replaced: { exchanges: 1, queues: 2, bindings: 0 },
        unchanged: { exchanges: 2, queues: 1, bindings: 2 },
      },
    });
    expect(o.objects).toContainEqual({ kind: "exchange", name: "orders.dlx", status: "added" });
    expect(o.objects).toContainEqual({ kind: "exchange", name: "audit", status: "unchanged" });
    expect(o.objects).toContainEqual({
      kind: "binding",
      name: "alerts → cards (match any: region=eu, tier=gold)",
      status: "unchanged",
    });
    expect(o.objects).toContainEqual({
      kind: "queue",
      name: "cards",
      status: "replaced",
      changes: [
        { setting: "messageTtl", from: 3_600_000, to: 1_800_000 },
        { setting: "arguments", from: { "x-queue-mode": "lazy" }, to: {} },
      ],
    });
    const again = JSON.parse(
      (await runCli(["topology", "import", definitions, "--json"], { cwd: dir })).stdout,
    );
    expect(again).toMatchObject({ changed: false, written: false });
    expect(again.counts.unchanged).toEqual({ exchanges: 4, queues: 4, bindings: 2 });
  });

  it("--dry-run says on stderr what it would do, prints the file, and writes nothing", async () => {
    const before = await readFile(config, "utf8");
    const r = await runCli(["topology", "import", definitions, "--dry-run"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(imported);
    expect(r.stderr).toContain(
      "✓ would update eventlab.config.yaml: 2 added (1 exchange, 1 queue), 3 replaced",
    );
    expect(r.stderr).toContain("! replaced exchange orders: type direct → topic");
    expect(await readFile(config, "utf8")).toBe(before);
  });

  it("an entry other entries alias (&anchor) is not edited: a clear error, and nothing written", async () => {
    const text = "topology:\n  queues:\n    inventory: &base {maxLength: 1}\n    copy: *base\n";
    await writeFile(config, text);
    const r = await runCli(["topology", "import", definitions], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: the imported topology does not fit into eventlab\.config\.yaml, so nothing was written:\n {2}.*YAML anchors and aliases/,
    );
    expect(r.stderr).toMatch(/\nhint: import into a new file with --out FILE/);
    expect(await readFile(config, "utf8")).toBe(text);
  });
});

describe("mergeTopology edits YAML in the style it finds", () => {
  const none: TopologyInput = { exchanges: {}, queues: {}, bindings: [] };
  const cases: Array<[string, string, Partial<TopologyInput>, string]> = [
    [
      "a binding joins a flow list on its line, in its spacing",
      "topology:\n  bindings: [{source: a, destination: q}]   # all of them\ntemplates: {t: {exchange: x, body: [1,2]}}\n",
      { bindings: [{ source: "b", destination: "q", routingKey: "a,b" }] },
      'topology:\n  bindings: [{source: a, destination: q}, {source: b, destination: q, routingKey: "a,b"}]   # all of them\ntemplates: {t: {exchange: x, body: [1,2]}}\n',
    ],
    [
      "a flow list over several lines gets a line per new item",
      "topology:\n  bindings: [\n    {source: a, destination: q},\n  ]\n",
      { bindings: [{ source: "b", destination: "q" }] },
      "topology:\n  bindings: [\n    {source: a, destination: q},\n    {source: b, destination: q},\n  ]\n",
    ],
    [
      "a block list gets new items after its last, before the blank line",
      "topology:\n  bindings:\n    - source: a   # first\n      destination: q\n\ntemplates: {t: {exchange: x}}\n",
      { bindings: [{ source: "b", destination: "q" }] },
      "topology:\n  bindings:\n    - source: a   # first\n      destination: q\n    - source: b\n      destination: q\n\ntemplates: {t: {exchange: x}}\n",
    ],
    [
      "an empty {} becomes a block, and its comment stays on its key's line",
      "topology:\n  queues: {}   # none yet\n  exchanges: { x: {type: topic} }\n",
      { queues: { q: { maxLength: 5 } } },
      "topology:\n  queues: # none yet\n    q:\n      maxLength: 5\n  exchanges: { x: {type: topic} }\n",
    ],
    [
      "a missing topology section is added at the end, after a last line without a line break",
      "broker:\n  url: amqp://127.0.0.1   # here",
      { exchanges: { x: { type: "fanout" } } },
      "broker:\n  url: amqp://127.0.0.1   # here\ntopology:\n  exchanges:\n    x:\n      type: fanout\n",
    ],
    [
      "new lines use the file's line breaks (CRLF) and indentation (4 spaces)",
      "topology:\r\n    exchanges:\r\n        x:\r\n            type: direct   # d\r\n",
      { exchanges: { x: { type: "topic" }, y: { type: "headers", autoDelete: true } } },
      "topology:\r\n    exchanges:\r\n        x:\r\n            type: topic   # d\r\n        y:\r\n            type: headers\r\n            autoDelete: true\r\n",
    ],
    [
      "a topology section with nothing in it yet keeps its comment on its line",
      "topology:   # soon\ntemplates: {}\n",
      { queues: { q: {} } },
      "topology: # soon\n  queues:\n    q: {}\ntemplates: {}\n",
    ],
    [
      "an entry written without settings (q:) gets them",
      "topology:\n  queues:\n    q:\n    r: {}  # r\n",
      { queues: { q: { durable: false } } },
      "topology:\n  queues:\n    q:\n      durable: false\n    r: {}  # r\n",
    ],
    [
      "an alias entry (q: *base) gets its own copy; the anchored entry stays",
      "topology:\n  queues:\n    base: &base {maxLength: 1, durable: false}\n    q: *base\n",
      { queues: { q: { durable: false, maxLength: 2 } } },
      "topology:\n  queues:\n    base: &base {maxLength: 1, durable: false}\n    q: { maxLength: 2, durable: false }\n",
    ],
    [
      "settings are set in place, in their quotes; one the import does not have goes, with its line",
      "topology:\n  queues:\n    q:\n      # how many\n      maxLength: 1   # few\n      overflow: reject-publish\n      messageTtl: 1h\n      deadLetterExchange: 'old.dlx'\n",
      { queues: { q: { maxLength: 2, messageTtl: "1h", deadLetterExchange: "new.dlx" } } },
      "topology:\n  queues:\n    q:\n      # how many\n      maxLength: 2   # few\n      messageTtl: 1h\n      deadLetterExchange: 'new.dlx'\n",
    ],
  ];
  for (const [name, before, imported, expected] of cases) {
    it(name, () => {
      const r = mergeTopology(before, false, { ...none, ...imported }, "h");
      expect(r.text).toBe(expected);
      expect(r.changed).toBe(true);
      parseConfig(r.text, "c.yaml");
      const again = mergeTopology(r.text, false, { ...none, ...imported }, "h");
      expect(again.changed).toBe(false);
      expect(again.text).toBe(r.text);
    });
  }

  it("a setting written another way but meaning the same is no change (1h and 3600000)", () => {
    const before = "topology:\n  queues:\n    q: {messageTtl: 3600000}\n";
    const r = mergeTopology(before, false, { ...none, queues: { q: { messageTtl: "1h" } } }, "h");
    expect(r).toMatchObject({ changed: false, text: before });
    expect(r.objects).toEqual([{ kind: "queue", name: "q", status: "unchanged" }]);
  });
});

describe("mergeTopology into a JSON config", () => {
  const before = `{
    "templates": { "t": { "exchange": "x" } },
    "topology": {
        "exchanges": {
            "x": { "type": "direct" }
        }
    }
}
`;
  it("keeps the file's indentation and key order, and does not rewrite it when nothing changes", () => {
    const imported: TopologyInput = {
      exchanges: { x: { type: "topic" } },
      queues: { q: {} },
      bindings: [],
    };
    const r = mergeTopology(before, true, imported, "h");
    expect(r.text).toBe(`{
    "templates": {
        "t": {
            "exchange": "x"
        }
    },
    "topology": {
        "exchanges": {
            "x": {
                "type": "topic"
            }
        },
        "queues": {
            "q": {}
        }
    }
}
`);
    expect(r.counts).toEqual({
      added: { exchanges: 0, queues: 1, bindings: 0 },
      replaced: { exchanges: 1, queues: 0, bindings: 0 },
      unchanged: { exchanges: 0, queues: 0, bindings: 0 },
    });
    const again = mergeTopology(r.text, true, imported, "h");
    expect(again).toMatchObject({ changed: false, text: r.text });
  });
});
