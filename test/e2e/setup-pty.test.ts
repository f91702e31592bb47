/**
 * `eventlab setup` in a real pseudo-terminal (tmux), answered key by key as a person would:
 * the built binary, inquirer's prompts, the live check of a binding key, the file, and the
 * short round trip on the embedded broker. Needs `npm run build` and tmux (CI has both).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";

const root = path.resolve(import.meta.dirname, "../..");
const bin = path.join(root, "bin/eventlab.js");

function hasTmux(): boolean {
  try {
    execFileSync("tmux", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

// In CI a missing tmux is a failure, not a skip: the pseudo-terminal run must happen there.
const available = hasTmux() || process.env.CI === "true";

describe.runIf(available)("eventlab setup in a pseudo-terminal", () => {
  const session = `eventlab-setup-${randomBytes(4).toString("hex")}`;
  let dir: string;
  const tmux = (...args: string[]) => execFileSync("tmux", args, { encoding: "utf8" });
  const screen = () => tmux("capture-pane", "-p", "-t", session);
  const keys = (...k: string[]) => tmux("send-keys", "-t", session, ...k);

  /** Wait (bounded by time) until the screen shows `text`. */
  async function see(text: string, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = screen();
      if (s.includes(text)) return s;
      if (Date.now() > deadline) throw new Error(`"${text}" not on screen:\n${s}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "eventlab-setup-pty-"));
    tmux(
      "new-session",
      "-d",
      "-s",
      session,
      "-x",
      "120",
      "-y",
      "50",
      `cd '${dir}' && NO_COLOR=1 EVENTLAB_URL= '${process.execPath}' '${bin}' setup; echo "EXIT:$?"; sleep 30`,
    );
  });

  afterAll(async () => {
    try {
      tmux("kill-session", "-t", session);
    } catch {
      // already gone
    }
    await rm(dir, { recursive: true, force: true });
  });

  it("asks, checks a sample key live, writes the file and tries it", async () => {
    await see("Which broker?");
    keys("Enter");
    await see("Exchange name");
    keys("orders", "Enter");
    await see("Type of orders");
    expect(screen()).toContain("bindings use patterns: * one word, # any words");
    keys("Enter");
    await see("First queue");
    keys("inventory", "Enter");
    await see("Binding key of inventory");
    keys("order.*", "Enter");
    await see("Try a routing key");
    keys("order.created", "Enter");
    await see("✓ order.created  `*` took 'created'");
    keys("Enter");
    await see("Add another queue?");
    keys("n", "Enter");
    await see("Name of the message template");
    keys("Enter");
    await see("Routing key of its messages");
    keys("Enter");
    await see("Fields of the message body");
    keys("Enter");
    await see("How many messages per run?");
    keys("3", "Enter");
    await see("Pause between messages");
    keys("0", "Enter");
    await see("Add another template?");
    keys("n", "Enter");
    await see("Apply the topology and run a short produce and consume now?");
    keys("Enter");
    const end = await see("EXIT:", 20_000);
    expect(end).toContain("✓ wrote eventlab.config.yaml");
    expect(end).toContain("✓ tried it: published 3, returned 0, consumed inventory 3/3");
    expect(end).toContain("EXIT:0");
    const file = path.join(dir, "eventlab.config.yaml");
    expect(existsSync(file)).toBe(true);
    const c = parseConfig(await readFile(file, "utf8"), "eventlab.config.yaml");
    expect(c.topology.bindings[0]).toMatchObject({ source: "orders", routingKey: "order.*" });
    expect(c.templates.order).toMatchObject({ routingKey: "order.example", amount: 3 });
  });
});
