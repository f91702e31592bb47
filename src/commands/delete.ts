/**
 * `eventlab delete exchange|queue|binding`: remove topology objects, saying honestly
 * when there was nothing to delete. This file is the commands' definition; the work is in
 * run/delete.ts, loaded lazily, one module for the three.
 */
import { Command } from "@commander-js/extra-typings";
import type { Context } from "../context.js";
import { type BindingOptions, bindingCommand } from "./binding-flags.js";
import type { Run } from "./options.js";

export interface DeleteExchangeOptions {
  name: string;
  ifUnused: boolean;
  json: boolean;
}

export interface DeleteQueueOptions {
  name: string;
  ifUnused: boolean;
  ifEmpty: boolean;
  json: boolean;
}

/** What the run gets: which object to delete, and how. */
export type DeleteOptions =
  | ({ command: "exchange" } & DeleteExchangeOptions)
  | ({ command: "queue" } & DeleteQueueOptions)
  | ({ command: "binding" } & BindingOptions);

/** `delete` and its three subcommands; `run` gets which object to delete, and how. */
export function deleteCommand(ctx: Context, run: Run<DeleteOptions>) {
  const exchange = new Command("exchange")
    .description("delete an exchange")
    .argument("<name>", "exchange name")
    .option("--if-unused", "only if it has no bindings", false)
    .option("--json", "print the result as JSON", false)
    .addHelpText(
      "after",
      `
Examples:
  $ eventlab delete exchange orders
  $ eventlab delete exchange orders --if-unused`,
    )
    .action(async (name, f) =>
      run(ctx, { command: "exchange", name, ifUnused: f.ifUnused, json: f.json }),
    );
  const queue = new Command("queue")
    .description("delete a queue and the messages in it")
    .argument("<name>", "queue name")
    .option("--if-unused", "only if it has no consumers", false)
    .option("--if-empty", "only if it holds no messages", false)
    .option("--json", "print the result as JSON", false)
    .addHelpText(
      "after",
      `
Examples:
  $ eventlab delete queue inventory
  $ eventlab delete queue inventory --if-empty --if-unused`,
    )
    .action(async (name, f) =>
      run(ctx, { command: "queue", name, ifUnused: f.ifUnused, ifEmpty: f.ifEmpty, json: f.json }),
    );
  const binding = bindingCommand(
    "remove a binding (give the same key, headers and arguments it was made with)",
    `  $ eventlab delete binding orders inventory --key 'order.*'
  $ eventlab delete binding alerts eu-high --match all --header region=eu --header priority=high
  $ eventlab delete binding orders orders.audit --to-exchange --key '#'`,
    (o) => run(ctx, { command: "binding", ...o }),
  );
  return new Command("delete")
    .description("delete an exchange, a queue or a binding")
    .addCommand(exchange)
    .addCommand(queue)
    .addCommand(binding)
    .addHelpText(
      "after",
      `
Examples:
  $ eventlab delete queue inventory --if-empty
  $ eventlab delete exchange orders
  $ eventlab delete binding orders inventory --key 'order.*'`,
    );
}
