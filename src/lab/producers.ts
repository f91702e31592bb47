/**
 * A scenario's producers: every template at its own pace, all in parallel, on one publisher
 * with confirms and mandatory returns. Each message is tagged with the run's id and the time
 * it was sent, and the pure routing table says which queues should get a copy of it: the
 * ledger expects each of those copies.
 */
import type { Connection } from "../client/connect.js";
import { Publisher, type PublisherStats } from "../client/publisher.js";
import type { Link } from "../client/reconnect.js";
import type { Config, ScenarioConfig } from "../config/schema.js";
import { type CompiledTemplate, compileTemplate } from "../config/templates.js";
import { ID_HEADER } from "./leftovers.js";
import { type Pace, Pacer, paceOf, sleep } from "./pacer.js";
import type { RunState } from "./state.js";

/** The header that carries the time a message was published (epoch milliseconds). */
export const SENT_HEADER = "x-eventlab-sent";

export interface Producer {
  template: CompiledTemplate;
  amount: number;
  pace: Pace;
}

/**
 * The scenario's producers, their templates compiled once (or taken from `compiled`, when the
 * caller compiled them already) and their amount and pace decided: the scenario's, else the
 * template's; `amount` overrides both.
 */
export async function compileProducers(
  scenario: ScenarioConfig,
  config: Config,
  o: {
    seed?: number | undefined;
    env: NodeJS.ProcessEnv;
    amount?: number | undefined;
    compiled?: ReadonlyMap<string, CompiledTemplate> | undefined;
  },
): Promise<Producer[]> {
  return Promise.all(
    scenario.producers.map(async (p) => {
      const template =
        o.compiled?.get(p.template) ??
        (await compileTemplate(
          p.template,
          config.templates[p.template] as NonNullable<Config["templates"][string]>,
          { seed: o.seed, env: o.env },
        ));
      const amount = o.amount ?? p.amount ?? template.amount;
      return {
        template,
        amount,
        pace: paceOf(p.delay ?? template.delayMs, p.rate ?? template.rate),
      };
    }),
  );
}

/** How long a crashed producer stays away before it starts again, unless the fault says. */
const RESTART_MS = 1000;
/** How long a producer pause lasts, unless the fault says. */
const PAUSE_MS = 2000;

/**
 * One producer of the run: a template at its pace on a publisher (with confirms and
 * mandatory returns) and a connection of its own, so that a fault can hit it alone. It can be
 * paused, and it can crash: its connection drops with confirms outstanding (those messages
 * are uncertain: never sent again, since the process that knew them is gone), and after a
 * while it starts again with a new connection, going on with its next message.
 */
export class ProducerRun {
  readonly name: string;
  /** Counters of every publisher this producer had (a crash starts a new one). */
  readonly stats = { published: 0, confirmed: 0, nacked: 0, returned: 0, unanswered: 0 };
  private publisher: Publisher | undefined;
  private link: Link | undefined;
  private connection: Connection | undefined;
  private readonly pacer: Pacer;
  /** Paused or crashed until this time (epoch ms); the loop waits for it. */
  private awayUntil = 0;
  private restarting: Promise<void> | undefined;
  private wakeUp = new AbortController();

  constructor(
    private readonly run: RunState,
    private readonly p: Producer,
    private readonly index: number,
  ) {
    this.name = p.template.name;
    this.pacer = new Pacer(p.pace);
  }

  get tag(): string {
    return `producer:${this.name}`;
  }

  async open(): Promise<void> {
    const o = this.run.options;
    if (o.link) {
      this.link = await this.run.link(`producer ${this.name}`, this.tag);
      this.connection = this.link.connection;
    } else this.connection = await o.connect(this.tag);
    const ledger = this.run.ledger;
    this.publisher = await Publisher.open(this.connection, {
      confirm: true,
      mandatory: true,
      window: 1000,
      link: this.link,
      onOutcome: (id, outcome) => {
        ledger.answered(id, outcome);
        o.observer?.answered(id, outcome);
      },
      onBlocked: (reason) =>
        this.run.event(
          reason === undefined
            ? `producer ${this.name} unblocked`
            : `producer ${this.name} blocked by the broker (${reason})`,
        ),
    });
  }

