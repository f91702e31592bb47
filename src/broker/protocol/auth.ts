/**
 * Logging in, by SASL mechanism. PLAIN and AMQPLAIN carry a user name and password (see
 * handshake.ts). EXTERNAL takes the user from the client certificate that the TLS layer
 * verified: its subject's common name, as RabbitMQ's rabbitmq_auth_mechanism_ssl does with
 * `ssl_cert_login_from = common_name`; the password plays no part.
 *
 * EXTERNAL is offered on TLS connections whose listener asks for client certificates
 * (verifyPeer), with or without a certificate presented, as RabbitMQ does since 3.13: a
 * client without one is then refused with a reason rather than failing to agree on a
 * mechanism. Every refusal is 403 ACCESS_REFUSED.
 */
import type { MethodParams } from "../codec/index.js";
import { amqpError } from "../errors.js";
import { credentials } from "./handshake.js";

/** What the TLS handshake established about a connection's peer. */
export interface TlsPeer {
  /** The listener asked for a client certificate and verifies it: EXTERNAL is offered. */
  readonly verifyPeer: boolean;
  /** The certificate the client presented and the listener verified; undefined for none. */
  readonly certificate: { readonly commonName: string | undefined } | undefined;
}

/** Who may log in: what the connection asks of the broker's users. */
export interface LoginHost {
  /**
   * Whether these credentials may log in: a known user with this password; the built-in
   * guest only over a loopback connection (`loopback`), as in RabbitMQ.
   */
  authenticate(username: string, password: string, loopback: boolean): boolean;
  /**
   * EXTERNAL: why the user a verified certificate names may not log in (not a user of the
   * broker; guest from another machine), or undefined when it may.
   */
  refuseCertificateUser(username: string, loopback: boolean): string | undefined;
}

const PASSWORD_MECHANISMS = "PLAIN AMQPLAIN";

/** connection.start's mechanisms: EXTERNAL last, so clients that take the first get PLAIN. */
export function mechanisms(tls: TlsPeer | undefined): Buffer {
  return Buffer.from(tls?.verifyPeer ? `${PASSWORD_MECHANISMS} EXTERNAL` : PASSWORD_MECHANISMS);
}

function refused(mechanism: string, reason?: string) {
  return amqpError(
    "ACCESS_REFUSED",
    reason === undefined
      ? `Login was refused using authentication mechanism ${mechanism}. For details see the broker logfile.`
      : `Login was refused using authentication mechanism ${mechanism}: ${reason}`,
  );
}

/** The user a start-ok logs in as; 403 when refused, 503 for an unknown mechanism. */
export function login(
  host: LoginHost,
  startOk: MethodParams["connection.start-ok"],
  loopback: boolean,
  tls: TlsPeer | undefined,
): string {
  if (startOk.mechanism === "EXTERNAL") return external(host, loopback, tls);
  const { user, password } = credentials(startOk.mechanism, startOk.response);
  // As RabbitMQ: the client is not told whether the user or the password was wrong.
  if (!host.authenticate(user, password, loopback)) throw refused(startOk.mechanism);
  return user;
}

function external(host: LoginHost, loopback: boolean, tls: TlsPeer | undefined): string {
  if (!tls) {
    throw refused(
      "EXTERNAL",
      "not a TLS connection (connect with amqps:// and a client certificate)",
    );
  }
  if (!tls.verifyPeer || !tls.certificate) {
    throw refused("EXTERNAL", "the client presented no TLS (x.509) certificate");
  }
  const name = tls.certificate.commonName;
  if (name === undefined) {
    throw refused("EXTERNAL", "the client certificate's subject has no common name (CN)");
  }
  const why = host.refuseCertificateUser(name, loopback);
  if (why !== undefined) throw refused("EXTERNAL", why);
  return name;
}
