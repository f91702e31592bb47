/**
 * A scenario's faults (`scenarios.<s>.faults[]`) and its `explore:` space, through the whole
 * config parser: each family parses to the runner's Fault (durations in ms, rates in bytes
 * per second), every mistake is reported as `file:line path: message` naming the field and
 * what to write instead, the written form round-trips (`configOf`), and each fault has its
 * one line (`describeFault`).
 */
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { parseConfig } from "../../src/config/load.js";
import { ConfigError, type ConfigIssue } from "../../src/errors.js";
import { configOf, describeFault, type Fault, faultOf, lasts } from "../../src/lab/faults.js";

const FILE = "eventlab.config.yaml";

/** Lines 1-9; the scenario's own keys start on line 10. */
const HEAD = [
  "templates:",
  "  order: {routingKey: work}",
  "consumers:",
  "  worker: {queue: work}",
  "scenarios:",
  "  s:",
  "    producers: [{template: order}]",
  "    consumers: [worker]",
  "    description: faults under test",
];
const FIRST = HEAD.length + 1;

const configText = (...scenarioLines: string[]) => `${[...HEAD, ...scenarioLines].join("\n")}\n`;

/** `faults:` with one fault written block style, one key a line: its keys start on FIRST + 1. */
const oneFault = (...keys: string[]) =>
  configText("    faults:", ...keys.map((k, i) => `${i === 0 ? "      - " : "        "}${k}`));

