/**
 * `--web`: start the web view on a source, say where it is (stderr), and open a browser unless
 * told not to, never in CI or without a terminal.
 */
import { spawn } from "node:child_process";
import { EventlabError } from "../errors.js";

export { WEB_HELP, type WebFlags } from "./flags.js";

import { startWebView, type WebSource, type WebView } from "./server.js";

export interface LaunchOptions {
  source: WebSource;
  port: number;
  open: boolean;
  /** Writes a line to stderr. */
  err: (line: string) => void;
  stderrIsTTY: boolean;
  env: NodeJS.ProcessEnv;
}

/** Whether a browser may be opened here: a person at a terminal, not CI. */
export function mayOpenBrowser(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if (!isTTY) return false;
  const ci = env["CI"];
  return ci === undefined || ci === "" || ci === "false" || ci === "0";
}

function openBrowser(url: string): void {
  const [cmd, args] =
    process.platform === "darwin"
      ? ["open", [url]]
      : process.platform === "win32"
        ? ["cmd", ["/c", "start", "", url]]
        : ["xdg-open", [url]];
  try {
    const child = spawn(cmd, args, { stdio: "ignore", detached: true });
    child.on("error", () => {});
    child.unref();
  } catch {
    // No browser opener: the URL is printed above.
  }
}

export async function launchWebView(o: LaunchOptions): Promise<WebView> {
  let view: WebView;
  try {
    view = await startWebView({ source: o.source, port: o.port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new EventlabError(
      "connection",
      code === "EADDRINUSE"
        ? `cannot serve the web view: port ${o.port} on 127.0.0.1 is already in use`
        : `cannot serve the web view on 127.0.0.1:${o.port}: ${(err as Error).message}`,
      { hint: "give another --web-port, or --web-port 0 for a free one", cause: err },
    );
  }
  o.err(`  web view on ${view.url}`);
  if (o.open && mayOpenBrowser(o.env, o.stderrIsTTY)) openBrowser(view.url);
  return view;
}
