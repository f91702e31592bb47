/**
 * One broker state, built over AMQP (amqplib) and over the management API, and the management
 * API requests whose responses are compared between RabbitMQ and the embedded broker
 * (test/e2e/management-shapes, test/rabbitmq/management-shapes). RabbitMQ's responses are kept
 * in test/fixtures/management/rabbitmq-3.10/<request name>.json.
 *
 * The state: a durable topic exchange shape.orders, a headers exchange shape.headers (made
 * through the API), an exchange-to-exchange binding between them, a classic queue
 * shape.inventory with x-message-ttl and x-dead-letter-exchange, a quorum queue shape.audit,
 * a classic queue shape.parked made through the API, bindings with keys and with x-match
 * headers, four messages published with confirms of which the consumer (prefetch 1, manual
 * acks, tag shape-consumer) holds one unacked: shape.inventory has 3 ready and 1 unacked,
 * shape.audit 4 ready. Two connections with client-provided names: shape-producer (one
 * channel, confirms) and shape-consumer (one channel, prefetch 1).
 */
import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import amqp, { type ChannelModel } from "amqplib";
import { within } from "./wait.js";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface ShapeRequest {
  /** File name of the recording and key in the comparison. */
  name: string;
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Under the API's base URL, e.g. "api/overview". */
  path: string;
  /** A JSON value, or a raw string sent as it is (the bad-JSON case). */
  body?: Json | { raw: string };
  /** Basic auth other than guest:guest. */
  credentials?: string;
  /**
   * rabbitmqadmin's arguments (after host, port and credentials) that send exactly this request;
   * "{file}" stands for a temporary file. Checked by recording what the script sends.
   */
  rabbitmqadmin?: string[];
}

export interface Recorded {
  request: { method: string; path: string; body?: Json | { raw: string } };
  status: number;
  body: Json;
}

export type Recording = Record<string, Recorded>;

const V = "%2F";

/** Made while building the state; recorded too (status and body of a create). */
export const SETUP_REQUESTS: ShapeRequest[] = [
  {
    // JSON booleans, as most clients (Terraform, HTTP libraries) send them
    name: "create-exchange",
    method: "PUT",
    path: `api/exchanges/${V}/shape.headers`,
    body: { type: "headers", durable: true, auto_delete: false, internal: false, arguments: {} },
  },
  {
    // rabbitmqadmin's body: booleans as strings, name and vhost repeated
    name: "create-queue",
    method: "PUT",
    path: `api/queues/${V}/shape.parked`,
    body: {
      auto_delete: "false",
      durable: "true",
      arguments: { "x-max-length": 100 },
      name: "shape.parked",
      vhost: "/",
    },
    rabbitmqadmin: ["declare", "queue", "name=shape.parked", 'arguments={"x-max-length":100}'],
  },
  {
    name: "create-binding",
    method: "POST",
    path: `api/bindings/${V}/e/shape.headers/q/shape.audit`,
    body: {
      destination_type: "queue",
      routing_key: "",
      arguments: { "x-match": "any", region: "eu", priority: "high" },
      source: "shape.headers",
      destination: "shape.audit",
      vhost: "/",
    },
    rabbitmqadmin: [
      "declare",
      "binding",
      "source=shape.headers",
      "destination=shape.audit",
      'arguments={"x-match":"any","region":"eu","priority":"high"}',
    ],
  },
];

