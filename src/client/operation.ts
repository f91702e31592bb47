/**
 * What eventlab was doing when the broker refused, and that operation in words: the subject of
 * every broker error message (`cannot declare queue "jobs"`, ` while consuming from queue "jobs"`).
 */

/** What eventlab was doing when the broker refused. */
export type Operation =
  | {
      op: "declare";
      kind: "exchange" | "queue";
      name: string;
      passive?: boolean;
      /** For a queue: whether the declare asked for an exclusive queue, when known. */
      exclusive?: boolean;
    }
  | { op: "delete"; kind: "exchange" | "queue"; name: string }
  | {
      op: "bind" | "unbind";
      source: string;
      destination: string;
      destinationKind: "exchange" | "queue";
    }
  /** `consume --exchange`: binding the temporary queue `queue` to `exchange`. */
  | { op: "tap"; exchange: string; queue: string }
  | { op: "publish"; exchange?: string | undefined }
  | { op: "consume" | "purge" | "get"; queue: string }
  | { op: "settle"; queue: string };

/** An exchange or a queue, by name. */
export interface Subject {
  kind: "exchange" | "queue";
  name: string;
}

/** An operation in words: its verb, the verb under way, and what it acts on. */
function phrase(op: Operation): { verb: string; ing: string; object: string } {
  const queue = (name: string) => `queue ${quoteName(name)}`;
  switch (op.op) {
    case "declare":
      return op.passive
        ? { verb: "check", ing: "checking", object: `${op.kind} ${quoteName(op.name)}` }
        : { verb: "declare", ing: "declaring", object: `${op.kind} ${quoteName(op.name)}` };
    case "delete":
      return { verb: "delete", ing: "deleting", object: `${op.kind} ${quoteName(op.name)}` };
    case "bind":
    case "unbind": {
      const object = `${op.destinationKind} ${quoteName(op.destination)} ${op.op === "bind" ? "to" : "from"} exchange ${quoteName(op.source)}`;
      return { verb: op.op, ing: `${op.op}ing`, object };
    }
    case "tap":
      return { verb: "tap", ing: "tapping", object: exchangeName(op.exchange) };
    case "publish":
      return {
        verb: "publish",
        ing: "publishing",
        object: `to ${exchangeName(op.exchange ?? "")}`,
      };
    case "consume":
      return { verb: "consume", ing: "consuming", object: `from ${queue(op.queue)}` };
    case "purge":
      return { verb: "purge", ing: "purging", object: queue(op.queue) };
    case "get":
      return { verb: "get", ing: "getting", object: `a message from ${queue(op.queue)}` };
    case "settle":
      return {
        verb: "acknowledge",
        ing: "acknowledging",
        object: `a message from ${queue(op.queue)}`,
      };
  }
}

/** What the operation was, as a person reads it: `cannot publish to exchange "orders"`. */
export function attempt(op: Operation | undefined): string {
  if (!op) return "the broker refused the operation";
  if (op.op === "publish" && op.exchange === undefined)
    return "the broker refused a published message";
  const p = phrase(op);
  return `cannot ${p.verb} ${p.object}`;
}

/** The same operation as something under way: ` while consuming from queue "jobs"`. */
export function during(op: Operation | undefined): string {
  if (!op) return "";
  if (op.op === "publish" && op.exchange === undefined) return " while publishing";
  const p = phrase(op);
  return ` while ${p.ing} ${p.object}`;
}

/** The object the operation was about, when the reply does not name one. */
export function subjectOf(op: Operation | undefined): Subject | undefined {
  if (!op) return undefined;
  switch (op.op) {
    case "declare":
    case "delete":
      return { kind: op.kind, name: op.name };
    case "publish":
      return op.exchange === undefined ? undefined : { kind: "exchange", name: op.exchange };
    case "tap":
      return { kind: "exchange", name: op.exchange };
    case "consume":
    case "purge":
    case "get":
    case "settle":
      return { kind: "queue", name: op.queue };
    default:
      return undefined;
  }
}

export function quoteName(name: string): string {
  return name === "" ? '""' : `"${name}"`;
}

function exchangeName(name: string): string {
  return name === "" ? "the default exchange" : `exchange ${quoteName(name)}`;
}

/** A name as it is typed into a shell: quoted only when it needs to be. */
export function shellQuote(s: string): string {
  return /^[\w.@%+=:,/-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
