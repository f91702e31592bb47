/**
 * A produce-and-consume round trip of a config's templates, as a scenario generated for the
 * runner: every template is a producer (in parallel, at its own pace), and every queue its
 * messages route to gets a plain consumer that acknowledges what it receives. The runner
 * then applies the topology, publishes with confirms and mandatory returns, accounts for each
 * copy in its ledger and reports as for any scenario. Messages that were in those queues
 * before are refused, purged, or consumed and counted apart, as for any scenario.
 *
 * Which queues to consume is known only from the messages themselves (a routing key may be
 * generated), so the round trip renders its messages first and hands them to the runner.
 */
import type { Connection } from "../client/connect.js";
import type { Config, ConsumerConfig, ScenarioConfig } from "../config/schema.js";
import {
  type CompiledTemplate,
  compileTemplate,
  type RenderedMessage,
} from "../config/templates.js";
import type { LeftoverPolicy } from "./leftovers.js";
import { routingTableOf } from "./routing.js";
import { runScenario } from "./runner.js";
import type { ScenarioRunOptions } from "./state.js";
import type { PlayReport, Snapshot } from "./types.js";

export interface RoundTripOptions {
  templates: string[];
  /** Overrides every template's amount. */
  amount?: number | undefined;
  seed?: number | undefined;
  env: NodeJS.ProcessEnv;
  /** How long consumers wait for a missing copy once nothing moves (default 2 s). */
  idleMs?: number | undefined;
}

/** The consumers of a round trip: plain, acknowledging, up to this many messages in flight. */
const PREFETCH = 100;
const IDLE_MS = 2000;

/** A template that replays messages rendered beforehand, in order. */
function replay(t: CompiledTemplate, messages: RenderedMessage[]): CompiledTemplate {
  let next = 0;
  return {
    name: t.name,
    amount: messages.length,
    delayMs: t.delayMs,
    rate: t.rate,
    render: () => messages[next++] ?? t.render(),
  };
}

/** What the runner needs to run a round trip as a scenario. */
export type RoundTrip = Pick<
  ScenarioRunOptions,
  "name" | "scenario" | "config" | "templates" | "idleMs" | "amount"
>;

/** The name a round trip's report carries: `round trip of order`, `round trip of 3 templates`. */
export function roundTripName(templates: readonly string[]): string {
  return `round trip of ${templates.length === 1 ? templates[0] : `${templates.length} templates`}`;
}

/**
 * The round trip of `templates` (all in `config.templates`) as a scenario: their messages
 * rendered, the queues those messages route to each consumed by a plain consumer (named after
 * its queue), and the config's own consumers and scenarios left out.
 */
export async function roundTripOf(config: Config, o: RoundTripOptions): Promise<RoundTrip> {
  const table = routingTableOf(config.topology);
  const targets = new Set<string>();
  const templates = new Map<string, CompiledTemplate>();
  for (const name of o.templates) {
    const t = await compileTemplate(
      name,
      config.templates[name] as NonNullable<Config["templates"][string]>,
      { seed: o.seed, env: o.env },
    );
    const messages = Array.from({ length: o.amount ?? t.amount }, () => t.render());
    for (const m of messages) {
      const route = table.route(m.exchange, {
        routingKey: m.routingKey,
        headers: m.properties.headers,
      });
      for (const q of route.queues) targets.add(q);
    }
    templates.set(name, replay(t, messages));
  }
  const consumers: Record<string, ConsumerConfig> = {};
  for (const queue of targets) consumers[queue] = { queue, prefetch: PREFETCH };
  const scenario: ScenarioConfig = {
    producers: o.templates.map((template) => ({ template })),
    consumers: [...targets],
    faults: [],
  };
  return {
    name: roundTripName(o.templates),
    scenario,
    config: { ...config, consumers, scenarios: {} },
    templates,
    idleMs: o.idleMs ?? IDLE_MS,
    amount: undefined,
  };
}

/** `connection` for the runner, which closes what it opens: closing this leaves it open. */
function borrowed(connection: Connection): Connection {
  return {
    get model() {
      return connection.model;
    },
    address: connection.address,
    get closeReason() {
      return connection.closeReason;
    },
    get closed() {
      return connection.closed;
    },
    whenClosed: connection.whenClosed,
    close: async () => {},
    corkTurn: () => connection.corkTurn(),
  };
}

/**
 * Run the round trip of `o.templates` on one connection the caller holds (and closes): each
 * consumer and publisher of the run gets a channel of its own on it.
 */
export async function runRoundTrip(
  connection: Connection,
  config: Config,
  o: RoundTripOptions & {
    signal: AbortSignal;
    /** Messages already in the queues the messages route to (default "keep": counted apart). */
    leftovers?: Exclude<LeftoverPolicy, "process"> | undefined;
    onSnapshot?: ((s: Snapshot) => void) | undefined;
  },
): Promise<PlayReport> {
  const trip = await roundTripOf(config, o);
  const shared = borrowed(connection);
  return runScenario({
    ...trip,
    connect: async () => shared,
    seed: o.seed,
    env: o.env,
    signal: o.signal,
    leftovers: o.leftovers ?? "keep",
    onSnapshot: o.onSnapshot,
  });
}
