/**
 * What the embedded broker serves its management API from (api.ts): the model, the
 * protocol's views of its connections, its counters and identity. server.ts builds one over a
 * Broker; tests may build their own.
 */
import type { VHost } from "../model/vhost.js";
import type { ConnectionView } from "../protocol/views.js";

export const EXCHANGE_TYPES = ["direct", "fanout", "headers", "topic", "x-delayed-message"].map(
  (name) => ({ name, description: `${name} exchange`, enabled: true }),
);

export interface ApiHost {
  readonly vhost: VHost;
  readonly version: string;
  readonly node: string;
  readonly users: readonly string[];
  /** A user's password as RabbitMQ hashes it in definitions. */
  passwordHash(user: string): string;
  readonly listeners: readonly { protocol: string; host: string; port: number }[];
  /** The memory alarm's threshold, bytes. */
  readonly memoryLimit: number;
  /** Whether the memory alarm is raised. */
  memoryAlarm(): boolean;
  authenticate(username: string, password: string, loopback: boolean): boolean;
  connections(): ConnectionView[];
  /** Close a connection by its name (320 CONNECTION_FORCED); false when there is none. */
  closeConnection(name: string, reason: string): boolean;
  /** Message counts since start, by RabbitMQ's message_stats names (publish, ack, …). */
  totals(): Record<string, number>;
  /** Connections, channels and queues created and closed since start, by RabbitMQ's names. */
  churn(): Record<string, number>;
  /**
   * Count what the API itself did into the broker's totals, as RabbitMQ counts the API's
   * publish and get (done over a channel of its own): a publish and whether it was routed,
   * or messages taken from a queue of this type and whether they were acknowledged.
   */
  counted(
    e:
      | { kind: "publish"; routed: boolean }
      | { kind: "get"; queueType: string; n: number; acked: boolean },
  ): void;
  /** Bytes received and sent over every connection since start. */
  octets(): { recv: number; send: number };
  /** Bytes free where the broker keeps its data. */
  diskFree(): number;
  /** Prometheus text for /metrics (aggregated) and /metrics/per-object. */
  metrics(perObject: boolean): string;
}
