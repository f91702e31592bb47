/**
 * `eventlab setup` in a real pseudo-terminal (tmux), answered key by key as a person would:
 * the built binary, inquirer's prompts, the live check of a binding key, the file, and the
 * short round trip on the embedded broker. Needs `npm run build` and tmux (CI has both).
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { BIN, type Terminal, TMUX_AVAILABLE, terminal } from "../helpers/tmux.js";

describe.runIf(TMUX_AVAILABLE)("eventlab setup in a pseudo-terminal", () => {
  let dir: string;
  let t: Terminal;
  const keys = (...k: string[]) => t.keys(...k);
  const see = (text: string, timeoutMs?: number) => t.see(text, timeoutMs);
  const screen = () => t.screen();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "eventlab-setup-pty-"));
    t = terminal(
      `cd '${dir}' && NO_COLOR=1 EVENTLAB_URL= '${process.execPath}' '${BIN}' setup; echo "EXIT:$?"; sleep 30`,
      { columns: 120, rows: 50 },
    );
  });

  afterAll(async () => {
    t?.close();
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
    expect(c.templates["order"]).toMatchObject({ routingKey: "order.example", amount: 3 });
  });
});
