/**
 * What the bench coordinator and its client groups (worker threads) say to each other, and
 * the plan they share. Everything here is plain data: it crosses threads by structured clone.
 */

import type { ConnectOptions } from "../../client/connect.js";

export type QueueType = "classic" | "quorum" | "stream";

/** A template's body and properties, as the config holds them (plain data, compiled per thread). */
export interface BenchTemplate {
  name: string;
  /** The template as in the config (TemplateConfig); compiled once in each thread. */
  config: unknown;
}

export interface BenchPlan {
  /** Marks this run's messages: a stream may hold messages of earlier runs. */
  runTag: number;
  /** Connection i (producer i, consumer i) goes to urls[i % urls.length]. */
  urls: string[];
  /** Producer i publishes to queues[i % queues.length]; consumer j reads queues[j % queues.length]. */
  queues: string[];
  producers: number;
  consumers: number;
  /** Body size in bytes (at least STAMP_BYTES), unless a template gives the body. */
  size: number;
  template?: BenchTemplate | undefined;
  /** Messages per second per producer; undefined: as fast as possible. */
  rate?: number | undefined;
  /** Outstanding publisher confirms per producer; 0: no confirms. */
  confirm: number;
  persistent: boolean;
  queueType: QueueType;
  /** Unacknowledged deliveries per consumer; 0: no limit. */
  prefetch: number;
  /** Acknowledge every N deliveries at once (multiple=true); 1: each. */
  multiAck: number;
  autoAck: boolean;
  /** Messages per producer, then it stops. */
  pmessages?: number | undefined;
  /** Messages per consumer, then it stops. */
  cmessages?: number | undefined;
  /** Producers stop publishing this long after the start (each measures it itself). */
  durationMs?: number | undefined;
  /** How each client connects, as the command's own connections do (TLS, SASL, heartbeat). */
  connect: ConnectOptions;
  /** For {{env NAME}} placeholders in a template. */
  env: Record<string, string | undefined>;
}

/** Which producers and consumers (global ids) one client group runs. */
export interface GroupAssignment {
  producers: number[];
  consumers: number[];
}

/** Coordinator → group. */
export type ToGroup =
  | { type: "start" }
  | { type: "snapshot"; id: number }
  | { type: "stop-producers" }
  | { type: "finish" };

/** Cumulative counts of a group, and the latencies recorded since the last snapshot. */
export interface Snapshot {
  sent: number;
  confirmed: number;
  nacked: number;
  received: number;
  /** Per queue index: published and not nacked. */
  sentPerQueue: number[];
  receivedPerQueue: number[];
  /** Publish → receive, microseconds, each value recorded since the last snapshot. */
  latency: Uint32Array | null;
  /** Publish → confirm, microseconds, each value since the last snapshot. */
  confirmLatency: Uint32Array | null;
}

export interface GroupFinal {
  /** Per producer id: the sequence numbers received (a bitset), for missing and duplicates. */
  seen: Array<[producer: number, bits: Uint8Array]>;
  /** Deliveries of a (producer, sequence) this group had already seen. */
  duplicated: number;
  /** Per producer id: messages published and not nacked. */
  sentPerProducer: Array<[producer: number, sent: number]>;
  /** Per producer: what it published and for how long (for its achieved rate). */
  producers: ProducerFigures[];
  /** Deliveries without this run's stamp (earlier runs' messages in a stream, other publishers). */
  foreign: number;
  /**
   * The group's counters at its end, after its producers waited for their confirms: the totals
   * come from these, not from the last snapshot, which may predate the last confirms.
   */
  counts: { sent: number; confirmed: number; nacked: number; received: number };
}

export interface ProducerFigures {
  id: number;
  /** Published, nacked ones included. */
  published: number;
  /**
   * From the first publish to the stop (the end of --duration, Ctrl-C); with --pmessages and
   * --rate, until the next message would have been due.
   */
  activeMs: number;
}

/** Group → coordinator. */
export type FromGroup =
  | { type: "ready" }
  | { type: "snapshot"; id: number; snapshot: Snapshot }
  | { type: "producers-done" }
  | { type: "consumers-done" }
  | { type: "final"; final: GroupFinal }
  | { type: "error"; message: string };
