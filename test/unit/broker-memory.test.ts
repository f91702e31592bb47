/**
 * broker/memory.ts: the memory high watermark as RabbitMQ's vm_memory_high_watermark takes
 * it (relative or absolute, with RabbitMQ's units), the memory it is a share of (the machine's,
 * or a lower cgroup limit: v2 and v1 files read through an injected reader, so nothing here
 * depends on this machine), and `--memory-high-watermark`, which must accept exactly what the
 * broker does.
 */
import { describe, expect, it } from "vitest";
import {
  describeBudget,
  formatBytes,
  memoryBudget,
  memoryLimit,
  parseWatermark,
  type ReadText,
  WatermarkError,
} from "../../src/broker/memory.js";
import { brokerCommand, watermarkArg } from "../../src/commands/broker.js";
import { optionsOf, usageErrorOf } from "../helpers/argv.js";

const GiB = 1024 ** 3;

describe("parseWatermark", () => {
  it.each([
    // Fractions: below 1 as a number; with a decimal point as text (1.0 included).
    [0.4, { relative: 0.4 }],
    [0, { relative: 0 }],
    ["0.4", { relative: 0.4 }],
    [".5", { relative: 0.5 }],
    ["1.0", { relative: 1 }],
    ["0", { absolute: 0 }],
    // Whole numbers from 1 are bytes, as the option always took them (1: one byte).
    [1, { absolute: 1 }],
    [1_073_741_824, { absolute: GiB }],
    ["1073741824", { absolute: GiB }],
    // RabbitMQ's units (its own test table): k M G and KiB MiB GiB in 1024s, kB MB GB in 1000s.
    ["10kB", { absolute: 10_000 }],
    ["10MB", { absolute: 10_000_000 }],
    ["10GB", { absolute: 10_000_000_000 }],
    ["10kiB", { absolute: 10_240 }],
    ["10MiB", { absolute: 10_485_760 }],
    ["10GiB", { absolute: 10 * GiB }],
    ["10k", { absolute: 10_240 }],
    ["10M", { absolute: 10_485_760 }],
    ["10G", { absolute: 10 * GiB }],
    ["10KB", { absolute: 10_000 }],
    ["10K", { absolute: 10_240 }],
    ["10m", { absolute: 10_485_760 }],
    ["10Mb", { absolute: 10_000_000 }],
    ["0MB", { absolute: 0 }],
    [" 512MiB ", { absolute: 512 * 1024 ** 2 }],
  ] as const)("%j → %j", (input, expected) => {
    expect(parseWatermark(input)).toEqual(expected);
  });

  it.each([
    // RabbitMQ's own refusals ("10 k"), and what is neither a fraction nor a size.
    "10 k",
    "1.5",
    "2.0",
    "-1",
    "1e9",
    "0.4GB",
    "10TB",
    "10mB",
    "lots",
    "",
    "99999999999999999999GB",
    1.5,
    -0.1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
  ])("refuses %s with a WatermarkError that says what to write", (input) => {
    expect(() => parseWatermark(input)).toThrow(WatermarkError);
    expect(() => parseWatermark(input)).toThrow(/fraction .*0 to 1/);
  });
});

/** A reader over a fake file system: path → contents. */
const files =
  (fs: Record<string, string>): ReadText =>
  (p) =>
    fs[p];

const TOTAL = 16 * GiB;

