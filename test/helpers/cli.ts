/**
 * Run the CLI in-process with in-memory streams and capture what a person would see.
 */
import { PassThrough, Readable } from "node:stream";
import { main } from "../../src/cli.js";
import type { ContextDeps } from "../../src/context.js";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  stdin?: string | Buffer;
  /** Pretend stdout/stderr are terminals. */
  tty?: boolean;
  signal?: AbortSignal;
  connect?: ContextDeps["connect"];
  /** Answers questions by id (with tty: true, commands may ask). */
  prompter?: ContextDeps["prompter"];
}

export function memoryStream(
  tty: boolean,
): PassThrough & { isTTY?: boolean; columns?: number; text(): string } {
  const chunks: Buffer[] = [];
  const s = new PassThrough() as PassThrough & {
    isTTY?: boolean;
    columns?: number;
    text(): string;
  };
  s.on("data", (c: Buffer) => chunks.push(c));
  if (tty) {
    s.isTTY = true;
    s.columns = 80;
  }
  s.text = () => Buffer.concat(chunks).toString("utf8");
  return s;
}

export async function runCli(argv: string[], options: RunOptions = {}): Promise<CliResult> {
  const stdout = memoryStream(options.tty === true);
  const stderr = memoryStream(options.tty === true);
  const stdin = Readable.from(
    options.stdin === undefined ? [] : [Buffer.from(options.stdin)],
  ) as Readable & {
    isTTY?: boolean;
  };
  if (options.tty) stdin.isTTY = true;
  const env: NodeJS.ProcessEnv = { NO_COLOR: "1", ...(options.env ?? {}) };
  const code = await main(argv, {
    streams: { stdin, stdout, stderr },
    env,
    cwd: options.cwd ?? process.cwd(),
    signal: options.signal ?? new AbortController().signal,
    ...(options.connect ? { connect: options.connect } : {}),
    ...(options.prompter ? { prompter: options.prompter } : {}),
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

/** The RabbitMQ tier runs only when EVENTLAB_TEST_AMQP_URL is set (CI sets it). */
export const RABBITMQ_URL = process.env["EVENTLAB_TEST_AMQP_URL"];

/** A name no other test (or earlier run) uses. */
export function uniqueName(prefix: string): string {
  return `eventlab-test.${prefix}.${process.pid}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}`;
}

/** A Context over in-memory streams, for driving a command factory with a spy run. */
export async function testContext(env: NodeJS.ProcessEnv = {}) {
  const { createContext } = await import("../../src/context.js");
  return createContext({
    streams: { stdin: Readable.from([]), stdout: memoryStream(false), stderr: memoryStream(false) },
    env,
    cwd: "/",
    signal: new AbortController().signal,
  });
}

/** Unique names a test's teardown deletes: q() for queues, x() for exchanges. */
export function trackedNames(): {
  queues: Set<string>;
  exchanges: Set<string>;
  q: (prefix: string) => string;
  x: (prefix: string) => string;
} {
  const queues = new Set<string>();
  const exchanges = new Set<string>();
  const track = (set: Set<string>) => (prefix: string) => {
    const n = uniqueName(prefix);
    set.add(n);
    return n;
  };
  return { queues, exchanges, q: track(queues), x: track(exchanges) };
}

/** Start the CLI in-process without waiting for it: its streams, its exit, and Ctrl-C. */
export function startCli(argv: string[], env: NodeJS.ProcessEnv = { NO_COLOR: "1" }) {
  const stdout = memoryStream(false);
  const stderr = memoryStream(false);
  const controller = new AbortController();
  const exited = main(argv, {
    streams: { stdin: Readable.from([]), stdout, stderr },
    env,
    cwd: process.cwd(),
    signal: controller.signal,
  });
  return { stdout, stderr, exited, stop: () => controller.abort() };
}
