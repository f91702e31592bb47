/**
 * An in-process TCP proxy that puts network faults between clients and a target (any TCP
 * server, usually a broker). A fault applies to every connection, or to those of one tag:
 * each tag given to `startProxy` gets a listener of its own, so a client given that tag's URL
 * (and each of its reconnections) is targeted. It connects only to the target, and resets a
 * client whose target cannot be reached. Backpressure: at most 1 MiB is queued per direction;
 * above that, or while the destination's write() returns false, the source is not read.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export interface ProxyTarget {
  host: string;
  port: number;
}

export interface ProxyOptions {
  target: ProxyTarget;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port of the untagged listener (default 0: a free port). */
  port?: number;
  /** One more listener per tag, each on a free port; its connections carry the tag. */
  tags?: readonly string[];
}

/** Latency (each chunk delayed by delayMs ± jitterMs, at least 0) and a bandwidth limit. */
export interface LinkFaults {
  delayMs?: number;
  jitterMs?: number;
  bytesPerSecond?: number;
}

/** upstream: client → target; downstream: target → client. */
export type Direction = "upstream" | "downstream";
/** Which connections a fault targets: every one (no tag), or those of one tag. */
export interface Scope {
  tag?: string;
}
/** A scope and a direction (default both). */
export interface LinkScope extends Scope {
  direction?: Direction;
}

/**
 * Counters since start: connections accepted, refused (by refuse()), failed (target not
 * reachable), cut and reset; bytes delivered to the target (bytesUp) and to clients
 * (bytesDown); and, now, the bytes queued in the proxy for latency or bandwidth (held).
 */
export interface ProxyStats {
  accepted: number;
  refused: number;
  failed: number;
  cut: number;
  reset: number;
  bytesUp: number;
  bytesDown: number;
  held: number;
}

export interface FaultProxy {
  readonly host: string;
  /** Port of the untagged listener. */
  readonly port: number;
  /** Port of a tag's listener (no tag: `port`). Throws RangeError for an unknown tag. */
  portFor(tag?: string): number;
  /** The URL with host:port replaced by the proxy's (or the tag's); the rest is kept. */
  urlFor(url: string, tag?: string): string;
  /** Connections open now: accepted, connected upstream, not closing. */
  readonly connections: number;
  readonly stats: ProxyStats;
  /**
   * Drop what the proxy holds and send FIN to both ends; read and discard until each end has
   * closed, destroying what is still open after 1 s. New connections are still accepted.
   */
  cut(scope?: Scope): void;
  /** RST both ends (`resetAndDestroy()`): the peers see ECONNRESET. */
  reset(scope?: Scope): void;
  /**
   * Stop reading and writing: nothing passes, not even a FIN or an RST (those reach the other
   * end on heal). Kernel buffers fill and senders back up, as in a partition. New connections
   * are accepted, and connected to the target, but silent too. Bytes are held, not dropped: a
   * network drops packets but TCP retransmits them, so a healed stream resumes intact unless
   * an end gave up first (missed heartbeats). `false` delivers what was held, in order. To
   * lose the connection, cut() or reset() it.
   */
  blackhole(on: boolean, scope?: LinkScope): void;
  /**
   * Accept new connections and reset them at once, never connecting them to the target: the
   * client sees ECONNRESET (a load balancer with no healthy backend), not ECONNREFUSED.
   */
  refuse(on: boolean, scope?: Scope): void;
  /**
   * Replace the scope's shaping (`{}` clears it): each chunk waits its delay, never overtaking
   * an earlier one, then passes a token bucket (bursts of 50 ms worth). RangeError if < 0.
   */
  shape(faults: LinkFaults, scope?: LinkScope): void;
  /** Connect new connections to another target (a broker that came back on another port). */
  retarget(target: ProxyTarget): void;
  /** Clear every fault (only the tag's, given a tag); held bytes are delivered. */
  heal(scope?: Scope): void;
  /** Stop listening and destroy every connection; resolves once all are closed. */
  close(): Promise<void>;
}

