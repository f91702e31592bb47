/**
 * Schemas named by a scenario's expectations: a JSON Schema file relative to the config file
 * (or the working directory for a preset), or an inline schema; the contracts of
 * config/contracts.ts, compiled once each.
 */
import { ContractError, contractBase, contractFor } from "../../config/contracts.js";
import type { Context } from "../../context.js";
import { EventlabError } from "../../errors.js";
import type { SchemaLoader } from "../../lab/expectations.js";

export function schemaLoaderFor(ctx: Context, source: string): SchemaLoader {
  const configFile = /\.(ya?ml|json)$/i.test(source) ? source : undefined;
  return async (schema, where) => {
    const base = contractBase(ctx.cwd, configFile);
    try {
      const contract = contractFor(schema, base);
      return (body) => contract.check(body);
    } catch (err) {
      if (!(err instanceof ContractError)) throw err;
      throw new EventlabError("config", `${where}: ${err.message}`, {
        hint: `give the path of a JSON Schema file, relative to ${base}, or the schema itself`,
      });
    }
  };
}