function issuesOf(text: string): readonly ConfigIssue[] {
  try {
    parseConfig(text, FILE);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error("the config was accepted");
}

function scenarioOf(text: string) {
  const s = parseConfig(text, FILE).scenarios["s"];
  if (!s) throw new Error("no scenario s");
  return s;
}

describe("every family parses to its Fault", () => {
  const good: Array<[string, string[], Fault]> = [
    [
      "consumer kill",
      ["at: 2s", "consumer: worker", "action: kill"],
      { at: 2000, kind: "consumer", consumer: "worker", action: "kill" },
    ],
    [
      "consumer pause for 1500ms",
      ["at: 250ms", "consumer: worker", "action: pause", "for: 1500ms"],
      { at: 250, for: 1500, kind: "consumer", consumer: "worker", action: "pause" },
    ],
    [
      "consumer cut",
      ["at: 1s", "consumer: worker", "action: cut"],
      { at: 1000, kind: "consumer", consumer: "worker", action: "cut" },
    ],
    [
      "consumer ack-timeout, durations as milliseconds",
      ["at: 300", "consumer: worker", "action: ack-timeout", "for: 700"],
      { at: 300, for: 700, kind: "consumer", consumer: "worker", action: "ack-timeout" },
    ],
    [
      "producer crash",
      ["at: 1s", "producer: order", "action: crash", "for: 2s"],
      { at: 1000, for: 2000, kind: "producer", producer: "order", action: "crash" },
    ],
    [
      "producer pause",
      ["at: 1m", "producer: order", "action: pause", "for: 1s"],
      { at: 60_000, for: 1000, kind: "producer", producer: "order", action: "pause" },
    ],
    [
      "broker restart",
      ["at: 2s", "broker: restart", "for: 300ms"],
      { at: 2000, for: 300, kind: "broker", action: "restart" },
    ],
    ["broker block", ["at: 0s", "broker: block"], { at: 0, kind: "broker", action: "block" }],
    [
      "broker unblock",
      ["at: 3s", "broker: unblock"],
      { at: 3000, kind: "broker", action: "unblock" },
    ],
    [
      "network cut on every connection (target defaults to all)",
      ["at: 1s", "network: cut"],
      { at: 1000, kind: "network", action: "cut", target: "all" },
    ],
    [
      "network reset of a producer",
      ["at: 1s", "network: reset", "target: order"],
      { at: 1000, kind: "network", action: "reset", target: "order" },
    ],
    [
      "network blackhole of a consumer",
      ["at: 1s", "network: blackhole", "target: worker", "for: 800ms"],
      { at: 1000, for: 800, kind: "network", action: "blackhole", target: "worker" },
    ],
    [
      "network latency with jitter",
      ["at: 1s", "network: latency", "target: worker", "delay: 200ms", "jitter: 50ms", "for: 3s"],
      {
        at: 1000,
        for: 3000,
        kind: "network",
        action: "latency",
        target: "worker",
        delayMs: 200,
        jitterMs: 50,
      },
    ],
    [
      "network bandwidth 16KiB",
      ["at: 1s", "network: bandwidth", "rate: 16KiB", "for: 1s"],
      {
        at: 1000,
        for: 1000,
        kind: "network",
        action: "bandwidth",
        target: "all",
        bytesPerSecond: 16_384,
      },
    ],
    [
      "network bandwidth 1MB",
      ["at: 1s", "network: bandwidth", "rate: 1MB"],
      { at: 1000, kind: "network", action: "bandwidth", target: "all", bytesPerSecond: 1_000_000 },
    ],
    [
      "network bandwidth 500 (bytes per second)",
      ["at: 1s", "network: bandwidth", "rate: 500"],
      { at: 1000, kind: "network", action: "bandwidth", target: "all", bytesPerSecond: 500 },
    ],
    [
      "network bandwidth 2MiB/s",
      ["at: 1s", "network: bandwidth", "rate: 2MiB/s"],
      {
        at: 1000,
        kind: "network",
        action: "bandwidth",
        target: "all",
        bytesPerSecond: 2 * 1024 ** 2,
      },
    ],
    [
      "node stop",
      ["at: 500ms", "node: stop", "n: 1", "for: 3s"],
      { at: 500, for: 3000, kind: "node", action: "stop", node: 1 },
    ],
    [
      "node start",
      ["at: 5s", "node: start", "n: 3"],
      { at: 5000, kind: "node", action: "start", node: 3 },
    ],
  ];

  it.each(good)("%s", (_, keys, fault) => {
    const faults = scenarioOf(oneFault(...keys)).faults;
    expect(faults).toHaveLength(1);
    expect(faultOf(faults[0] as (typeof faults)[0])).toEqual(fault);
  });

  it("explore: faults without `at`, ranges and max", () => {
    const s = scenarioOf(
      configText(
        "    explore:",
        "      at: 0s..5s",
        "      for: 100ms..2s",
        "      max: 4",
        "      faults:",
        "        - {consumer: worker, action: kill}",
        "        - {network: latency, delay: 100ms}",
        "        - {node: stop, n: 2}",
      ),
    );
    expect(s.faults).toEqual([]);
    expect(s.explore?.max).toBe(4);
    expect(s.explore?.faults.map(faultOf)).toEqual([
      { at: 0, kind: "consumer", consumer: "worker", action: "kill" },
      { at: 0, kind: "network", action: "latency", target: "all", delayMs: 100 },
      { at: 0, kind: "node", action: "stop", node: 2 },
    ]);
  });
});

interface Bad {
  name: string;
  text: string;
  path: string;
  line: number;
  message: string;
}

const F = "scenarios.s.faults[0]";
const bad: Bad[] = [
  {
    name: "no family",
    text: oneFault("at: 1s", "action: kill"),
    path: F,
    line: FIRST + 1,
    message:
      "a fault names its family: one of consumer, producer, broker, network, node (for example {at: 2s, consumer: billing, action: kill})",
  },
  {
    name: "two families",
    text: oneFault("at: 1s", "consumer: worker", "action: kill", "broker: restart"),
    path: F,
    line: FIRST + 1,
    message: "a fault has one family, not consumer and broker: split it into one fault each",
  },
  {
    name: "a consumer fault without action",
    text: oneFault("at: 1s", "consumer: worker"),
    path: `${F}.action`,
    line: FIRST + 1,
    message: "a consumer fault needs action: one of kill, pause, cut, ack-timeout",
  },
  {
    name: "a consumer fault with a bad action",
    text: oneFault("at: 1s", "consumer: worker", "action: explode"),
    path: `${F}.action`,
    line: FIRST + 3,
    message: "a consumer fault needs action: one of kill, pause, cut, ack-timeout",
  },
  {
    name: "a consumer fault with a producer's action",
    text: oneFault("at: 1s", "consumer: worker", "action: crash"),
    path: `${F}.action`,
    line: FIRST + 3,
    message: "a consumer fault needs action: one of kill, pause, cut, ack-timeout",
  },
  {
    name: "a producer fault without action",
    text: oneFault("at: 1s", "producer: order"),
    path: `${F}.action`,
    line: FIRST + 1,
    message: "a producer fault needs action: one of crash, pause",
  },
  {
    name: "a node fault without n",
    text: oneFault("at: 1s", "node: stop", "for: 2s"),
    path: `${F}.n`,
    line: FIRST + 1,
    message: "a node fault needs `n`: which node of the cluster, 1-based",
  },
  {
    name: "a latency fault without delay",
    text: oneFault("at: 1s", "network: latency", "for: 2s"),
    path: `${F}.delay`,
    line: FIRST + 1,
    message: "a latency fault needs `delay`, such as 200ms",
  },
  {
    name: "a bandwidth fault without rate",
    text: oneFault("at: 1s", "network: bandwidth", "for: 2s"),
    path: `${F}.rate`,
    line: FIRST + 1,
    message: "a bandwidth fault needs `rate`, such as 16KiB",
  },
  {
    name: "target on a consumer fault (a network field)",
    text: oneFault("at: 1s", "consumer: worker", "action: kill", "target: order"),
    path: `${F}.target`,
    line: FIRST + 4,
    message:
      "`target` does not apply to a consumer fault: remove it (it names the target of a network fault)",
  },
  {
    name: "n on a network fault (a node field)",
    text: oneFault("at: 1s", "network: cut", "n: 2"),
    path: `${F}.n`,
    line: FIRST + 3,
    message: "`n` does not apply to a network fault: remove it (it names the node of a node fault)",
  },
  {
    name: "action on a broker fault",
    text: oneFault("at: 1s", "broker: restart", "action: kill"),
    path: `${F}.action`,
    line: FIRST + 3,
    message:
      "`action` does not apply to a broker fault: remove it (consumer and producer faults have an action)",
  },
  {
    name: "delay on a network cut (a latency field)",
    text: oneFault("at: 1s", "network: cut", "delay: 100ms"),
    path: `${F}.delay`,
    line: FIRST + 3,
    message:
      "`delay` does not apply to a network cut: remove it (it is the delay of a network latency fault)",
  },
  {
    name: "rate on a network latency (a bandwidth field)",
    text: oneFault("at: 1s", "network: latency", "delay: 100ms", "rate: 5"),
    path: `${F}.rate`,
    line: FIRST + 4,
    message:
      "`rate` does not apply to a network latency: remove it (it is the rate of a network bandwidth fault)",
  },
  {
    name: "a bad rate",
    text: oneFault("at: 1s", "network: bandwidth", "rate: fast"),
    path: `${F}.rate`,
    line: FIRST + 3,
    message: 'expected a number of bytes per second, or a size like 64KiB, 1MB, got "fast"',
  },
  {
    name: "a rate of 0",
    text: oneFault("at: 1s", "network: bandwidth", "rate: 0"),
    path: `${F}.rate`,
    line: FIRST + 3,
    message: "expected a number of bytes per second, or a size like 64KiB, 1MB, got 0",
  },
  {
    name: "a bad broker action",
    text: oneFault("at: 1s", "broker: explode"),
    path: `${F}.broker`,
    line: FIRST + 2,
    message: 'expected one of "restart", "block", "unblock", got "explode"',
  },
  {
    name: "at missing in faults",
    text: oneFault("consumer: worker", "action: kill"),
    path: `${F}.at`,
    line: FIRST + 1,
    message: "a fault needs `at`: when it happens, such as 2s",
  },
  {
    name: "explore with no faults",
    text: configText("    explore:", "      faults: []"),
    path: "scenarios.s.explore.faults",
    line: FIRST + 1,
    message: "give at least one fault to draw from",
  },
  {
    name: "explore max 0",
    text: configText("    explore:", "      max: 0", "      faults: [{broker: block}]"),
    path: "scenarios.s.explore.max",
    line: FIRST + 1,
    message: "expected a whole number from 1 to 10, got 0",
  },
  {
    name: "explore max 11",
    text: configText("    explore:", "      max: 11", "      faults: [{broker: block}]"),
    path: "scenarios.s.explore.max",
    line: FIRST + 1,
    message: "expected a whole number from 1 to 10, got 11",
  },
  {
    name: "a fault of explore is checked like one of faults (but for at)",
    text: configText(
      "    explore:",
      "      faults:",
      "        - consumer: worker",
      "          action: explode",
    ),
    path: "scenarios.s.explore.faults[0].action",
    line: FIRST + 3,
    message: "a consumer fault needs action: one of kill, pause, cut, ack-timeout",
  },
];

describe("mistakes are reported with file:line, path and what to write", () => {
  it.each(bad)("$name", ({ text, path, line, message }) => {
    const issues = issuesOf(text);
    expect(issues).toEqual([{ path, line, message }]);
    let shown = "";
    try {
      parseConfig(text, FILE);
    } catch (err) {
      shown = (err as Error).message;
    }
    expect(shown).toBe(`invalid config: ${FILE}:${line} ${path}: ${message}`);
  });

  it("every problem of every fault in one pass, sorted by line", () => {
    const issues = issuesOf(
      configText(
        "    faults:",
        "      - {at: 1s, node: stop}",
        "      - {consumer: worker, action: kill}",
        "      - {at: 1s, network: latency}",
      ),
    );
    expect(issues.map((i) => [i.line, i.path])).toEqual([
      [FIRST + 1, "scenarios.s.faults[0].n"],
      [FIRST + 2, "scenarios.s.faults[1].at"],
      [FIRST + 3, "scenarios.s.faults[2].delay"],
    ]);
  });

  it("at may be left out in explore.faults (it is drawn)", () => {
    const s = scenarioOf(
      configText("    explore:", "      faults:", "        - {consumer: worker, action: kill}"),
    );
    expect(s.explore?.faults).toEqual([{ consumer: "worker", action: "kill" }]);
  });
});

describe("configOf(faultOf(x)) is x again, through the schema", () => {
  const one: Array<[string, Record<string, unknown>]> = [
    ["consumer", { at: "2s", consumer: "worker", action: "pause", for: "1500ms" }],
    ["producer", { at: "250ms", producer: "order", action: "crash", for: "1s" }],
    ["broker", { at: "1s", broker: "restart", for: "300ms" }],
    [
      "network",
      {
        at: "1s",
        network: "latency",
        target: "worker",
        delay: "200ms",
        jitter: "50ms",
        for: "3s",
      },
    ],
    ["network bandwidth", { at: "0s", network: "bandwidth", rate: 16_384, for: "2s" }],
    ["node", { at: "500ms", node: "stop", n: 2, for: "5s" }],
  ];

  it.each(one)("%s", (_, written) => {
    const text = configText(
      ...stringify({ faults: [written] })
        .trimEnd()
        .split("\n")
        .map((l) => `    ${l}`),
    );
    const fault = faultOf(scenarioOf(text).faults[0] as never);
    const back = configOf(fault);
    expect(back).toEqual(written);
    // And what configOf wrote parses to the same fault.
    const again = configText(
      ...stringify({ faults: [back] })
        .trimEnd()
        .split("\n")
        .map((l) => `    ${l}`),
    );
    expect(faultOf(scenarioOf(again).faults[0] as never)).toEqual(fault);
  });

  it("a rate given as 16KiB is written back as bytes per second", () => {
    const fault = faultOf(
      scenarioOf(oneFault("at: 1s", "network: bandwidth", "rate: 16KiB")).faults[0] as never,
    );
    expect(configOf(fault)).toEqual({ at: "1s", network: "bandwidth", rate: 16_384 });
  });
});

describe("describeFault: the one line of the log, report and timeline", () => {
  const lines: Array<[Fault, string]> = [
    [{ at: 0, kind: "consumer", consumer: "billing", action: "kill" }, "kill billing"],
    [
      { at: 0, for: 1500, kind: "consumer", consumer: "billing", action: "pause" },
      "pause billing for 1.50 s",
    ],
    [{ at: 0, for: 1500, kind: "consumer", consumer: "billing", action: "cut" }, "cut billing"],
    [
      { at: 0, for: 800, kind: "consumer", consumer: "billing", action: "ack-timeout" },
      "ack-timeout billing for 800 ms",
    ],
    [
      { at: 0, for: 300, kind: "producer", producer: "order", action: "crash" },
      "crash producer order for 300 ms",
    ],
    [{ at: 0, kind: "producer", producer: "order", action: "pause" }, "pause producer order"],
    [{ at: 0, for: 300, kind: "broker", action: "restart" }, "broker restart for 300 ms"],
    [{ at: 0, for: 2000, kind: "broker", action: "block" }, "broker block for 2.00 s"],
    [{ at: 0, for: 2000, kind: "broker", action: "unblock" }, "broker unblock"],
    [
      {
        at: 0,
        for: 3000,
        kind: "network",
        action: "latency",
        target: "billing",
        delayMs: 200,
        jitterMs: 50,
      },
      "network latency 200 ms±50 ms on billing for 3.00 s",
    ],
    [
      { at: 0, for: 10_000, kind: "network", action: "latency", target: "worker", delayMs: 150 },
      "network latency 150 ms on worker for 10.00 s",
    ],
    [
      {
        at: 0,
        for: 1000,
        kind: "network",
        action: "bandwidth",
        target: "all",
        bytesPerSecond: 2048,
      },
      "network bandwidth 2048 B/s on every connection for 1.00 s",
    ],
    [
      { at: 0, for: 800, kind: "network", action: "blackhole", target: "all" },
      "network blackhole on every connection for 800 ms",
    ],
    [
      { at: 0, for: 800, kind: "network", action: "reset", target: "order" },
      "network reset on order",
    ],
    [{ at: 0, kind: "network", action: "cut", target: "worker" }, "network cut on worker"],
    [{ at: 0, for: 3000, kind: "node", action: "stop", node: 1 }, "stop node 1 for 3.00 s"],
    [{ at: 0, for: 3000, kind: "node", action: "start", node: 2 }, "start node 2"],
    [{ at: 0, for: 90_000, kind: "node", action: "stop", node: 3 }, "stop node 3 for 1 min 30 s"],
  ];

  it.each(lines)("%j → %s", (fault, line) => {
    expect(describeFault(fault)).toBe(line);
  });

  it("lasts: which faults end by themselves", () => {
    const lasting = lines.map(([f]) => lasts(f));
    expect(lasting).toEqual([
      false, // kill
      true, // consumer pause
      false, // consumer cut
      true, // ack-timeout
      true, // producer crash
      true, // producer pause
      true, // broker restart
      true, // broker block
      false, // broker unblock
      true, // latency
      true, // latency
      true, // bandwidth
      true, // blackhole
      false, // reset
      false, // cut
      true, // node stop
      false, // node start
      true, // node stop
    ]);
  });
});
