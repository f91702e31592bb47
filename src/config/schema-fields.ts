/**
 * The building blocks of the config schema: durations, whole numbers, names, field-table
 * values, text and true/false, each with one message for every way it can be wrong.
 */
import { z } from "zod";
import { DURATION_HINT, parseDuration } from "./duration.js";

/** A duration: `250ms`, `1s`, `2m`, or a number of milliseconds. Parsed to milliseconds. */
export const durationSchema = z
  .union([z.number(), z.string()], { error: `expected ${DURATION_HINT}` })
  .transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `expected ${DURATION_HINT}, got ${JSON.stringify(v)}`,
        input: v,
      });
      return z.NEVER;
    }
    return ms;
  })
  .meta({ description: DURATION_HINT });

/** A whole number in a range, with one message for every way it can be wrong. */
export function wholeNumber(min: number, max?: number) {
  const expected =
    max === undefined
      ? `expected a whole number ≥ ${min}`
      : `expected a whole number from ${min} to ${max}`;
  const s = z.number({ error: expected }).int({ error: expected }).min(min, { error: expected });
  return max === undefined ? s : s.max(max, { error: expected });
}

export const name = (what: string) =>
  z
    .string({ error: `expected ${what === "exchange" ? "an" : "a"} ${what} name (text)` })
    .min(1, `${what} name must not be empty`)
    .max(255, `${what} name is longer than 255 characters`);

/** A name the config declares: the broker refuses to declare `amq.` names. */
export const declaredName = (what: "exchange" | "queue") =>
  name(what).refine((s) => !s.startsWith("amq."), {
    message: `${what} names starting with "amq." are reserved by the broker; pick another name`,
  });

export const URL_EXAMPLE = "amqp://guest:guest@127.0.0.1:5672";

export const amqpUrl = z
  .string({ error: `expected an amqp:// or amqps:// URL such as ${URL_EXAMPLE}` })
  .superRefine((s, ctx) => {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s)?.[1]?.toLowerCase();
    let problem: string | undefined;
    if (scheme === undefined)
      problem = `expected an amqp:// or amqps:// URL such as ${URL_EXAMPLE}`;
    else if (scheme !== "amqp" && scheme !== "amqps")
      problem = `expected an amqp:// or amqps:// URL, not ${scheme}://`;
    else if (s.includes("#"))
      problem = "the URL contains '#', which ends it early; percent-encode it as %23";
    else if (!URL.canParse(s))
      problem =
        "not a valid URL; use amqp://user:password@host:port/vhost and percent-encode special characters (@ → %40, / → %2F)";
    // The URL itself is left out: it may hold a password.
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .meta({
    description: "amqp://user:password@host:port/vhost (percent-encode special characters)",
  });

const FIELD_VALUE = "expected a string, number, true/false, null, list or mapping";

/** Field-table values: what AMQP can carry in headers and arguments. */
export const fieldValueSchema: z.ZodType<unknown> = z.lazy(() =>
  z.union(
    [
      z.string(),
      z.number(),
      z.boolean(),
      z.null(),
      z.array(fieldValueSchema),
      z.record(z.string(), fieldValueSchema),
    ],
    { error: FIELD_VALUE },
  ),
);
export const fieldTable = z.record(z.string(), fieldValueSchema, {
  error: "expected a mapping of names to values",
});
export const bool = () => z.boolean({ error: "expected true or false" });
export const text = () => z.string({ error: "expected text (quote it if it looks like a number)" });

/** `50ms`, or a random range `20ms..200ms`. */
export const durationRangeSchema = z
  .union([z.number(), z.string()], {
    error: `expected ${DURATION_HINT}, or a range like 20ms..200ms`,
  })
  .transform((v, ctx) => {
    const [a, b] = typeof v === "string" && v.includes("..") ? v.split("..") : [v, v];
    const min = parseDuration((a as string | number) ?? "");
    const max = parseDuration((b as string | number) ?? "");
    if (min === undefined || max === undefined || min > max) {
      ctx.addIssue({
        code: "custom",
        message: `expected ${DURATION_HINT}, or a range like 20ms..200ms (low..high), got ${JSON.stringify(v)}`,
        input: v,
      });
      return z.NEVER;
    }
    return { minMs: min, maxMs: max };
  });

/** What a consumer behaviour does with a message that failed. */

export const fieldPath = text().meta({
  description:
    "Where the value is: messageId, correlationId, routingKey, headers.<name> or body.<path>",
});

export const failureSchema = z
  .strictObject({
    rate: z
      .number({ error: "expected a fraction from 0 to 1, like 0.1" })
      .min(0, { error: "expected a fraction from 0 to 1" })
      .max(1, { error: "expected a fraction from 0 to 1" })
      .optional()
      .meta({ description: "Fraction of messages that fail, 0..1" }),
    when: z
      .strictObject({
        field: fieldPath,
        equals: fieldValueSchema
          .optional()
          .meta({ description: "Fails when the value equals this" }),
        in: z
          .array(fieldValueSchema)
          .optional()
          .meta({ description: "Fails when the value is one of these" }),
        above: z.number().optional().meta({ description: "Fails when the value is above this" }),
        below: z.number().optional().meta({ description: "Fails when the value is below this" }),
      })
      .optional()
      .meta({ description: "Fail when a field compares so (equals, in, above, below)" }),
  })
  .meta({ description: "Failure injection: at a rate, or by a condition on a field" });
