/**
 * `eventlab consume [queue]`: read a queue, or tap an exchange through a temporary
 * exclusive queue, printing each message (pretty, or NDJSON with --json). This file is the
 * command's definition: its flags fill a consumer profile, checked by the config's own
 * schema; the work is in run/consume.ts, loaded lazily.
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import type { z } from "zod";
import type { StreamOffset } from "../client/consumer.js";
import {
  behaviourFields,
  failureActions,
  type HeadersMatch,
  headersMatchModes,
  type SettlePolicy,
} from "../config/constants.js";
import { compileExpression } from "../config/expression.js";
import type { ConsumerConfig, consumerSchema } from "../config/schema.js";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import {
  durationArg,
  keyValueArg,
  listArg,
  numberArg,
  RECONNECT_HELP,
  type ReconnectChoice,
  type Run,
  reconnectArg,
  reconnectChoice,
  streamOffsetArg,
  typedValue,
} from "./options.js";
import { checkFlags, type FlagNames } from "./schema-flags.js";

export interface ConsumeOptions {
  /** Queue name, or the name of a consumer profile in the config. */
  queue?: string | undefined;
  exchange?: string | undefined;
  routingKey?: string | undefined;
  headers?: Record<string, unknown> | undefined;
  match?: HeadersMatch | undefined;
  prefetch?: number | undefined;
  noAck?: boolean | undefined;
  count?: number | undefined;
  idleTimeoutMs?: number | undefined;
  policy?: SettlePolicy | undefined;
  /** Consumer behaviours (from flags or the profile): run through the playground's runner. */
  behaviour?: BehaviourSettings | undefined;
  /** --offset: the queue is a stream, read from here. */
  offset?: StreamOffset | undefined;
  json: boolean;
  /** --save FILE: append each message's whole envelope to FILE (client/envelope.ts). */
  save?: string | undefined;
  reconnect: ReconnectChoice;
  /** Check each message against the consumer profile's schema, or --schema FILE. */
  validate?: boolean | undefined;
  /** --schema FILE: the JSON Schema to validate against. */
  schema?: string | undefined;
  /** --filter EXPR: only matching messages are printed and counted (config/expression.ts). */
  filter?: string | undefined;
  /** --exec CMD: each matching message's body piped to CMD; its exit status settles it. */
  exec?: { command: string; timeoutMs: number; requeue: boolean } | undefined;
}

/** How long a run of --exec may take when --exec-timeout does not say. */
export const DEFAULT_EXEC_TIMEOUT_MS = 30_000;

/** The prefetch when neither the flags nor the profile give one. */
export const DEFAULT_PREFETCH = 100;

const BEHAVIOUR_KEYS = ["concurrency", ...behaviourFields] as const;

/** The behaviour fields of a consumer profile. */
export type BehaviourSettings = Pick<ConsumerConfig, (typeof BEHAVIOUR_KEYS)[number]>;

/** The behaviour fields that are set; undefined when none is. */
export function behaviourOf(c: BehaviourSettings): BehaviourSettings | undefined {
  const set = BEHAVIOUR_KEYS.filter((k) => c[k] !== undefined);
  if (set.length === 0) return undefined;
  return Object.fromEntries(set.map((k) => [k, c[k]])) as BehaviourSettings;
}

/** Where each flag lands in a consumer profile: the one table between flags and fields. */
const CONSUMER_FLAGS: FlagNames = {
  queue: "a queue",
  exchange: "--exchange",
  routingKey: "--key",
  headers: "--header",
  match: "--match",
  prefetch: "--prefetch",
  "ack=false": "--no-ack",
  "policy=reject": "--reject",
  "policy=requeue": "--requeue",
  count: "--count",
  idleTimeout: "--idle-timeout",
  concurrency: "--concurrency",
  workTime: "--work-time",
  failures: "--fail-rate or --fail-when",
  "failures.rate": "--fail-rate",
  "failures.when": "--fail-when",
  onFailure: "--on-failure",
  retry: "--retry-delays",
  "retry.delays": "--retry-delays",
  "retry.deadLetterQueue": "--dead-letter-queue",
  dedupe: "--dedupe",
  ordering: "--ordering",
  breaker: "--breaker",
  crashAt: "--crash-at",
};

type ConsumerInput = z.input<typeof consumerSchema>;
type FailureCondition = NonNullable<NonNullable<ConsumerInput["failures"]>["when"]>;

/** `--fail-when body.quantity>4` → { field, above: 4 }; `headers.region=eu` → { field, equals }. */
export function failWhenArg(raw: string): FailureCondition {
  const m = /^([^=<>]+)(=|>|<)(.*)$/.exec(raw);
  const [, field, op, value] = m ?? [];
  if (field === undefined || op === undefined || value === undefined) {
    throw new InvalidArgumentError(
      "Expected field=value, field>number or field<number, like body.quantity>4 or headers.region=eu.",
    );
  }
  if (op === "=") return { field, equals: typedValue(value) };
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n))
    throw new InvalidArgumentError(`Expected a number after ${op}, like ${field}${op}4.`);
  return op === ">" ? { field, above: n } : { field, below: n };
}

