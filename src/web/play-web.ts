/**
 * `eventlab play --web` and `eventlab broker --web`: the web view wired to what the command
 * runs. The commands call these two functions; everything else of the web view is here.
 */
import type { MessageEvents, RunningBroker } from "../broker/index.js";
import type { Config, ScenarioConfig } from "../config/schema.js";
import { routingTableOf } from "../lab/routing.js";
import type { Snapshot } from "../lab/types.js";
import type { WebFlags } from "./flags.js";
import { launchWebView } from "./launch.js";
import { brokerSource, playSource } from "./sources.js";

export type { WebFlags } from "./flags.js";

/** What of the command's context the web view uses. */
export interface WebHost {
  io: { err(text: string): void; readonly stderrIsTTY: boolean };
  env: NodeJS.ProcessEnv;
}

export interface PlayWeb {
  update(s: Snapshot): void;
  close(): Promise<void>;
}

export async function startPlayWeb(
  host: WebHost,
  flags: WebFlags,
  run: {
    title: string;
    config: Config;
    scenario: ScenarioConfig;
    /** The embedded broker now, if the run is on it (a restart replaces it). */
    embedded: () => RunningBroker | undefined;
    ledger: MessageEvents | undefined;
  },
): Promise<PlayWeb> {
  const live = playSource({
    title: run.title,
    config: run.config,
    scenario: run.scenario,
    vhost: () => run.embedded()?.vhost,
    table: routingTableOf(run.config.topology),
    ledger: run.ledger,
  });
  const view = await launchWebView({
    source: live.source,
    port: flags.webPort,
    open: flags.open,
    err: (line) => host.io.err(line),
    stderrIsTTY: host.io.stderrIsTTY,
    env: host.env,
  }).catch((err: unknown) => {
    live.stop();
    throw err;
  });
  return {
    update: (s) => live.update(s),
    async close() {
      live.stop();
      view.flush();
      await view.close();
    },
  };
}

export async function startBrokerWeb(
  host: WebHost,
  flags: WebFlags,
  broker: RunningBroker,
): Promise<{ close(): Promise<void> }> {
  const live = brokerSource(broker);
  const view = await launchWebView({
    source: live.source,
    port: flags.webPort,
    open: flags.open,
    err: (line) => host.io.err(line),
    stderrIsTTY: host.io.stderrIsTTY,
    env: host.env,
  }).catch((err: unknown) => {
    live.stop();
    throw err;
  });
  return {
    async close() {
      live.stop();
      await view.close();
    },
  };
}
