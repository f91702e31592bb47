/**
 * `eventlab route --url` needs the embedded broker's live state; RabbitMQ cannot list
 * bindings over AMQP, and eventlab says so instead of guessing.
 */
import { describe, expect, it } from "vitest";
import { RABBITMQ_URL, runCli } from "../helpers/cli.js";

describe.skipIf(!RABBITMQ_URL)("eventlab route --url against RabbitMQ", () => {
  it("explains that RabbitMQ cannot answer, and what to do instead", async () => {
    const r = await runCli(["--url", RABBITMQ_URL as string, "route", "amq.topic", "a.b"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "is not eventlab's embedded broker: it cannot answer routing questions",
    );
    expect(r.stderr).toContain("run `eventlab route` without --url");
    expect(r.stderr).not.toContain("guest:guest@");
  });
});
