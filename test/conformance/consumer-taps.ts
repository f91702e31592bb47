/**
 * What the consumer scenarios share (scenarios-consumers.ts, scenarios-consumer-timeout.ts):
 * consumers that record their deliveries, publishing with confirms, and waits bounded by count
 * and time.
 *
 * Ordering across channels: an ack travels from the acking channel to the queue, a publish from
 * the publishing channel; RabbitMQ does not order the two. Where a scenario needs an ack to be
 * seen before a later publish, it follows the ack with a round trip to the queue on the acking
 * channel (`settled`), which the queue answers only after the ack.
 */
import type { Channel, ConfirmChannel, Message, Options } from "amqplib";
import type { Ctx, Outcome, TrackedChannel } from "./harness.js";

const B = (s: string) => Buffer.from(s);

export async function publish(ch: ConfirmChannel, q: string, bodies: string[]): Promise<void> {
  for (const b of bodies) ch.sendToQueue(q, B(b));
  await ch.waitForConfirms();
}

/** A consumer that records what it gets: the body, marked when redelivered. */
export interface Tap {
  tag: string;
  ch: Channel;
  got: string[];
  msgs: Message[];
}

function show(m: Message): string {
  return `${m.content.toString()}${m.fields.redelivered ? " (redelivered)" : ""}`;
}

export async function tap(ch: Channel, q: string, options: Options.Consume = {}): Promise<Tap> {
  const t: Tap = { tag: "", ch, got: [], msgs: [] };
  const ok = await ch.consume(
    q,
    (m) => {
      if (!m) return;
      t.got.push(show(m));
      t.msgs.push(m);
    },
    options,
  );
  t.tag = ok.consumerTag;
  return t;
}

/** Wait (bounded, 3 s) until the taps together hold `n` deliveries. */
export async function received(ctx: Ctx, taps: Tap[], n: number): Promise<void> {
  await ctx.poll(
    async () => taps.reduce((sum, t) => sum + t.got.length, 0),
    (sum) => sum >= n,
  );
}

/** Ack one delivery by body and wait until the queue has seen it (see the file comment). */
export async function ack(t: Tap, q: string, body: string): Promise<void> {
  const m = t.msgs.find((x) => x.content.toString() === body);
  if (!m) throw new Error(`no delivery ${body} on ${t.tag}`);
  t.ch.ack(m);
  await settled(t.ch, q);
}

/** A round trip to the queue on `ch`: its ready count, once it has seen what `ch` sent. */
export async function settled(ch: Channel, q: string): Promise<number> {
  return (await ch.checkQueue(q)).messageCount;
}

/** Each consumer's deliveries, by a name the scenario chose. */
export function byName(taps: Record<string, Tap>): Record<string, Outcome> {
  const out: Record<string, Outcome> = {};
  for (const [name, t] of Object.entries(taps)) out[name] = [...t.got];
  return out;
}

/** One connection with `n` plain channels and a confirm channel to publish on. */
export async function channels(ctx: Ctx, n: number) {
  const s = await ctx.connect();
  const list: TrackedChannel[] = [];
  for (let i = 0; i < n; i++) list.push(await s.channel());
  const pub = (await s.confirmChannel()).ch;
  return { s, list, pub };
}
