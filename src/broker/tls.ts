/**
 * The embedded broker's TLS listener (amqps://). Its sockets become AMQP connections like
 * plain ones; what the handshake proved about the client (a verified certificate and its
 * subject CN) goes with them, for SASL EXTERNAL. RabbitMQ's ssl_options are the model:
 * `verifyPeer` (verify_peer) asks for a client certificate and refuses one that does not
 * verify against `ca`; `failIfNoPeerCert` (fail_if_no_peer_cert) also refuses a client that
 * presents none. A failed handshake only ever ends that one socket.
 */
import { createServer, type PeerCertificate, type Server, type TLSSocket } from "node:tls";
import type { TlsPeer } from "./protocol/auth.js";

export interface BrokerTlsOptions {
  /** The server's certificate chain, PEM. */
  cert: string | Buffer;
  /** The server certificate's private key, PEM. */
  key: string | Buffer;
  /** Passphrase of an encrypted `key`. */
  passphrase?: string;
  /** CA certificates, PEM, that client certificates must chain to (default: Node's roots). */
  ca?: string | Buffer | Array<string | Buffer>;
  /**
   * Ask each client for a certificate and refuse one that does not verify (default false,
   * as RabbitMQ's verify_none). Also offers SASL EXTERNAL on TLS connections.
   */
  verifyPeer?: boolean;
  /** With verifyPeer: refuse a client that presents no certificate too (default false). */
  failIfNoPeerCert?: boolean;
}

/** The certificate, key, passphrase or CA could not be used; `code` is OpenSSL's or Node's. */
export class TlsOptionsError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = "TlsOptionsError";
  }
}

/** A TLS server that hands each verified socket to `accept`; throws TlsOptionsError. */
export function createTlsServer(
  options: BrokerTlsOptions,
  handshakeTimeout: number,
  accept: (socket: TLSSocket, peer: TlsPeer) => void,
): Server {
  const verifyPeer = options.verifyPeer === true;
  let server: Server;
  try {
    server = createServer({
      cert: options.cert,
      key: options.key,
      ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      requestCert: verifyPeer,
      // Node cannot refuse a bad certificate yet take none in one setting: see peerOf.
      rejectUnauthorized: verifyPeer && options.failIfNoPeerCert === true,
      handshakeTimeout,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new TlsOptionsError(e.message, e.code);
  }
  server.on("secureConnection", (socket: TLSSocket) => {
    const peer = peerOf(socket, verifyPeer);
    if (peer) accept(socket, peer);
    else socket.destroy();
  });
  // A handshake that fails (a plain AMQP client, a client that distrusts our certificate, a
  // certificate we refuse, a timeout) ends its socket and nothing else.
  server.on("tlsClientError", (_err: Error, socket: TLSSocket) => socket.destroy());
  return server;
}

/** What the handshake proved; undefined for a certificate presented that did not verify. */
function peerOf(socket: TLSSocket, verifyPeer: boolean): TlsPeer | undefined {
  if (!verifyPeer) return { verifyPeer, certificate: undefined };
  const cert: PeerCertificate | Record<string, never> = socket.getPeerCertificate();
  if (Object.keys(cert).length === 0) return { verifyPeer, certificate: undefined };
  if (!socket.authorized) return undefined;
  return { verifyPeer, certificate: { commonName: commonName(cert.subject) } };
}

/** The subject's CN; several are joined with "," as RabbitMQ does. */
function commonName(subject: PeerCertificate["subject"] | undefined): string | undefined {
  const cn: unknown = subject?.CN;
  if (typeof cn === "string") return cn;
  if (Array.isArray(cn) && cn.every((x) => typeof x === "string")) return cn.join(",");
  return undefined;
}
