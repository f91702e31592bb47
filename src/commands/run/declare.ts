/**
 * What `eventlab declare exchange|queue|binding` does once its flags are parsed: declare the
 * object on its own connection and print what happened (created, already there, bound).
 */
import { withConnection } from "../../client/connect.js";
import { declareBinding, declareExchange, declareQueue } from "../../client/topology.js";
import type { Context } from "../../context.js";
import { declaredLine } from "../../ui/declared-view.js";
import type { DeclareOptions } from "../declare.js";

export async function runDeclare(ctx: Context, o: DeclareOptions): Promise<void> {
  const open = () => ctx.connect({ connectionName: "eventlab declare" });
  const r = await withConnection(open, (connection) => {
    switch (o.command) {
      case "exchange": {
        const { command: _, name, json: __, ...settings } = o;
        return declareExchange(connection, name, settings);
      }
      case "queue": {
        const { command: _, name, json: __, ...settings } = o;
        return declareQueue(connection, name, settings);
      }
      case "binding": {
        const { command: _, json: __, ...binding } = o;
        return declareBinding(connection, binding);
      }
    }
  });
  ctx.io.out(declaredLine(r, o.json, ctx.theme));
}