  /** Publish its messages at its pace until all are out or `stop` aborts. */
  async play(stop: AbortSignal): Promise<void> {
    const { template, amount } = this.p;
    const run = this.run;
    for (let i = 0; i < amount && !stop.aborted; i++) {
      await this.present(stop);
      await sleep(this.pacer.waitFor(i), stop);
      if (stop.aborted) break;
      await this.present(stop);
      const publisher = this.publisher as Publisher;
      const m = template.render();
      const id = `${run.runId}:${this.index + 1}.${template.name}-${i + 1}`;
      m.properties.headers = {
        ...m.properties.headers,
        [ID_HEADER]: id,
        [SENT_HEADER]: Date.now(),
      };
      const route = run.table.route(m.exchange, {
        routingKey: m.routingKey,
        headers: m.properties.headers,
      });
      run.ledger.routed(id, route.queues);
      run.options.observer?.published(id, m, route.queues);
      if (m.properties.persistent !== true) run.ledger.transient.add(id);
      if (!publisher.publish(m, id))
        await publisher.ready(AbortSignal.any([stop, this.wakeUp.signal]));
      run.published += 1;
    }
  }

  /** Wait while paused or crashed. */
  private async present(stop: AbortSignal): Promise<void> {
    for (let n = 0; n < 1000 && !stop.aborted; n++) {
      const wait = this.awayUntil - Date.now();
      if (wait > 0) {
        this.pacer.shift(wait);
        await sleep(wait, stop);
      }
      if (this.restarting) await this.restarting;
      if (this.awayUntil <= Date.now() && !this.restarting) return;
    }
  }

  pause(ms = PAUSE_MS): void {
    this.awayUntil = Math.max(this.awayUntil, Date.now() + ms);
  }

  /** The process dies with its confirms outstanding, and starts again `downMs` later. */
  crash(downMs = RESTART_MS): void {
    if (this.restarting) return;
    this.awayUntil = Math.max(this.awayUntil, Date.now() + downMs);
    this.restarting = (async () => {
      const old = this.publisher as Publisher;
      this.wakeUp.abort();
      await old.crash("a producer crashed on purpose (a fault of the scenario)");
      this.add(old.stats);
      await this.link?.close().catch(() => {});
      await sleep(Math.max(0, this.awayUntil - Date.now()), this.run.options.signal);
      this.wakeUp = new AbortController();
      if (!this.run.options.signal.aborted) await this.open();
    })()
      .catch((err: unknown) => this.run.fail(`producer ${this.name}`, err as Error))
      .finally(() => {
        this.restarting = undefined;
      });
  }

  /** Counters so far: earlier publishers' and the current one's. */
  counts(): ProducerRun["stats"] {
    const live = this.restarting ? undefined : this.publisher?.stats;
    const out = { ...this.stats };
    if (live) this.add(live, out);
    return out;
  }

  private add(s: PublisherStats, into: ProducerRun["stats"] = this.stats): void {
    for (const k of Object.keys(into) as Array<keyof ProducerRun["stats"]>) into[k] += s[k];
  }

  /** Wait for outstanding confirms (bounded); false when some are still unanswered. */
  async settle(timeoutMs: number): Promise<boolean> {
    await this.restarting;
    return (await this.publisher?.settle(timeoutMs)) ?? true;
  }

  async close(): Promise<void> {
    await this.restarting;
    const publisher = this.publisher;
    this.publisher = undefined;
    if (publisher) {
      await publisher.close();
      this.add(publisher.stats);
    }
    await (this.link ?? this.connection)?.close();
  }
}
