/**
 * `eventlab play --record FILE`, then `eventlab why <id> --from FILE`: a job of the retries
 * preset that failed three times (rejected, through two TTL retry queues, then parked) is
 * told hop by hop, in the order of the broker's own ledger in the record.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { MessageEvent } from "../../src/broker/index.js";
import { runCli } from "../helpers/cli.js";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "eventlab-record-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What `why` says for each kind of event, at the start of its line (after time and who). */
const SAYS: Record<string, RegExp> = {
  published: /\bpublished (again \(retry \d+\) )?to /,
  routed: /\brouted to /,
  enqueued: /\benqueued in /,
  delivered: /\bdelivered from /,
  rejected: /\brejected in /,
  acked: /\backed in /,
  expired: /\bexpired in /,
  "dead-lettered": /\bdead-lettered from /,
};

it("play --record writes the ledger; why tells a parked job's every hop in the ledger's order", async () => {
  const file = path.join(dir, "retries.ndjson");
  const played = await runCli(["play", "retries", "--seed", "3", "--record", file, "--json"], {
    cwd: dir,
    env: { EVENTLAB_URL: "", EVENTLAB_CONFIG: "" },
    signal: AbortSignal.timeout(60_000),
  });
  expect(played.code, played.stderr).toBe(0);
  const lines = (await readFile(file, "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  expect(lines[0]).toMatchObject({ type: "run", scenario: "retries" });
  const events = lines.filter((l) => l.type === "event") as MessageEvent[];
  const byId = new Map<string, MessageEvent[]>();
  for (const e of events) byId.set(e.id, [...(byId.get(e.id) ?? []), e]);
  // A job rejected three times: retried through jobs.retry.1s and jobs.retry.5s, then parked.
  const parked = [...byId.entries()].find(
    ([, es]) => es.at(-1)?.kind === "enqueued" && es.at(-1)?.queue === "jobs.parking-lot",
  );
  expect(parked, "a parked job in the record").toBeDefined();
  const [id, ledger] = parked as [string, MessageEvent[]];
  expect(ledger.filter((e) => e.kind === "rejected")).toHaveLength(3);
  expect(ledger.filter((e) => e.kind === "expired").map((e) => e.queue)).toEqual([
    "jobs.retry.1s",
    "jobs.retry.5s",
  ]);

  const why = await runCli(["why", id, "--from", file], { cwd: dir });
  expect(why.code, why.stderr).toBe(0);
  const told = why.stdout
    .split("\n")
    .slice(1)
    .flatMap((line) => {
      const kind = Object.entries(SAYS).find(([, re]) => re.test(line))?.[0];
      return kind ? [kind] : [];
    });
  expect(told).toEqual(ledger.map((e) => e.kind));
  expect(why.stdout.split("\n")[0]).toContain(`message '${id}': ${ledger.length} events`);
  // Each routing hop says which binding took it.
  expect(why.stdout).toContain("jobs.parking-lot: jobs.retry binding 'job.retry.2'");
  expect(why.stdout).toContain("consumer:flaky-worker");

  const mermaid = await runCli(["why", id, "--from", file, "--mermaid"], { cwd: dir });
  expect(mermaid.stdout.split("\n")[0]).toBe("sequenceDiagram");
  expect(mermaid.stdout).toContain("participant");
  expect(mermaid.stdout.match(/dead-letter \(rejected\)/g)).toHaveLength(3);
}, 90_000);
