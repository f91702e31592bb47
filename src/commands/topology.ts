/**
 * `eventlab topology <subcommand>`: the config's topology as a whole. `apply` declares it,
 * `show` draws it (tree, Mermaid, dot), `export` and `import` speak RabbitMQ's
 * definitions.json, and `diff` compares it with a live broker. This file is the command's
 * definition (flags, help, argv → options); the work of every subcommand is in
 * run/topology.ts, loaded lazily: one run over the subcommands' options, told apart by
 * `command`.
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import type { Context } from "../context.js";
import type { Run } from "./options.js";

export interface TopologyApplyOptions {
  dryRun: boolean;
  json: boolean;
}

export const showFormats = ["tree", "mermaid", "dot"] as const;
export type ShowFormat = (typeof showFormats)[number];

export interface TopologyShowOptions {
  format: ShowFormat;
  json: boolean;
}

export interface TopologyExportOptions {
  /** Write here instead of stdout. */
  out?: string | undefined;
  vhost: string;
}

export interface TopologyImportOptions {
  /** The definitions file; "-" reads standard input. */
  file: string;
  /** The config file to write; default: the config in use, or eventlab.config.yaml. */
  out?: string | undefined;
  vhost: string;
  dryRun: boolean;
  json: boolean;
}

export interface TopologyDiffOptions {
  json: boolean;
}

/** What one `topology` subcommand was asked to do. */
export type TopologyOptions =
  | ({ command: "apply" } & TopologyApplyOptions)
  | ({ command: "show" } & TopologyShowOptions)
  | ({ command: "export" } & TopologyExportOptions)
  | ({ command: "import" } & TopologyImportOptions)
  | ({ command: "diff" } & TopologyDiffOptions);

/** `--vhost staging`: any name but the empty one. */
function vhostArg(raw: string): string {
  if (raw === "") throw new InvalidArgumentError("Expected a vhost name (the default vhost is /).");
  return raw;
}

const vhostOption = (description: string) =>
  new Option("--vhost <name>", description).argParser(vhostArg).default("/");

export function topologyCommand(ctx: Context, run: Run<TopologyOptions>) {
  const cmd = new Command("topology").description(
    "work with the config's exchanges, queues and bindings",
  );
  cmd.addCommand(applyCommand(ctx, run));
  cmd.addCommand(showCommand(ctx, run));
  cmd.addCommand(exportCommand(ctx, run));
  cmd.addCommand(importCommand(ctx, run));
  cmd.addCommand(diffCommand(ctx, run));
  return cmd.addHelpText(
    "after",
    `
Examples:
  $ eventlab topology apply
  $ eventlab topology show --format mermaid
  $ eventlab topology diff
  $ eventlab topology export > definitions.json
  $ eventlab topology import definitions.json`,
  );
}

function applyCommand(ctx: Context, run: Run<TopologyOptions>) {
  return new Command("apply")
    .description("declare the config's topology: exchanges, then queues, then bindings")
    .option("--dry-run", "list what would be declared, without connecting", false)
    .option(
      "--json",
      "print one JSON object per declared object (NDJSON), then a summary object",
      false,
    )
    .addHelpText(
      "after",
      `
Objects that already exist with the same settings are left alone and reported as such;
one that exists with other settings stops the run with both settings side by side.

Examples:
  $ eventlab topology apply
  $ eventlab topology apply --dry-run
  $ eventlab --config lab/orders.yaml topology apply --json`,
    )
    .action((f) => run(ctx, { command: "apply", dryRun: f.dryRun, json: f.json }));
}

function showCommand(ctx: Context, run: Run<TopologyOptions>) {
  return new Command("show")
    .description("draw the config's topology: a tree, or Mermaid or Graphviz dot source")
    .addOption(
      new Option("-f, --format <format>", "what to draw").choices(showFormats).default("tree"),
    )
    .option("--json", "print the topology as JSON (every field, defaults filled in)", false)
    .addHelpText(
      "after",
      `
The tree lists each exchange (type and flags) with its bindings beneath, then the queues no
binding reaches. Mermaid and dot draw exchanges as hexagons and queues as cylinders; dashed
arrows are alternate exchanges and dead-letter exchanges. Nothing connects to a broker.

Examples:
  $ eventlab topology show
  $ eventlab topology show --format mermaid > topology.mmd
  $ eventlab topology show --format dot | dot -Tsvg > topology.svg
  $ eventlab topology show --json`,
    )
    .action((f) => run(ctx, { command: "show", format: f.format, json: f.json }));
}

