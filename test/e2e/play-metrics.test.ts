/**
 * `eventlab play --metrics-port 0` as a user runs it (bin/eventlab.cjs, so `npm run build`
 * first): it prints the metrics URL on stderr, the URL serves the playground's counters and
 * latency histogram while the run goes on (scraped and read with the strict 0.0.4 parser),
 * the counters only grow and end at most at the report's figures, and the server is gone
 * when play exits.
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { familiesByName, type ParsedFamily, sampleValue } from "../helpers/prometheus-text.js";
import { within } from "../helpers/wait.js";

const root = path.resolve(import.meta.dirname, "../..");
const bin = path.join(root, "bin/eventlab.cjs");
const children = new Set<ChildProcess>();

afterEach(() => {
  for (const c of children) c.kill("SIGKILL");
  children.clear();
});

function sum(f: ParsedFamily | undefined, name = f?.name): number {
  return (f?.samples ?? []).filter((s) => s.name === name).reduce((n, s) => n + s.value, 0);
}

describe("eventlab play --metrics-port", () => {
  it("serves the run's counters and latency while it runs, and stops with it", async () => {
    const p = spawn(
      process.execPath,
      [bin, "play", "orders", "--seed", "3", "--metrics-port", "0", "--json"],
      {
        cwd: root,
        env: { ...process.env, NO_COLOR: "1", EVENTLAB_URL: "", EVENTLAB_CONFIG: "" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    children.add(p);
    let out = "";
    let err = "";
    p.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    p.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => p.once("exit", (code) => resolve(code)));
    let running = true;
    void exited.then(() => {
      running = false;
    });

    const url = await within(
      new Promise<string>((resolve, reject) => {
        const check = () => {
          const m = /metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(err);
          if (m?.[1]) resolve(m[1]);
        };
        p.stderr?.on("data", check);
        void exited.then((code) =>
          reject(new Error(`play exited with ${code} before its URL: ${err}`)),
        );
      }),
      "the metrics URL on stderr",
      20_000,
    );

    // Scrape while it runs, until the consumers have processed and timed some messages.
    const scrapes: Map<string, ParsedFamily>[] = [];
    const deadline = Date.now() + 30_000;
    for (;;) {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      const f = familiesByName(await res.text());
      scrapes.push(f);
      const latency = f.get("eventlab_delivery_latency_seconds");
      if (
        sum(f.get("eventlab_processed_total")) > 0 &&
        sum(latency, "eventlab_delivery_latency_seconds_count") > 0
      ) {
        break;
      }
      if (!running) throw new Error(`play ended before a scrape saw processed messages: ${err}`);
      if (Date.now() > deadline)
        throw new Error("no processed messages in the metrics within 30 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(running).toBe(true);
    const last = scrapes.at(-1) as Map<string, ParsedFamily>;
    for (const name of [
      "eventlab_published_total",
      "eventlab_confirmed_total",
      "eventlab_processed_total",
      "eventlab_failed_total",
      "eventlab_retried_total",
      "eventlab_duplicates_total",
      "eventlab_lost_total",
    ]) {
      expect([name, last.get(name)?.type]).toEqual([name, "counter"]);
    }
    expect(last.get("eventlab_delivery_latency_seconds")?.type).toBe("histogram");
    const processed = last.get("eventlab_processed_total")?.samples ?? [];
    // One series per consumer of the orders preset, labelled with its queue.
    expect(processed.map((s) => s.labels["consumer"])).toEqual(
      expect.arrayContaining(["inventory-worker", "billing"]),
    );
    for (const s of processed) expect(s.labels["queue"]).toMatch(/\S/);
    // Counters never go down between scrapes.
    const published = scrapes.map((f) => sampleValue(f, "eventlab_published_total"));
    expect(published).toEqual([...published].sort((a, b) => a - b));

    const code = await within(exited, "play to end", 60_000);
    expect(code).toBe(0);
    const report = JSON.parse(out) as { published: number; confirmed: number };
    expect(sampleValue(last, "eventlab_published_total")).toBeLessThanOrEqual(report.published);
    expect(sampleValue(last, "eventlab_confirmed_total")).toBeLessThanOrEqual(report.confirmed);
    // The server closed with the run.
    await expect(fetch(url, { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
  }, 90_000);

  it("refuses a port that is taken, naming it, and leaves nothing running", async () => {
    const { createServer } = await import("node:net");
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const address = taken.address();
    const port = typeof address === "object" && address ? address.port : 0;
    try {
      const p = spawn(process.execPath, [bin, "play", "orders", "--metrics-port", String(port)], {
        cwd: root,
        env: { ...process.env, NO_COLOR: "1", EVENTLAB_URL: "", EVENTLAB_CONFIG: "" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.add(p);
      let err = "";
      p.stderr?.on("data", (d: Buffer) => {
        err += d.toString();
      });
      const code = await within(
        new Promise<number | null>((resolve) => p.once("exit", (c) => resolve(c))),
        "play to exit",
        30_000,
      );
      expect(code).toBe(1);
      expect(err).toContain(`cannot serve metrics on 127.0.0.1:${port}`);
      expect(err).toMatch(/hint: .*--metrics-port/);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  }, 60_000);
});
