/**
 * The reply-code matrix through the CLI: every (reply code, operation) pair a command can reach,
 * run against the embedded broker (test/e2e/reply-codes.test.ts) and against RabbitMQ
 * (test/rabbitmq/reply-codes.test.ts) with the same expectations, so a case that reads
 * differently on the two brokers fails on one of them.
 *
 * Each case asserts the exit code (1, or 3 for returned messages), the `error:` line with the
 * broker's full reply, the `hint:` line, and that no stack trace is printed. The test holds its
 * own amqplib connection for what another client must own: an exclusive queue and an exclusive
 * consumer.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import amqp, { type Channel, type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Connection } from "../../src/client/connect.js";
import { connect as realConnect } from "../../src/client/connect.js";
import { parseBrokerUrl } from "../../src/client/url.js";
import type { ContextDeps } from "../../src/context.js";
import { type CliResult, runCli, trackedNames, uniqueName } from "./cli.js";

/** A connection the broker closes under a running `eventlab consume` or `produce`. */
export interface ForcedClose {
  /** The broker the command runs against (it may be a broker of its own). */
  url: string;
  /** Close, from the broker's side, the connection whose client end is at `localPort`. */
  close(localPort: number): Promise<void>;
  /** The reply text the broker sends with 320. */
  replyText: string;
  dispose(): Promise<void>;
}

export interface ReplyCodesTarget {
  url: () => string;
  forcedClose: () => Promise<ForcedClose>;
}

/** Both brokers refuse a body one byte over 128 MiB (RabbitMQ's default max_message_size). */
export const MAX_MESSAGE_SIZE = 128 * 1024 * 1024;

const LOCKED = (q: string) =>
  `RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${q}' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`;
const OWNED =
  "an exclusive queue belongs to the connection that declared it and goes away when that connection closes";
const DEFAULT_X = "ACCESS_REFUSED - operation not permitted on the default exchange";

/**
 * A reply text as the broker sends it: a shortstr, so RabbitMQ cuts one over 255 bytes to 252
 * bytes and "..." (the long names these tests use make some replies that long).
 */
export function shortstr(text: string): string {
  const bytes = Buffer.from(text, "utf8");
  return bytes.length <= 255 ? text : `${bytes.subarray(0, 252).toString("utf8")}...`;
}

/** `error` with its closing `(<code> <reply text>)` as the broker sends the reply. */
function asSent(error: string): string {
  const m = /^(.*) \((\d{3}) (.*)\)$/s.exec(error);
  return m ? `${m[1]} (${m[2]} ${shortstr(m[3]!)})` : error;
}

