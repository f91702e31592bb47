/**
 * `eventlab play` on its embedded broker connects like every other command, through the
 * context's connect (which tests can replace), and the broker it starts announces eventlab's
 * own version to its clients.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Connection, connect } from "../../src/client/connect.js";
import type { ContextDeps } from "../../src/context.js";
import { VERSION } from "../../src/version.js";
import { runCli } from "../helpers/cli.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "eventlab-play-connect-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Seen {
  urls: readonly string[];
  name: string | undefined;
  version: string | undefined;
}

/** The real connect, recording each connection: where to, under which name, to which broker. */
function recordingConnect(seen: Seen[]): NonNullable<ContextDeps["connect"]> {
  return async (urls, options): Promise<Connection> => {
    const c = await connect(urls, options);
    seen.push({
      urls,
      name: options.connectionName,
      version: c.model.connection.serverProperties.version,
    });
    return c;
  };
}

describe("eventlab play on the embedded broker", () => {
  it("opens every connection through the context, to a broker that says eventlab's version", async () => {
    const seen: Seen[] = [];
    const r = await runCli(["play", "work-queue", "--amount", "8", "--seed", "7", "--json"], {
      cwd: dir,
      env: { EVENTLAB_URL: "", EVENTLAB_CONFIG: "" },
      connect: recordingConnect(seen),
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ broker: "embedded", published: 8, lost: 0 });
    // One to set up, one per producer, one per consumer instance (work-queue runs four workers).
    expect(seen.length).toBeGreaterThanOrEqual(5);
    for (const s of seen) {
      expect(s.urls).toHaveLength(1);
      expect(s.urls[0]).toMatch(/^amqp:\/\/guest:guest@127\.0\.0\.1:\d+$/);
      // Named by who uses it, so that the broker's ledger and `why` can tell them apart.
      expect(s.name).toMatch(/^eventlab play( (producer|consumer):[\w.-]+)?$/);
      expect(s.version).toBe(VERSION);
    }
    expect(VERSION).not.toBe("0.0.0");
  });

  it("a round trip of a config's templates connects the same way", async () => {
    await writeFile(
      path.join(dir, "eventlab.config.yaml"),
      `topology:
  queues: { inbox: {} }
templates:
  note: { exchange: "", routingKey: inbox, body: { n: "{{seq}}" }, amount: 3 }
`,
    );
    const seen: Seen[] = [];
    const r = await runCli(["play", "--json"], {
      cwd: dir,
      env: { EVENTLAB_URL: "" },
      connect: recordingConnect(seen),
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      scenario: "round trip of note",
      broker: "embedded",
      published: 3,
      consumed: 3,
      lost: 0,
    });
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.every((s) => s.name?.startsWith("eventlab play") && s.version === VERSION)).toBe(
      true,
    );
    expect(seen.map((s) => s.name)).toContain("eventlab play producer:note");
  });
});
