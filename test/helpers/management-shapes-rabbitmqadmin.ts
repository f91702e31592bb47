/**
 * What rabbitmqadmin sends: the real script (/usr/bin/rabbitmqadmin, or EVENTLAB_RABBITMQADMIN)
 * run against a recording proxy on 127.0.0.1 (port 0) that forwards every request to a
 * management API and keeps its method, path and body. Used to check that the requests of the
 * shape scenario marked `rabbitmqadmin` are exactly the ones the script sends.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual, promisify } from "node:util";
import type { Json, ShapeRequest } from "./management-shapes.js";

export const RABBITMQADMIN = process.env["EVENTLAB_RABBITMQADMIN"] ?? "/usr/bin/rabbitmqadmin";
export const HAVE_RABBITMQADMIN = existsSync(RABBITMQADMIN);

export interface SentRequest {
  method: string;
  /** Without the leading "/" : "api/queues?columns=name,messages". */
  path: string;
  /** The body parsed as JSON; undefined when there was none. */
  body?: Json;
}

/**
 * Run rabbitmqadmin with `args` against the API at `target` (e.g. "http://127.0.0.1:15672/")
 * through the recording proxy; "{file}" in `args` is replaced by a temporary file's path.
 * Returns the requests it sent and its exit status.
 */
export async function rabbitmqadminSends(
  target: string,
  args: string[],
): Promise<{ sent: SentRequest[]; code: number; output: string }> {
  const upstream = new URL(target);
  const sent: SentRequest[] = [];
  const proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      let body: Json | undefined;
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw.toString("utf8")) as Json;
        } catch {
          body = raw.toString("utf8");
        }
      }
      sent.push({
        method: req.method ?? "",
        path: (req.url ?? "").replace(/^\//, ""),
        ...(body !== undefined ? { body } : {}),
      });
      const out = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          timeout: 10_000,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      out.on("error", (err) => {
        res.writeHead(502);
        res.end(String(err));
      });
      out.end(raw);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const port = (proxy.address() as AddressInfo).port;
  const dir = await mkdtemp(join(tmpdir(), "eventlab-admin-shapes-"));
  try {
    const argv = args.map((a) => a.replaceAll("{file}", join(dir, "file.json")));
    const base = ["-H", "127.0.0.1", "-P", String(port), "-u", "guest", "-p", "guest"];
    try {
      const r = await promisify(execFile)("python3", [RABBITMQADMIN, ...base, ...argv], {
        timeout: 20_000,
      });
      return { sent, code: 0, output: r.stdout + r.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return {
        sent,
        code: typeof e.code === "number" ? e.code : 1,
        output: `${e.stdout ?? ""}${e.stderr ?? ""}`,
      };
    }
  } finally {
    proxy.closeAllConnections();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Run every scenario request marked `rabbitmqadmin` through the script against `target`; one
 * line per request that the script did not send exactly as listed, or that it failed on.
 */
export async function rabbitmqadminMismatches(
  target: string,
  requests: ShapeRequest[],
): Promise<string[]> {
  const problems: string[] = [];
  for (const r of requests) {
    if (!r.rabbitmqadmin) continue;
    const { sent, code, output } = await rabbitmqadminSends(target, r.rabbitmqadmin);
    const expected: SentRequest[] = [
      { method: r.method, path: r.path, ...(r.body !== undefined ? { body: r.body as Json } : {}) },
    ];
    const cmd = `rabbitmqadmin ${r.rabbitmqadmin.join(" ")}`;
    if (!isDeepStrictEqual(sent, expected))
      problems.push(`${r.name}: ${cmd} sent ${JSON.stringify(sent)}`);
    if (code !== 0) problems.push(`${r.name}: ${cmd} exited ${code}: ${output.trim()}`);
  }
  return problems;
}
