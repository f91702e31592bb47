/**
 * `eventlab delete exchange|queue|binding`: remove topology objects, saying honestly
 * when there was nothing to delete.
 */
import { Command } from "commander";
import type { Context } from "../context.js";
import { addBindingCommand, type BindingOptions, withConnection } from "./declare.js";

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

export interface DeleteRuns {
  exchange(ctx: Context, o: DeleteExchangeOptions): Promise<void>;
  queue(ctx: Context, o: DeleteQueueOptions): Promise<void>;
  binding(ctx: Context, o: BindingOptions): Promise<void>;
}

export function deleteCommand(ctx: Context, runs: DeleteRuns = defaultRuns): Command {
  const cmd = new Command("delete").description("delete an exchange, a queue or a binding");
  cmd
    .command("exchange")
    .description("delete an exchange")
    .argument("<name>", "exchange name")
    .option("--if-unused", "only if it has no bindings")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Examples:
  $ eventlab delete exchange orders
  $ eventlab delete exchange orders --if-unused`,
    )
    .action(async (name: string, f: { ifUnused?: boolean; json?: boolean }) =>
      runs.exchange(ctx, { name, ifUnused: f.ifUnused === true, json: f.json === true }),
    );
  cmd
    .command("queue")
    .description("delete a queue and the messages in it")
    .argument("<name>", "queue name")
    .option("--if-unused", "only if it has no consumers")
    .option("--if-empty", "only if it holds no messages")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Examples:
  $ eventlab delete queue inventory
  $ eventlab delete queue inventory --if-empty --if-unused`,
    )
    .action(async (name: string, f: { ifUnused?: boolean; ifEmpty?: boolean; json?: boolean }) =>
      runs.queue(ctx, {
        name,
        ifUnused: f.ifUnused === true,
        ifEmpty: f.ifEmpty === true,
        json: f.json === true,
      }),
    );
  addBindingCommand(
    cmd,
    "remove a binding (give the same key, headers and arguments it was made with)",
    `  $ eventlab delete binding orders inventory --key 'order.*'
  $ eventlab delete binding alerts eu-high --match all --header region=eu --header priority=high
  $ eventlab delete binding orders orders.audit --to-exchange --key '#'`,
    (o) => runs.binding(ctx, o),
  );
  cmd.addHelpText(
    "after",
    `
Examples:
  $ eventlab delete queue inventory --if-empty
  $ eventlab delete exchange orders
  $ eventlab delete binding orders inventory --key 'order.*'`,
  );
  return cmd;
}

function print(
  ctx: Context,
  r: { kind: string; name: string; status: string; messageCount?: number },
  json: boolean,
) {
  if (json) {
    ctx.io.out(`${JSON.stringify(r)}\n`);
    return;
  }
  const { theme } = ctx;
  if (r.status === "absent") {
    ctx.io.out(
      `${theme.dim("•")} ${r.kind} ${theme.bold(r.name)} did not exist; nothing deleted\n`,
    );
    return;
  }
  if (r.kind === "binding") {
    ctx.io.out(
      `${theme.ok("✓")} unbound ${theme.bold(r.name)}${theme.dim(" (the broker does not say whether such a binding existed)")}\n`,
    );
    return;
  }
  const messages =
    r.messageCount !== undefined
      ? ` with ${r.messageCount} message${r.messageCount === 1 ? "" : "s"}`
      : "";
  ctx.io.out(`${theme.ok("✓")} deleted ${r.kind} ${theme.bold(r.name)}${messages}\n`);
}

const defaultRuns: DeleteRuns = {
  async exchange(ctx, o) {
    const { deleteExchange } = await import("../client/topology.js");
    await withConnection(ctx, async (conn) =>
      print(ctx, await deleteExchange(conn, o.name, o.ifUnused), o.json),
    );
  },
  async queue(ctx, o) {
    const { deleteQueue } = await import("../client/topology.js");
    await withConnection(ctx, async (conn) =>
      print(
        ctx,
        await deleteQueue(conn, o.name, { ifUnused: o.ifUnused, ifEmpty: o.ifEmpty }),
        o.json,
      ),
    );
  },
  async binding(ctx, o) {
    const { unbind } = await import("../client/topology.js");
    const { json, ...b } = o;
    await withConnection(ctx, async (conn) => print(ctx, await unbind(conn, b), json));
  },
};