function exportCommand(ctx: Context, run: Run<TopologyOptions>) {
  return new Command("export")
    .description("write the config's topology as RabbitMQ definitions (definitions.json)")
    .option("-o, --out <file>", "write to this file instead of standard output")
    .addOption(vhostOption("the vhost to put the objects in"))
    .addHelpText(
      "after",
      `
The output is RabbitMQ's definitions format, with the same x- arguments \`topology apply\`
declares. Load it with \`rabbitmqctl import_definitions FILE\`, the management UI, or the
load_definitions setting. Exclusive queues cannot be defined and are left out (with a note).
The output is JSON already, so there is no --json.

Examples:
  $ eventlab topology export > definitions.json
  $ eventlab topology export --out definitions.json
  $ eventlab topology export --vhost staging | rabbitmqctl import_definitions`,
    )
    .action((f) => run(ctx, { command: "export", out: f.out, vhost: f.vhost }));
}

function importCommand(ctx: Context, run: Run<TopologyOptions>) {
  return new Command("import")
    .description("put the topology of a RabbitMQ definitions file into the config file")
    .argument("<definitions>", 'a definitions.json file ("-" reads standard input)')
    .option(
      "-o, --out <file>",
      "the config file to write (default: the config in use, else eventlab.config.yaml)",
    )
    .addOption(vhostOption("import the objects of this vhost"))
    .option("--dry-run", "print the config file that would be written, and write nothing", false)
    .option(
      "--json",
      "print one JSON object: counts and every object added, replaced (with the changed settings) or unchanged",
      false,
    )
    .addHelpText(
      "after",
      `
Reads what \`rabbitmqctl export_definitions FILE.json\` or the management UI writes. Users,
permissions, policies and parameters are ignored; so are the broker's own objects (the default
exchange, amq.*) and other vhosts' objects, with a note. x- arguments eventlab has fields for
become those fields (x-message-ttl → messageTtl, …); others are kept as \`arguments\`, with a note.

Without a config file, eventlab.config.yaml is created. With one, its topology section is
merged: an exchange or queue of the same name but other settings takes the imported settings
(the output lists each setting it changes), new ones are added, bindings are added unless
already there. Only the lines of added and replaced objects change: the rest of the file stays
as written, comments and flow style included. When the file already holds everything, it is
not rewritten and the output says "nothing new".

Examples:
  $ rabbitmqctl export_definitions /tmp/definitions.json
  $ eventlab topology import /tmp/definitions.json
  $ eventlab topology import definitions.json --out lab/imported.yaml
  $ eventlab topology import definitions.json --vhost staging --dry-run`,
    )
    .action((file, f) =>
      run(ctx, {
        command: "import",
        file,
        out: f.out,
        vhost: f.vhost,
        dryRun: f.dryRun,
        json: f.json,
      }),
    );
}

function diffCommand(ctx: Context, run: Run<TopologyOptions>) {
  return new Command("diff")
    .description("compare the config's topology with the broker's, without changing anything")
    .option("--json", "print the comparison as one JSON object: objects and a summary", false)
    .addHelpText(
      "after",
      `
Each exchange and queue is looked up with a passive declare, and one that exists is declared
again with the config's settings on a throwaway channel: the broker refuses (406) when a
setting differs and names it. Output per object: ✓ same, ✗ missing, ≠ different (the setting,
the config's value and the broker's). RabbitMQ names only the first setting that differs.

Bindings are not really compared: AMQP 0-9-1 cannot list or look up bindings (binding twice
and unbinding a missing binding both succeed). A binding is shown ✗ missing when its source or
destination is missing, and ? unchecked otherwise. \`topology apply\` binds them all again.
For a full comparison, use the management UI or \`rabbitmqctl list_bindings\`.

Nothing is created or deleted. Exit code: 0 when everything checked is the same, 1 when
something is missing or different (or on an error).

Examples:
  $ eventlab topology diff
  $ eventlab topology diff --json | jq '.objects[] | select(.status != "same")'
  $ eventlab --url amqp://guest:guest@staging:5672 topology diff`,
    )
    .action((f) => run(ctx, { command: "diff", json: f.json }));
}
