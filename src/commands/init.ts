/**
 * `eventlab init`: write a starter config, the commented example that documents every
 * field (config/eventlab.example.yaml in the package), to eventlab.config.yaml; or, with
 * --preset, one of the ready-made scenarios in config/presets/ (--list shows them).
 * This file is the command's definition; the work is in run/init.ts, loaded lazily.
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { DEFAULT_CONFIG_FILE } from "../config/constants.js";
import type { Context } from "../context.js";
import { configFileArg, configFileTarget, type Run } from "./options.js";

export interface InitOptions {
  /** Where to write, relative to the working directory. */
  file: string;
  /** Overwrite an existing file. */
  force: boolean;
  json: boolean;
  /** Write this preset (config/presets/<name>.yaml) instead of the commented example. */
  preset?: string | undefined;
  /** List the presets instead of writing anything. */
  list: boolean;
}

/** `--preset <name>`: a name, trimmed; whether it exists is known once the presets are read. */
function presetArg(raw: string): string {
  const name = raw.trim();
  if (name === "")
    throw new InvalidArgumentError("Expected a preset name (`eventlab init --list` shows them).");
  return name;
}

export function initCommand(ctx: Context, run: Run<InitOptions>) {
  return new Command("init")
    .description(
      "write a starter config file: a commented example of every field, or a ready-made preset",
    )
    .option(
      "-f, --file <path>",
      `where to write it (default: ${DEFAULT_CONFIG_FILE}, or --config)`,
      configFileArg,
    )
    .option("--force", "overwrite the file if it exists", false)
    .addOption(
      new Option("-p, --preset <name>", "write this preset instead of the example (see --list)")
        .argParser(presetArg)
        .conflicts("list"),
    )
    .option("-l, --list", "list the presets, one line each, and write nothing", false)
    .option("--json", "print {file, created} as one JSON object (with --list: an array)", false)
    .addHelpText(
      "after",
      `
The starter config declares two small scenarios (soccer: a direct exchange with goals and
cards; orders: a topic exchange with regions, dead letters and an audit trail), message
templates with placeholders, and consumer profiles. A .json file name writes JSON instead
of commented YAML.

A preset is a complete config for one scenario, nine in all: soccer (direct), orders
(topic, dead letters, an exchange-to-exchange audit), notifications (fanout),
headers-routing (x-match all and any), retries (delayed retries with dead letters, then a
parking lot), work-queue (competing workers), duplicates-and-ordering (dedupe and
order checks), ack-before-work (an at-least-once bug for play --explore to find) and rpc
(request/reply, for eventlab request and reply). Each uses its own exchange and queue
names, so several can share one broker. The comment at the top of the file says what it
shows and which commands to try.

Examples:
  $ eventlab init                              # writes ./${DEFAULT_CONFIG_FILE}
  $ eventlab init --force                      # replace an existing one
  $ eventlab init --file lab/orders.yaml       # elsewhere; then pass --config lab/orders.yaml
  $ eventlab init --file eventlab.config.json  # as JSON
  $ eventlab init --list                       # the presets, with a line on each
  $ eventlab init --preset retries             # the retries preset as ./${DEFAULT_CONFIG_FILE}
  $ eventlab init --preset soccer --file soccer.yaml
  $ eventlab init --json`,
    )
    .action(async (flags) => {
      const file = configFileTarget(flags.file, ctx);
      await run(ctx, {
        file,
        force: flags.force,
        json: flags.json,
        preset: flags.preset,
        list: flags.list,
      });
    });
}
