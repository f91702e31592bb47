/**
 * `eventlab bench` on its default, the embedded broker (started by bench on a thread of its
 * own), and the usage errors of its flags.
 */
import { describe, expect, it } from "vitest";
import { benchTests } from "../helpers/bench-suite.js";
import { runCli } from "../helpers/cli.js";

describe("eventlab bench on the embedded broker", () => {
  benchTests(() => ({ url: undefined }), "emb");

  it("runs with the clients and the broker on the main thread too", async () => {
    const r = await runCli(
      [
        "bench",
        "--threads",
        "0",
        "--embedded",
        "main",
        "--pmessages",
        "300",
        "--confirm",
        "10",
        "--json",
      ],
      { env: { NO_COLOR: "1" } },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("on the main thread, broker embedded (main thread)");
    const report = JSON.parse(r.stdout) as { totals: Record<string, unknown> };
    expect(report.totals).toMatchObject({ sent: 300, confirmed: 300, received: 300, missing: 0 });
  }, 60_000);

  it("prints a summary a person reads", async () => {
    const r = await runCli(["bench", "--pmessages", "200", "--confirm", "10"], {
      env: { NO_COLOR: "1" },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^sent\s+200\s+/m);
    expect(r.stdout).toMatch(/^received\s+200\s+/m);
    expect(r.stdout).toMatch(/^missing\s+0$/m);
    expect(r.stdout).toMatch(/^latency ms \(pub → recv\)(\s+[\d.]+){7}$/m);
    expect(r.stdout).toMatch(/^confirm ms \(pub → ack\)(\s+[\d.]+){7}$/m);
  }, 60_000);

  it.each([
    [["--size", "-1"], "--size"],
    [["--queue-type", "foo"], "--queue-type"],
    [["--producers", "x"], "--producers"],
    [["--rate", "0"], "--rate"],
    [["--duration", "0s"], "--duration"],
    [["--queue-pattern", "perf"], "--queue-pattern"],
    [["--prefetch", "5", "--multi-ack", "10"], "--multi-ack 10 is above --prefetch 5"],
    [["--queues", "3", "--consumers", "2"], "--consumers 2 is fewer than --queues 3"],
    [["--size", "10", "--template", "t"], "give either --size or --template"],
    [["--autoack", "--queue-type", "stream"], "--autoack does not go with --queue-type stream"],
    [["-x", "0", "-y", "0"], "nothing to run"],
    [["--compare", "one.json"], "--compare takes two files"],
    [["--compare", "no-such-a.json", "no-such-b.json"], "--compare: cannot read"],
  ])("bench %j is a usage error naming the flag", async (args, text) => {
    const r = await runCli(["bench", ...args], { env: { NO_COLOR: "1" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(text);
    expect(r.stderr).toMatch(/^hint: /m);
    expect(r.stdout).toBe("");
  });

  it("--help lists PerfTest's flags and examples", async () => {
    const r = await runCli(["bench", "--help"]);
    expect(r.code).toBe(0);
    for (const flag of [
      "--producers",
      "--consumers",
      "--queue-pattern",
      "--confirm",
      "--multi-ack",
      "--cmessages",
      "--html",
    ])
      expect(r.stdout).toContain(flag);
    expect(r.stdout).toContain("Examples:");
  });
});
