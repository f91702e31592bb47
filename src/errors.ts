/**
 * One error type for everything a user can see. `cli.ts` is the only place that turns
 * an EventlabError into an exit code and a printed message; everything else throws.
 */

/** The documented exit-code table (README "Exit codes"). */
export const ExitCode = {
  ok: 0,
  failure: 1,
  interrupted: 2,
  /** The run completed but some messages were not delivered (nacked or returned). */
  undelivered: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export type ErrorCode =
  | "usage"
  | "config"
  | "connection"
  | "auth"
  | "vhost"
  | "not-found"
  | "precondition"
  | "access-refused"
  | "resource-locked"
  | "timeout"
  | "interrupted"
  | "broker"
  | "io"
  | "internal";

export interface EventlabErrorOptions {
  hint?: string | undefined;
  cause?: unknown;
  exitCode?: ExitCode;
}

export class EventlabError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: EventlabErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "EventlabError";
    this.code = code;
    this.hint = options.hint;
    this.exitCode =
      options.exitCode ?? (code === "interrupted" ? ExitCode.interrupted : ExitCode.failure);
  }
}

/** Bad flags or arguments. The message names the flag; the hint says what to pass. */
export class UsageError extends EventlabError {
  constructor(message: string, hint?: string) {
    super("usage", message, { hint });
    this.name = "UsageError";
  }
}

/** One problem found in a config file, with where it is. */
export interface ConfigIssue {
  /** Dotted path inside the document, e.g. `templates.order.amount`. */
  path: string;
  message: string;
  /** 1-based line in the file, when known. */
  line?: number | undefined;
}

/** Every problem of a config file, reported in one pass. */
export class ConfigError extends EventlabError {
  readonly file: string | undefined;
  readonly issues: readonly ConfigIssue[];

  constructor(file: string | undefined, issues: readonly ConfigIssue[], hint?: string) {
    super("config", ConfigError.format(file, issues), {
      hint: hint ?? "fix the lines above; `config/eventlab.example.yaml` documents every field",
    });
    this.name = "ConfigError";
    this.file = file;
    this.issues = issues;
  }

  static format(file: string | undefined, issues: readonly ConfigIssue[]): string {
    const lines = issues.map((i) => {
      const where = file ? `${file}${i.line ? `:${i.line}` : ""} ` : "";
      return `${where}${i.path ? `${i.path}: ` : ""}${i.message}`;
    });
    if (lines.length === 1) return `invalid config: ${lines[0]}`;
    return `invalid config (${issues.length} problems):\n  ${lines.join("\n  ")}`;
  }
}

/** The user pressed Ctrl-C (or the run was aborted); exit code 2. */
export class InterruptedError extends EventlabError {
  constructor(message = "interrupted") {
    super("interrupted", message);
    this.name = "InterruptedError";
  }
}
