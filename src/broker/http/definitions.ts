/**
 * GET and POST /api/definitions: the broker's exchanges, queues and bindings in RabbitMQ's
 * definitions format, and an import that declares what a file holds. Only what the embedded
 * broker has is imported; a file asking for more (other vhosts, policies, parameters, users
 * other than the broker's) is refused before anything is declared, so nothing is half done.
 */
import { createHash, randomBytes } from "node:crypto";
import type { VHost } from "../model/vhost.js";
import { declareExchange, declareQueue } from "./actions.js";
import { BadRequest, type Body, type Json, jsonTable, tableJson } from "./json.js";
import { allBindings, VHOST } from "./views.js";

export interface DefinitionsIdentity {
  version: string;
  node: string;
  /** This broker's id, as RabbitMQ's internal_cluster_id. */
  clusterId: string;
  users: string[];
  /** RabbitMQ's password_hash of a user (rabbit_password_hashing_sha256), so that an export imports into RabbitMQ. */
  passwordHash(user: string): string;
}

/** As RabbitMQ's rabbit_password_hashing_sha256: base64(salt ++ sha256(salt ++ password)), 4-byte salt. */
export function rabbitPasswordHash(password: string, salt = randomBytes(4)): string {
  const digest = createHash("sha256").update(salt).update(password, "utf8").digest();
  return Buffer.concat([salt, digest]).toString("base64");
}

export function exportDefinitions(vhost: VHost, id: DefinitionsIdentity, withVhost: boolean) {
  const queues = [...vhost.queues.values(), ...vhost.streams.values()]
    .filter((q) => q.durable && q.owner === undefined)
    .map((q) => ({
      name: q.name,
      ...(withVhost ? { vhost: VHOST } : {}),
      durable: q.durable,
      auto_delete: q.autoDelete,
      arguments: tableJson(q.args),
    }));
  const exchanges = [...vhost.exchanges.values()]
    .filter((x) => x.name !== "" && !x.name.startsWith("amq."))
    .map((x) => ({
      name: x.name,
      ...(withVhost ? { vhost: VHOST } : {}),
      type: x.type,
      durable: x.durable,
      auto_delete: x.autoDelete,
      internal: x.internal,
      arguments: tableJson(x.args),
    }));
  const bindings = allBindings(vhost)
    .filter((b) => b.source !== "")
    .map((b) => ({
      source: b.source,
      ...(withVhost ? { vhost: VHOST } : {}),
      destination: b.destination,
      destination_type: b.destination_type,
      routing_key: b.routing_key,
      arguments: tableJson(b.arguments),
    }));
  const common = { queues, exchanges, bindings, policies: [], parameters: [] };
  if (!withVhost) return { rabbit_version: id.version, rabbitmq_version: id.version, ...common };
  return {
    rabbit_version: id.version,
    rabbitmq_version: id.version,
    product_name: "eventlab",
    product_version: id.version,
    users: id.users.map((name) => ({
      name,
      password_hash: id.passwordHash(name),
      hashing_algorithm: "rabbit_password_hashing_sha256",
      tags: ["administrator"],
      limits: {},
    })),
    vhosts: [{ name: VHOST }],
    permissions: id.users.map((user) => ({
      user,
      vhost: VHOST,
      configure: ".*",
      write: ".*",
      read: ".*",
    })),
    topic_permissions: [],
    global_parameters: [
      { name: "cluster_name", value: id.node },
      { name: "internal_cluster_id", value: id.clusterId },
    ],
    ...common,
  };
}

type Row = Body & Record<string, unknown>;

function rows(defs: Row, key: string): Row[] {
  const v = (defs as Record<string, unknown>)[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new BadRequest(`definitions: ${key} must be a list`);
  return v.map((r, i) => {
    if (!r || typeof r !== "object")
      throw new BadRequest(`definitions: ${key}[${i}] is not an object`);
    return r as Row;
  });
}

function refuseOther(defs: Row, id: DefinitionsIdentity): void {
  for (const key of ["policies", "parameters", "operator_policies", "topic_permissions"]) {
    if (rows(defs, key).length > 0) {
      throw new BadRequest(`definitions: ${key} are not supported by the embedded broker`);
    }
  }
  for (const v of rows(defs, "vhosts")) {
    if (v.name !== VHOST)
      throw new BadRequest(
        `definitions: the embedded broker has only vhost '/', not '${String(v.name)}'`,
      );
  }
  for (const u of rows(defs, "users")) {
    if (!id.users.includes(String(u.name))) {
      throw new BadRequest(
        `definitions: user '${String(u.name)}' does not exist; the embedded broker's users are set when it starts (--user)`,
      );
    }
  }
  for (const key of ["queues", "exchanges", "bindings"]) {
    for (const r of rows(defs, key)) {
      if (r.vhost !== undefined && r.vhost !== VHOST) {
        throw new BadRequest(
          `definitions: ${key} in vhost '${String(r.vhost)}': the embedded broker has only '/'`,
        );
      }
    }
  }
}

/** Declare everything the definitions hold: exchanges, then queues, then bindings. */
export function importDefinitions(vhost: VHost, body: unknown, id: DefinitionsIdentity): void {
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw new BadRequest("definitions must be a JSON object");
  }
  const defs = body as Row;
  refuseOther(defs, id);
  for (const x of rows(defs, "exchanges")) declareExchange(vhost, String(x.name), x);
  for (const q of rows(defs, "queues")) declareQueue(vhost, String(q.name), q);
  for (const b of rows(defs, "bindings")) {
    const type = b.destination_type === "exchange" ? "exchange" : "queue";
    vhost.bind(
      0,
      {
        source: String(b.source),
        destination: String(b.destination),
        destinationType: type,
        routingKey: String(b.routing_key ?? ""),
        args: jsonTable(b.arguments),
      },
      false,
    );
  }
}

export type { Json };
