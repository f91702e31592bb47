/**
 * `eventlab topology show`: golden files for the tree, Mermaid and dot of a fixture topology
 * with every exchange type, an exchange-to-exchange binding, an alternate exchange, a headers
 * binding and a dead-letter exchange. `UPDATE_GOLDEN=1` rewrites the golden files; review
 * the diff before committing.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { topologyCommand } from "../../src/commands/topology.js";
import { parseConfig } from "../../src/config/load.js";
import { createTheme } from "../../src/ui/theme.js";
import {
  dotString,
  mermaidText,
  renderDot,
  renderMermaid,
  renderTree,
  type TopologyView,
  topologyView,
} from "../../src/ui/topology-view.js";
import { optionsOf } from "../helpers/argv.js";
import { runCli } from "../helpers/cli.js";

const dir = path.resolve(__dirname, "../fixtures/topology");
const fixture = path.join(dir, "topology.yaml");

function golden(name: string, actual: string): void {
  const file = path.join(dir, name);
  const { UPDATE_GOLDEN } = process.env;
  if (UPDATE_GOLDEN === "1") writeFileSync(file, actual);
  expect(actual).toBe(readFileSync(file, "utf8"));
}

describe("topology show: golden files", () => {
  for (const [format, file] of [
    ["tree", "show.tree.txt"],
    ["mermaid", "show.mmd"],
    ["dot", "show.dot"],
  ] as const) {
    it(`--format ${format} matches ${file} exactly, and is stable`, async () => {
      const first = await runCli(["--config", fixture, "topology", "show", "--format", format]);
      expect(first.stderr).toBe("");
      expect(first.code).toBe(0);
      golden(file, first.stdout);
      const again = await runCli(["--config", fixture, "topology", "show", "--format", format]);
      expect(again.stdout).toBe(first.stdout);
    });
  }

  it("the tree is the default format", async () => {
    const r = await runCli(["--config", fixture, "topology", "show"]);
    expect(r.stdout).toBe(readFileSync(path.join(dir, "show.tree.txt"), "utf8"));
  });

  it("the tree shows every exchange with its bindings, then the unbound queues", () => {
    const tree = readFileSync(path.join(dir, "show.tree.txt"), "utf8");
    expect(tree).toContain("orders  topic, durable, alternate-exchange → orders.unrouted\n");
    expect(tree).toContain("└─ → exchange orders.audit  #\n");
    expect(tree).toContain("└─ → queue eu-high  match all: region=eu, priority=5");
    expect(tree).toContain("amq.topic (not in the config)\n");
    expect(tree).toMatch(/queues not bound anywhere:\n {2}lonely {2}transient\n$/);
  });

  it("colours come from the theme, and only add escape codes", () => {
    const t = parseConfig(readFileSync(fixture, "utf8"), "topology.yaml").topology;
    const coloured = renderTree(topologyView(t), createTheme(true));
    expect(coloured).toMatch(/\u001b\[/);
    expect(coloured.replace(/\u001b\[\d+m/g, "")).toBe(renderTree(topologyView(t)));
  });

  it("--json prints the whole topology, defaults filled in", async () => {
    const r = await runCli(["--config", fixture, "topology", "show", "--json"]);
    expect(r.code).toBe(0);
    const t = JSON.parse(r.stdout);
    expect(t).toEqual(parseConfig(readFileSync(fixture, "utf8"), "topology.yaml").topology);
    expect(t.exchanges.orders).toEqual({
      type: "topic",
      durable: true,
      autoDelete: false,
      internal: false,
      alternateExchange: "orders.unrouted",
      arguments: {},
    });
  });

  it("a bad --format is a usage error naming the choices", async () => {
    const r = await runCli(["--config", fixture, "topology", "show", "--format", "svg"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--format/);
    expect(r.stderr).toMatch(/tree|mermaid|dot/);
  });

  it("no topology: an error with a hint, not an empty picture", async () => {
    const r = await runCli(["topology", "show"], {
      cwd: path.resolve(__dirname, "../fixtures/definitions"),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: no config file found, so there is no topology to show/);
    expect(r.stderr).toMatch(/hint: .*eventlab init/);
  });

  it("parses --format and --json into the run's options", async () => {
    expect(await optionsOf(topologyCommand, ["show", "-f", "dot", "--json"])).toEqual({
      command: "show",
      format: "dot",
      json: true,
    });
  });
});

describe("escaping", () => {
  it("mermaid: characters it reads as syntax become entity codes", () => {
    expect(mermaidText('a#b"c<d>e|f&g')).toBe("a#35;b#34;c#60;d#62;e#124;f#38;g");
    expect(mermaidText("order.*")).toBe("order.*");
  });

  it("dot: quotes, backslashes and newlines", () => {
    expect(dotString('say "hi"\\ now\nplease')).toBe('"say \\"hi\\"\\\\ now\\nplease"');
  });

  it("a queue and an exchange of the same name are two nodes", () => {
    const view: TopologyView = {
      nodes: [
        { kind: "exchange", name: "jobs", type: "direct", details: [], declared: true },
        { kind: "queue", name: "jobs", type: "", details: [], declared: true },
      ],
      links: [
        {
          from: { kind: "exchange", name: "jobs" },
          to: { kind: "queue", name: "jobs" },
          kind: "binding",
          label: "jobs",
        },
      ],
    };
    expect(renderMermaid(view)).toBe(
      'flowchart LR\n  x0{{"jobs<br/>direct"}}\n  q0[("jobs")]\n  x0 -->|"jobs"| q0\n',
    );
    expect(renderDot(view)).toContain('  x0 -> q0 [label="jobs"];\n');
    expect(renderTree(view)).toBe("jobs  direct\n└─ → queue jobs  jobs\n");
  });
});