/**
 * What does not go with --offset, which reads a stream queue: a stream keeps every message,
 * so nothing is requeued or rejected, and RabbitMQ requires acknowledgements and a prefetch
 * (it closes the connection for no-ack, basic.nack and basic.reject).
 */
export function offsetConflict(o: {
  offset?: StreamOffset | undefined;
  exchange?: string | undefined;
  noAck?: boolean | undefined;
  policy?: SettlePolicy | undefined;
  prefetch?: number | undefined;
  behaviour?: BehaviourSettings | undefined;
}): UsageError | undefined {
  if (o.offset === undefined) return undefined;
  if (o.exchange !== undefined)
    return new UsageError(
      "--offset reads a stream queue; a tap's temporary queue is not one",
      "name the stream: eventlab consume <stream> --offset first",
    );
  if (o.noAck)
    return new UsageError(
      "a stream needs acknowledgements: leave out --no-ack",
      "an ack on a stream only lets the next message come; the stream keeps every message",
    );
  if (o.policy === "reject" || o.policy === "requeue")
    return new UsageError(
      "a stream keeps every message: --reject and --requeue do not apply",
      "leave them out; a stream's messages go only by its retention (x-max-age, x-max-length-bytes)",
    );
  if (o.prefetch === 0)
    return new UsageError(
      "a stream consumer needs a prefetch of at least 1",
      "leave out --prefetch 0",
    );
  if (o.behaviour)
    return new UsageError(
      "consumer behaviours do not read streams: leave out --offset or the behaviour flags",
    );
  return undefined;
}

/** `a:b` → [a, b], both given; else commander's error with `expected`. */
function pair(raw: string, expected: string): [string, string] {
  const i = raw.indexOf(":");
  const [a, b] = [raw.slice(0, i), raw.slice(i + 1)];
  if (i <= 0 || b === "") throw new InvalidArgumentError(expected);
  return [a, b];
}

/** `--ordering body.user:body.seq` → { key, sequence }. */
export function orderingArg(raw: string): { key: string; sequence: string } {
  const [key, sequence] = pair(
    raw,
    "Expected key-field:sequence-field, like body.order_id:body.seq.",
  );
  return { key, sequence };
}

/** `--breaker 5:2s` → { failures: 5, pause: "2s" }; the schema checks both. */
export function breakerArg(raw: string): { failures: number; pause: string } {
  const [failures, pause] = pair(raw, "Expected failures:pause, like 5:2s.");
  return { failures: numberArg(failures), pause };
}

