/**
 * A scenario's producers: every template at its own pace, all in parallel, on one publisher
 * with confirms and mandatory returns. Each message is tagged with the run's id and the time
 * it was sent, and the pure routing table says which queues should get a copy of it: the
 * ledger expects each of those copies.
 */
import type { Publisher } from "../client/publisher.js";
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

/**
 * Publish every producer's messages at its pace until each has published its amount or
 * `stop` aborts. Per producer, not a shared counter: the same message gets the same id in
 * every run (after the run's own prefix).
 */
export async function runProducers(
  run: RunState,
  producers: Producer[],
  publisher: Publisher,
  stop: AbortSignal,
): Promise<void> {
  await Promise.all(
    producers.map(async ({ template, amount, pace }, pi) => {
      const pacer = new Pacer(pace);
      for (let i = 0; i < amount && !stop.aborted; i++) {
        await sleep(pacer.waitFor(i), stop);
        if (stop.aborted) break;
        const m = template.render();
        const id = `${run.runId}:${pi + 1}.${template.name}-${i + 1}`;
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
        if (!publisher.publish(m, id)) await publisher.ready(stop);
        run.published += 1;
      }
    }),
  );
}