/** Read-only requests, answered for the settled state. */
export const READ_REQUESTS: ShapeRequest[] = [
  { name: "overview", method: "GET", path: "api/overview" },
  { name: "whoami", method: "GET", path: "api/whoami" },
  { name: "vhosts", method: "GET", path: "api/vhosts" },
  { name: "vhost", method: "GET", path: `api/vhosts/${V}` },
  { name: "healthchecks-node", method: "GET", path: "api/healthchecks/node" },
  { name: "queues", method: "GET", path: "api/queues" },
  { name: "queues-vhost", method: "GET", path: `api/queues/${V}` },
  { name: "queue", method: "GET", path: `api/queues/${V}/shape.inventory` },
  { name: "queue-quorum", method: "GET", path: `api/queues/${V}/shape.audit` },
  { name: "exchanges", method: "GET", path: "api/exchanges" },
  { name: "exchange", method: "GET", path: `api/exchanges/${V}/shape.orders` },
  { name: "bindings", method: "GET", path: "api/bindings" },
  {
    name: "exchange-bindings-source",
    method: "GET",
    path: `api/exchanges/${V}/shape.orders/bindings/source`,
  },
  {
    name: "exchange-bindings-destination",
    method: "GET",
    path: `api/exchanges/${V}/shape.headers/bindings/destination`,
  },
  { name: "queue-bindings", method: "GET", path: `api/queues/${V}/shape.inventory/bindings` },
  {
    name: "bindings-between",
    method: "GET",
    path: `api/bindings/${V}/e/shape.headers/q/shape.audit`,
  },
  { name: "connections", method: "GET", path: "api/connections" },
  { name: "channels", method: "GET", path: "api/channels" },
  {
    name: "consumers",
    method: "GET",
    path: "api/consumers",
    rabbitmqadmin: ["list", "consumers"],
  },
  {
    name: "definitions",
    method: "GET",
    path: "api/definitions",
    rabbitmqadmin: ["export", "{file}"],
  },
  { name: "nodes", method: "GET", path: "api/nodes" },
  // What rabbitmqadmin's list/show commands send: default columns as ?columns=
  {
    name: "admin-list-queues",
    method: "GET",
    path: "api/queues?columns=name,messages",
    rabbitmqadmin: ["list", "queues"],
  },
  {
    name: "admin-list-exchanges",
    method: "GET",
    path: "api/exchanges?columns=name,type",
    rabbitmqadmin: ["list", "exchanges"],
  },
  {
    name: "admin-list-bindings",
    method: "GET",
    path: "api/bindings?columns=source,destination,routing_key",
    rabbitmqadmin: ["list", "bindings"],
  },
  {
    name: "admin-list-connections",
    method: "GET",
    path: "api/connections?columns=name,user,channels",
    rabbitmqadmin: ["list", "connections"],
  },
  {
    name: "admin-list-channels",
    method: "GET",
    path: "api/channels?columns=name,user",
    rabbitmqadmin: ["list", "channels"],
  },
  {
    name: "admin-list-vhosts",
    method: "GET",
    path: "api/vhosts?columns=name,messages",
    rabbitmqadmin: ["list", "vhosts"],
  },
  {
    name: "admin-list-nodes",
    method: "GET",
    path: "api/nodes?columns=name,type,mem_used",
    rabbitmqadmin: ["list", "nodes"],
  },
  {
    name: "admin-show-overview",
    method: "GET",
    path: "api/overview?columns=rabbitmq_version,cluster_name,queue_totals.messages,object_totals.queues",
    rabbitmqadmin: ["show", "overview"],
  },
  {
    name: "admin-list-queues-sorted",
    method: "GET",
    path: "api/queues?columns=name,messages,consumers&sort=messages&sort_reverse=true",
    rabbitmqadmin: [
      "--sort=messages",
      "--sort-reverse",
      "list",
      "queues",
      "name",
      "messages",
      "consumers",
    ],
  },
  // Errors: RabbitMQ's {error, reason}
  { name: "error-404-queue", method: "GET", path: `api/queues/${V}/shape.missing` },
  { name: "error-404-vhost", method: "GET", path: "api/queues/shape.novhost" },
  { name: "error-404-exchange", method: "GET", path: `api/exchanges/${V}/shape.missing` },
  { name: "error-401", method: "GET", path: "api/overview", credentials: "guest:wrong" },
  {
    name: "error-400-json",
    method: "PUT",
    path: `api/queues/${V}/shape.bad`,
    body: { raw: '{"durable": tru' },
  },
  {
    name: "error-400-inequivalent",
    method: "PUT",
    path: `api/queues/${V}/shape.inventory`,
    body: { durable: true, auto_delete: false, arguments: { "x-message-ttl": 1000 } },
  },
];

/** Requests that change the state; run last, in this order. */
export const WRITE_REQUESTS: ShapeRequest[] = [
  {
    name: "queue-get",
    method: "POST",
    path: `api/queues/${V}/shape.inventory/get`,
    body: { count: 1, ackmode: "ack_requeue_true", encoding: "auto" },
  },
  {
    name: "admin-get",
    method: "POST",
    path: `api/queues/${V}/shape.audit/get`,
    // rabbitmqadmin sends count as a string and adds queue and vhost
    body: {
      count: "2",
      ackmode: "ack_requeue_true",
      encoding: "auto",
      queue: "shape.audit",
      vhost: "/",
    },
    rabbitmqadmin: ["get", "queue=shape.audit", "count=2"],
  },
  {
    name: "exchange-publish",
    method: "POST",
    path: `api/exchanges/${V}/shape.orders/publish`,
    body: {
      properties: { delivery_mode: 2, headers: { region: "eu" }, content_type: "text/plain" },
      routing_key: "order.created",
      payload: "published over the API",
      payload_encoding: "string",
    },
  },
  {
    name: "admin-publish-unroutable",
    method: "POST",
    path: `api/exchanges/${V}/shape.orders/publish`,
    body: {
      routing_key: "nowhere",
      payload: "lost",
      properties: {},
      exchange: "shape.orders",
      payload_encoding: "string",
      vhost: "/",
    },
    rabbitmqadmin: ["publish", "exchange=shape.orders", "routing_key=nowhere", "payload=lost"],
  },
  // RabbitMQ's aliveness test declares a queue named aliveness-test: last, so lists do not show it
  { name: "aliveness-test", method: "GET", path: `api/aliveness-test/${V}` },
];

