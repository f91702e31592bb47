/**
 * The list query parameters of RabbitMQ's management API: `name` (a substring, or a regular
 * expression with use_regex=true), `sort` by a (dotted) field with `sort_reverse`, `columns`
 * to keep only some (dotted) fields, and `page`/`page_size`, which wrap the list in
 * RabbitMQ's paged shape.
 */
import { BadRequest, type Json } from "./json.js";

type Obj = { [key: string]: Json };

function pick(o: Json, path: string[]): Json | undefined {
  let cur: Json | undefined = o;
  for (const p of path) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    cur = (cur as Obj)[p];
  }
  return cur;
}

/** Only the named columns, nested where the name has dots (queue_totals.messages). */
function columns(o: Json, names: string[]): Json {
  const out: Obj = {};
  for (const name of names) {
    const path = name.split(".");
    const v = pick(o, path);
    if (v === undefined) continue;
    let at = out;
    for (const p of path.slice(0, -1)) {
      if (typeof at[p] !== "object" || at[p] === null) at[p] = {};
      at = at[p] as Obj;
    }
    at[path[path.length - 1] as string] = v;
  }
  return out;
}

function compare(a: Json | undefined, b: Json | undefined): number {
  if (a === b) return 0;
  if (a === undefined || a === null) return -1;
  if (b === undefined || b === null) return 1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b));
}

function positive(v: string | null, name: string, fallback: number): number {
  if (v === null) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new BadRequest(`${name} must be a whole number ≥ 1`);
  return n;
}

/**
 * A GET's answer with the query applied: a list is filtered, sorted (by name unless asked
 * otherwise, as RabbitMQ does), cut to columns and paged; an object is cut to columns.
 */
export function listQuery(answer: Json, q: URLSearchParams): Json {
  const cols = q.get("columns");
  // On one object RabbitMQ keeps whole top-level fields: queue_totals.messages keeps queue_totals.
  if (!Array.isArray(answer)) {
    const top = cols?.split(",").map((c) => c.split(".")[0] as string);
    return top && answer !== null ? columns(answer, [...new Set(top)]) : answer;
  }
  const items = answer;
  let list = items;
  const name = q.get("name");
  if (name) {
    let test: (s: string) => boolean;
    if (q.get("use_regex") === "true") {
      let re: RegExp;
      try {
        re = new RegExp(name);
      } catch {
        throw new BadRequest(`name is not a valid regular expression: ${name}`);
      }
      test = (s) => re.test(s);
    } else test = (s) => s.includes(name);
    list = list.filter((o) => test(String(pick(o, ["name"]) ?? "")));
  }
  const sort =
    q.get("sort") ?? (list.every((o) => typeof pick(o, ["name"]) === "string") ? "name" : null);
  if (sort) {
    const path = sort.split(".");
    list = [...list].sort((a, b) => compare(pick(a, path), pick(b, path)));
  }
  if (q.get("sort_reverse") === "true") list = [...list].reverse();
  if (cols) list = list.map((o) => columns(o, cols.split(",")));
  if (q.get("page") === null) return list;
  const page = positive(q.get("page"), "page", 1);
  const size = positive(q.get("page_size"), "page_size", 100);
  const pageCount = Math.max(1, Math.ceil(list.length / size));
  const items2 = list.slice((page - 1) * size, page * size);
  return {
    filtered_count: list.length,
    item_count: items2.length,
    items: items2,
    page,
    page_count: pageCount,
    page_size: size,
    total_count: items.length,
  };
}
