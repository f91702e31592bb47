/**
 * Acknowledgements that follow the output: settled only once written through, on a pipe only
 * once a pipe's worth of later text proves the reader took it, and given back when the output
 * closes first.
 */
import { describe, expect, it } from "vitest";
import { OutputAcks } from "../../src/client/output-acks.js";

/** A fake output: writes wait until the test completes them, or fail them. */
function harness(lagBytes: number, readerGone?: () => boolean) {
  const pending: Array<{ text: string; done: (err?: Error | null) => void }> = [];
  const settled: number[] = [];
  const givenBack: number[] = [];
  const held: number[] = [];
  let closed = 0;
  const acks = new OutputAcks<number>({
    write: (text, done) => pending.push({ text, done }),
    settle: (n) => settled.push(n),
    giveBack: (n) => givenBack.push(n),
    lagBytes,
    onHeld: (h) => held.push(h),
    ...(readerGone ? { readerGone } : {}),
    onClosed: () => {
      closed += 1;
    },
  });
  const complete = (err?: Error) => pending.shift()?.done(err ?? null);
  return { acks, pending, settled, givenBack, held, complete, closed: () => closed };
}

describe("output acks", () => {
  it("off a pipe: settles a batch when its write completes, not when it is handed over", () => {
    const h = harness(0);
    h.acks.push("one\n", 1);
    h.acks.push("two\n", 2);
    h.acks.flush();
    expect(h.pending.map((p) => p.text)).toEqual(["one\ntwo\n"]);
    expect(h.settled).toEqual([]);
    h.complete();
    expect(h.settled).toEqual([1, 2]);
  });

  it("a write that fails (EPIPE) gives its messages back, and every later one", () => {
    const h = harness(0);
    h.acks.push("one\n", 1);
    h.acks.flush();
    h.acks.push("two\n", 2);
    h.acks.flush();
    h.complete(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
    h.complete();
    h.acks.push("three\n", 3);
    h.acks.flush();
    expect(h.settled).toEqual([]);
    expect(h.givenBack.sort()).toEqual([1, 2, 3]);
    expect(h.acks.outputClosed).toBe(true);
    expect(h.closed()).toBe(1);
  });

  it("on a pipe: settles a message once a pipe's worth of text was written after it", () => {
    const h = harness(10);
    h.acks.push("aaaa\n", 1); // ends at 5
    h.acks.flush();
    h.complete();
    expect(h.settled).toEqual([]);
    expect(h.acks.held).toBe(1);
    h.acks.push("bbbb\n", 2); // ends at 10
    h.acks.flush();
    h.complete();
    expect(h.settled).toEqual([]);
    h.acks.push("cccc\n", 3); // ends at 15: 10 bytes after message 1
    h.acks.flush();
    h.complete();
    expect(h.settled).toEqual([1]);
    expect(h.held.at(-1)).toBe(2);
  });

  it("on a pipe: the reader leaving gives back what it may not have read", () => {
    const h = harness(10);
    for (const n of [1, 2, 3]) {
      h.acks.push(`${n}${n}${n}${n}\n`, n);
      h.acks.flush();
      h.complete();
    }
    expect(h.settled).toEqual([1]);
    h.acks.close();
    expect(h.givenBack).toEqual([2, 3]);
    expect(h.acks.held).toBe(0);
  });

  it("finish settles what the pipe holds while its reader is there, and gives it back when not", async () => {
    for (const [gone, settled, back] of [
      [false, [1, 2], []],
      [true, [], [1, 2]],
    ] as const) {
      const h = harness(100, () => gone);
      h.acks.push("one\n", 1);
      h.acks.push("two\n", 2);
      const finished = h.acks.finish(1000);
      h.complete();
      expect(await finished).toBe(true);
      expect(h.settled).toEqual(settled);
      expect(h.givenBack).toEqual(back);
    }
  });

  it("finish gives back what a stuck write still holds after the time allowed", async () => {
    const h = harness(0);
    h.acks.push("one\n", 1);
    expect(await h.acks.finish(20)).toBe(false);
    expect(h.givenBack).toEqual([1]);
    h.complete();
    expect(h.settled).toEqual([]);
  });

  it("no-ack messages are printed and never settled", () => {
    const h = harness(0);
    h.acks.push("one\n", undefined);
    h.acks.flush();
    h.complete();
    expect(h.settled).toEqual([]);
    expect(h.acks.counts).toEqual({ settled: 0, givenBack: 0 });
  });
});