export function consumeCommand(ctx: Context, run: Run<ConsumeOptions>) {
  return new Command("consume")
    .description("read messages from a queue, or tap an exchange through a temporary queue")
    .argument("[queue]", "queue to read, or a consumer name from the config's consumers: section")
    .option("-e, --exchange <name>", "tap this exchange instead of reading a queue")
    .option(
      "-k, --key <routing-key>",
      "binding key for the tap (default #: everything on a topic or fanout exchange; a direct exchange needs the exact key)",
    )
    .option(
      "-H, --header <key=value>",
      "header to match for a headers-exchange tap, repeatable",
      keyValueArg,
    )
    .addOption(
      new Option("--match <mode>", "how headers match, all by default").choices(headersMatchModes),
    )
    .option(
      "--prefetch <n>",
      `unacknowledged messages in flight (default ${DEFAULT_PREFETCH})`,
      numberArg,
    )
    .option("--ack", "acknowledge each message (default)")
    .option("--no-ack", "no-ack mode: the broker forgets a message as soon as it is sent")
    .option(
      "--reject",
      "reject each message without requeue (it goes to the dead-letter exchange, if any)",
    )
    .option("--requeue", "nack each message with requeue (it comes back, redelivered)")
    .option("-n, --count <n>", "exit after N messages (all settled)", numberArg)
    .option(
      "--offset <position>",
      "read a stream queue from: first, last, next (the default), an offset, a time, or how long ago (10m)",
      (raw: string) => streamOffsetArg(raw),
    )
    .option("--idle-timeout <duration>", "exit when no message arrives for this long, e.g. 5s")
    .option("--json", "print NDJSON: one message per line", false)
    .option(
      "--save <file>",
      "also append each message's whole envelope to FILE (NDJSON: typed headers, exact body, receive time), for produce --replay",
    )
    .option(
      "--validate",
      "check each message against the consumer profile's schema (exit 1 if any broke it)",
    )
    .option("--schema <file>", "the JSON Schema to validate against (implies --validate)")
    .option(
      "--filter <expression>",
      "only messages that match, e.g. 'body.total > 100 and headers.region == \"eu\"' (others stay in the queue)",
    )
    .option(
      "--exec <command>",
      "pipe each message's body to COMMAND (through the shell); ack on exit 0, else nack",
    )
    .option(
      "--exec-timeout <duration>",
      "kill a run of --exec after this long (default 30s)",
      durationArg,
    )
    .option("--exec-requeue", "a failed run of --exec requeues the message instead of nacking it")
    .option(
      "--concurrency <n>",
      "behaviour: competing consumers, each on its own channel",
      numberArg,
    )
    .option("--work-time <duration>", "behaviour: time per message, e.g. 50ms or 20ms..200ms")
    .option("--fail-rate <fraction>", "behaviour: fraction of messages that fail, 0..1", numberArg)
    .option(
      "--fail-when <condition>",
      "behaviour: fail when field=value, field>n or field<n",
      failWhenArg,
    )
    .addOption(
      new Option(
        "--on-failure <what>",
        "behaviour: what a failure does, requeue by default",
      ).choices(failureActions),
    )
    .option("--retry-delays <list>", "behaviour: retry through delay queues, e.g. 1s,5s", listArg)
    .option("--dead-letter-queue <name>", "behaviour: after the last retry (default <queue>.dlq)")
    .option("--dedupe <field>", "behaviour: idempotency key, e.g. messageId or body.order_id")
    .option(
      "--ordering <key:sequence>",
      "behaviour: check order per key, e.g. body.user:body.seq",
      orderingArg,
    )
    .option("--breaker <failures:pause>", "behaviour: circuit breaker, e.g. 5:2s", breakerArg)
    .option(
      "--crash-at <n>",
      "behaviour: drop the connection without acking at message n",
      numberArg,
    )
    .option("--reconnect <attempts|forever>", RECONNECT_HELP.reconnect, reconnectArg)
    .option("--no-reconnect", RECONNECT_HELP.noReconnect)
    .option("--reconnect-timeout <duration>", RECONNECT_HELP.timeout, durationArg)
    .addHelpText(
      "after",
      `
With a behaviour flag (or a profile with behaviours), consume acts like a service: each
message takes its work time, may fail, and what happens to it is printed instead of the
message itself: ✓ processed, = duplicate, ✗ failed → requeued, rejected, retried or
dead-lettered, with out-of-order and gaps flagged. --count counts messages settled for
good; --idle-timeout stops when nothing arrives.

A stream queue (x-queue-type stream) keeps its messages: every consumer reads it from where
it starts, and an ack only lets the next message come. --offset says where: first (the oldest
message kept), last (RabbitMQ's last chunk, a few messages that were written together; the
embedded broker writes each message as a chunk of its own), next (only new messages, the
default), a number (an offset, as each message's x-stream-offset header gives it), a time
(2024-05-01T09:30:00Z; without a zone, local time; whole seconds) or how long ago (30s, 10m,
2h, 7d). A stream needs acknowledgements and a prefetch: --no-ack, --reject, --requeue and
--prefetch 0 do not go with it.

Examples:
  $ eventlab consume inventory                           # print messages until Ctrl-C
  $ eventlab consume inventory --count 10 --json         # 10 messages as NDJSON, then exit
  $ eventlab consume inventory --idle-timeout 2s --requeue
  $ eventlab consume --exchange orders --key 'order.*.eu'   # tap a topic exchange
  $ eventlab consume --exchange orders --save orders.ndjson  # record; eventlab produce --replay orders.ndjson
  $ eventlab consume --exchange alerts --header region=eu --header priority=high --match any
  $ eventlab consume events --offset first --count 100   # a stream, from its oldest message
  $ eventlab consume events --offset 10m --json          # a stream, what came in the last 10 minutes
  $ eventlab consume orders --filter 'body.total > 100' --count 5   # others stay in the queue
  $ eventlab consume --exchange orders --filter 'headers.region == "eu"' --json
  $ eventlab consume jobs --exec 'jq .id >> ids.txt' --idle-timeout 2s  # ack on exit 0, else nack
  $ eventlab consume audit --validate --idle-timeout 2s   # check each message against the profile's schema
  $ eventlab consume orders --schema order.schema.json --json   # violations in each line's "violations"
  $ eventlab consume inventory --concurrency 4 --work-time 20ms..80ms --fail-rate 0.1 \\
      --retry-delays 1s,5s --dedupe messageId --idle-timeout 10s

--filter (README "Filter expressions") prints and counts only matching messages. On a tap the
others are dropped from the temporary queue; on a queue they are held unacknowledged and given
back when consume ends, so nothing is lost (they use the prefetch window meanwhile).
--exec runs COMMAND once per message, one at a time, with the body on stdin and
EVENTLAB_EXCHANGE, EVENTLAB_ROUTING_KEY, EVENTLAB_MESSAGE_ID, EVENTLAB_REDELIVERED and
EVENTLAB_HEADERS (JSON) set; its output goes to stderr.

Exit codes: 0 done (count reached, idle, or queue deleted), 1 error (or, with --validate,
a message broke the schema; with --exec, a run failed), 2 interrupted (Ctrl-C)`,
    )
    .action(async (queue, flags) => {
      // The schema has this rule too; on the command line it is said in its own words.
      if (queue === undefined && flags.exchange === undefined) {
        throw new UsageError(
          "name a queue to read, or --exchange to tap",
          "for example: eventlab consume inventory, or eventlab consume --exchange orders --key '#'",
        );
      }
      // Checks across flags that fill one field, or none.
      if (flags.reject && flags.requeue)
        throw new UsageError("give either --reject or --requeue, not both");
      if (flags.deadLetterQueue !== undefined && flags.retryDelays === undefined)
        throw new UsageError("--dead-letter-queue goes with --retry-delays");
      const screen = screenFlags(flags);
      const conflict = offsetConflict({
        offset: flags.offset,
        exchange: flags.exchange,
        noAck: flags.ack === false,
        policy: flags.reject ? "reject" : flags.requeue ? "requeue" : undefined,
        prefetch: flags.prefetch,
      });
      if (conflict) throw conflict;
      const failures =
        flags.failRate !== undefined || flags.failWhen !== undefined
          ? { rate: flags.failRate, when: flags.failWhen }
          : undefined;
      const retry =
        flags.retryDelays !== undefined
          ? { delays: flags.retryDelays, deadLetterQueue: flags.deadLetterQueue }
          : undefined;
      const profile = await checkFlags(
        (m) => m.consumerSchema,
        {
          queue,
          exchange: flags.exchange,
          routingKey: flags.key,
          headers: flags.header,
          match: flags.match,
          prefetch: flags.prefetch,
          ack: flags.ack,
          policy: flags.reject ? "reject" : flags.requeue ? "requeue" : undefined,
          count: flags.count,
          idleTimeout: flags.idleTimeout,
          concurrency: flags.concurrency,
          workTime: flags.workTime,
          failures,
          // --retry-delays alone means retrying.
          onFailure: flags.onFailure ?? (retry ? "retry" : undefined),
          retry,
          dedupe: flags.dedupe,
          ordering: flags.ordering,
          breaker: flags.breaker,
          crashAt: flags.crashAt,
        },
        CONSUMER_FLAGS,
      );
      await run(ctx, {
        ...consumeOptions(profile, flags.json),
        offset: flags.offset,
        save: flags.save,
        reconnect: reconnectChoice(flags),
        ...validation(flags),
        ...screen,
      });
    });
}

