/**
 * Recovery's columns of placements: ids ascend in log order and are found by binary search;
 * removed ones are only marked; queue order is by seq, sorted only when compaction appended
 * moved messages out of it; an id out of order still lands where it belongs.
 */
import { describe, expect, it } from "vitest";
import { Placements } from "../../src/broker/store/placements.js";

const p = (seq: number, extra: Partial<{ redelivered: boolean; returns: number }> = {}) => ({
  queue: "q",
  seq,
  expiresAt: Number.POSITIVE_INFINITY,
  priority: 0,
  redelivered: extra.redelivered ?? false,
  returns: extra.returns ?? 0,
});

const ids = (x: Placements) => [...x.order()].map((i) => x.row(i).id);

describe("Placements", () => {
  it("keeps many rows, removes and marks by id, counts what is live", () => {
    const x = new Placements();
    for (let i = 0; i < 1000; i++) x.add(10 * i, 100 + i, p(i + 1));
    x.remove(0);
    x.remove(5000);
    x.remove(5000); // twice: once
    x.remove(12345); // unknown: nothing
    x.mark(10, 3);
    expect(x.live).toBe(998);
    const order = x.order();
    expect(order.length).toBe(998);
    expect(x.row(order[0] as number)).toMatchObject({
      id: 10,
      seq: 2,
      redelivered: true,
      returns: 3,
      size: 101,
    });
    expect(ids(x)).not.toContain(5000);
  });

  it("orders by seq when moved messages came later with older seqs", () => {
    const x = new Placements();
    x.add(100, 1, p(5));
    x.add(200, 1, p(6));
    x.add(300, 1, p(2)); // moved on by compaction: a new id, its old place in the queue
    x.remove(100);
    expect(ids(x)).toEqual([300, 200]);
  });

  it("puts an id that comes out of order where it belongs, and can still find it", () => {
    const x = new Placements();
    x.add(100, 1, p(1));
    x.add(300, 1, p(3));
    x.add(200, 1, p(2));
    expect(ids(x)).toEqual([100, 200, 300]);
    x.remove(200);
    expect(ids(x)).toEqual([100, 300]);
    expect(x.live).toBe(2);
  });
});
