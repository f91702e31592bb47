/**
 * A small client of RabbitMQ's management HTTP API (and the embedded broker's, which serves
 * the same paths): base URL from --api, the config's broker.api, or derived from the AMQP URL
 * (same host, port 15672 — 15671 for amqps — same credentials). Basic authentication, every
 * request bounded by a timeout, and errors that say what to do: the plugin not enabled,
 * wrong credentials, an object that does not exist. Passwords never appear in messages.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { EventlabError } from "../errors.js";
import type { TlsSettings } from "./connect.js";
import { maskSecrets } from "./url.js";

export interface ManagementTarget {
  /** http(s)://host:port/ without credentials, ending in a slash. */
  base: string;
  username: string;
  password: string;
  /** Where the base came from, for messages. */
  from: "--api" | "broker.api" | "the AMQP URL";
}

/** The API's address: `api` as given, else derived from the AMQP URL. */
export function managementTarget(
  amqpUrl: string,
  api: { url: string; from: "--api" | "broker.api" } | undefined,
): ManagementTarget {
  const amqp = new URL(amqpUrl);
  const raw = api?.url;
  let u: URL;
  if (raw !== undefined) {
    const full = raw.includes("://") ? raw : `http://${raw}`;
    try {
      u = new URL(full);
    } catch {
      throw new EventlabError("usage", `${api?.from} is not a URL: ${maskSecrets(full)}`, {
        hint: "give the management API's address, e.g. http://127.0.0.1:15672",
      });
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") {
      throw new EventlabError("usage", `${api?.from} must be an http:// or https:// URL`, {
        hint: "the management API listens on HTTP, by default on port 15672",
      });
    }
  } else {
    const secure = amqp.protocol === "amqps:";
    u = new URL(`${secure ? "https" : "http"}://${amqp.hostname}:${secure ? 15671 : 15672}/`);
  }
  const username = decodeURIComponent(u.username || amqp.username || "guest");
  const password = decodeURIComponent(u.password || amqp.password || "guest");
  u.username = "";
  u.password = "";
  const path = u.pathname.replace(/\/api\/?$/, "/");
  const base = `${u.protocol}//${u.host}${path.endsWith("/") ? path : `${path}/`}`;
  return { base, username, password, from: api?.from ?? "the AMQP URL" };
}

/** A failed request: its HTTP status (0 when nothing answered). */
export class ManagementError extends EventlabError {
  constructor(
    message: string,
    readonly status: number,
    hint?: string,
  ) {
    super("connection", message, hint === undefined ? {} : { hint });
    this.name = "ManagementError";
  }
}

const TIMEOUT_MS = 10_000;

/** What came back: the status and the body as text. */
interface Answer {
  status: number;
  text: string;
}

export class ManagementClient {
  /**
   * @param tls for an https:// API: the same CA, client certificate, servername and
   *   --insecure as the AMQP connection (--ca, --cert, --cert-key, broker.tls).
   */
  constructor(
    readonly target: ManagementTarget,
    private readonly tls: TlsSettings | undefined = undefined,
    private readonly timeoutMs = TIMEOUT_MS,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  delete(path: string): Promise<void> {
    return this.request<void>("DELETE", path);
  }

  /** `path` after /api/, its segments already encoded (see `seg`). */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(`${this.target.base}api/${path}`);
    let answer: Answer;
    try {
      answer = await this.send(method, url, body === undefined ? undefined : JSON.stringify(body));
    } catch (err) {
      throw this.unreachable(err);
    }
    const { status, text } = answer;
    if (status >= 200 && status < 300) return (text === "" ? undefined : JSON.parse(text)) as T;
    let reason = text;
    try {
      reason = (JSON.parse(text) as { reason?: string }).reason ?? text;
    } catch {
      // not JSON: keep the text
    }
    throw this.failed(status, method, path, reason);
  }

  /** One request over node:http(s), bounded by the timeout from start to the last byte. */
  private send(method: string, url: URL, body: string | undefined): Promise<Answer> {
    const auth = Buffer.from(`${this.target.username}:${this.target.password}`).toString("base64");
    const headers: Record<string, string> = { authorization: `Basic ${auth}` };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(Buffer.byteLength(body));
    }
    const secure = url.protocol === "https:";
    const t = this.tls;
    const tlsOptions =
      secure && t
        ? {
            ...(t.ca !== undefined ? { ca: [t.ca] } : {}),
            ...(t.cert !== undefined ? { cert: t.cert } : {}),
            ...(t.key !== undefined ? { key: t.key } : {}),
            ...(t.passphrase !== undefined ? { passphrase: t.passphrase } : {}),
            ...(t.servername !== undefined ? { servername: t.servername } : {}),
            ...(t.insecure ? { rejectUnauthorized: false } : {}),
          }
        : {};
    return new Promise<Answer>((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(
        url,
        { method, headers, signal: AbortSignal.timeout(this.timeoutMs), ...tlsOptions },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
          );
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  private unreachable(err: unknown): ManagementError {
    const e = err as { code?: string; name?: string; message?: string };
    const code = e.code === "ABORT_ERR" ? "TimeoutError" : (e.code ?? e.name);
    const where = this.target.base;
    if (code === "ECONNREFUSED") {
      return new ManagementError(
        `cannot reach the management API at ${where} (connection refused)`,
        0,
        this.target.from === "the AMQP URL"
          ? "on RabbitMQ: rabbitmq-plugins enable rabbitmq_management; on the embedded broker: eventlab broker --http-port 15672; or pass --api <url>"
          : `check ${this.target.from}: nothing listens there`,
      );
    }
    if (code === "TimeoutError" || code === "AbortError") {
      return new ManagementError(
        `the management API at ${where} did not answer within ${this.timeoutMs / 1000} s`,
        0,
        "is the broker overloaded, or is that port something else?",
      );
    }
    if (typeof code === "string" && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
      return new ManagementError(
        `cannot reach the management API at ${where}: its certificate was refused (${code})`,
        0,
        "trust the CA that signed it: --ca ca.pem (or broker.tls.ca in the config); --insecure skips the check, for tests only",
      );
    }
    if (code === "EPROTO" && where.startsWith("https:")) {
      return new ManagementError(
        `cannot reach the management API at ${where}: it does not speak TLS there (EPROTO)`,
        0,
        `use ${where.replace(/^https:/, "http:")} if it listens on plain HTTP`,
      );
    }
    return new ManagementError(
      `cannot reach the management API at ${where} (${e.code ?? e.message ?? String(err)})`,
      0,
    );
  }

  private failed(status: number, method: string, path: string, reason: string): ManagementError {
    if (status === 401) {
      return new ManagementError(
        `the management API at ${this.target.base} refused user '${this.target.username}' (401 ${reason})`,
        401,
        "check the user and password in the URL (or --api http://user:pass@host:15672); the user needs the management tag",
      );
    }
    if (status === 404) {
      return new ManagementError(`not found: ${decodeURIComponent(path)}`, 404);
    }
    return new ManagementError(
      `${method} ${decodeURIComponent(path)}: ${status} ${reason}`,
      status,
    );
  }
}

/** One path segment, encoded as the API wants it (the vhost "/" is %2F). */
export function seg(s: string): string {
  return encodeURIComponent(s);
}
