/**
 * Broker URLs (percent-encoding, masking) and the mapping of connection and broker
 * errors to one-line messages with hints.
 */
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, connectionError } from "../../src/client/connect.js";
import { brokerError } from "../../src/client/errors.js";
import { maskSecrets, parseBrokerUrl } from "../../src/client/url.js";
import { runCli } from "../helpers/cli.js";

describe("broker URLs", () => {
  it("decodes percent-encoded user, password and vhost", () => {
    const a = parseBrokerUrl(
      "amqp://b%40b:p%40ss%3Aw%2Frd%25%23@127.0.0.1:5673/my%2Fvhost?heartbeat=5",
    );
    expect(a).toMatchObject({
      protocol: "amqp",
      hostname: "127.0.0.1",
      port: 5673,
      username: "b@b",
      password: "p@ss:w/rd%#",
      vhost: "my/vhost",
      query: { heartbeat: "5" },
    });
    expect(a.display).toBe("amqp://b%40b:***@127.0.0.1:5673/my%2Fvhost");
  });

  it("defaults: guest/guest, port 5672 (5671 for amqps), vhost /", () => {
    expect(parseBrokerUrl("amqp://localhost")).toMatchObject({
      username: "guest",
      password: "guest",
      port: 5672,
      vhost: "/",
    });
    expect(parseBrokerUrl("amqps://h").port).toBe(5671);
    expect(parseBrokerUrl("amqp://h/%2F").vhost).toBe("/");
  });

  const bad: Array<[string, RegExp]> = [
    ["not a url", /invalid broker URL not a url/],
    ["http://host", /the scheme must be amqp:\/\/ or amqps:\/\//],
    ["amqp://u:pa#ss@host", /contains '#'/],
    ["amqp://u:100%@host", /the password has a bad %-escape/],
    ["amqp://host/a/b", /the vhost part "a\/b" contains '\/'/],
  ];
  for (const [url, message] of bad) {
    it(`explains ${url}`, () => {
      let error: unknown;
      try {
        parseBrokerUrl(url);
      } catch (e) {
        error = e;
      }
      expect((error as Error).message).toMatch(message);
      expect((error as { hint: string }).hint).toMatch(/percent-encode|for example/);
      expect((error as Error).message).not.toContain("pa#ss");
    });
  }

  it("masks passwords anywhere in a text", () => {
    expect(maskSecrets("cannot reach amqp://bob:s3cret@host:5672 and amqps://x:y@z")).toBe(
      "cannot reach amqp://bob:***@host:5672 and amqps://x:***@z",
    );
  });
});

describe("connection errors", () => {
  const address = parseBrokerUrl("amqp://bob:secret@127.0.0.1:5672/v1");
  const cases: Array<[unknown, string, RegExp, RegExp]> = [
    [
      Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
      "connection",
      /cannot reach amqp:\/\/bob:\*\*\*@127\.0\.0\.1:5672\/v1 \(connection refused\)/,
      /eventlab broker/,
    ],
    [
      Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" }),
      "connection",
      /host 127\.0\.0\.1 not found/,
      /host name/,
    ],
    [new Error("connect ETIMEDOUT"), "timeout", /no answer within 1234 ms/, /host and port/],
    [
      new Error(
        'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused"',
      ),
      "auth",
      /access refused .* wrong user name or password for "bob"/,
      /percent-encode/,
    ],
    [
      new Error("Expected ConnectionOpenOk; got <ConnectionClose channel:0>"),
      "vhost",
      /cannot open vhost "v1" .* does not exist, or user "bob" has no access/,
      /rabbitmqctl add_vhost v1/,
    ],
  ];
  for (const [err, code, message, hint] of cases) {
    it(`${code}: ${message.source.slice(0, 40)}`, () => {
      const e = connectionError(err, address, 1234);
      expect(e.code).toBe(code);
      expect(e.message).toMatch(message);
      expect(e.hint).toMatch(hint);
      expect(`${e.message} ${e.hint}`).not.toContain("secret");
    });
  }
});

describe("broker reply codes", () => {
  const op = (code: number, name: string, text: string) =>
    Object.assign(
      new Error(`Operation failed: QueueDeclare; ${code} (${name}) with message "${text}"`),
      { code },
    );
  it("404 names the object the broker names and suggests the declare", () => {
    const e = brokerError(op(404, "NOT-FOUND", "NOT_FOUND - no queue 'jobs' in vhost '/'"), {
      op: "bind",
      source: "x",
      destination: "jobs",
      destinationKind: "queue",
    });
    expect(e.message).toBe(
      `cannot bind queue "jobs" to exchange "x": queue "jobs" does not exist (404 NOT_FOUND - no queue 'jobs' in vhost '/')`,
    );
    expect(e.hint).toBe("declare it: eventlab declare queue jobs");
  });
  it("405 explains exclusive queues", () => {
    expect(
      brokerError(
        op(
          405,
          "RESOURCE-LOCKED",
          "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'q'",
        ),
        { op: "consume", queue: "q" },
      ).hint,
    ).toMatch(/exclusive queue belongs to the connection that declared it/);
  });
  it("403 on amq. names says they are reserved", () => {
    expect(
      brokerError(
        op(
          403,
          "ACCESS-REFUSED",
          "ACCESS_REFUSED - queue name 'amq.x' contains reserved prefix 'amq.*'",
        ),
        { op: "declare", kind: "queue", name: "amq.x" },
      ).hint,
    ).toMatch(/reserved/);
  });
  it("quotes names that need it in hints", () => {
    expect(
      brokerError(op(404, "NOT-FOUND", "NOT_FOUND - no exchange 'my ex' in vhost '/'")).hint,
    ).toBe("declare it: eventlab declare exchange 'my ex' --type topic");
  });
});

describe("a server that accepts but never answers", () => {
  let server: Server;
  let port = 0;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    server = createServer((s) => {
      sockets.push(s);
      s.on("error", () => {});
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("times out with a clear error", async () => {
    const started = Date.now();
    await expect(connect([`amqp://127.0.0.1:${port}`], { timeoutMs: 300 })).rejects.toMatchObject({
      code: "timeout",
      message: `cannot connect to amqp://127.0.0.1:${port}: the port accepted the connection but did not answer the AMQP 0-9-1 greeting within 300 ms`,
    });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("the config's connectTimeout reaches the connection", async () => {
    const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const path = await import("node:path");
    const dir = await mkdtemp(path.join(tmpdir(), "eventlab-timeout-"));
    await writeFile(
      path.join(dir, "eventlab.config.yaml"),
      `broker:\n  url: amqp://127.0.0.1:${port}\n  connectTimeout: 250ms\n`,
    );
    const r = await runCli(["consume", "q"], { cwd: dir });
    await rm(dir, { recursive: true, force: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `error: cannot connect to amqp://127.0.0.1:${port}: the port accepted the connection but did not answer the AMQP 0-9-1 greeting within 250 ms`,
    );
  });
});
