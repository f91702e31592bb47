/**
 * `eventlab bench` with small counts, as a person runs it: the same suite for the embedded
 * broker (bench's default) and for RabbitMQ (--url, queues named by --queue-pattern and
 * deleted afterwards). Counts must add up with nothing missing or duplicated; the JSON, CSV
 * and HTML reports must parse (the HTML in headless Chromium when it is installed).
 * No assertion here is about speed.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import amqp from "amqplib";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CSV_HEADER } from "../../src/lab/bench/report.js";
import { runCli, uniqueName } from "./cli.js";
import { within } from "./wait.js";

export interface BenchTarget {
  /** A broker URL, or undefined: bench starts its embedded broker. */
  url: string | undefined;
}

const CHROMIUM = process.env["EVENTLAB_CHROMIUM"] ?? "/usr/bin/chromium";
const inCi =
  process.env["CI"] !== undefined && process.env["CI"] !== "" && process.env["CI"] !== "false";
/** In CI the browser must be there; elsewhere its absence skips the browser check. */
const haveBrowser = existsSync(CHROMIUM) || inCi;

interface Report {
  kind: string;
  totals: {
    sent: number;
    confirmed: number;
    nacked: number;
    received: number;
    missing: number | null;
    duplicated: number;
  };
  rates: { sentPerSecond: number; receivedPerSecond: number };
  latencyMs: { count: number; p50: number; p99: number; max: number } | null;
  confirmLatencyMs: { count: number } | null;
  percentiles: { latency: Array<{ percentile: number; ms: number }> };
  seconds: Array<{ second: number }>;
  settings: { queues: string[] };
}

