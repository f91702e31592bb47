/**
 * A scenario of the config, checked and laid out for the runner before anything connects:
 * each consumer group with its behaviour, and the retry and dead-letter queues those
 * behaviours need, with how to declare them.
 */
import type { Connection } from "../client/connect.js";
import { declareQueue } from "../client/topology.js";
import { behaviourFields } from "../config/constants.js";
import type { Config, ConsumerConfig, QueueConfig, ScenarioConfig } from "../config/schema.js";
import { EventlabError } from "../errors.js";
import { ConsumerBehaviour, type RetryTopology } from "./behaviour.js";
import { type Fault, faultOf } from "./faults.js";
import type { Behaviour } from "./types.js";

/** One consumer profile of the scenario, on the queue it reads. */
export interface GroupSpec {
  name: string;
  cfg: ConsumerConfig;
  queue: string;
  behaviour: Behaviour;
}

/** A retry or dead-letter queue a consumer's behaviour needs, and how to declare it. */
export interface SupportQueue {
  name: string;
  /** The work queue it serves. */
  serves: string;
  retry: boolean;
  settings: Partial<QueueConfig>;
  /** The topology declares it: its settings are the user's, used as they are. */
  declared: boolean;
}

export interface ScenarioPlan {
  groups: GroupSpec[];
  support: SupportQueue[];
}

export function scenarioError(scenario: string, what: string): EventlabError {
  return new EventlabError("config", `scenario '${scenario}': ${what}`, {
    hint: "check the scenario's producers and consumers against templates: and consumers:",
  });
}

export function behaviourOf(c: ConsumerConfig): Behaviour {
  const b: Behaviour = { onFailure: c.onFailure ?? "requeue" };
  if (c.workTime) b.workTime = c.workTime;
  if (c.failures) b.failures = c.failures;
  if (c.retry) {
    b.retry = { delaysMs: c.retry.delays };
    if (c.retry.deadLetterQueue) b.retry.deadLetterQueue = c.retry.deadLetterQueue;
  }
  if (c.dedupe) b.dedupe = c.dedupe;
  if (c.ordering) b.ordering = c.ordering;
  if (c.breaker) b.breaker = { failures: c.breaker.failures, pauseMs: c.breaker.pause };
  if (c.crashAt) b.crashAt = c.crashAt;
  if (c.ackBeforeWork) b.ackBeforeWork = true;
  return b;
}

/** A fault must name a consumer or producer the scenario runs. */
export function checkFault(name: string, scenario: ScenarioConfig, f: Fault): void {
  const producers = scenario.producers.map((p) => p.template);
  if (f.kind === "consumer" && !scenario.consumers.includes(f.consumer)) {
    throw scenarioError(name, `a fault names consumer '${f.consumer}', which it does not run`);
  }
  if (f.kind === "producer" && !producers.includes(f.producer)) {
    throw scenarioError(name, `a fault names producer '${f.producer}', which it does not run`);
  }
  if (
    f.kind === "network" &&
    f.target !== "all" &&
    !producers.includes(f.target) &&
    !scenario.consumers.includes(f.target)
  ) {
    throw scenarioError(
      name,
      `a network fault targets '${f.target}', which is none of its producers (${producers.join(", ")}) or consumers (${scenario.consumers.join(", ") || "none"}); use one of them, or all`,
    );
  }
}

function checkCommand(
  name: string,
  consumer: string,
  cfg: ConsumerConfig,
  scenario: ScenarioConfig,
): void {
  if (cfg.command === undefined) {
    if (cfg.doneWhen !== undefined) {
      throw scenarioError(name, `consumer '${consumer}' has doneWhen but no command to judge`);
    }
    return;
  }
  // A command consumer behaves as the command does: it cannot have a behaviour too.
  const set = behaviourFields.filter((k) => cfg[k] !== undefined);
  if (set.length > 0) {
    throw scenarioError(
      name,
      `consumer '${consumer}' runs a command, which behaves as it does: remove ${set.join(", ")}`,
    );
  }
  const holds = scenario.faults.some((f) => f.consumer === consumer && f.action === "ack-timeout");
  if (holds) {
    throw scenarioError(
      name,
      `consumer '${consumer}' runs a command: an ack-timeout fault cannot make it hold its acks (set its prefetch and let it be slow instead)`,
    );
  }
}

/**
 * Check the scenario against the config (every consumer, fault and template it names) and
 * lay out its consumer groups and their support queues. Throws a config error naming the
 * first problem.
 */
export function planScenario(name: string, scenario: ScenarioConfig, config: Config): ScenarioPlan {
  for (const f of scenario.faults.map(faultOf)) checkFault(name, scenario, f);
  for (const p of scenario.producers) {
    if (!config.templates[p.template]) {
      throw scenarioError(name, `producer template '${p.template}' is not in templates:`);
    }
  }
  const groups: GroupSpec[] = [];
  const support: SupportQueue[] = [];
  for (const consumer of scenario.consumers) {
    const cfg = config.consumers[consumer];
    if (!cfg) throw scenarioError(name, `consumer '${consumer}' is not in consumers:`);
    if (cfg.queue === undefined) {
      throw scenarioError(
        name,
        `consumer '${consumer}' taps an exchange; a scenario's consumers read queues`,
      );
    }
    checkCommand(name, consumer, cfg, scenario);
    const behaviour = behaviourOf(cfg);
    const topo = ConsumerBehaviour.retryTopology(cfg.queue, behaviour);
    support.push(...supportQueues(config, cfg.queue, topo));
    groups.push({ name: consumer, cfg, queue: cfg.queue, behaviour });
  }
  return { groups, support };
}

/**
 * The retry queues (`<queue>.retry.N`) and dead-letter queue of a consumer that retries. A
 * queue the topology declares is used as declared (whatever its arguments). Otherwise it
 * follows the durability of the queue it serves, so parked and delayed messages of a durable
 * queue survive a broker restart; a served queue the config does not declare (it exists on
 * the broker only, and AMQP cannot ask a queue whether it is durable) counts as durable,
 * as every queue eventlab declares is unless told otherwise.
 */
function supportQueues(config: Config, queue: string, topo: RetryTopology): SupportQueue[] {
  const durable = config.topology.queues[queue]?.durable ?? true;
  const own = (name: string, retry: boolean, settings: Partial<QueueConfig>): SupportQueue => {
    const declared = config.topology.queues[name];
    return {
      name,
      serves: queue,
      retry,
      settings: declared ?? settings,
      declared: declared !== undefined,
    };
  };
  const out = topo.retryQueues.map((r) =>
    own(r.name, true, {
      durable,
      messageTtl: r.ttlMs,
      deadLetterExchange: "",
      deadLetterRoutingKey: r.deadLetterTo,
    }),
  );
  if (topo.deadLetterQueue) out.push(own(topo.deadLetterQueue, false, { durable }));
  return out;
}

/** Declare a support queue; a 406 on one whose settings eventlab chose says what to do. */
export async function declareSupportQueue(connection: Connection, q: SupportQueue): Promise<void> {
  try {
    await declareQueue(connection, q.name, q.settings);
  } catch (err) {
    if (q.declared || !(err instanceof EventlabError) || err.code !== "precondition") throw err;
    const what = q.retry ? "retry" : "dead-letter";
    const durability = q.settings.durable === false ? "transient" : "durable";
    throw new EventlabError("precondition", err.message, {
      hint: `it is the ${what} queue of ${q.serves}, declared ${durability} like ${q.serves}: delete it (eventlab delete queue ${q.name}) to let it be declared again, or declare it under topology.queues as it is on the broker`,
      cause: err,
    });
  }
}
