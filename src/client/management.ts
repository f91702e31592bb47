/**
 * A small client of RabbitMQ's management HTTP API (and the embedded broker's, which serves
 * the same paths): base URL from --api, the config's broker.api, or derived from the AMQP URL
 * (same host, port 15672 — 15671 for amqps — same credentials). Basic authentication, every
 * request bounded by a timeout, and errors that say what to do: the plugin not enabled,
 * wrong credentials, an object that does not exist. Passwords never appear in messages.
 */
import { EventlabError } from "../errors.js";
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
    try {
      u = new URL(raw.includes("://") ? raw : `http://${raw}`);
    } catch {
      throw new EventlabError("usage", `${api?.from} is not a URL: ${maskSecrets(raw)}`, {
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

export class ManagementClient {
  constructor(
    readonly target: ManagementTarget,
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
    const url = `${this.target.base}api/${path}`;
    const auth = Buffer.from(`${this.target.username}:${this.target.password}`).toString("base64");
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: `Basic ${auth}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw this.unreachable(err);
    }
    const text = await res.text();
    if (res.ok) return (text === "" ? undefined : JSON.parse(text)) as T;
    let reason = text;
    try {
      reason = (JSON.parse(text) as { reason?: string }).reason ?? text;
    } catch {
      // not JSON: keep the text
    }
    throw this.failed(res.status, method, path, reason);
  }

  private unreachable(err: unknown): ManagementError {
    const cause = (err as { cause?: { code?: string } }).cause;
    const code = cause?.code ?? (err as { name?: string }).name;
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
    return new ManagementError(
      `cannot reach the management API at ${where} (${cause?.code ?? (err as Error).message ?? String(err)})`,
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

/**
 * The client for a command: --api when given, else the config's broker.api (unless --url or
 * EVENTLAB_URL named another broker), else derived from the broker's first URL.
 */
export function managementClientFor(
  broker: { urls: readonly string[]; source: string },
  flag: string | undefined,
  configApi: string | undefined,
): ManagementClient {
  const explicit = broker.source === "flag" || broker.source === "env";
  const api =
    flag !== undefined
      ? { url: flag, from: "--api" as const }
      : configApi !== undefined && !explicit
        ? { url: configApi, from: "broker.api" as const }
        : undefined;
  return new ManagementClient(managementTarget(broker.urls[0] as string, api));
}

/** One path segment, encoded as the API wants it (the vhost "/" is %2F). */
export function seg(s: string): string {
  return encodeURIComponent(s);
}
