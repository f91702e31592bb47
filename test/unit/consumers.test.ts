/**
 * Who a queue delivers to (src/broker/model/consumers.ts): priorities, turns, consumers that
 * were full rejoining at the back, single active consumer hand-over, exclusivity and the
 * declare-ok count, for classic and quorum queues.
 */
import { describe, expect, it } from "vitest";
import { type ConsumerRules, Consumers } from "../../src/broker/model/consumers.js";

class Fake {
  room = true;
  unacked = 0;
  constructor(
    readonly name: string,
    readonly priority = 0,
    readonly exclusive = false,
  ) {}
  canTake(): boolean {
    return this.room;
  }
}

const CLASSIC: ConsumerRules = { type: "classic", singleActive: false };
const QUORUM: ConsumerRules = { type: "quorum", singleActive: false };
const CLASSIC_SAC: ConsumerRules = { type: "classic", singleActive: true };
const QUORUM_SAC: ConsumerRules = { type: "quorum", singleActive: true };

function make(rules: ConsumerRules, ...members: Fake[]): Consumers<Fake> {
  const set = new Consumers<Fake>(rules);
  for (const m of members) set.add(m);
  return set;
}

/** Names of the next `n` picks, one delivery round each (refresh first, as the queue does). */
function picks(set: Consumers<Fake>, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    set.refresh();
    out.push(set.next()?.name ?? "-");
  }
  return out;
}

describe("turns and priorities", () => {
  it("takes turns in registration order within a priority", () => {
    const set = make(CLASSIC, new Fake("a"), new Fake("b"), new Fake("c"));
    expect(picks(set, 7)).toEqual(["a", "b", "c", "a", "b", "c", "a"]);
  });

  it("serves the highest priority with room first, lower ones only when it is full", () => {
    const low = new Fake("low", 1);
    const high = new Fake("high", 10);
    const negative = new Fake("neg", -5);
    const set = make(CLASSIC, negative, low, high);
    expect(picks(set, 2)).toEqual(["high", "high"]);
    high.room = false;
    expect(picks(set, 2)).toEqual(["low", "low"]);
    low.room = false;
    expect(picks(set, 1)).toEqual(["neg"]);
    negative.room = false;
    expect(picks(set, 1)).toEqual(["-"]);
    high.room = true;
    expect(picks(set, 1)).toEqual(["high"]);
  });

  it("a consumer found full leaves the turn and rejoins at the back when it has room", () => {
    const [a, b, c] = [new Fake("a"), new Fake("b"), new Fake("c")];
    const set = make(CLASSIC, a, b, c);
    expect(picks(set, 3)).toEqual(["a", "b", "c"]);
    a.room = false;
    // a is skipped (parked), b takes the message: the turn is now c, b.
    expect(picks(set, 1)).toEqual(["b"]);
    a.room = true;
    // RabbitMQ's order after the hand-back: c, b, then a (not a, b, c).
    expect(picks(set, 3)).toEqual(["c", "b", "a"]);
  });

  it("a parked consumer stays parked until a refresh finds room", () => {
    const [a, b] = [new Fake("a"), new Fake("b")];
    const set = make(CLASSIC, a, b);
    a.room = false;
    expect(set.next()?.name).toBe("b");
    a.room = true;
    // Within one round (no refresh) it is not picked again.
    expect(set.next()?.name).toBe("b");
    set.refresh();
    expect(set.next()?.name).toBe("b");
    expect(set.next()?.name).toBe("a");
  });

  it("removing a consumer, parked or not, forgets it and its priority level", () => {
    const [a, b, h] = [new Fake("a"), new Fake("b"), new Fake("h", 3)];
    const set = make(CLASSIC, a, b, h);
    h.room = false;
    expect(picks(set, 1)).toEqual(["a"]);
    expect(set.remove(h)).toBe("removed");
    expect(set.remove(b)).toBe("removed");
    expect(set.remove(b)).toBe("unknown");
    expect(set.list.map((c) => c.name)).toEqual(["a"]);
    expect(picks(set, 2)).toEqual(["a", "a"]);
    h.room = true;
    expect(picks(set, 1)).toEqual(["a"]);
  });

  it("clear returns every consumer and leaves nothing to pick", () => {
    const set = make(CLASSIC, new Fake("a"), new Fake("b"));
    expect(set.clear().map((c) => c.name)).toEqual(["a", "b"]);
    expect(set.size).toBe(0);
    expect(set.next()).toBeUndefined();
  });
});

