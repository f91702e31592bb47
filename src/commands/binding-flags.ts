/**
 * The `binding <source> <destination>` subcommand that `declare` and `delete` share: the same
 * arguments and flags, checked by the config schema's binding rules. Not a command of its own.
 */
import { Command, Option } from "@commander-js/extra-typings";
import { type HeadersMatch, headersMatchModes } from "../config/constants.js";
import { keyValueArg } from "./options.js";
import { checkFlags, type FlagNames } from "./schema-flags.js";

export interface BindingOptions {
  source: string;
  destination: string;
  destinationType: "queue" | "exchange";
  routingKey: string;
  match?: HeadersMatch | undefined;
  headers?: Record<string, unknown> | undefined;
  arguments: Record<string, unknown>;
  json: boolean;
}

/** Where each flag lands in a binding of the config. */
const BINDING_FLAGS: FlagNames = {
  "destinationType=exchange": "--to-exchange",
  routingKey: "--key",
  match: "--match",
  headers: "--header",
  arguments: "--arg",
};

/** The subcommand, with `then` as its action (declare or delete the binding). */
export function bindingCommand(
  description: string,
  examples: string,
  then: (o: BindingOptions) => Promise<void>,
) {
  return new Command("binding")
    .description(description)
    .argument("<source>", "the exchange messages come from")
    .argument("<destination>", "the queue (or exchange) they go to")
    .option(
      "-k, --key <routing-key>",
      "binding key: exact for direct, a pattern for topic (* one word, # any)",
    )
    .option("--to-exchange", "the destination is an exchange (exchange-to-exchange binding)")
    .option(
      "-H, --header <key=value>",
      "header to match, for headers exchanges; repeatable (values are typed)",
      keyValueArg,
    )
    .addOption(
      new Option("--match <mode>", "how headers match, all by default").choices(headersMatchModes),
    )
    .option("--arg <key=value>", "extra binding argument, repeatable", keyValueArg)
    .option("--json", "print the result as JSON", false)
    .addHelpText("after", `\nExamples:\n${examples}`)
    .action(async (source, destination, flags) => {
      const b = await checkFlags(
        (m) => m.bindingSettingsSchema,
        {
          destinationType: flags.toExchange ? "exchange" : "queue",
          routingKey: flags.key,
          match: flags.match,
          headers: flags.header,
          arguments: flags.arg,
        },
        BINDING_FLAGS,
      );
      await then({
        source,
        destination,
        ...b,
        // A headers binding matches all its headers unless told otherwise.
        match: b.headers === undefined ? undefined : (b.match ?? "all"),
        json: flags.json,
      });
    });
}
