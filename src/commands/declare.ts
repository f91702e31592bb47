import { Command } from "commander";
import type { Context } from "../context.js";

// TEMPORARY placeholder while the command is written.
export function declareCommand(_ctx: Context): Command {
  return new Command("declare");
}
