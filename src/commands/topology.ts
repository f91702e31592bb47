import { Command } from "commander";
import type { Context } from "../context.js";

// TEMPORARY placeholder while the command is written.
export function topologyCommand(_ctx: Context): Command {
  return new Command("topology");
}