type Link = { blackhole: boolean; shape: LinkFaults };
type Rule = { refuse: boolean } & Record<Direction, Link>;

const HIGH_WATER = 1 << 20;
const BURST_SECONDS = 0.05;
const CUT_GRACE_MS = 1000;
const DIRECTIONS: readonly Direction[] = ["upstream", "downstream"];
const noop = (): void => {};

/** One direction of a connection: chunks queued in order, released by due time and tokens. */
class Pipe {
  link: Link = { blackhole: false, shape: {} };
  queued = 0;
  private queue: { due: number; data: Buffer }[] = [];
  private lastDue = 0;
  private tokens = 0;
  private refilled = 0;
  private ended = false;
  private gone = false;
  private dead = false;
  private waitingDrain = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly delivered: (bytes: number) => void,
  ) {
    from.on("data", (chunk: Buffer) => this.push(chunk));
    from.on("end", () => this.finish(false));
    to.on("drain", () => {
      this.waitingDrain = false;
      this.pump();
    });
  }

  setLink(link: Link): void {
    const rate = link.shape.bytesPerSecond;
    if (rate !== this.link.shape.bytesPerSecond) {
      this.tokens = rate === undefined ? 0 : Math.ceil(rate * BURST_SECONDS);
      this.refilled = performance.now();
    }
    this.link = link;
    this.pump();
  }

  /** The source ended (FIN) or closed (`gone`): flush, then end (and if gone, destroy) `to`. */
  finish(gone: boolean): void {
    this.ended = true;
    this.gone ||= gone;
    this.pump();
  }

  /** Drop what is queued and forward nothing more. */
  stop(): void {
    this.dead = true;
    clearTimeout(this.timer);
    this.queue = [];
    this.queued = 0;
  }

  private push(chunk: Buffer): void {
    if (this.dead || this.to.destroyed) return;
    const { delayMs = 0, jitterMs = 0 } = this.link.shape;
    const wait = Math.max(0, delayMs + (Math.random() * 2 - 1) * jitterMs);
    // The queue is FIFO: a chunk is due no earlier than the one before it.
    this.lastDue = Math.max(this.lastDue, performance.now() + wait);
    this.queue.push({ due: this.lastDue, data: chunk });
    this.queued += chunk.length;
    this.pump();
  }

  pump(): void {
    if (this.dead) return;
    clearTimeout(this.timer);
    const wait = this.flush();
    this.timer = wait === undefined ? undefined : setTimeout(() => this.pump(), Math.ceil(wait));
    if (this.link.blackhole || this.waitingDrain || this.queued > HIGH_WATER) this.from.pause();
    else this.from.resume();
  }

  /** Writes what may go now; returns the ms until more may, or undefined to wait for an event. */
  private flush(): number | undefined {
    const rate = this.link.shape.bytesPerSecond;
    while (!this.link.blackhole) {
      const head = this.queue[0];
      if (!head) {
        if (this.ended) this.to.end(this.gone ? () => this.to.destroy() : undefined);
        return undefined;
      }
      if (this.waitingDrain || this.to.destroyed) return undefined;
      const now = performance.now();
      if (head.due > now) return head.due - now;
      let n = head.data.length;
      if (rate !== undefined) {
        const burst = Math.max(1, Math.ceil(rate * BURST_SECONDS));
        this.tokens = Math.min(burst, this.tokens + ((now - this.refilled) * rate) / 1000);
        this.refilled = now;
        const need = Math.min(n, burst);
        if (this.tokens < need) return ((need - this.tokens) * 1000) / rate;
        n = Math.min(n, Math.floor(this.tokens));
        this.tokens -= n;
      }
      const data = head.data.subarray(0, n);
      head.data = head.data.subarray(n);
      if (head.data.length === 0) this.queue.shift();
      this.queued -= n;
      this.delivered(n);
      if (!this.to.write(data)) this.waitingDrain = true;
    }
    return undefined;
  }
}

