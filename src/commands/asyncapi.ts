/**
 * `eventlab import asyncapi <file>` and `eventlab export asyncapi`: message contracts and
 * topology in and out of AsyncAPI documents. This file is the commands' definitions; the work
 * is in run/asyncapi.ts, loaded lazily (with the AsyncAPI parser, which is heavy).
 */
import { Command } from "@commander-js/extra-typings";
import type { Context } from "../context.js";
import type { Run } from "./options.js";

export type AsyncApiOptions =
  | {
      command: "import";
      file: string;
      write: boolean;
      /** Where the schema files go, relative to the config file. */
      schemasDir: string;
      json: boolean;
    }
  | { command: "export"; out?: string | undefined };

export function importCommand(ctx: Context, run: Run<AsyncApiOptions>) {
  const cmd = new Command("import")
    .description("bring message contracts and topology in from other formats")
    .addHelpText(
      "after",
      `
Examples:
  $ eventlab import asyncapi orders.asyncapi.yaml
  $ eventlab import asyncapi orders.asyncapi.yaml --write

(RabbitMQ definitions files: eventlab topology import)`,
    );
  cmd.addCommand(
    new Command("asyncapi")
      .description(
        "import an AsyncAPI 2.x or 3.x document: message schemas, and templates and topology from its AMQP bindings",
      )
      .argument("<file>", "an AsyncAPI document, YAML or JSON")
      .option("--write", "write the schema files and add the rest to the config file", false)
      .option("--schemas-dir <dir>", "where the schema files go, relative to the config", "schemas")
      .option("--json", "print what would be added (or was) as one JSON object", false)
      .addHelpText(
        "after",
        `
Each message of components.messages becomes a JSON Schema file (schemas/<message>.json).
Channels with AMQP bindings say more: an exchange (is: routingKey) or a queue (is: queue)
for the topology, a template per message (the channel's address as the routing key, the
message's first example, or a body that fits its schema, and schema: its file), and a
receive operation on a queue a consumer profile with the message's schema. Without --write
nothing is written: the output lists what would be added. With --write, names the config
already has are kept as they are.

Examples:
  $ eventlab import asyncapi orders.asyncapi.yaml           # what it would add
  $ eventlab import asyncapi orders.asyncapi.yaml --write   # schema files + config
  $ eventlab produce OrderCreated --validate                # then: messages checked against it`,
      )
      .action((file, f) =>
        run(ctx, {
          command: "import",
          file,
          write: f.write,
          schemasDir: f.schemasDir,
          json: f.json,
        }),
      ),
  );
  return cmd;
}

export function exportCommand(ctx: Context, run: Run<AsyncApiOptions>) {
  const cmd = new Command("export").description("describe the config in other formats").addHelpText(
    "after",
    `
Examples:
  $ eventlab export asyncapi
  $ eventlab export asyncapi --out asyncapi.yaml

(RabbitMQ definitions files: eventlab topology export)`,
  );
  cmd.addCommand(
    new Command("asyncapi")
      .description(
        "write the config's topology, templates and consumers as an AsyncAPI 3.0 document",
      )
      .option("-o, --out <file>", "write to this file (.json for JSON, else YAML)")
      .addHelpText(
        "after",
        `
A channel per template (its routing key as the address, its exchange in the AMQP binding),
per queue (the queue in the binding) and per exchange no template publishes to; a send
operation per template and a receive operation per consumer profile on a queue; one message
per template with its schema (schema:) as the payload. The document is checked with the
AsyncAPI parser before it is written.

Examples:
  $ eventlab export asyncapi                       # YAML on standard output
  $ eventlab export asyncapi --out asyncapi.json
  $ eventlab --config config/presets/orders.yaml export asyncapi --out orders.asyncapi.yaml`,
      )
      .action((f) => run(ctx, { command: "export", out: f.out })),
  );
  return cmd;
}