describe("single active consumer", () => {
  it("only the first consumer gets messages, even when it is full", () => {
    const [a, b] = [new Fake("a"), new Fake("b", 10)];
    const set = make(CLASSIC_SAC, a, b);
    expect(set.active?.name).toBe("a");
    expect(picks(set, 2)).toEqual(["a", "a"]);
    a.room = false;
    expect(picks(set, 1)).toEqual(["-"]);
  });

  it("classic: the waiting consumer with the highest priority takes over, earliest among equals", () => {
    const [a, b, c, d] = [new Fake("a"), new Fake("b", 10), new Fake("c", 5), new Fake("d", 10)];
    const set = make(CLASSIC_SAC, a, b, c, d);
    const order: string[] = [];
    for (;;) {
      const active = set.active;
      if (!active) break;
      order.push(active.name);
      set.remove(active);
    }
    expect(order).toEqual(["a", "b", "d", "c"]);
  });

  it("quorum: the earliest registered waiting consumer takes over, whatever its priority", () => {
    const [a, b, c, d] = [new Fake("a"), new Fake("b", 10), new Fake("c", 5), new Fake("d", 10)];
    const set = make(QUORUM_SAC, a, b, c, d);
    const order: string[] = [];
    for (;;) {
      const active = set.active;
      if (!active) break;
      order.push(active.name);
      set.remove(active);
    }
    expect(order).toEqual(["a", "b", "c", "d"]);
  });

  it("reports a hand-over only when the active consumer leaves and another is waiting", () => {
    const [a, b, c] = [new Fake("a"), new Fake("b"), new Fake("c")];
    const set = make(CLASSIC_SAC, a, b, c);
    expect(set.remove(c)).toBe("removed");
    expect(set.remove(a)).toBe("handover");
    expect(set.active?.name).toBe("b");
    expect(set.remove(b)).toBe("removed");
    expect(set.active).toBeUndefined();
    set.add(c);
    expect(set.active?.name).toBe("c");
  });
});

describe("exclusive consumers", () => {
  const table: Array<[string, ConsumerRules, Fake[], boolean, boolean]> = [
    // rules, existing consumers, exclusive requested → refused?
    ["classic, empty, exclusive", CLASSIC, [], true, false],
    ["classic, one consumer, exclusive", CLASSIC, [new Fake("a")], true, true],
    ["classic, an exclusive one, plain", CLASSIC, [new Fake("x", 0, true)], false, true],
    ["classic, one consumer, plain", CLASSIC, [new Fake("a")], false, false],
    ["classic SAC, empty, exclusive", CLASSIC_SAC, [], true, true],
    ["classic SAC, one consumer, plain", CLASSIC_SAC, [new Fake("a")], false, false],
    ["quorum, one consumer, exclusive", QUORUM, [new Fake("a")], true, false],
    ["quorum, an exclusive one, plain", QUORUM, [new Fake("x", 0, true)], false, false],
    ["quorum SAC, empty, exclusive", QUORUM_SAC, [], true, false],
  ];
  it.each(table)("%s", (_name, rules, members, exclusive, refused) => {
    expect(make(rules, ...members).refuses(exclusive)).toBe(refused);
  });
});

describe("declare-ok consumer count", () => {
  it("classic counts every consumer, waiting ones too, and forgets cancelled ones", () => {
    const [a, b] = [new Fake("a"), new Fake("b")];
    a.unacked = 2;
    const set = make(CLASSIC_SAC, a, b);
    expect(set.declaredCount).toBe(2);
    set.remove(a);
    expect(set.declaredCount).toBe(1);
  });

  it("quorum counts active consumers and cancelled ones until their deliveries are settled", () => {
    const [a, b, c] = [new Fake("a"), new Fake("b"), new Fake("c")];
    const sac = make(QUORUM_SAC, a, b, c);
    expect(sac.declaredCount).toBe(1);
    a.unacked = 1;
    sac.remove(a);
    expect(sac.declaredCount).toBe(2);
    a.unacked = 0;
    expect(sac.declaredCount).toBe(1);

    const [x, y] = [new Fake("x"), new Fake("y")];
    const plain = make(QUORUM, x, y);
    x.unacked = 3;
    plain.remove(x);
    expect(plain.declaredCount).toBe(2);
    x.unacked = 0;
    expect(plain.declaredCount).toBe(1);
  });
});
