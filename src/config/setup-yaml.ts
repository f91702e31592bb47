/**
 * The config file `eventlab setup` writes, built with the `yaml` Document API: the library
 * quotes and nests; this module only says what goes where, which short mappings stay on
 * one line, and the comments that explain the file to the person who reads it.
 */

import { Document, isMap, isPair, isScalar, isSeq, type Node } from "yaml";
import { DEFAULT_URL } from "./constants.js";
import { durationText } from "./duration.js";
import { GENERATORS, type SetupAnswers, type TemplateAnswer, TYPE_HELP } from "./setup-answers.js";

/** The config text for `a`, dated `now` in its opening comment. */
export function configText(a: SetupAnswers, now = new Date()): string {
  const doc = new Document({
    broker: { url: a.broker === "embedded" ? DEFAULT_URL : a.broker },
    topology: {
      // Maps keep the order of the answers (a plain object would put "123" first).
      exchanges: new Map([[a.exchange, { type: a.type }]]),
      queues: new Map(a.queues.map((q) => [q.name, {}])),
      bindings: a.queues.map((q) => ({
        source: a.exchange,
        destination: q.name,
        ...(a.type === "headers" ? { match: a.match, headers: q.headers ?? {} } : {}),
        ...(a.type === "direct" || a.type === "topic" ? { routingKey: q.key ?? "" } : {}),
      })),
    },
    templates: new Map(a.templates.map((t) => [t.name, template(a.exchange, t)])),
  });

  const root = doc.contents;
  if (root !== null) {
    root.commentBefore = [
      ` Written by \`eventlab setup\` on ${now.toISOString().slice(0, 10)}.`,
      " Every field is described in the example config: `eventlab init --file example.yaml`.",
    ].join("\n");
  }
  if (a.broker === "embedded") {
    const url = keyNode(doc, ["broker"], "url");
    if (url !== undefined)
      url.commentBefore =
        " The embedded broker: start it with `eventlab broker` (in memory, lost on restart).";
  }
  const exchange = node(doc, ["topology", "exchanges", a.exchange]);
  if (exchange !== undefined) exchange.comment = ` ${TYPE_HELP[a.type]}`;
  oneLine(exchange);
  const bindings = node(doc, ["topology", "bindings"]);
  if (isSeq(bindings)) for (const b of bindings.items) oneLine(b);
  for (const t of a.templates) {
    oneLine(node(doc, ["templates", t.name, "headers"]));
    oneLine(node(doc, ["templates", t.name, "properties"]));
  }
  return doc.toString({ lineWidth: 0 });
}

function template(exchange: string, t: TemplateAnswer): Record<string, unknown> {
  return {
    exchange,
    ...(t.routingKey !== "" ? { routingKey: t.routingKey } : {}),
    ...(Object.keys(t.headers).length > 0 ? { headers: t.headers } : {}),
    properties: { contentType: "application/json" },
    body: new Map(t.fields.map(([field, gen]) => [field, GENERATORS[gen]?.[0] ?? gen])),
    amount: t.amount,
    delay: durationText(t.delayMs),
  };
}

function node(doc: Document, path: string[]): Node | undefined {
  const found: unknown = doc.getIn(path, true);
  return isMap(found) || isSeq(found) || isScalar(found) ? found : undefined;
}

/** The key of `key` in the mapping at `path`, where a comment above the line belongs. */
function keyNode(doc: Document, path: string[], key: string): Node | undefined {
  const map = node(doc, path);
  if (!isMap(map)) return undefined;
  const pair = map.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
  return isScalar(pair?.key) ? pair.key : undefined;
}

/** A short mapping written on one line: `{ type: topic }`. */
function oneLine(n: unknown): void {
  if (isMap(n)) n.flow = true;
}
