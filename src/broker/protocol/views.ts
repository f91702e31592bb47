/**
 * What the management API shows of a live connection, its channels and their consumers:
 * plain data read off the protocol objects when asked, never kept up to date on the hot path.
 */
import type { Duplex } from "node:stream";
import { TLSSocket } from "node:tls";
import type { FieldTable } from "../codec/index.js";

export interface TlsDetails {
  protocol: string | null;
  cipher: string | null;
  /** The client certificate's subject and issuer (CN=…), when it sent one. */
  peerSubject: string | null;
  peerIssuer: string | null;
  peerValidity: string | null;
}

/** What a TLS socket negotiated; undefined for a plain one (or an in-memory stream). */
export function tlsDetails(transport: Duplex): TlsDetails | undefined {
  if (!(transport instanceof TLSSocket)) return undefined;
  const cert = transport.getPeerCertificate();
  const has = cert && Object.keys(cert).length > 0;
  const dn = (o: Record<string, unknown> | undefined) =>
    o
      ? Object.entries(o)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(",")
      : null;
  return {
    protocol: transport.getProtocol() ?? null,
    cipher: transport.getCipher()?.name ?? null,
    peerSubject: has ? dn(cert.subject as unknown as Record<string, unknown>) : null,
    peerIssuer: has ? dn(cert.issuer as unknown as Record<string, unknown>) : null,
    peerValidity: has ? `${cert.valid_from} - ${cert.valid_to}` : null,
  };
}

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
  /** The TLS session, for a TLS connection. */
  tlsDetails: TlsDetails | undefined;
  /** Bytes and reads received, bytes and writes sent, bytes waiting to be taken by the client. */
  recvOct: number;
  recvCnt: number;
  sendOct: number;
  sendCnt: number;
  sendPend: number;
  frameMax: number;
  channelMax: number;
  heartbeat: number;
  /** RabbitMQ's connection states: starting, tuning, opening, running, blocked, closing. */
  state: string;
  channels: ChannelView[];
}