/** --filter and --exec: the expression checked now, the flags that go with --exec. */
function screenFlags(flags: {
  filter?: string | undefined;
  exec?: string | undefined;
  execTimeout?: number | undefined;
  execRequeue?: true | undefined;
}): Pick<ConsumeOptions, "filter" | "exec"> {
  if (flags.filter !== undefined) compileExpression(flags.filter, "--filter");
  if (flags.exec === undefined) {
    if (flags.execTimeout !== undefined || flags.execRequeue)
      throw new UsageError("--exec-timeout and --exec-requeue go with --exec");
    return { filter: flags.filter };
  }
  if (flags.exec.trim() === "")
    throw new UsageError("--exec needs a command", "for example: --exec 'cat >> bodies.txt'");
  return {
    filter: flags.filter,
    exec: {
      command: flags.exec,
      timeoutMs: flags.execTimeout ?? DEFAULT_EXEC_TIMEOUT_MS,
      requeue: flags.execRequeue === true,
    },
  };
}

/** A consumer profile made of flags → what the run gets. */
function consumeOptions(c: ConsumerConfig, json: boolean): Omit<ConsumeOptions, "reconnect"> {
  return {
    queue: c.queue,
    exchange: c.exchange,
    routingKey: c.routingKey,
    headers: c.headers,
    match: c.match,
    prefetch: c.prefetch,
    noAck: c.ack === false ? true : undefined,
    count: c.count,
    idleTimeoutMs: c.idleTimeout,
    policy: c.policy,
    behaviour: behaviourOf(c),
    json,
  };
}

/** `--validate`, and `--schema FILE`, which implies it. */
function validation(flags: { validate?: boolean | undefined; schema?: string | undefined }) {
  return {
    validate: flags.validate === true || flags.schema !== undefined ? true : undefined,
    schema: flags.schema,
  };
}
