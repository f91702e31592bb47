import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  BASIC_PROPERTIES,
  CLASSES,
  DOMAINS,
  FRAME_BODY,
  FRAME_END,
  FRAME_HEADER,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  FRAME_MIN_SIZE,
  METHODS,
  methodById,
  methodByName,
} from "../../src/broker/codec/index.js";
import { type JsonSpec, specPath } from "./codec-oracle.js";

const present = existsSync(specPath);
const why = present ? "" : " (skipped: ../shared/spec/amqp-rabbitmq-0.9.1.json not found)";

describe.skipIf(!present)(`the method table matches RabbitMQ's spec file${why}`, () => {
  const spec = (present ? JSON.parse(readFileSync(specPath, "utf8")) : {}) as JsonSpec;

  it("has exactly the spec's domains and their types", () => {
    expect(DOMAINS).toEqual(Object.fromEntries(spec.domains));
  });

  it("has every class and method, in order, with ids, names and flags", () => {
    expect(CLASSES.map((c) => [c.id, c.name])).toEqual(spec.classes.map((c) => [c.id, c.name]));
    for (const [i, jc] of spec.classes.entries()) {
      const c = CLASSES[i]!;
      expect(c.methods.map((m) => [m.methodId, m.methodName])).toEqual(
        jc.methods.map((m) => [m.id, m.name]),
      );
      for (const [j, jm] of jc.methods.entries()) {
        const m = c.methods[j]!;
        expect({ name: m.name, sync: m.synchronous, content: m.content }).toEqual({
          name: `${jc.name}.${jm.name}`,
          sync: jm.synchronous === true,
          content: jm.content === true,
        });
        expect(m.classId).toBe(jc.id);
        expect(methodById(jc.id, jm.id)).toBe(m);
        expect(methodByName(m.name)).toBe(m);
      }
    }
    expect(METHODS.length).toBe(spec.classes.reduce((n, c) => n + c.methods.length, 0));
  });

  it("has every argument in order with its domain, wire type and default", () => {
    const domains = Object.fromEntries(spec.domains);
    let checked = 0;
    for (const jc of spec.classes) {
      for (const jm of jc.methods) {
        const m = methodById(jc.id, jm.id)!;
        expect(
          m.args.map((a) => ({
            name: a.name,
            domain: a.domain,
            type: a.type,
            hasDefault: a.hasDefault,
            defaultValue: a.defaultValue,
          })),
          m.name,
        ).toEqual(
          jm.arguments.map((a) => ({
            name: a.name,
            domain: a.domain ?? a.type,
            type: a.domain !== undefined ? domains[a.domain] : a.type,
            hasDefault: "default-value" in a,
            defaultValue: a["default-value"],
          })),
        );
        checked += jm.arguments.length;
      }
    }
    expect(checked).toBe(148);
  });

  it("has the 14 basic properties with their types and flag bits", () => {
    const props = spec.classes.find((c) => c.name === "basic")?.properties ?? [];
    expect(props).toHaveLength(14);
    expect(BASIC_PROPERTIES.map((p) => [p.name, p.type, p.flag])).toEqual(
      props.map((p, i) => [p.name, p.type, 0x8000 >> i]),
    );
    const others = spec.classes.filter((c) => c.name !== "basic" && (c.properties ?? []).length);
    expect(others).toEqual([]);
  });

  it("agrees on the frame constants", () => {
    const k = Object.fromEntries(spec.constants.map((c) => [c.name, c.value]));
    expect([
      FRAME_METHOD,
      FRAME_HEADER,
      FRAME_BODY,
      FRAME_HEARTBEAT,
      FRAME_END,
      FRAME_MIN_SIZE,
    ]).toEqual([
      k["FRAME-METHOD"],
      k["FRAME-HEADER"],
      k["FRAME-BODY"],
      k["FRAME-HEARTBEAT"],
      k["FRAME-END"],
      k["FRAME-MIN-SIZE"],
    ]);
  });
});
