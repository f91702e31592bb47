/**
 * What the cluster needs to know of the network, asked directly and quickly: which Erlang
 * nodes epmd knows (a node's VM is up), whether a port accepts connections, which ports are
 * free. Everything is bounded in time and loopback only.
 */
import { connect, createServer, type Server } from "node:net";
import { RESERVED_PORTS } from "./layout.js";

/**
 * The node names epmd has registered on this machine, with their distribution ports
 * (EPMD NAMES_REQ). Empty when epmd is not running: then no node is.
 */
export function epmdNames(env: NodeJS.ProcessEnv, timeoutMs = 2000): Promise<Map<string, number>> {
  const port = Number(env["ERL_EPMD_PORT"] ?? 4369) || 4369;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`epmd on port ${port} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("connect", () => socket.write(Buffer.from([0, 1, 110])));
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === "ECONNREFUSED") resolve(new Map());
      else reject(err);
    });
    socket.on("close", (hadError) => {
      clearTimeout(timer);
      if (hadError) return;
      const text = Buffer.concat(chunks).subarray(4).toString("utf8");
      const names = new Map<string, number>();
      for (const m of text.matchAll(/^name (\S+) at port (\d+)$/gm)) names.set(m[1]!, Number(m[2]));
      resolve(names);
    });
  });
}

/** The short name epmd knows a node by: `eventlab-1` for `eventlab-1@localhost`. */
export function shortName(node: string): string {
  return node.split("@")[0]!;
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function portAnswers(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on("connect", () => done(true));
    socket.on("error", () => done(false));
  });
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The ports among `ports` that cannot be listened on now (in use, or not permitted). */
export async function busyPorts(ports: readonly number[]): Promise<number[]> {
  const busy: number[] = [];
  await Promise.all(
    ports.map(async (port) => {
      try {
        await close(await listen(port));
      } catch {
        busy.push(port);
      }
    }),
  );
  return busy.sort((a, b) => a - b);
}

/**
 * `count` distinct free ports, none of them reserved for other RabbitMQ nodes. All are held
 * open together while they are picked, so none is handed out twice; another process may still
 * take one before the node listens on it, which `up` then reports.
 */
export async function freePorts(count: number): Promise<number[]> {
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    for (let attempts = 0; ports.length < count; attempts++) {
      if (attempts > count + 50) throw new Error(`could not find ${count} free ports`);
      const server = await listen(0);
      held.push(server);
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      if (port > 0 && !RESERVED_PORTS.has(port)) ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(held.map(close));
  }
}
