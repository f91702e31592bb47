/**
 * RabbitMQ tier: what a person sees for wrong credentials, an unknown vhost, and a
 * password full of special characters (percent-encoded in the URL).
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseBrokerUrl } from "../../src/client/url.js";
import { RABBITMQ_URL, runCli, uniqueName } from "../helpers/cli.js";

const url = RABBITMQ_URL ?? "";

function hasRabbitmqctl(): boolean {
  try {
    execFileSync("rabbitmqctl", ["--help"], { stdio: "ignore", timeout: 10_000 });
    return true;
  } catch (err) {
    // `rabbitmqctl --help` exits 64 but exists; ENOENT means it is not installed.
    return (err as NodeJS.ErrnoException).code !== "ENOENT";
  }
}

describe.skipIf(!RABBITMQ_URL)("connection errors against RabbitMQ", () => {
  const a = RABBITMQ_URL ? parseBrokerUrl(url) : undefined;
  const base = a ? `${a.protocol}://${a.hostname}:${a.port}` : "";

  it("wrong password: one line, the password masked, a hint about credentials", async () => {
    const r = await runCli([
      "consume",
      "q",
      "--url",
      `amqp://guest:not-the-password@${a?.hostname}:${a?.port}`,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `error: access refused by amqp://guest:***@${a?.hostname}:${a?.port}: wrong user name or password for "guest"`,
    );
    expect(r.stderr).toMatch(/hint: check the credentials in the URL/);
    expect(r.stderr).not.toContain("not-the-password");
    expect(r.stderr.trim().split("\n")).toHaveLength(2);
  });

  it("amqps:// to RabbitMQ's plain AMQP port: says the port speaks plain AMQP", async () => {
    const r = await runCli(["consume", "q", "--url", `amqps://${a?.hostname}:${a?.port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `error: cannot connect to amqps://${a?.hostname}:${a?.port}: the port speaks plain AMQP, not TLS`,
    );
    expect(r.stderr).toMatch(/hint: use amqp:\/\//);
  });

  it("unknown vhost: names it and says how to create it", async () => {
    const vhost = uniqueName("vhost");
    const r = await runCli([
      "produce",
      "--url",
      `${base.replace("://", "://guest:guest@")}/${vhost}`,
      "--key",
      "q",
      "--body",
      "x",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: cannot open vhost "${vhost}"`);
    expect(r.stderr).toContain(`rabbitmqctl add_vhost ${vhost}`);
  });

  describe.skipIf(!hasRabbitmqctl())("a password with special characters", () => {
    const user = uniqueName("user");
    const password = "p@ss:w/rd%#?&x";
    beforeAll(() => {
      execFileSync("rabbitmqctl", ["add_user", user, password], {
        stdio: "ignore",
        timeout: 30_000,
      });
      execFileSync("rabbitmqctl", ["set_permissions", "-p", "/", user, ".*", ".*", ".*"], {
        stdio: "ignore",
        timeout: 30_000,
      });
    });
    afterAll(() => {
      execFileSync("rabbitmqctl", ["delete_user", user], { stdio: "ignore", timeout: 30_000 });
    });

    it("works when percent-encoded", async () => {
      const encoded = `amqp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${a?.hostname}:${a?.port}`;
      const r = await runCli([
        "produce",
        "--url",
        encoded,
        "--exchange",
        "amq.topic",
        "--key",
        "nobody.listens",
        "--body",
        "x",
        "--no-mandatory",
        "--json",
      ]);
      expect(r.stderr).toBe("");
      expect(JSON.parse(r.stdout)).toMatchObject({ published: 1, confirmed: 1 });
    });

    it("unencoded, the error explains percent-encoding and never shows the password", async () => {
      const raw = `amqp://${user}:${password}@${a?.hostname}:${a?.port}`;
      const r = await runCli(["produce", "--url", raw, "--key", "q", "--body", "x"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/percent-encode special characters/);
      expect(r.stderr).not.toContain("w/rd");
    });
  });
});
