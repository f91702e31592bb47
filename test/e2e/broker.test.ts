/**
 * `eventlab broker` run in-process: its flags become the run's options, it listens on the port
 * it is given (0 here), prints its URL, serves clients, and on Ctrl-C (the abort signal)
 * stops and says what it dropped. Every wait is bounded.
 */
import { createServer } from "node:net";
import amqp from "amqplib";
import { describe, expect, it, vi } from "vitest";
import { brokerCommand } from "../../src/commands/broker.js";
import { optionsOf, usageErrorOf } from "../helpers/argv.js";
import { startCli } from "../helpers/cli.js";

const WAIT = { timeout: 5000, interval: 10 } as const;

describe("broker argv", () => {
  it("defaults: 127.0.0.1:5672, guest only, the broker's own limits", async () => {
    expect(await optionsOf(brokerCommand, [])).toEqual({
      host: "127.0.0.1",
      port: 5672,
      users: [],
      maxMessageSize: undefined,
      heartbeat: undefined,
      trace: false,
      web: { web: false, webPort: 0, open: true },
      json: false,
    });
  });

  it("maps every flag; --user is repeatable and splits at the first colon", async () => {
    // biome-ignore format: one flag a line reads best
    const o = await optionsOf(brokerCommand, [
      "--host", "0.0.0.0",
      "--port", "0",
      "--user", "app:s3:cret",
      "--user", "ops:pw",
      "--max-message-size", "1024",
      "--heartbeat", "0",
      "--trace",
      "--http-port", "0",
      "--web",
      "--web-port", "0",
      "--no-open",
      "--json",
    ]);
    expect(o).toEqual({
      host: "0.0.0.0",
      port: 0,
      users: [
        { username: "app", password: "s3:cret" },
        { username: "ops", password: "pw" },
      ],
      maxMessageSize: 1024,
      heartbeat: 0,
      trace: true,
      httpPort: 0,
      web: { web: true, webPort: 0, open: false },
      json: true,
    });
  });

  it("bad values are usage errors that name the flag", async () => {
    expect(await usageErrorOf(brokerCommand, ["--user", "nopassword"])).toBe(
      "error: option '--user <name:password>' argument 'nopassword' is invalid. Expected name:password, for example --user app:s3cret.\n",
    );
    expect(await usageErrorOf(brokerCommand, ["--port", "65536"])).toBe(
      "error: option '-p, --port <port>' argument '65536' is invalid. Expected a whole number from 0 to 65535.\n",
    );
    expect(await usageErrorOf(brokerCommand, ["--max-message-size", "0"])).toMatch(
      /^error: option '--max-message-size <bytes>' argument '0' is invalid/,
    );
    expect(await usageErrorOf(brokerCommand, ["--heartbeat", "-1"])).toMatch(
      /^error: option '--heartbeat <seconds>' argument '-1' is invalid/,
    );
  });
});

/** `eventlab <argv>` in-process, with its output readable while it runs. */
const start = (argv: string[]) => startCli(argv);

describe("eventlab broker", () => {
  it("prints its URL as JSON, serves a client, and reports on Ctrl-C", async () => {
    const b = start(["broker", "--port", "0", "--json"]);
    try {
      const ready = await vi.waitFor(() => {
        const line = b.stdout.text().split("\n")[0] ?? "";
        expect(line).toMatch(/^\{/);
        return JSON.parse(line) as { url: string; host: string; port: number };
      }, WAIT);
      expect(ready.host).toBe("127.0.0.1");
      expect(ready.port).toBeGreaterThan(0);
      expect(ready.url).toBe(`amqp://guest:guest@127.0.0.1:${ready.port}`);
      const conn = await amqp.connect(ready.url);
      const ch = await conn.createChannel();
      const { queue } = await ch.assertQueue("", { exclusive: true });
      ch.sendToQueue(queue, Buffer.from("hello"));
      expect((await ch.checkQueue(queue)).messageCount).toBe(1);
      await conn.close();
    } finally {
      b.stop();
    }
    expect(await b.exited).toBe(0);
    const stopped = JSON.parse(b.stdout.text().trim().split("\n")[1] ?? "{}");
    expect(stopped).toMatchObject({ stopped: true, published: 1 });
    expect(b.stderr.text()).toContain("embedded broker listening on amqp://guest:guest@127.0.0.1:");
    expect(b.stderr.text()).toMatch(
      /broker stopped: 1 published, 0 delivered, \d+ messages dropped/,
    );
  });

  it("a password given with --user is not printed", async () => {
    const b = start(["broker", "--port", "0", "--user", "app:s3cret"]);
    try {
      await vi.waitFor(() => expect(b.stdout.text()).toMatch(/\n$/), WAIT);
    } finally {
      b.stop();
    }
    expect(await b.exited).toBe(0);
    expect(b.stdout.text()).toMatch(/^amqp:\/\/app:\*+@127\.0\.0\.1:\d+\n$/);
    expect(b.stdout.text() + b.stderr.text()).not.toContain("s3cret");
  });

  it("a port in use: a clear error that suggests --port 0", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as { port: number };
    try {
      const b = start(["broker", "--port", String(port)]);
      expect(await b.exited).toBe(1);
      expect(b.stderr.text()).toContain(`error: port ${port} on 127.0.0.1 is already in use`);
      expect(b.stderr.text()).toContain("--port 0");
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
