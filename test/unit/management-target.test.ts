/** Where the management API is: derived from the AMQP URL, or given by --api / broker.api. */
import { describe, expect, it } from "vitest";
import { managementTarget } from "../../src/client/management.js";

describe("managementTarget", () => {
  it("derived: the AMQP host, port 15672 (15671 for amqps), the same credentials", () => {
    expect(managementTarget("amqp://app:s%40cret@10.0.0.5:5673/orders", undefined)).toEqual({
      base: "http://10.0.0.5:15672/",
      username: "app",
      password: "s@cret",
      from: "the AMQP URL",
    });
    expect(managementTarget("amqps://rabbit.example:5671", undefined)).toMatchObject({
      base: "https://rabbit.example:15671/",
      username: "guest",
      password: "guest",
    });
  });

  it("given: a scheme is optional, /api is dropped, its own credentials win", () => {
    const amqp = "amqp://app:pw@127.0.0.1:5672";
    expect(managementTarget(amqp, { url: "127.0.0.1:18080", from: "--api" })).toMatchObject({
      base: "http://127.0.0.1:18080/",
      username: "app",
      password: "pw",
      from: "--api",
    });
    expect(
      managementTarget(amqp, { url: "https://ops:x@mgmt.example/rabbit/api", from: "broker.api" }),
    ).toEqual({
      base: "https://mgmt.example/rabbit/",
      username: "ops",
      password: "x",
      from: "broker.api",
    });
  });

  it("not an http(s) URL: a usage error that names where it came from, without the password", () => {
    const amqp = "amqp://127.0.0.1";
    expect(() => managementTarget(amqp, { url: "amqp://u:secret@h:1", from: "--api" })).toThrow(
      "--api must be an http:// or https:// URL",
    );
    expect(() =>
      managementTarget(amqp, { url: "http://u:secret@[bad", from: "broker.api" }),
    ).toThrow("broker.api is not a URL: http://u:***@[bad");
  });
});
