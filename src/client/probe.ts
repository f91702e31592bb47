/**
 * What is really listening on a port that did not complete the AMQP 0-9-1 handshake. amqplib
 * only says what its frame parser choked on (`Frame size 1327528738 exceeds maxFrameSize`);
 * a second, plain TCP connection that sends the AMQP protocol header and reads the first bytes
 * back tells a NATS or HTTP server, a TLS port or another AMQP version apart.
 */
import { connect as tcpConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";

/** The AMQP 0-9-1 protocol header a client sends first. */
const AMQP_0_9_1 = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);
const MAX_BYTES = 64;
const QUIET_MS = 100;

export interface ProbeResult {
  /** The TCP connection was accepted. */
  accepted: boolean;
  /** What the server sent back within the time (at most 64 bytes). */
  bytes: Buffer;
}

/**
 * Connect over plain TCP, send the AMQP 0-9-1 header, and collect what comes back until the
 * server closes, 64 bytes arrive, or `timeoutMs` passes. Never throws.
 */
export function probe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let accepted = false;
    const socket = tcpConnect({ host, port });
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ accepted, bytes: Buffer.concat(chunks).subarray(0, MAX_BYTES) });
    };
    let timer = setTimeout(done, timeoutMs);
    socket.once("connect", () => {
      accepted = true;
      socket.write(AMQP_0_9_1);
    });
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= MAX_BYTES) done();
      else {
        // Once it has spoken, a short pause ends its first words.
        clearTimeout(timer);
        timer = setTimeout(done, QUIET_MS);
      }
    });
    socket.once("error", done);
    socket.once("close", done);
  });
}

/**
 * Whether the port completes a TLS handshake (any certificate accepted: this only asks whether
 * it speaks TLS). For servers that close a plain connection without a word. Never throws.
 */
export function speaksTls(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host, port, rejectUnauthorized: false, servername: undefined });
    const done = (yes: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(yes);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once("secureConnect", () => done(true));
    socket.once("error", () => done(false));
    socket.once("close", () => done(false));
  });
}

/** What the first bytes of a server's answer say it is. */
export type Speaker =
  | { kind: "amqp-0-9-1" }
  | { kind: "amqp-other"; version: string }
  | { kind: "tls" }
  | { kind: "silent" }
  | { kind: "other"; guess: string | undefined };

/** The AMQP protocol headers other than 0-9-1 a server may answer with, by their last four bytes. */
const OTHER_AMQP: Readonly<Record<string, string>> = {
  "0,1,0,0": "1.0",
  "2,1,0,0": "1.0 (TLS)",
  "3,1,0,0": "1.0 (SASL)",
  "1,1,0,10": "0-10",
  "1,1,0,9": "0-9",
  "1,1,8,0": "0-8",
};

/** The first words of other servers, and what they say the server is. */
const GREETINGS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^HTTP\/\d/, "an HTTP server (RabbitMQ's management UI and API listen on 15672)"],
  [/^INFO \{/, "a NATS server"],
  [/^[-+]ERR|^[-+]OK|^-NOAUTH/, "a Redis server"],
  [/^SSH-/, "an SSH server"],
  [/^220[ -]/, "an SMTP or FTP server"],
  [/mysql|mariadb/i, "a MySQL or MariaDB server"],
];

export function identify(bytes: Buffer): Speaker {
  if (bytes.length === 0) return { kind: "silent" };
  if (bytes.subarray(0, 4).toString("latin1") === "AMQP" && bytes.length >= 8) {
    // A server that refuses our version answers with the header of the one it speaks.
    const id = [...bytes.subarray(4, 8)].join(",");
    if (id === "0,0,9,1") return { kind: "amqp-0-9-1" };
    return { kind: "amqp-other", version: OTHER_AMQP[id] ?? `with protocol header bytes ${id}` };
  }
  // A method frame on channel 0 (connection.start): AMQP 0-9-1 already talking.
  if (bytes[0] === 1 && bytes[1] === 0 && bytes[2] === 0) return { kind: "amqp-0-9-1" };
  // A TLS record: alert (21) or handshake (22), version 3.x.
  if ((bytes[0] === 0x15 || bytes[0] === 0x16) && bytes[1] === 0x03) return { kind: "tls" };
  const text = bytes.toString("latin1");
  return { kind: "other", guess: GREETINGS.find(([re]) => re.test(text))?.[1] };
}

/** The first bytes as readable text: printable ASCII as it is, the rest as \xNN. */
export function showBytes(bytes: Buffer, max = 40): string {
  let out = "";
  for (const b of bytes.subarray(0, max)) {
    if (b === 0x0a) out += "\\n";
    else if (b === 0x0d) out += "\\r";
    else if (b === 0x22 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return `"${out}${bytes.length > max ? "…" : ""}"`;
}