export function benchTests(target: () => BenchTarget, prefix: string): void {
  let dir: string;
  /** Queues this suite named (RabbitMQ): deleted afterwards. */
  const named: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), `eventlab-bench-${prefix}-`));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    const url = target().url;
    if (url === undefined || named.length === 0) return;
    const conn = await amqp.connect(url);
    try {
      const ch = await conn.createChannel();
      for (const q of named) await ch.deleteQueue(q);
      await ch.close();
    } finally {
      await conn.close();
    }
  });

  /** Run bench against the target; on RabbitMQ with queues of this suite's own names. */
  const bench = (args: string[], queues = 1, cwd?: string) => {
    const url = target().url;
    const extra: string[] = [];
    if (url !== undefined) {
      const pattern = `${uniqueName(`${prefix}.bench`)}.%d`;
      for (let i = 1; i <= queues; i++) named.push(pattern.replace("%d", String(i)));
      extra.push("--queue-pattern", pattern);
    }
    return runCli([...(url ? ["--url", url] : []), "bench", ...args, ...extra], {
      env: { ...process.env, NO_COLOR: "1", EVENTLAB_URL: "", EVENTLAB_CONFIG: "" },
      ...(cwd ? { cwd } : {}),
    });
  };
  const parse = (stdout: string): Report => JSON.parse(stdout) as Report;

  it("2 producers and 2 consumers with confirms: the counts add up; JSON, CSV and HTML are written", async () => {
    const csv = path.join(dir, "run.csv");
    const html = path.join(dir, "run.html");
    const r = await bench([
      "-x",
      "2",
      "-y",
      "2",
      "--pmessages",
      "2000",
      "--confirm",
      "100",
      "--json",
      "--csv",
      csv,
      "--html",
      html,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = parse(r.stdout);
    expect(report.kind).toBe("eventlab-bench");
    expect(report.totals).toMatchObject({
      sent: 4000,
      confirmed: 4000,
      nacked: 0,
      received: 4000,
      missing: 0,
      duplicated: 0,
    });
    expect(report.latencyMs?.count).toBe(4000);
    expect(report.confirmLatencyMs?.count).toBe(4000);
    expect(report.latencyMs?.p50).toBeLessThanOrEqual(report.latencyMs?.p99 ?? -1);
    expect(report.percentiles.latency.length).toBeGreaterThan(5);

    const lines = (await readFile(csv, "utf8")).trim().split("\n");
    expect(lines[0]).toBe(CSV_HEADER);
    expect(lines.length - 1).toBe(report.seconds.length);
    for (const row of lines.slice(1)) {
      const cells = row.split(",");
      expect(cells).toHaveLength(CSV_HEADER.split(",").length);
      expect(cells.slice(0, 4).every((c) => Number.isFinite(Number(c)))).toBe(true);
    }

    const page = await readFile(html, "utf8");
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).not.toMatch(/<script[^>]+src=|<link[^>]+href=/); // nothing fetched: works offline
    if (haveBrowser) await expectPlotsRender(html);
  }, 90_000);

  it("several queues, prefetch and multi-ack: every message arrives once", async () => {
    const r = await bench(
      [
        "--queues",
        "2",
        "-x",
        "2",
        "-y",
        "2",
        "--pmessages",
        "1000",
        "--prefetch",
        "100",
        "--multi-ack",
        "10",
        "--json",
      ],
      2,
    );
    expect(r.code, r.stderr).toBe(0);
    const report = parse(r.stdout);
    expect(report.settings.queues).toHaveLength(2);
    expect(report.totals).toMatchObject({ sent: 2000, received: 2000, missing: 0, duplicated: 0 });
  }, 60_000);

  it("a paced run prints a line per second with latency percentiles and never runs ahead of its rate", async () => {
    const r = await bench(["--rate", "400", "--duration", "2s", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^\s+1s\s+sent\s+[\d,]+\/s\s+received\s+[\d,]+\/s\s+latency ms p50 [\d.]+ p75 [\d.]+ p95 [\d.]+ p99 [\d.]+ max [\d.]+$/m,
    );
    const report = parse(r.stdout);
    // Due times are absolute: 2 s at 400/s is at most 800 messages, however the timers fire.
    expect(report.totals.sent).toBeGreaterThan(0);
    expect(report.totals.sent).toBeLessThanOrEqual(800);
    expect(report.totals.received).toBe(report.totals.sent);
    expect(report.totals.missing).toBe(0);
  }, 60_000);

  it("--template sends a template's bodies (the stamp in a header) and --cmessages stops consumers", async () => {
    const cwd = await mkdtemp(path.join(dir, "tpl-"));
    await writeFile(
      path.join(cwd, "eventlab.config.yaml"),
      [
        "templates:",
        "  order:",
        "    exchange: ''",
        "    routingKey: unused",
        "    body:",
        '      id: "{{uuid}}"',
        '      qty: "{{int 1 5}}"',
        "",
      ].join("\n"),
    );
    const r = await bench(
      ["--template", "order", "--pmessages", "500", "--cmessages", "500", "--json"],
      1,
      cwd,
    );
    expect(r.code, r.stderr).toBe(0);
    const report = parse(r.stdout);
    expect(report.totals).toMatchObject({ sent: 500, received: 500, duplicated: 0, missing: null });

    const unknown = await bench(["--template", "nope", "--pmessages", "1"], 1, cwd);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("--template nope: no such template");
    expect(unknown.stderr).toContain("templates: order");
  }, 60_000);

  it("quorum and stream queues with confirms and persistent messages", async () => {
    for (const type of ["quorum", "stream"]) {
      const r = await bench([
        "--queue-type",
        type,
        "--persistent",
        "--confirm",
        "50",
        "--pmessages",
        "500",
        "--json",
      ]);
      expect(r.code, `${type}: ${r.stderr}`).toBe(0);
      expect(parse(r.stdout).totals).toMatchObject({
        sent: 500,
        confirmed: 500,
        received: 500,
        missing: 0,
        duplicated: 0,
      });
    }
  }, 90_000);

  it("--compare shows two runs side by side with their ratios", async () => {
    const files: string[] = [];
    for (const name of ["a", "b"]) {
      const r = await bench(["--pmessages", "500", "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const file = path.join(dir, `${name}.json`);
      await writeFile(file, r.stdout);
      files.push(file);
    }
    const text = await runCli(["bench", "--compare", ...files]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^\s+a\.json\s+b\.json\s+b ÷ a$/m);
    expect(text.stdout).toMatch(/^sent msg\/s\s+[\d,.]+\s+[\d,.]+\s+[\d.]+×$/m);
    expect(text.stdout).toMatch(/^latency p99 ms\s+/m);
    const json = await runCli(["bench", "--compare", ...files, "--json"]);
    const rows = (JSON.parse(json.stdout) as { rows: Array<{ figure: string; ratio: number }> })
      .rows;
    const sent = rows.find((row) => row.figure === "sent msg/s");
    expect(sent?.ratio).toBeGreaterThan(0);
  }, 60_000);
}

/** Open the report in headless Chromium: three plots drawn on canvases, no page errors. */
async function expectPlotsRender(file: string): Promise<void> {
  const { chromium } = await import("playwright-core");
  const profile = await mkdtemp(path.join(tmpdir(), "eventlab-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
    timeout: 30_000,
  });
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    // Offline: any request that leaves the file fails the check.
    const requests: string[] = [];
    page.on("request", (req) => {
      if (!req.url().startsWith("file:")) requests.push(req.url());
    });
    await page.goto(pathToFileURL(file).href, { timeout: 20_000 });
    await within(
      page.waitForFunction(() => document.querySelectorAll("canvas").length >= 3, undefined, {
        timeout: 15_000,
      }),
      "three plots on the page",
      20_000,
    );
    const sizes = await page.$$eval("canvas", (cs) =>
      cs.map((c) => (c as HTMLCanvasElement).width * (c as HTMLCanvasElement).height),
    );
    expect(sizes.every((s) => s > 0)).toBe(true);
    expect(await page.locator(".u-legend").count()).toBeGreaterThanOrEqual(3);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}