describe("memoryLimit", () => {
  it("is the machine's memory without cgroup files", () => {
    expect(memoryLimit(files({}), TOTAL)).toEqual({ bytes: TOTAL, source: "system" });
  });

  it("cgroup v2 in a container: the namespace root's memory.max", () => {
    const read = files({
      "/proc/self/cgroup": "0::/\n",
      "/sys/fs/cgroup/memory.max": "2147483648\n",
    });
    expect(memoryLimit(read, TOTAL)).toEqual({ bytes: 2 * GiB, source: "cgroup" });
  });

  it('cgroup v2 "max" means none', () => {
    const read = files({ "/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/memory.max": "max\n" });
    expect(memoryLimit(read, TOTAL)).toEqual({ bytes: TOTAL, source: "system" });
  });

  it("cgroup v2 on a host: the lowest memory.max over the process's cgroup and its ancestors", () => {
    const read = files({
      "/proc/self/cgroup": "0::/user.slice/user-1000.slice/session-2.scope\n",
      "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope/memory.max": "max",
      "/sys/fs/cgroup/user.slice/user-1000.slice/memory.max": "1073741824",
      "/sys/fs/cgroup/user.slice/memory.max": "4294967296",
    });
    expect(memoryLimit(read, TOTAL)).toEqual({ bytes: GiB, source: "cgroup" });
  });

  it("cgroup v1: memory.limit_in_bytes of the memory controller's cgroup", () => {
    const read = files({
      "/proc/self/cgroup": "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n",
      "/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712",
      "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "536870912\n",
    });
    expect(memoryLimit(read, TOTAL)).toEqual({ bytes: 512 * 1024 ** 2, source: "cgroup" });
  });

  it("cgroup v1's page-rounded 2^63 and any limit at or above the machine's memory mean none", () => {
    const read = files({
      "/proc/self/cgroup": "4:memory:/process_api/x\n",
      "/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712",
      "/sys/fs/cgroup/memory/process_api/x/memory.limit_in_bytes": String(TOTAL),
    });
    expect(memoryLimit(read, TOTAL)).toEqual({ bytes: TOTAL, source: "system" });
  });

  it("ignores files it cannot make sense of", () => {
    const read = files({
      "/proc/self/cgroup": "garbage",
      "/sys/fs/cgroup/memory.max": "lots",
      "/sys/fs/cgroup/memory/memory.limit_in_bytes": "0",
    });
    expect(memoryLimit(read, TOTAL)).toEqual({ bytes: TOTAL, source: "system" });
  });
});

describe("memoryBudget", () => {
  const container = { bytes: 2 * GiB, source: "cgroup" } as const;

  it("defaults to 0.4 of the memory available, as RabbitMQ", () => {
    expect(memoryBudget(undefined, container)).toEqual({
      highWatermark: Math.floor(0.4 * 2 * GiB),
      relative: 0.4,
      limit: container,
    });
  });

  it("an absolute watermark above the memory available is capped to it, as RabbitMQ does", () => {
    expect(memoryBudget("4GiB", container).highWatermark).toBe(2 * GiB);
    expect(memoryBudget("512MiB", container).highWatermark).toBe(512 * 1024 ** 2);
  });

  it("says what it is and what it is a share of", () => {
    expect(describeBudget(memoryBudget(undefined, container))).toBe(
      "819 MiB (0.4 of 2 GiB, the cgroup's memory limit)",
    );
    expect(describeBudget(memoryBudget("512MiB", { bytes: TOTAL, source: "system" }))).toBe(
      "512 MiB (of 16 GiB, the machine's memory)",
    );
  });

  it("formats sizes as a person reads them", () => {
    expect([0, 1023, 1024, 1536, 100 * 1024 ** 2, 9.42 * GiB].map(formatBytes)).toEqual([
      "0 bytes",
      "1023 bytes",
      "1 KiB",
      "1.5 KiB",
      "100 MiB",
      "9.42 GiB",
    ]);
  });
});

describe("eventlab broker --memory-high-watermark", () => {
  it("passes a fraction or a size on as written", async () => {
    expect((await optionsOf(brokerCommand, [])).memoryHighWatermark).toBeUndefined();
    for (const v of ["0.4", "1.0", "512MiB", "2GB", "1073741824"]) {
      const o = await optionsOf(brokerCommand, ["--memory-high-watermark", v]);
      expect(o.memoryHighWatermark).toBe(v);
    }
  });

  it("refuses anything else with a usage error that names the flag and what to write", async () => {
    expect(await usageErrorOf(brokerCommand, ["--memory-high-watermark", "1.5"])).toMatch(
      /^error: option '--memory-high-watermark <fraction\|size>' argument '1\.5' is invalid\. Expected a fraction of the memory available from 0 to 1 \(e\.g\. 0\.4, the default\) or a size: .*512MiB/,
    );
  });

  it("accepts exactly what the broker accepts", () => {
    const inputs = [
      "0.4",
      "1.0",
      ".5",
      "0",
      "1",
      "1.5",
      "10 k",
      "10kB",
      "10KiB",
      "10kiB",
      "10KIB",
      "10mB",
      "10Gb",
      "10TB",
      "1e9",
      "-1",
      "x",
      "99999999999999999999GB",
      "9007199254740991",
    ];
    for (const input of inputs) {
      const broker = (() => {
        try {
          parseWatermark(input);
          return true;
        } catch {
          return false;
        }
      })();
      const cli = (() => {
        try {
          watermarkArg(input);
          return true;
        } catch {
          return false;
        }
      })();
      expect(cli, input).toBe(broker);
    }
  });
});
