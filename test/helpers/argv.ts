/**
 * Drive real argv through one command's commander definition and see what its run would
 * get, or the usage error a person would read. Nothing connects: the run is a stub.
 */
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import type { Run } from "../../src/commands/options.js";
import type { Context } from "../../src/context.js";
import { EventlabError } from "../../src/errors.js";
import { testContext } from "./cli.js";

export type CommandFactory<O> = (ctx: Context, run: Run<O>) => CommandUnknownOpts;

export type Parsed<O> = { ok: true; options: O } | { ok: false; error: string };

/** The options object the command's run receives for `argv`, or the error it stops with. */
export async function parseArgv<O>(make: CommandFactory<O>, argv: string[]): Promise<Parsed<O>> {
  const ctx = await testContext();
  let options: O | undefined;
  let printed = "";
  const command = make(ctx, async (_ctx, o) => {
    options = o;
  });
  // Subcommands too: a bad flag on `declare queue` must not end the test process.
  const quiet = (c: CommandUnknownOpts): void => {
    c.exitOverride();
    c.configureOutput({ writeErr: (s) => (printed += s), writeOut: () => {} });
    for (const sub of c.commands) quiet(sub);
  };
  quiet(command);
  try {
    await command.parseAsync(argv, { from: "user" });
  } catch (err) {
    if (err instanceof EventlabError) return { ok: false, error: err.message };
    return { ok: false, error: printed || String(err) };
  }
  if (options === undefined) return { ok: false, error: "the command did not run" };
  return { ok: true, options };
}

/** The options for `argv`; fails the test with the error when there is one. */
export async function optionsOf<O>(make: CommandFactory<O>, argv: string[]): Promise<O> {
  const r = await parseArgv(make, argv);
  if (!r.ok) throw new Error(`expected ${JSON.stringify(argv)} to parse, got: ${r.error}`);
  return r.options;
}

/** The usage error for `argv`; fails the test when it parses. */
export async function usageErrorOf<O>(make: CommandFactory<O>, argv: string[]): Promise<string> {
  const r = await parseArgv(make, argv);
  if (r.ok) throw new Error(`expected ${JSON.stringify(argv)} to be refused, but it parsed`);
  return r.error;
}