interface Conn {
  tag: string | undefined;
  client: Socket;
  upstream: Socket;
  pipes?: Record<Direction, Pipe>;
  state: "connecting" | "open" | "closing";
  errored: boolean;
  graceTimer?: NodeJS.Timeout;
  done?: Promise<void>;
}

const closeOf = (s: Socket): Promise<void> => new Promise((resolve) => s.once("close", resolve));

/** Reset (RST) a connected socket; one still connecting is simply abandoned. */
function rst(socket: Socket): void {
  if (socket.connecting) socket.destroy();
  else if (!socket.destroyed) socket.resetAndDestroy();
}

function check(faults: LinkFaults): void {
  for (const [key, v] of Object.entries(faults)) {
    const positive = key === "bytesPerSecond";
    if (typeof v === "number" && Number.isFinite(v) && (positive ? v > 0 : v >= 0)) continue;
    throw new RangeError(`${key} must be a finite number ${positive ? "> 0" : "≥ 0"}, not ${v}`);
  }
}

export async function startProxy(options: ProxyOptions): Promise<FaultProxy> {
  let target = options.target;
  const { host = "127.0.0.1" } = options;
  const counters = {
    accepted: 0,
    refused: 0,
    failed: 0,
    cut: 0,
    reset: 0,
    bytesUp: 0,
    bytesDown: 0,
  };
  const rules = new Map<string | undefined, Rule>();
  const conns = new Set<Conn>();
  const servers: Server[] = [];
  const ports = new Map<string | undefined, number>();
  let closing: Promise<void> | undefined;

  const known = (tag: string | undefined): string | undefined => {
    if (ports.has(tag)) return tag;
    throw new RangeError(`unknown tag "${tag}": list it in startProxy({ tags })`);
  };
  const ruleOf = (tag: string | undefined): Rule => {
    const link = (): Link => ({ blackhole: false, shape: {} });
    const rule = rules.get(known(tag)) ?? { refuse: false, upstream: link(), downstream: link() };
    rules.set(tag, rule);
    return rule;
  };
  /** The faults of all connections, overridden field by field by those of the tag's. */
  const effective = (tag: string | undefined, dir: Direction): Link => {
    const [all, own] = [rules.get(undefined)?.[dir], rules.get(tag)?.[dir]];
    return {
      blackhole: !!(all?.blackhole || own?.blackhole),
      shape: { ...all?.shape, ...own?.shape },
    };
  };
  const inScope = (scope: Scope | undefined): Conn[] => {
    const tag = known(scope?.tag);
    return [...conns].filter((c) => tag === undefined || c.tag === tag);
  };

  /** When one side has closed, close the other, unless a blackhole holds the news back. */
  const settle = (c: Conn): void => {
    if (c.state === "closing") return;
    for (const dir of DIRECTIONS) {
      const [from, to] = dir === "upstream" ? [c.client, c.upstream] : [c.upstream, c.client];
      const pipe = c.pipes?.[dir];
      if (!from.destroyed || pipe?.link.blackhole) continue;
      c.state = "closing";
      if (pipe === undefined) {
        // Not connected yet: the client left, or the target could not be reached.
        if (dir === "downstream") counters.failed += 1;
        rst(to);
      } else if (c.errored) rst(to);
      else pipe.finish(true);
      return;
    }
  };
  const refresh = (): void => {
    for (const c of conns) {
      for (const dir of DIRECTIONS) c.pipes?.[dir].setLink(effective(c.tag, dir));
      settle(c);
    }
  };
  const end = (c: Conn, how: "cut" | "reset"): void => {
    for (const dir of DIRECTIONS) c.pipes?.[dir].stop();
    c.state = "closing";
    counters[how] += 1;
    for (const s of [c.client, c.upstream]) {
      if (how === "reset" || s.connecting) rst(s);
      else s.resume().end(); // read and discard until the peer's FIN
    }
    const destroy = (): void => void [c.client.destroy(), c.upstream.destroy()];
    if (how === "cut") c.graceTimer ??= setTimeout(destroy, CUT_GRACE_MS);
  };

  const accept = (client: Socket, tag: string | undefined): void => {
    client.on("error", noop);
    if (closing || [undefined, tag].some((t) => rules.get(t)?.refuse)) {
      if (!closing) counters.refused += 1;
      rst(client);
      return;
    }
    counters.accepted += 1;
    client.pause();
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    upstream.setNoDelay(true).on("error", noop);
    const c: Conn = { tag, client, upstream, state: "connecting", errored: false };
    conns.add(c);
    upstream.once("connect", () => {
      if (c.state !== "connecting") return;
      c.state = "open";
      c.pipes = {
        upstream: new Pipe(client, upstream, (n) => (counters.bytesUp += n)),
        downstream: new Pipe(upstream, client, (n) => (counters.bytesDown += n)),
      };
      for (const dir of DIRECTIONS) c.pipes[dir].setLink(effective(tag, dir));
    });
    const onClose = (hadError: boolean): void => {
      c.errored ||= hadError;
      settle(c);
    };
    client.on("close", onClose);
    upstream.on("close", onClose);
    // "close" itself, not `closed`: that turns true before the handle is closed.
    c.done = Promise.all([closeOf(client), closeOf(upstream)]).then(() => {
      for (const dir of DIRECTIONS) c.pipes?.[dir].stop();
      clearTimeout(c.graceTimer);
      conns.delete(c);
    });
  };

  const listen = async (tag: string | undefined, port: number): Promise<void> => {
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (s) => accept(s, tag));
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject).listen(port, host, () => resolve());
    });
    server.on("error", noop);
    const address = server.address();
    ports.set(tag, typeof address === "object" && address ? address.port : port);
  };

  const close = (): Promise<void> => {
    closing ??= (async () => {
      const stopped = servers.map(
        (s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve())),
      );
      for (const c of conns) for (const s of [c.client, c.upstream]) s.destroy();
      await Promise.all([...stopped, ...[...conns].map((c) => c.done)]);
    })();
    return closing;
  };

  try {
    await listen(undefined, options.port ?? 0);
    for (const tag of new Set(options.tags)) await listen(tag, 0);
  } catch (err) {
    await close();
    throw err;
  }

  const portFor = (tag?: string): number => ports.get(known(tag)) as number;
  return {
    host,
    port: portFor(),
    portFor,
    urlFor(url, tag) {
      const u = new URL(url);
      u.hostname = host.includes(":") ? `[${host}]` : host;
      u.port = String(portFor(tag));
      return u.href;
    },
    get connections() {
      return [...conns].filter((c) => c.state === "open").length;
    },
    get stats(): ProxyStats {
      let held = 0;
      for (const c of conns) for (const dir of DIRECTIONS) held += c.pipes?.[dir].queued ?? 0;
      return { ...counters, held };
    },
    cut: (scope) => {
      for (const c of inScope(scope)) if (c.state !== "closing") end(c, "cut");
    },
    reset: (scope) => {
      for (const c of inScope(scope))
        if (!c.client.destroyed || !c.upstream.destroyed) end(c, "reset");
    },
    blackhole(on, scope) {
      const rule = ruleOf(scope?.tag);
      for (const dir of scope?.direction ? [scope.direction] : DIRECTIONS) rule[dir].blackhole = on;
      refresh();
    },
    refuse(on, scope) {
      ruleOf(scope?.tag).refuse = on;
    },
    retarget(next) {
      target = { ...next };
    },
    shape(faults, scope) {
      check(faults);
      const rule = ruleOf(scope?.tag);
      for (const dir of scope?.direction ? [scope.direction] : DIRECTIONS)
        rule[dir].shape = { ...faults };
      refresh();
    },
    heal(scope) {
      if (scope?.tag === undefined) rules.clear();
      else rules.delete(known(scope.tag));
      refresh();
    },
    close,
  };
}
