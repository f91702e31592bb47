/**
 * argv → options for `topology` and `route`: every flag of every subcommand lands in the one
 * options object the run gets (the subcommand named in `command`), defaults included, and
 * every bad value is a usage error that names the flag.
 */
import { describe, expect, it } from "vitest";
import { routeCommand } from "../../src/commands/route.js";
import { type TopologyOptions, topologyCommand } from "../../src/commands/topology.js";
import { type CommandFactory, optionsOf, usageErrorOf } from "../helpers/argv.js";

/**
 * The argv helpers configure the command they get (errors thrown, not printed and exited);
 * a subcommand takes that configuration from it when it is dispatched to.
 */
const topologyTree: CommandFactory<TopologyOptions> = (ctx, run) =>
  topologyCommand(ctx, run).hook("preSubcommand", (top, sub) => {
    sub.copyInheritedSettings(top);
  });

const topology = (argv: string[]) => optionsOf(topologyTree, argv);
const topologyError = (argv: string[]) => usageErrorOf(topologyTree, argv);
const route = (argv: string[]) => optionsOf(routeCommand, argv);
const routeError = (argv: string[]) => usageErrorOf(routeCommand, argv);

describe("topology argv", () => {
  it("apply: flags and defaults", async () => {
    expect(await topology(["apply", "--dry-run", "--json"])).toEqual({
      command: "apply",
      dryRun: true,
      json: true,
    });
    expect(await topology(["apply"])).toEqual({ command: "apply", dryRun: false, json: false });
  });

  it("show: --format is one of tree, mermaid, dot; tree by default", async () => {
    expect(await topology(["show"])).toEqual({ command: "show", format: "tree", json: false });
    expect(await topology(["show", "--format", "mermaid", "--json"])).toEqual({
      command: "show",
      format: "mermaid",
      json: true,
    });
    expect(await topologyError(["show", "--format", "svg"])).toBe(
      "error: option '-f, --format <format>' argument 'svg' is invalid. Allowed choices are tree, mermaid, dot.\n",
    );
  });

  it("export: --out and --vhost, / by default", async () => {
    expect(await topology(["export", "--out", "d.json"])).toEqual({
      command: "export",
      out: "d.json",
      vhost: "/",
    });
    expect(await topology(["export", "--vhost", "staging"])).toEqual({
      command: "export",
      out: undefined,
      vhost: "staging",
    });
  });

  it("import: the file, --out, --vhost, --dry-run, --json", async () => {
    expect(
      await topology(["import", "d.json", "-o", "x.yaml", "--vhost", "lab", "--json"]),
    ).toEqual({
      command: "import",
      file: "d.json",
      out: "x.yaml",
      vhost: "lab",
      dryRun: false,
      json: true,
    });
    expect(await topology(["import", "-", "--dry-run"])).toEqual({
      command: "import",
      file: "-",
      out: undefined,
      vhost: "/",
      dryRun: true,
      json: false,
    });
  });

  it("diff: --json", async () => {
    expect(await topology(["diff", "--json"])).toEqual({ command: "diff", json: true });
    expect(await topology(["diff"])).toEqual({ command: "diff", json: false });
  });

  it("an empty --vhost is refused, with the default named", async () => {
    for (const sub of ["export", "import"]) {
      const argv = sub === "import" ? [sub, "d.json", "--vhost", ""] : [sub, "--vhost", ""];
      expect(await topologyError(argv)).toBe(
        "error: option '--vhost <name>' argument '' is invalid. Expected a vhost name (the default vhost is /).\n",
      );
    }
  });

  it("import needs its definitions file", async () => {
    expect(await topologyError(["import"])).toBe(
      "error: missing required argument 'definitions'\n",
    );
  });
});

describe("route argv", () => {
  it("the exchange, the routing key ('' by default), typed headers, --json", async () => {
    expect(
      await route(["alerts", "k", "-H", "region=eu", "--header", "priority=5", "--json"]),
    ).toEqual({
      exchange: "alerts",
      routingKey: "k",
      headers: { region: "eu", priority: 5 },
      json: true,
    });
    expect(await route([""])).toEqual({ exchange: "", routingKey: "", headers: {}, json: false });
  });

  it("a header without = is refused, naming the flag", async () => {
    expect(await routeError(["alerts", "--header", "region"])).toBe(
      `error: option '-H, --header <key=value>' argument 'region' is invalid. Expected key=value (values are typed: 5 is a number, '"5"' a string).\n`,
    );
  });

  it("the exchange is required", async () => {
    expect(await routeError([])).toBe("error: missing required argument 'exchange'\n");
  });
});
