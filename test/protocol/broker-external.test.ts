/**
 * SASL EXTERNAL in scripted frames: the transport seam carries what a TLS handshake proved
 * (a verified client certificate's common name), so the mechanism list and every refusal are
 * checked without sockets. The user is the certificate's CN and must be one of the broker's
 * users (no password); guest stays loopback-only; everything else is 403 ACCESS_REFUSED.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { TlsPeer } from "../../src/broker/protocol/auth.js";
import { Broker, type BrokerOptions } from "../../src/broker/server.js";
import { duplexPair, TestClient, waitFor } from "./broker-helpers.js";

let broker: Broker | undefined;
const clients: TestClient[] = [];

function connect(options: BrokerOptions, tls: TlsPeer | undefined, loopback = true): TestClient {
  broker ??= new Broker(options);
  const [clientEnd, brokerEnd] = duplexPair();
  broker.accept(brokerEnd, loopback, tls);
  const c = new TestClient(clientEnd);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) if (!c.closed) c.destroy();
  const b = broker;
  broker = undefined;
  if (!b) return;
  try {
    await waitFor(() => b.stats().connections === 0, "no connections left");
  } finally {
    b.shutdown();
  }
  expect(b.stats().connections).toBe(0);
});

const APP = { users: [{ username: "app", password: "s3cret" }] } satisfies BrokerOptions;
const verified = (commonName: string | undefined): TlsPeer => ({
  verifyPeer: true,
  certificate: { commonName },
});
const NO_CERT: TlsPeer = { verifyPeer: true, certificate: undefined };

/** The handshake's start, then a start-ok with EXTERNAL (an empty response, as clients send). */
async function startExternal(c: TestClient): Promise<string[]> {
  c.sendHeader();
  const start = await c.expect("connection.start", 0);
  c.startOk({ mechanism: "EXTERNAL", response: Buffer.alloc(0) });
  return start.args.mechanisms.toString().split(" ");
}

describe("connection.start's mechanisms", () => {
  it("plain: PLAIN AMQPLAIN; TLS with verifyPeer: EXTERNAL added last, with or without a certificate", async () => {
    const cases: [TlsPeer | undefined, string][] = [
      [undefined, "PLAIN AMQPLAIN"],
      [{ verifyPeer: false, certificate: undefined }, "PLAIN AMQPLAIN"],
      [NO_CERT, "PLAIN AMQPLAIN EXTERNAL"],
      [verified("app"), "PLAIN AMQPLAIN EXTERNAL"],
    ];
    for (const [tls, expected] of cases) {
      const c = connect(APP, tls);
      c.sendHeader();
      const start = await c.expect("connection.start", 0);
      expect(start.args.mechanisms.toString(), JSON.stringify(tls)).toBe(expected);
      c.destroy();
    }
  });
});

describe("EXTERNAL", () => {
  it("logs in as the verified certificate's common name, whatever the response", async () => {
    const c = connect(APP, verified("app"));
    await startExternal(c);
    const tune = await c.expect("connection.tune", 0);
    c.sendMethod(0, "connection.tune-ok", { ...tune.args, heartbeat: 0 });
    c.sendMethod(0, "connection.open", { virtualHost: "/" });
    await c.expect("connection.open-ok", 0);
    await c.openChannel(1);
    await c.close();
  });

  it("PLAIN still works on a TLS connection with a certificate, with the password", async () => {
    const c = connect(APP, verified("someone-else"));
    await c.handshake({ username: "app", password: "s3cret" });
    await c.close();
  });

  it.each([
    ["a plain connection", undefined, /EXTERNAL: not a TLS connection/],
    ["TLS without a client certificate", NO_CERT, /EXTERNAL: the client presented no TLS/],
    [
      "TLS where the listener does not ask for certificates",
      { verifyPeer: false, certificate: undefined },
      /EXTERNAL: the client presented no TLS/,
    ],
    ["a certificate without a CN", verified(undefined), /has no common name \(CN\)/],
    [
      "a certificate whose CN is no user",
      verified("mallory"),
      /EXTERNAL: user 'mallory' \(the client certificate's common name\) does not exist$/,
    ],
  ])("is refused with 403 on %s", async (_what, tls, text) => {
    const c = connect(APP, tls);
    await startExternal(c);
    const { replyText } = await c.expectConnectionClose(403);
    expect(replyText).toMatch(
      /^ACCESS_REFUSED - Login was refused using authentication mechanism EXTERNAL/,
    );
    expect(replyText).toMatch(text);
  });

  it("the built-in guest by certificate: from loopback only, as with PLAIN", async () => {
    const local = connect({}, verified("guest"), true);
    await startExternal(local);
    await local.expect("connection.tune", 0);
    local.destroy();
    const remote = connect({}, verified("guest"), false);
    await startExternal(remote);
    const { replyText } = await remote.expectConnectionClose(403);
    expect(replyText).toMatch(/EXTERNAL: user 'guest' can only connect via localhost$/);
  });

  it("a configured user named guest is not loopback-only", async () => {
    const c = connect({ users: [{ username: "guest", password: "x" }] }, verified("guest"), false);
    await startExternal(c);
    await c.expect("connection.tune", 0);
  });

  it("a password mechanism's refusal still does not say why", async () => {
    const c = connect(APP, verified("app"));
    c.sendHeader();
    await c.expect("connection.start", 0);
    c.startOk({ username: "app", password: "wrong" });
    const { replyText } = await c.expectConnectionClose(403);
    expect(replyText).toBe(
      "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.",
    );
  });
});
