import { Chalk, type ChalkInstance } from "chalk";

/** Colours and symbols, decided once from the Io. Knows nothing of AMQP. */
export interface Theme {
  readonly chalk: ChalkInstance;
  error(s: string): string;
  warn(s: string): string;
  ok(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
  accent(s: string): string;
  key(s: string): string;
  readonly symbols: { ok: string; fail: string; warn: string; info: string; arrow: string };
}

export function createTheme(color: boolean): Theme {
  const chalk = new Chalk({ level: color ? 1 : 0 });
  return {
    chalk,
    error: (s) => chalk.red(s),
    warn: (s) => chalk.yellow(s),
    ok: (s) => chalk.green(s),
    dim: (s) => chalk.dim(s),
    bold: (s) => chalk.bold(s),
    accent: (s) => chalk.cyan(s),
    key: (s) => chalk.magenta(s),
    symbols: { ok: "✓", fail: "✗", warn: "!", info: "›", arrow: "→" },
  };
}