export const ALL_REQUESTS = [...SETUP_REQUESTS, ...READ_REQUESTS, ...WRITE_REQUESTS];

/** Send one request to the API at `base` (ending in "/"); the body parsed as JSON when it is. */
export async function send(base: string, r: ShapeRequest): Promise<Recorded> {
  const headers: Record<string, string> = {
    authorization: `Basic ${Buffer.from(r.credentials ?? "guest:guest").toString("base64")}`,
  };
  let body: string | undefined;
  if (r.body !== undefined) {
    headers["content-type"] = "application/json";
    body =
      r.body !== null && typeof r.body === "object" && "raw" in r.body
        ? String(r.body["raw"])
        : JSON.stringify(r.body);
  }
  const res = await fetch(new URL(r.path, base), {
    method: r.method,
    headers,
    ...(body !== undefined ? { body } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let parsed: Json = text;
  try {
    parsed = text === "" ? null : (JSON.parse(text) as Json);
  } catch {
    // not JSON: kept as text
  }
  return {
    request: { method: r.method, path: r.path, ...(r.body !== undefined ? { body: r.body } : {}) },
    status: res.status,
    body: parsed,
  };
}

async function getJson(base: string, path: string): Promise<Json> {
  const r = await send(base, { name: path, method: "GET", path });
  return r.status === 200 ? r.body : null;
}

/** Poll `check` until it returns true; fail after `ms` naming what was awaited and the last state. */
export async function until(
  check: () => Promise<boolean | string>,
  what: string,
  ms: number,
): Promise<void> {
  const deadline = Date.now() + ms;
  let last: boolean | string = false;
  for (;;) {
    last = await check();
    if (last === true) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what} (${last})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface ShapeState {
  setup: Recording;
  close(): Promise<void>;
}

/** Build the state on the broker at `amqpUrl` whose API is at `apiBase`. */
export async function buildState(amqpUrl: string, apiBase: string): Promise<ShapeState> {
  const connections: ChannelModel[] = [];
  const close = async () => {
    for (const c of connections) await c.close().catch(() => {});
  };
  try {
    const producer = await amqp.connect(amqpUrl, {
      clientProperties: { connection_name: "shape-producer" },
    });
    producer.on("error", () => {});
    connections.push(producer);
    const ch = await producer.createConfirmChannel();
    await ch.assertExchange("shape.orders", "topic", { durable: true });
    await ch.assertQueue("shape.inventory", {
      durable: true,
      arguments: { "x-message-ttl": 600_000, "x-dead-letter-exchange": "shape.dlx" },
    });
    await ch.assertQueue("shape.audit", {
      durable: true,
      arguments: { "x-queue-type": "quorum" },
    });
    await ch.bindQueue("shape.inventory", "shape.orders", "order.*");
    await ch.bindQueue("shape.audit", "shape.orders", "#");

    const setup: Recording = {};
    for (const r of SETUP_REQUESTS) {
      const rec = await send(apiBase, r);
      if (rec.status >= 300)
        throw new Error(`${r.method} ${r.path}: ${rec.status} ${JSON.stringify(rec.body)}`);
      setup[r.name] = rec;
    }
    await ch.bindExchange("shape.headers", "shape.orders", "order.eu.*");
    await ch.bindQueue("shape.parked", "shape.headers", "", {
      "x-match": "all",
      region: "eu",
      priority: "high",
    });

    for (let i = 1; i <= 4; i++) {
      ch.publish("shape.orders", "order.created", Buffer.from(JSON.stringify({ order: i })), {
        contentType: "application/json",
        deliveryMode: 2,
        messageId: `order-${i}`,
        headers: { region: "eu", attempt: i },
      });
    }
    await within(ch.waitForConfirms(), "publisher confirms", 10_000);

    const consumer = await amqp.connect(amqpUrl, {
      clientProperties: { connection_name: "shape-consumer" },
    });
    consumer.on("error", () => {});
    connections.push(consumer);
    const cch = await consumer.createChannel();
    await cch.prefetch(1);
    let delivered: () => void = () => {};
    const first = new Promise<void>((resolve) => {
      delivered = resolve;
    });
    await cch.consume("shape.inventory", () => delivered(), {
      noAck: false,
      consumerTag: "shape-consumer",
    });
    await within(first, "the first delivery to shape-consumer", 10_000);
    return { setup, close };
  } catch (err) {
    await close();
    throw err;
  }
}

function asObject(v: Json): { [key: string]: Json } | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? v : undefined;
}

/**
 * Wait until the API shows the state: RabbitMQ's figures come from statistics emitted every few
 * seconds, so right after building they lag.
 */
export async function settled(apiBase: string, ms = 30_000): Promise<void> {
  await until(
    async () => {
      const inv = asObject(await getJson(apiBase, `api/queues/${V}/shape.inventory`));
      const audit = asObject(await getJson(apiBase, `api/queues/${V}/shape.audit`));
      const parked = asObject(await getJson(apiBase, `api/queues/${V}/shape.parked`));
      const conns = await getJson(apiBase, "api/connections");
      const chans = await getJson(apiBase, "api/channels");
      const consumers = await getJson(apiBase, "api/consumers");
      const overview = asObject(await getJson(apiBase, "api/overview"));
      const totals = asObject(overview?.["queue_totals"] ?? null);
      const state = {
        ready: inv?.["messages_ready"],
        unacked: inv?.["messages_unacknowledged"],
        consumers: inv?.["consumers"],
        stats: asObject(inv?.["message_stats"] ?? null)?.["publish"],
        audit: audit?.["messages"],
        parked: parked?.["messages"],
        connections: Array.isArray(conns) ? conns.length : undefined,
        channels: Array.isArray(chans) ? chans.length : undefined,
        consumerList: Array.isArray(consumers) ? consumers.length : undefined,
        totals: totals?.["messages"],
      };
      const ok =
        state.ready === 3 &&
        state.unacked === 1 &&
        state.consumers === 1 &&
        state.stats === 4 &&
        state.audit === 4 &&
        state.parked === 0 &&
        state.connections === 2 &&
        state.channels === 2 &&
        state.consumerList === 1 &&
        state.totals === 8;
      return ok || JSON.stringify(state);
    },
    "the management API to show the built state",
    ms,
  );
}

/**
 * The whole scenario on one broker: build, wait until the API shows it, send every request,
 * close the connections. Returns every response by request name.
 */
export async function runShapeScenario(amqpUrl: string, apiBase: string): Promise<Recording> {
  const state = await buildState(amqpUrl, apiBase);
  try {
    await settled(apiBase);
    const out: Recording = { ...state.setup };
    for (const r of [...READ_REQUESTS, ...WRITE_REQUESTS]) out[r.name] = await send(apiBase, r);
    return out;
  } finally {
    await state.close();
  }
}

/** Where RabbitMQ's responses are kept, one file per request. */
export const FIXTURE_DIR = fileURLToPath(
  new URL("../fixtures/management/rabbitmq-3.10/", import.meta.url),
);

/** The recorded responses, by request name. */
export async function loadRecording(dir = FIXTURE_DIR): Promise<Recording> {
  const out: Recording = {};
  for (const r of ALL_REQUESTS) {
    out[r.name] = JSON.parse(await readFile(join(dir, `${r.name}.json`), "utf8")) as Recorded;
  }
  return out;
}

/** Write a recording, one file per request, laid out as the project's formatter (biome) does. */
export async function saveRecording(rec: Recording, dir = FIXTURE_DIR): Promise<void> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const [name, r] of Object.entries(rec)) {
    const file = join(dir, `${name}.json`);
    await writeFile(file, `${JSON.stringify(r, null, 2)}\n`);
    files.push(file);
  }
  // biome formats the project's files only (outside it, e.g. in /tmp, it fails)
  const root = fileURLToPath(new URL("../../", import.meta.url));
  if (!dir.startsWith(root)) return;
  const biome = join(root, "node_modules/.bin/biome");
  await promisify(execFile)(biome, ["format", "--write", ...files], { timeout: 60_000 });
}
