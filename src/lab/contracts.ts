/**
 * Message contracts in the playground: a consumer whose profile has a `schema:` checks every
 * message it gets against it. The messages that break it are counted per consumer, the first
 * few kept as examples, for the live view and the report. The message is handled as usual.
 */
import { type Contract, contractOfOwner, type Violation } from "../config/contracts.js";
import type { ConsumerConfig } from "../config/schema.js";
import type { RunState } from "./state.js";
import type { ViolationsReport } from "./types.js";

/** Deliveries remembered per run, so a redelivered message is counted once. */
const SEEN_MEMORY = 100_000;

/** How many bad messages the report shows with their violations. */
const EXAMPLES = 5;

/** One run's contract checks, over all its consumers. */
export class ContractWatch {
  readonly report: ViolationsReport = { total: 0, byConsumer: {}, examples: [] };
  private readonly contracts = new Map<string, Contract | undefined>();
  private readonly seen = new Set<string>();

  /** Consumers with a schema start at 0, so a clean run still says it was checked. */
  constructor(consumers: ReadonlyArray<{ name: string; cfg: ConsumerConfig }>, base: string) {
    for (const { name, cfg } of consumers) {
      const contract = contractOfOwner(cfg, base);
      this.contracts.set(name, contract);
      if (contract) this.report.byConsumer[name] = 0;
    }
  }

  get active(): boolean {
    return Object.keys(this.report.byConsumer).length > 0;
  }

  /** Violations of consumer `name` so far; undefined when it has no schema. */
  of(name: string): number | undefined {
    return this.report.byConsumer[name];
  }

  /** The live view's field for a consumer with a schema. */
  row(name: string): { violations: number } | undefined {
    const n = this.report.byConsumer[name];
    return n === undefined ? undefined : { violations: n };
  }

  /**
   * Check one delivery (`id`: the run's id of the message, so a redelivery counts once);
   * returns its violations, empty when it conforms or the consumer has no schema.
   */
  check(consumer: string, id: string, messageId: string | undefined, body: Buffer): Violation[] {
    const contract = this.contracts.get(consumer);
    if (!contract) return [];
    const key = `${consumer}\u0000${id}`;
    if (this.seen.has(key)) return [];
    this.seen.add(key);
    if (this.seen.size > SEEN_MEMORY) this.seen.delete(this.seen.values().next().value as string);
    const errors = contract.check(body);
    if (errors.length === 0) return errors;
    const r = this.report;
    r.total += 1;
    r.byConsumer[consumer] = (r.byConsumer[consumer] ?? 0) + 1;
    if (r.examples.length < EXAMPLES)
      r.examples.push({ consumer, messageId: messageId ?? id, errors });
    return errors;
  }
}

const watches = new WeakMap<RunState, ContractWatch>();

/**
 * The watch of a run, made on first use from the scenario's consumer profiles; undefined
 * when none of them has a schema.
 */
export function contractWatch(run: RunState): ContractWatch | undefined {
  let w = watches.get(run);
  if (!w) {
    const o = run.options;
    const consumers = o.scenario.consumers.flatMap((name) => {
      const cfg = o.config.consumers[name];
      return cfg ? [{ name, cfg }] : [];
    });
    w = new ContractWatch(consumers, o.cwd ?? process.cwd());
    watches.set(run, w);
  }
  return w.active ? w : undefined;
}
