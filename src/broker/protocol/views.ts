/**
 * What the management API shows of a live connection, its channels and their consumers:
 * plain data read off the protocol objects when asked, never kept up to date on the hot path.
 */
import type { FieldTable } from "../codec/index.js";

export interface ConsumerView {
  tag: string;
  queue: string;
  noAck: boolean;
  exclusive: boolean;
  prefetch: number;
  priority: number;
  unacked: number;
}

export interface ChannelView {
  number: number;
  mode: "plain" | "confirm" | "tx";
  prefetch: number;
  globalPrefetch: number;
  unacked: number;
  consumers: ConsumerView[];
}

export interface ConnectionView {
  id: number;
  /** RabbitMQ's name: `peer:port -> broker:port`. */
  name: string;
  user: string;
  /** The client's connection_name property. */
  clientName: string | undefined;
  clientProperties: FieldTable;
  /** ms since the epoch. */
  connectedAt: number;
  peerHost: string | undefined;
  peerPort: number | undefined;
  host: string | undefined;
  port: number | undefined;
  tls: boolean;
  frameMax: number;
  channelMax: number;
  heartbeat: number;
  /** RabbitMQ's connection states: starting, tuning, opening, running, blocked, closing. */
  state: string;
  channels: ChannelView[];
}