/** What a person reads: the exit code, one `error:` line, one `hint:` line, no stack trace. */
function expectRefusal(r: CliResult, exit: number, error: string, hint: string): void {
  expect(r.code, r.stderr).toBe(exit);
  const lines = r.stderr.split("\n");
  expect(
    lines.filter((l) => l.startsWith("error: ")),
    r.stderr,
  ).toEqual([`error: ${asSent(error)}`]);
  expect(
    lines.filter((l) => l.startsWith("hint: ")),
    r.stderr,
  ).toEqual([`hint: ${hint}`]);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

export function replyCodesSuite(target: ReplyCodesTarget): void {
  let conn: ChannelModel;
  let ch: Channel;
  let dir: string;
  const names = trackedNames();
  // Objects every case may use; made in beforeAll, deleted in afterAll.
  let X: string; // topic exchange, Q bound to it
  let Q: string;
  let INTERNAL: string;
  let HEADERS: string;
  let EXCLUSIVE: string; // exclusive queue of the test's connection
  let HELD: string; // queue with an exclusive consumer of the test's connection
  let FULL: string; // queue holding one message
  let TRANSIENT: string; // non-durable queue

  beforeAll(async () => {
    conn = await amqp.connect(target.url());
    ch = await conn.createChannel();
    dir = await mkdtemp(path.join(tmpdir(), "eventlab-reply-codes-"));
    X = names.x("rc-x");
    INTERNAL = names.x("rc-internal");
    HEADERS = names.x("rc-headers");
    Q = names.q("rc-q");
    EXCLUSIVE = names.q("rc-exclusive");
    HELD = names.q("rc-held");
    FULL = names.q("rc-full");
    TRANSIENT = names.q("rc-transient");
    await ch.assertExchange(X, "topic", { durable: false });
    await ch.assertExchange(INTERNAL, "fanout", { durable: false, internal: true });
    await ch.assertExchange(HEADERS, "headers", { durable: false });
    for (const q of [Q, HELD, FULL, TRANSIENT]) await ch.assertQueue(q, { durable: false });
    await ch.assertQueue(EXCLUSIVE, { exclusive: true, durable: false });
    await ch.bindQueue(Q, X, "k");
    await ch.consume(HELD, () => {}, { exclusive: true });
    ch.sendToQueue(FULL, Buffer.from("x"));
    await ch.checkQueue(FULL);
  });

  afterAll(async () => {
    await conn?.close().catch(() => {});
    const c = await amqp.connect(target.url());
    // A channel per object: one failed delete must not leave the rest behind.
    const each = async (del: (tidy: Channel) => Promise<unknown>) => {
      const tidy = await c.createChannel();
      tidy.on("error", () => {});
      await del(tidy).catch(() => {});
      await tidy.close().catch(() => {});
    };
    for (const q of names.queues) await each((tidy) => tidy.deleteQueue(q));
    for (const x of names.exchanges) await each((tidy) => tidy.deleteExchange(x));
    await c.close();
    await rm(dir, { recursive: true, force: true });
  });

  const cli = (...args: string[]) => runCli(["--url", target.url(), ...args]);

  describe("403 ACCESS_REFUSED", () => {
    it("declare exchange amq.*: the prefix is the broker's", async () => {
      const name = `amq.${uniqueName("rc")}`;
      expectRefusal(
        await cli("declare", "exchange", name),
        1,
        `cannot declare exchange "${name}": the amq. prefix belongs to the broker (403 ACCESS_REFUSED - exchange name '${name}' contains reserved prefix 'amq.*')`,
        "names starting with amq. are reserved for the broker; choose another name",
      );
    });

    it("declare queue amq.*: the prefix is the broker's", async () => {
      const name = `amq.${uniqueName("rc")}`;
      expectRefusal(
        await cli("declare", "queue", name, "--no-durable"),
        1,
        `cannot declare queue "${name}": the amq. prefix belongs to the broker (403 ACCESS_REFUSED - queue name '${name}' contains reserved prefix 'amq.*')`,
        "names starting with amq. are reserved for the broker; choose another name",
      );
    });

    it("delete exchange amq.topic: a system exchange cannot be deleted", async () => {
      expectRefusal(
        await cli("delete", "exchange", "amq.topic"),
        1,
        `cannot delete exchange "amq.topic": it is one of the broker's own exchanges (403 ACCESS_REFUSED - deletion of system exchange 'amq.topic' in vhost '/' not allowed)`,
        "exchanges named amq.* belong to the broker and cannot be deleted; to stop what it routes to a queue, delete that binding instead (eventlab delete binding amq.topic <queue> --key <key>)",
      );
    });

    it("declare binding from the default exchange: refused, whether the queue exists or not", async () => {
      for (const queue of [Q, uniqueName("rc-missing")]) {
        expectRefusal(
          await cli("declare", "binding", "", queue, "--key", "k"),
          1,
          `cannot bind queue "${queue}" to exchange "": the default exchange takes no bindings (403 ${DEFAULT_X})`,
          "the default exchange ('') delivers each message to the queue its routing key names; bind to a named exchange (e.g. amq.direct) instead",
        );
      }
    });

    it("declare binding to the default exchange as destination", async () => {
      expectRefusal(
        await cli("declare", "binding", X, "", "--to-exchange", "--key", "k"),
        1,
        `cannot bind exchange "" to exchange "${X}": the default exchange takes no bindings (403 ${DEFAULT_X})`,
        "the default exchange ('') delivers each message to the queue its routing key names; bind to a named exchange (e.g. amq.direct) instead",
      );
    });

    it("declare exchange '' and delete binding from '': even a passive check is refused", async () => {
      const hint =
        "the default exchange ('') cannot be declared, checked, bound or deleted; publish to it with --exchange '' --key <queue>, or use a named exchange";
      const error = `cannot check exchange "": the default exchange is built in (403 ${DEFAULT_X})`;
      expectRefusal(await cli("declare", "exchange", ""), 1, error, hint);
      expectRefusal(await cli("delete", "exchange", ""), 1, error, hint);
      expectRefusal(await cli("delete", "binding", "", Q, "--key", "k"), 1, error, hint);
    });

    it("consume --exchange '': the default exchange cannot be tapped", async () => {
      expectRefusal(
        await cli("consume", "--exchange", "", "--key", Q, "--count", "1"),
        1,
        `cannot tap the default exchange: it takes no bindings (403 ${DEFAULT_X})`,
        "the default exchange delivers each message to the queue its routing key names: consume that queue instead (eventlab consume <queue>)",
      );
    });

    it("produce to an internal exchange, with and without confirms", async () => {
      for (const confirm of [[], ["--no-confirm"]]) {
        const r = await cli(
          "produce",
          ...confirm,
          "--exchange",
          INTERNAL,
          "--key",
          "k",
          "--body",
          "x",
        );
        expectRefusal(
          r,
          1,
          `cannot publish to exchange "${INTERNAL}": it is an internal exchange (403 ACCESS_REFUSED - cannot publish to internal exchange '${INTERNAL}' in vhost '/')`,
          "an internal exchange takes messages only from other exchanges; publish to an exchange bound to it",
        );
        expect(r.stdout).toContain("unconfirmed 1 (may be lost)");
      }
    });

    it("consume a queue another connection consumes exclusively", async () => {
      expectRefusal(
        await cli("consume", HELD, "--count", "1"),
        1,
        `cannot consume from queue "${HELD}": another consumer reads it exclusively (403 ACCESS_REFUSED - queue '${HELD}' in vhost '/' in exclusive use)`,
        "stop that consumer, or wait until it cancels",
      );
    });
  });

  describe("404 NOT_FOUND", () => {
    it("declare binding: the exchange, the queue or the destination exchange is missing", async () => {
      const nx = uniqueName("rc-nx");
      const nq = uniqueName("rc-nq");
      expectRefusal(
        await cli("declare", "binding", nx, Q, "--key", "k"),
        1,
        `cannot bind queue "${Q}" to exchange "${nx}": exchange "${nx}" does not exist (404 NOT_FOUND - no exchange '${nx}' in vhost '/')`,
        `declare it: eventlab declare exchange ${nx} --type topic`,
      );
      expectRefusal(
        await cli("declare", "binding", X, nq, "--key", "k"),
        1,
        `cannot bind queue "${nq}" to exchange "${X}": queue "${nq}" does not exist (404 NOT_FOUND - no queue '${nq}' in vhost '/')`,
        `declare it: eventlab declare queue ${nq}`,
      );
      expectRefusal(
        await cli("declare", "binding", X, nx, "--to-exchange", "--key", "k"),
        1,
        `cannot bind exchange "${nx}" to exchange "${X}": exchange "${nx}" does not exist (404 NOT_FOUND - no exchange '${nx}' in vhost '/')`,
        `declare it: eventlab declare exchange ${nx} --type topic`,
      );
    });

    it("produce to a missing exchange", async () => {
      const nx = uniqueName("rc-nx");
      const r = await cli("produce", "--exchange", nx, "--key", "k", "--body", "x");
      expectRefusal(
        r,
        1,
        `cannot publish to exchange "${nx}": exchange "${nx}" does not exist (404 NOT_FOUND - no exchange '${nx}' in vhost '/')`,
        `declare it: eventlab declare exchange ${nx} --type topic`,
      );
      expect(r.stdout).toContain("unconfirmed 1 (may be lost)");
    });

    it("consume a missing queue", async () => {
      const nq = uniqueName("rc-nq");
      expectRefusal(
        await cli("consume", nq, "--count", "1"),
        1,
        `cannot consume from queue "${nq}": queue "${nq}" does not exist (404 NOT_FOUND - no queue '${nq}' in vhost '/')`,
        `declare it: eventlab declare queue ${nq}`,
      );
    });

    it("consume --exchange: tap a missing exchange", async () => {
      const nx = uniqueName("rc-nx");
      expectRefusal(
        await cli("consume", "--exchange", nx, "--key", "#", "--count", "1"),
        1,
        `cannot tap exchange "${nx}": exchange "${nx}" does not exist (404 NOT_FOUND - no exchange '${nx}' in vhost '/')`,
        `declare it: eventlab declare exchange ${nx} --type topic`,
      );
    });
  });

  describe("405 RESOURCE_LOCKED: an exclusive queue of another connection", () => {
    it("declare queue, and delete queue: the check before them is refused", async () => {
      const error = `cannot check queue "${EXCLUSIVE}": the queue is exclusive to another connection (405 ${LOCKED(EXCLUSIVE)})`;
      const hint = `${OWNED}; until then only that connection can use or delete it: use another queue, or wait`;
      expectRefusal(await cli("declare", "queue", EXCLUSIVE, "--no-durable"), 1, error, hint);
      expectRefusal(await cli("delete", "queue", EXCLUSIVE), 1, error, hint);
      expectRefusal(await cli("delete", "binding", X, EXCLUSIVE, "--key", "k"), 1, error, hint);
    });

    it("declare binding to it", async () => {
      expectRefusal(
        await cli("declare", "binding", X, EXCLUSIVE, "--key", "k"),
        1,
        `cannot bind queue "${EXCLUSIVE}" to exchange "${X}": the queue is exclusive to another connection (405 ${LOCKED(EXCLUSIVE)})`,
        `${OWNED}; use a queue of your own (declared without --exclusive), or wait until that connection closes`,
      );
    });

    it("consume it", async () => {
      expectRefusal(
        await cli("consume", EXCLUSIVE, "--count", "1"),
        1,
        `cannot consume from queue "${EXCLUSIVE}": the queue is exclusive to another connection (405 ${LOCKED(EXCLUSIVE)})`,
        `${OWNED}; use a queue of your own (declared without --exclusive), or wait until that connection closes`,
      );
    });

    it("declare queue --exclusive of a queue that exists and is not exclusive", async () => {
      expectRefusal(
        await cli("declare", "queue", Q, "--exclusive", "--no-durable"),
        1,
        `cannot declare queue "${Q}": it already exists, and not as an exclusive queue of this connection (405 ${LOCKED(Q)})`,
        `an existing queue cannot become exclusive: declare it without --exclusive, or delete it first (eventlab delete queue ${Q}); if another connection declared it exclusive, use another name`,
      );
    });
  });

  describe("406 PRECONDITION_FAILED: the cause depends on the operation", () => {
    it("declare queue: exists with other settings", async () => {
      const r = await cli("declare", "queue", TRANSIENT);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`error: queue "${TRANSIENT}" already exists with other settings`);
      expect(r.stderr).toMatch(/^ {2}durable +true +false$/m);
      expect(r.stderr).toContain(
        `(406 PRECONDITION_FAILED - inequivalent arg 'durable' for queue '${TRANSIENT}' in vhost '/': received 'true' but current is 'false')`,
      );
      expect(r.stderr).toContain(
        `hint: delete it first (eventlab delete queue ${TRANSIENT}), or change the settings to match what the broker has`,
      );
      expect(r.stderr).not.toMatch(/^\s+at /m);
    });

    it("declare queue: an argument the broker refuses", async () => {
      const name = names.q("rc-neg");
      expectRefusal(
        await cli("declare", "queue", name, "--no-durable", "--arg", "x-max-length=-1"),
        1,
        `cannot declare queue "${name}": the broker refused the value of its argument x-max-length (it must not be negative) (406 PRECONDITION_FAILED - invalid arg 'x-max-length' for queue '${name}' in vhost '/': {value_negative,-1})`,
        "give x-max-length a valid value; `eventlab declare queue --help` lists the arguments and their values",
      );
    });

    it("declare queue: a non-durable quorum queue", async () => {
      const name = names.q("rc-quorum");
      expectRefusal(
        await cli("declare", "queue", name, "--no-durable", "--arg", "x-queue-type=quorum"),
        1,
        `cannot declare queue "${name}": quorum and stream queues must be durable (406 PRECONDITION_FAILED - invalid property 'non-durable' for queue '${name}' in vhost '/')`,
        "leave out --no-durable (durable: false)",
      );
    });

    it("declare binding: a bad x-match, quotes of the reply intact", async () => {
      expectRefusal(
        await cli("declare", "binding", HEADERS, Q, "--arg", "x-match=some"),
        1,
        `cannot bind queue "${Q}" to exchange "${HEADERS}": the broker refused the binding's arguments (406 PRECONDITION_FAILED - Invalid x-match field value <<"some">>; expected all, any, all-with-x, or any-with-x)`,
        "--match takes all, any, all-with-x or any-with-x",
      );
    });

    it("produce: a userId that is not the login", async () => {
      const user = decodeURIComponent(new URL(target.url()).username);
      const r = await cli(
        "produce",
        ...["--exchange", "", "--key", Q, "--body", "x", "--property", "userId=nobody-else"],
      );
      expectRefusal(
        r,
        1,
        `cannot publish to the default exchange: the message's userId is not the user the connection logged in as (406 PRECONDITION_FAILED - user_id property set to 'nobody-else' but authenticated user was '${user}')`,
        `the broker checks userId against the login (${user}): drop the userId property, or set it to that user`,
      );
    });

    it("produce: an expiration that is not whole milliseconds (from a placeholder)", async () => {
      for (const confirm of [[], ["--no-confirm"]]) {
        const r = await cli(
          "produce",
          ...confirm,
          ...["--exchange", "", "--key", Q, "--body", "x", "--property", "expiration={{pick abc}}"],
        );
        expectRefusal(
          r,
          1,
          `cannot publish to the default exchange: the message's expiration is not valid (406 PRECONDITION_FAILED - invalid expiration 'abc': no_integer)`,
          "expiration is a whole number of milliseconds ≥ 0, e.g. --property expiration=60000",
        );
      }
    });

    it("produce: a body one byte over the broker's max message size (128 MiB)", async () => {
      const file = path.join(dir, "too-large.bin");
      await writeFile(file, Buffer.alloc(MAX_MESSAGE_SIZE + 1, 0x61));
      try {
        const r = await cli("produce", "--exchange", "", "--key", Q, "--body-file", file);
        expectRefusal(
          r,
          1,
          `cannot publish to the default exchange: the message is larger than the broker accepts (406 PRECONDITION_FAILED - message size ${MAX_MESSAGE_SIZE + 1} is larger than configured max size ${MAX_MESSAGE_SIZE})`,
          "send a smaller body, or raise max_message_size in the broker's configuration",
        );
        expect(r.stdout).toContain("unconfirmed 1 (may be lost)");
      } finally {
        await rm(file, { force: true });
      }
    }, 120_000);

    it("delete queue --if-empty: it holds a message", async () => {
      expectRefusal(
        await cli("delete", "queue", FULL, "--if-empty"),
        1,
        `queue "${FULL}" is not empty, so --if-empty kept it (406 PRECONDITION_FAILED - queue '${FULL}' in vhost '/' not empty)`,
        `drain it first (eventlab consume ${FULL} --idle-timeout 1s), or delete it without --if-empty`,
      );
    });

    it("delete queue --if-unused: it has a consumer", async () => {
      expectRefusal(
        await cli("delete", "queue", HELD, "--if-unused"),
        1,
        `queue "${HELD}" has consumers, so --if-unused kept it (406 PRECONDITION_FAILED - queue '${HELD}' in vhost '/' in use)`,
        "stop its consumers first, or delete it without --if-unused",
      );
    });

    it("delete exchange --if-unused: it has a binding", async () => {
      expectRefusal(
        await cli("delete", "exchange", X, "--if-unused"),
        1,
        `exchange "${X}" is in use (it has bindings), so --if-unused kept it (406 PRECONDITION_FAILED - exchange '${X}' in vhost '/' in use)`,
        `remove its bindings first, or delete it without --if-unused: eventlab delete exchange ${X}`,
      );
    });

    it("stream queues: a consumer needs a prefetch", async () => {
      const stream = names.q("rc-stream");
      await ch.assertQueue(stream, { durable: true, arguments: { "x-queue-type": "stream" } });
      expectRefusal(
        await cli("consume", stream, "--prefetch", "0", "--count", "1"),
        1,
        `cannot consume from queue "${stream}": the broker refused the consumer (406 PRECONDITION_FAILED - consumer prefetch count is not set for 'queue '${stream}' in vhost '/'')`,
        "stream queues need acknowledgements and a prefetch: leave out --no-ack and pass --prefetch 100",
      );
    });
  });

  describe("530 NOT_ALLOWED, 320 CONNECTION_FORCED, 312 NO_ROUTE", () => {
    it("530: a vhost that does not exist", async () => {
      const vhost = uniqueName("rc-vhost");
      const u = new URL(target.url());
      u.pathname = `/${vhost}`;
      const url = u.toString();
      const shown = parseBrokerUrl(url).display;
      const user = decodeURIComponent(u.username);
      expectRefusal(
        await runCli(["--url", url, "declare", "queue", uniqueName("rc-v"), "--no-durable"]),
        1,
        `cannot open vhost "${vhost}" on ${shown}: it does not exist, or user "${user}" has no access to it`,
        `fix the vhost in the URL path (the default vhost / is written %2F), create it with \`rabbitmqctl add_vhost ${vhost}\`, or grant access with \`rabbitmqctl set_permissions -p ${vhost} ${user} ".*" ".*" ".*"\``,
      );
    });

    /**
     * Start `args(queue)`, wait (bounded) until `running` holds for the queue, have the broker
     * close the command's own connection, and check what the command says.
     */
    async function closedUnder(
      args: (queue: string) => string[],
      running: (q: { messageCount: number; consumerCount: number }) => boolean,
      during: (queue: string) => string,
    ): Promise<void> {
      const forced = await target.forcedClose();
      const setup = await amqp.connect(forced.url);
      // The embedded broker's shutdown closes this connection too.
      setup.on("error", () => {});
      const queue = uniqueName("rc-forced");
      try {
        const sch = await setup.createChannel();
        await sch.assertQueue(queue, { durable: false });
        let opened: Connection | undefined;
        const connect: ContextDeps["connect"] = async (urls, options) => {
          opened = await realConnect(urls, options);
          return opened;
        };
        const command = runCli(["--url", forced.url, ...args(queue)], { connect });
        await expect
          .poll(async () => running(await sch.checkQueue(queue)), {
            message: `${args(queue)[0]} to run`,
            timeout: 10_000,
            interval: 20,
          })
          .toBe(true);
        if (!opened) throw new Error("the command never connected");
        // amqplib keeps the socket on the model's connection; its local port names it.
        const model = opened.model as unknown as { connection: { stream: { localPort: number } } };
        await forced.close(model.connection.stream.localPort);
        let timer: NodeJS.Timeout | undefined;
        const r = await Promise.race([
          command,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error("the command ran on after the close")),
              15_000,
            );
          }),
        ]).finally(() => clearTimeout(timer));
        expectRefusal(
          r,
          1,
          `the broker closed the connection while ${during(queue)} (320 ${forced.replyText})`,
          forced.replyText.includes("reason 'shutdown'")
            ? "the broker is shutting down; run the command again once it is back up"
            : "the broker closed it on purpose, for the reason in the reply (an operator's rabbitmqctl close_connection, a deleted vhost, …); run the command again once that is dealt with",
        );
      } finally {
        await setup.close().catch(() => {});
        await forced.dispose();
        // On RabbitMQ the queue outlives the closed connection; the embedded broker is gone.
        if (forced.url === target.url()) {
          const c = await amqp.connect(target.url());
          const tidy = await c.createChannel();
          await tidy.deleteQueue(queue);
          await c.close();
        }
      }
    }

    it("320: the broker closes the connection of a running consume", async () => {
      await closedUnder(
        // --idle-timeout bounds the run should the close never come.
        (queue) => ["consume", queue, "--idle-timeout", "30s", "--no-reconnect"],
        (q) => q.consumerCount === 1,
        (queue) => `consuming from queue "${queue}"`,
      );
    }, 60_000);

    it("320: the broker closes the connection of a running produce", async () => {
      await closedUnder(
        // 2,000 messages 5 ms apart: the run ends by itself should the close never come.
        (queue) => [
          ...["produce", "--exchange", "", "--key", queue, "--body", "x"],
          ...["--amount", "2000", "--delay", "5ms", "--no-reconnect"],
        ],
        (q) => q.messageCount >= 3,
        () => "publishing to the default exchange",
      );
    }, 60_000);

    it("312: a mandatory publish that routes nowhere is counted, exit 3", async () => {
      const key = uniqueName("rc-nobody");
      const r = await cli(
        "produce",
        ...["--exchange", "amq.topic", "--key", key, "--body", "x", "--amount", "3"],
      );
      expect(r.code, r.stderr).toBe(3);
      expect(r.stdout).toMatch(/published 3 · confirmed 3 · returned 3 in /);
      expect(r.stderr).toContain(`  3 × 312 NO_ROUTE: exchange amq.topic, routing key "${key}"`);
      expect(r.stderr).toContain(
        "hint: no binding matched the routing key; bind a queue (eventlab declare binding <exchange> <queue> --key <pattern>) or check the key",
      );
      expect(r.stderr).not.toMatch(/^error: /m);
    });

    it("312 on the default exchange: the hint declares the queue the key names", async () => {
      const missing = uniqueName("rc-noqueue");
      const r = await cli("produce", "--exchange", "", "--key", missing, "--body", "x");
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain(
        `  1 × 312 NO_ROUTE: the default exchange, routing key "${missing}"`,
      );
      expect(r.stderr).toContain(
        `hint: the default exchange routes to the queue named by the routing key, and there is no queue "${missing}": eventlab declare queue ${missing}`,
      );
    });
  });
}
