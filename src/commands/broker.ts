/**
 * `eventlab broker`: the embedded AMQP 0-9-1 broker on a TCP port until Ctrl-C, with a
 * compact refreshing status line on a terminal.
 */
import { Command } from "commander";
import type { Context } from "../context.js";
import { EventlabError, UsageError } from "../errors.js";
import { collect, intFlag } from "./options.js";

export interface BrokerCommandOptions {
  host: string;
  port: number;
  users: { username: string; password: string }[];
  maxMessageSize: number | undefined;
  heartbeat: number | undefined;
  json: boolean;
}

export type BrokerRun = (ctx: Context, o: BrokerCommandOptions) => Promise<void>;

export function brokerCommand(ctx: Context, run: BrokerRun = runBroker): Command {
  return new Command("broker")
    .description("run the embedded AMQP 0-9-1 broker (in memory) until Ctrl-C")
    .option("--host <address>", "interface to listen on", "127.0.0.1")
    .option("-p, --port <port>", "TCP port; 0 picks a free one", "5672")
    .option(
      "--user <name:password>",
      "a user who may log in (repeatable; default guest:guest, from this machine only)",
      collect,
    )
    .option("--max-message-size <bytes>", "largest message body accepted (default 134217728)")
    .option("--heartbeat <seconds>", "heartbeat offered to clients (default 60; 0 for none)")
    .option("--json", "print {url, host, port} as one JSON line when ready, and the final stats")
    .addHelpText(
      "after",
      `
Everything is kept in memory: durable exchanges and queues are accepted, but the broker's
state is lost when it stops. Stream queues are not supported.

Examples:
  $ eventlab broker                          # amqp://guest:guest@127.0.0.1:5672
  $ eventlab broker --port 0 --json          # a free port; the URL as JSON for scripts
  $ eventlab broker --user app:s3cret --host 0.0.0.0
  $ eventlab produce order-created --amount 10   # in another terminal`,
    )
    .action(
      async (f: {
        host: string;
        port: string;
        user?: string[];
        maxMessageSize?: string;
        heartbeat?: string;
        json?: boolean;
      }) =>
        run(ctx, {
          host: f.host,
          port: intFlag("--port", f.port, 0, 65535) as number,
          users: (f.user ?? []).map(parseUser),
          maxMessageSize: intFlag("--max-message-size", f.maxMessageSize, 1),
          heartbeat: intFlag("--heartbeat", f.heartbeat, 0, 65535),
          json: f.json === true,
        }),
    );
}

function parseUser(raw: string): { username: string; password: string } {
  const at = raw.indexOf(":");
  if (at <= 0 || at === raw.length - 1) {
    throw new UsageError(
      `--user expects name:password, got ${JSON.stringify(raw)}`,
      "for example --user app:s3cret",
    );
  }
  return { username: raw.slice(0, at), password: raw.slice(at + 1) };
}

export async function runBroker(ctx: Context, o: BrokerCommandOptions): Promise<void> {
  const [{ startBroker, ListenError }, { maskSecrets }, { count, plural, rate }, { VERSION }] =
    await Promise.all([
      import("../broker/index.js"),
      import("../client/url.js"),
      import("../ui/format.js"),
      import("../version.js"),
    ]);
  const { io, theme } = ctx;
  let broker: Awaited<ReturnType<typeof startBroker>>;
  try {
    broker = await startBroker({
      host: o.host,
      port: o.port,
      users: o.users,
      maxMessageSize: o.maxMessageSize,
      heartbeat: o.heartbeat,
      version: VERSION,
    });
  } catch (err) {
    if (err instanceof ListenError) throw listenError(err);
    throw err;
  }
  // guest:guest is public knowledge; a password given with --user is not printed.
  const shown = o.users.length === 0 ? broker.url : maskSecrets(broker.url);
  if (o.json) io.out(`${JSON.stringify({ url: shown, host: broker.host, port: broker.port })}\n`);
  else io.out(`${shown}\n`);
  io.err(
    `${theme.ok(theme.symbols.ok)} embedded broker listening on ${theme.accent(shown)} ${theme.dim("(in memory; Ctrl-C stops it)")}`,
  );

  let last = broker.stats();
  let lastAt = Date.now();
  let inRate = 0;
  let outRate = 0;
  const status = () => {
    const s = broker.stats();
    const now = Date.now();
    if (now - lastAt >= 1000) {
      inRate = ((s.published - last.published) * 1000) / (now - lastAt);
      outRate = ((s.delivered - last.delivered) * 1000) / (now - lastAt);
      last = s;
      lastAt = now;
    }
    const parts = [
      plural(s.connections, "connection"),
      plural(s.queues, "queue"),
      `${count(s.ready)} ready`,
      `${count(s.unacked)} unacked`,
      `in ${rate(inRate)}/s`,
      `out ${rate(outRate)}/s`,
    ];
    if (s.blocked) parts.push(theme.warn("publishers blocked (memory)"));
    return parts.join(theme.dim(" · "));
  };
  const { startProgress } = await import("../ui/progress.js");
  const progress = await startProgress(io, status, 250);
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  progress.stop();
  const final = broker.stats();
  await broker.close();
  if (o.json) io.out(`${JSON.stringify({ stopped: true, ...final })}\n`);
  io.err(
    `${theme.symbols.info} broker stopped: ${count(final.published)} published, ${count(final.delivered)} delivered, ${count(final.ready + final.unacked)} messages dropped with it`,
  );
}

function listenError(err: {
  code: string | undefined;
  host: string;
  port: number;
  message: string;
}) {
  if (err.code === "EADDRINUSE") {
    return new EventlabError("connection", `port ${err.port} on ${err.host} is already in use`, {
      hint: "RabbitMQ (or another broker) may already be running there: use it as it is, or start this one on a free port with --port 0",
    });
  }
  if (err.code === "EACCES") {
    return new EventlabError("connection", `not permitted to listen on port ${err.port}`, {
      hint: "use a port above 1023, or --port 0",
    });
  }
  if (err.code === "EADDRNOTAVAIL" || err.code === "ENOTFOUND") {
    return new EventlabError("connection", `cannot listen on ${err.host}: no such local address`, {
      hint: "use 127.0.0.1 (the default), 0.0.0.0 for every interface, or an address of this machine",
    });
  }
  return new EventlabError(
    "connection",
    `cannot listen on ${err.host}:${err.port}: ${err.message}`,
  );
}
