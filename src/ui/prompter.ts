/**
 * Questions to a person, on a terminal only. Every question has an id, so tests answer
 * by id with a scripted prompter, and every id has a flag in the command that asks it.
 * Ctrl-C during a question becomes PromptCancelled; nothing else knows about inquirer.
 */
import { EventlabError } from "../errors.js";
import type { Io } from "./io.js";

export interface Choice<T extends string> {
  value: T;
  name: string;
  description?: string;
  /** Shown once answered, instead of `name`. */
  short?: string;
  checked?: boolean;
}

export interface Prompter {
  input(q: {
    id: string;
    message: string;
    default?: string;
    /** True when acceptable, else the message to show. */
    validate?: (value: string) => true | string;
  }): Promise<string>;
  select<T extends string>(q: {
    id: string;
    message: string;
    choices: Choice<T>[];
    default?: T;
  }): Promise<T>;
  checkbox<T extends string>(q: {
    id: string;
    message: string;
    choices: Choice<T>[];
  }): Promise<T[]>;
  confirm(q: { id: string; message: string; default?: boolean }): Promise<boolean>;
}

/** Ctrl-C (or a closed terminal) during a question: exit code 2, as any interruption. */
export class PromptCancelled extends EventlabError {
  constructor() {
    super("interrupted", "cancelled at a prompt");
    this.name = "PromptCancelled";
  }
}

function cancelled(err: unknown): boolean {
  const name = (err as { name?: string } | undefined)?.name;
  return name === "ExitPromptError" || name === "AbortPromptError";
}

/** The real prompter: inquirer on the Io's streams, loaded on first use. */
export function inquirerPrompter(io: Io, signal?: AbortSignal): Prompter {
  const load = async () => {
    const { default: inquirer } = await import("inquirer");
    return inquirer.createPromptModule({ input: io.stdin, output: io.stderr });
  };
  let prompt: Awaited<ReturnType<typeof load>> | undefined;
  const ask = async <T>(question: Record<string, unknown>): Promise<T> => {
    prompt ??= await load();
    try {
      const answers = (await prompt([{ ...question, name: "answer" }] as never, undefined)) as {
        answer: T;
      };
      if (signal?.aborted) throw new PromptCancelled();
      return answers.answer;
    } catch (err) {
      if (cancelled(err)) throw new PromptCancelled();
      throw err;
    }
  };
  return {
    input: (q) =>
      ask<string>({
        type: "input",
        message: q.message,
        default: q.default,
        validate: q.validate,
      }),
    select: (q) =>
      ask({
        type: "select",
        message: q.message,
        choices: q.choices,
        default: q.default,
      }),
    checkbox: (q) => ask({ type: "checkbox", message: q.message, choices: q.choices }),
    confirm: (q) => ask<boolean>({ type: "confirm", message: q.message, default: q.default }),
  };
}
