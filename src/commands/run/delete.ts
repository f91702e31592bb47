/**
 * What `eventlab delete exchange|queue|binding` does once its flags are parsed: delete the
 * object on its own connection and say what happened, honestly when there was nothing to
 * delete.
 */
import { withConnection } from "../../client/connect.js";
import { type DeleteResult, deleteExchange, deleteQueue, unbind } from "../../client/topology.js";
import type { Context } from "../../context.js";
import type { DeleteOptions } from "../delete.js";

export async function runDelete(ctx: Context, o: DeleteOptions): Promise<void> {
  const open = () => ctx.connect({ connectionName: "eventlab delete" });
  const r = await withConnection(open, (connection) => {
    switch (o.command) {
      case "exchange":
        return deleteExchange(connection, o.name, o.ifUnused);
      case "queue":
        return deleteQueue(connection, o.name, { ifUnused: o.ifUnused, ifEmpty: o.ifEmpty });
      case "binding": {
        const { command: _, json: __, ...binding } = o;
        return unbind(connection, binding);
      }
    }
  });
  print(ctx, r, o.json);
}

function print(ctx: Context, r: DeleteResult, json: boolean): void {
  if (json) {
    ctx.io.out(`${JSON.stringify(r)}\n`);
    return;
  }
  const { theme } = ctx;
  if (r.status === "absent") {
    ctx.io.out(
      `${theme.dim("•")} ${r.kind} ${theme.bold(r.name)} did not exist; nothing deleted\n`,
    );
    return;
  }
  if (r.kind === "binding") {
    ctx.io.out(
      `${theme.ok("✓")} unbound ${theme.bold(r.name)}${theme.dim(" (the broker does not say whether such a binding existed)")}\n`,
    );
    return;
  }
  const messages =
    r.messageCount !== undefined
      ? ` with ${r.messageCount} message${r.messageCount === 1 ? "" : "s"}`
      : "";
  ctx.io.out(`${theme.ok("✓")} deleted ${r.kind} ${theme.bold(r.name)}${messages}\n`);
}
