/**
 * Every fault family of a scenario on the embedded broker (port 0), through `eventlab play`,
 * each with the delivery checker's counts it must give: a broker restart (with a data
 * directory and persistent messages nothing is lost; without one, transient messages are, on
 * purpose, and the report says why), a memory alarm, network faults through the proxy
 * (latency, bandwidth, blackhole, reset, cut), a producer that crashes with confirms
 * outstanding or pauses, and a consumer whose acks time out.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { PlayReport } from "../../src/lab/types.js";
import { runCli } from "../helpers/cli.js";
import { faultScenarioConfig } from "../helpers/fault-scenario.js";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "eventlab-faults-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const AMOUNT = 60;

/** One exchange, one queue, `AMOUNT` messages at 40/s, one consumer; the scenario's faults. */
async function play(
  faults: unknown[],
  o: {
    persistent?: boolean;
    consumer?: Record<string, unknown>;
    flags?: string[];
    scenario?: Record<string, unknown>;
  } = {},
): Promise<{ code: number; report: PlayReport; stderr: string }> {
  const file = path.join(dir, `faults-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(
    file,
    stringify(
      faultScenarioConfig({
        faults,
        amount: AMOUNT,
        persistent: o.persistent,
        consumer: o.consumer,
        scenario: o.scenario,
      }),
    ),
  );
  const r = await runCli(["--config", file, "play", "s", "--json", ...(o.flags ?? [])], {
    cwd: dir,
    env: { EVENTLAB_URL: "" },
    signal: AbortSignal.timeout(60_000),
  });
  expect(r.stdout, r.stderr).not.toBe("");
  return { code: r.code, report: JSON.parse(r.stdout) as PlayReport, stderr: r.stderr };
}

/** Every copy is accounted for: consumed ok, twice, or recovered; none lost or unexpected. */
function allThere(r: PlayReport): void {
  const c = r.checker.counts;
  expect(c.lost, JSON.stringify(r.checker)).toBe(0);
  expect(c.unexpected).toBe(0);
  expect(c["unconfirmed-lost"]).toBe(0);
  expect(c.ok + c.duplicated + c.recovered).toBe(AMOUNT);
  expect(r.lost).toBe(0);
}

describe("broker faults (embedded broker)", () => {
  it("restart with a data directory and persistent messages: lost 0, and the broker comes back on its data", async () => {
    const { code, report } = await play([{ at: "500ms", broker: "restart", for: "300ms" }], {
      flags: ["--data-dir", path.join(dir, "data-restart")],
    });
    expect(code).toBe(0);
    allThere(report);
    expect(report.faults.map((f) => f.what)).toEqual(["broker restart for 300 ms"]);
    expect(report.events.join("\n")).toContain("(on its data directory)");
    expect(report.reconnects).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it("restart without a data directory, transient messages: lost > 0, said to be on purpose, exit 0", async () => {
    // The consumer pauses across the restart, so messages are waiting in the queue when it goes.
    const { code, report } = await play(
      [
        { at: "500ms", consumer: "worker", action: "pause", for: "1500ms" },
        { at: "1s", broker: "restart", for: "200ms" },
      ],
      { persistent: false },
    );
    expect(code).toBe(0);
    const c = report.checker.counts;
    expect(c.lost).toBeGreaterThan(0);
    expect(c.ok + c.lost + c.duplicated + c.recovered).toBe(AMOUNT);
    expect(report).toMatchObject({ lost: c.lost, lostIntended: true });
    expect(report.lostNote).toContain("without a data directory");
    expect(report.checker.samples.lost.length).toBe(Math.min(5, c.lost));
  }, 60_000);

  it("block (memory alarm) for 1 s: publishers wait, nothing is lost, the blocked time is reported", async () => {
    const { code, report } = await play([{ at: "300ms", broker: "block", for: "1s" }]);
    expect(code).toBe(0);
    allThere(report);
    expect(report.checker.counts.ok).toBe(AMOUNT);
    expect(report.blockedMs).toBeGreaterThanOrEqual(900);
    expect(report.events.join("\n")).toMatch(/producer order blocked by the broker/);
    expect(report.events.join("\n")).toMatch(/producer order unblocked/);
  }, 60_000);
});

describe("network faults through the proxy", () => {
  it("latency 150 ms on the consumer: every message takes at least that long, none lost", async () => {
    const { report } = await play([
      { at: "0ms", network: "latency", target: "worker", delay: "150ms", for: "10s" },
    ]);
    allThere(report);
    expect(report.checker.counts.ok).toBe(AMOUNT);
    expect(report.latencyMs?.p50).toBeGreaterThanOrEqual(150);
    expect(report.faults[0]?.what).toBe("network latency 150 ms on worker for 10.00 s");
  }, 60_000);

  it("bandwidth 2 KiB/s on every connection: slower, none lost", async () => {
    const { report } = await play([{ at: "200ms", network: "bandwidth", rate: "2KiB", for: "1s" }]);
    allThere(report);
    expect(report.faults[0]?.what).toBe(
      "network bandwidth 2048 B/s on every connection for 1.00 s",
    );
  }, 60_000);

  it("blackhole on every connection for 1 s: held, then delivered; none lost", async () => {
    const { report } = await play([{ at: "300ms", network: "blackhole", for: "1s" }]);
    allThere(report);
    expect(report.latencyMs?.max).toBeGreaterThanOrEqual(700);
  }, 60_000);

  it("reset of the producer's connection: it reconnects and sends again what was not confirmed", async () => {
    const { report } = await play([{ at: "600ms", network: "reset", target: "order" }]);
    allThere(report);
    expect(report.reconnects).toBeGreaterThanOrEqual(1);
    expect(report.events.join("\n")).toMatch(/producer order lost its connection/);
  }, 60_000);

  it("cut of the consumer's connection: it reconnects; a copy worked on before the cut may come twice", async () => {
    const { report } = await play([{ at: "600ms", network: "cut", target: "worker" }]);
    allThere(report);
    expect(report.reconnects).toBeGreaterThanOrEqual(1);
    expect(report.checker.counts.duplicated).toBeLessThanOrEqual(1);
  }, 60_000);
});

describe("producer faults", () => {
  it("crash with confirms outstanding: those are uncertain, recovered or unconfirmed-lost, never lost", async () => {
    // The producer's connection is a black hole when it crashes: what it sent since is
    // unconfirmed, and delivered (recovered) or not when the hole heals.
    const { code, report } = await play([
      { at: "300ms", network: "blackhole", target: "order", for: "1s" },
      { at: "600ms", producer: "order", action: "crash", for: "300ms" },
    ]);
    expect(code).toBe(0);
    const c = report.checker.counts;
    expect(report.uncertain).toBeGreaterThan(0);
    expect(c.recovered + c["unconfirmed-lost"]).toBe(report.uncertain);
    expect(c.lost).toBe(0);
    expect(c.ok + c.duplicated + c.recovered + c["unconfirmed-lost"]).toBe(AMOUNT);
    expect(report.faults.map((f) => f.what)).toContain("crash producer order for 300 ms");
  }, 60_000);

  it("pause for 1 s: the run takes that much longer, nothing is lost", async () => {
    const { report } = await play([{ at: "300ms", producer: "order", action: "pause", for: "1s" }]);
    allThere(report);
    // 60 messages at 40/s take 1.5 s; with the pause, 2.5 s.
    expect(report.elapsedMs).toBeGreaterThanOrEqual(2400);
  }, 60_000);
});

describe("consumer faults", () => {
  it("ack-timeout: acks held past the broker's consumer timeout; the broker takes the message back and it is worked on twice", async () => {
    const { report } = await play(
      [{ at: "300ms", consumer: "worker", action: "ack-timeout", for: "1500ms" }],
      { scenario: { consumerTimeout: "500ms" } },
    );
    allThere(report);
    expect(report.checker.counts.duplicated).toBeGreaterThanOrEqual(1);
    expect(report.events.join("\n")).toMatch(/delivery acknowledgement on channel \d+ timed out/);
  }, 60_000);

  it("ack-timeout with dedupe: the second delivery is recognised, nothing is worked on twice", async () => {
    const { report } = await play(
      [{ at: "300ms", consumer: "worker", action: "ack-timeout", for: "1500ms" }],
      { scenario: { consumerTimeout: "500ms" }, consumer: { dedupe: "messageId" } },
    );
    allThere(report);
    expect(report.checker.counts.duplicated).toBe(0);
    expect(report.duplicates).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it("ackBeforeWork and a cut during the work: one message lost, not on purpose, exit 1", async () => {
    const { code, report } = await play([{ at: "500ms", consumer: "worker", action: "cut" }], {
      consumer: { ackBeforeWork: true, workTime: "40ms" },
    });
    expect(code).toBe(1);
    expect(report.checker.counts.lost).toBe(1);
    expect(report.lostIntended).toBeUndefined();
    expect(report.lostNote).toContain("eventlab why");
  }, 60_000);
});

describe("faults that cannot be", () => {
  it("a network fault aimed at nobody of the scenario is a config error naming it and who there is", async () => {
    const file = await oneFaultConfig({ network: "cut", target: "nobody" });
    const r = await runCli(["--config", file, "play", "s"], {
      cwd: dir,
      env: { EVENTLAB_URL: "" },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("a network fault targets 'nobody'");
    expect(r.stderr).toContain("producers (order) or consumers (worker)");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("a node fault without a cluster is refused before the run, naming where it looked", async () => {
    const none = path.join(dir, "no-cluster");
    const r = await runCli(
      [
        "play",
        "--json",
        "--cluster-dir",
        none,
        "--config",
        await oneFaultConfig({ node: "stop", n: 1 }),
      ],
      { cwd: dir, env: { EVENTLAB_URL: "" } },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(
      `node faults need a cluster started by \`eventlab cluster up\` (there is none in ${none})`,
    );
    expect(r.stderr).toContain("hint: start one");
    // Without --cluster-dir, on the embedded broker: no cluster to look for at all.
    const embedded = await runCli(
      ["play", "--config", await oneFaultConfig({ node: "stop", n: 1 })],
      { cwd: dir, env: { EVENTLAB_URL: "" } },
    );
    expect(embedded.code).toBe(1);
    expect(embedded.stderr).toContain("node faults need a cluster");
  });
});

/** A config file with one scenario and this one fault (at 200 ms). */
async function oneFaultConfig(fault: Record<string, unknown>): Promise<string> {
  const file = path.join(dir, `one-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(
    file,
    stringify({
      topology: { queues: { work: {} } },
      templates: { order: { routingKey: "work", amount: 5 } },
      consumers: { worker: { queue: "work" } },
      scenarios: {
        s: {
          producers: [{ template: "order" }],
          consumers: ["worker"],
          faults: [{ at: "200ms", ...fault }],
        },
      },
    }),
  );
  return file;
}
