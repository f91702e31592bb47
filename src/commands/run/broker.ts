/**
 * What `eventlab broker` does once its flags are parsed: start the embedded broker, print its
 * URL, show a refreshing status line until Ctrl-C, then stop it and say what it dropped.
 */
import {
  type BrokerStats,
  ListenError,
  type RunningBroker,
  startBroker,
} from "../../broker/index.js";
import { maskSecrets } from "../../client/url.js";
import type { Context } from "../../context.js";
import { EventlabError } from "../../errors.js";
import { count, plural, rate } from "../../ui/format.js";
import { startProgress } from "../../ui/progress.js";
import type { Theme } from "../../ui/theme.js";
import { VERSION } from "../../version.js";
import type { BrokerCommandOptions } from "../broker.js";

export async function runBroker(ctx: Context, o: BrokerCommandOptions): Promise<void> {
  const { io, theme } = ctx;
  const broker = await start(o);
  // guest:guest is public knowledge; a password given with --user is not printed.
  const shown = o.users.length === 0 ? broker.url : maskSecrets(broker.url);
  if (o.json) io.out(`${JSON.stringify({ url: shown, host: broker.host, port: broker.port })}\n`);
  else io.out(`${shown}\n`);
  io.err(
    `${theme.ok(theme.symbols.ok)} embedded broker listening on ${theme.accent(shown)} ${theme.dim("(in memory; Ctrl-C stops it)")}`,
  );

  const progress = await startProgress(io, statusLine(broker, theme), 250);
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

async function start(o: BrokerCommandOptions): Promise<RunningBroker> {
  try {
    return await startBroker({
      host: o.host,
      port: o.port,
      users: o.users,
      ...(o.maxMessageSize !== undefined ? { maxMessageSize: o.maxMessageSize } : {}),
      ...(o.heartbeat !== undefined ? { heartbeat: o.heartbeat } : {}),
      version: VERSION,
    });
  } catch (err) {
    if (err instanceof ListenError) throw listenError(err);
    throw err;
  }
}

/** The status line: connections, queues, messages, and the rates over the last second or so. */
function statusLine(broker: RunningBroker, theme: Theme): () => string {
  let last: BrokerStats = broker.stats();
  let lastAt = Date.now();
  let inRate = 0;
  let outRate = 0;
  return () => {
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
}

function listenError(err: ListenError): EventlabError {
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
