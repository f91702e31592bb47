/**
 * The consumers of one queue and who gets the next message, as RabbitMQ 3.10 decides it:
 *
 * - Consumer priorities (`x-priority`, default 0): the highest priority with a consumer that
 *   has room takes the message; equal priorities take turns. A consumer found without room
 *   (prefetch, flow, a busy socket) leaves the turn and, once it has room again, rejoins its
 *   priority at the back, as a classic queue's blocked consumers do.
 * - Single active consumer (`x-single-active-consumer`): only the active consumer gets
 *   messages, even when it has no room. The first consumer becomes active and stays active
 *   whatever its priority; when it leaves, a classic queue activates the waiting consumer with
 *   the highest priority (the earliest registered among equals), a quorum queue the earliest
 *   registered.
 * - Exclusive consumers (basic.consume exclusive): on a classic queue one excludes every other
 *   consumer, and a single-active-consumer queue refuses them. Quorum queues ignore the flag.
 * - queue.declare-ok's consumer count: a classic queue counts every consumer; a quorum queue
 *   counts the active ones (not those waiting to become single active consumer) and cancelled
 *   ones that still hold unacknowledged deliveries.
 */

/** What the rules need to know of a consumer. */
export interface ConsumerMember {
  readonly exclusive: boolean;
  /** `x-priority`; 0 when not given. */
  readonly priority: number;
  /** Deliveries it holds unacknowledged. */
  readonly unacked: number;
  /** Room for one more delivery now. */
  canTake(): boolean;
}

export interface ConsumerRules {
  type: "classic" | "quorum";
  singleActive: boolean;
}

export class Consumers<C extends ConsumerMember> {
  /** Every consumer, in registration order. */
  private readonly all: C[] = [];
  /** Consumers taking turns, by priority; `priorities` lists the keys highest first. */
  private readonly turns = new Map<number, C[]>();
  private priorities: number[] = [];
  /** Consumers that were found without room, in the order they were found. */
  private parked: C[] = [];
  private activeOne: C | undefined;
  /** Quorum queues: cancelled consumers still holding deliveries (counted in declare-ok). */
  private lingering: C[] = [];

  constructor(private readonly rules: ConsumerRules) {}

  /** Every consumer, waiting ones included, in registration order. */
  get list(): readonly C[] {
    return this.all;
  }

  get size(): number {
    return this.all.length;
  }

  /** The single active consumer; undefined when the queue has none or is not one. */
  get active(): C | undefined {
    return this.activeOne;
  }

  /** Whether basic.consume with this exclusive flag is refused (403 "in exclusive use"). */
  refuses(exclusive: boolean): boolean {
    if (this.rules.type === "quorum") return false;
    if (this.rules.singleActive) return exclusive;
    return this.all.some((c) => c.exclusive) || (exclusive && this.all.length > 0);
  }

  /** The consumer count queue.declare-ok reports. */
  get declaredCount(): number {
    if (this.rules.type === "classic") return this.all.length;
    this.lingering = this.lingering.filter((c) => c.unacked > 0);
    const serving = this.rules.singleActive ? (this.activeOne ? 1 : 0) : this.all.length;
    return serving + this.lingering.length;
  }

  add(c: C): void {
    this.all.push(c);
    if (this.rules.singleActive) {
      this.activeOne ??= c;
      return;
    }
    this.turnOf(c.priority).push(c);
  }

  /**
   * Forget a consumer. Returns "handover" when another consumer became the single active
   * consumer (the queue should deliver to it), "removed", or "unknown".
   */
  remove(c: C): "handover" | "removed" | "unknown" {
    const i = this.all.indexOf(c);
    if (i < 0) return "unknown";
    this.all.splice(i, 1);
    if (this.rules.type === "quorum" && c.unacked > 0) this.lingering.push(c);
    if (this.rules.singleActive) {
      if (this.activeOne !== c) return "removed";
      this.activeOne = this.successor();
      return this.activeOne ? "handover" : "removed";
    }
    const turn = this.turns.get(c.priority);
    if (turn) without(turn, c);
    without(this.parked, c);
    if (!this.all.some((x) => x.priority === c.priority)) {
      this.turns.delete(c.priority);
      this.priorities = this.priorities.filter((p) => p !== c.priority);
    }
    return "removed";
  }

  /** Forget everything (the queue is deleted); returns the consumers that were registered. */
  clear(): C[] {
    const all = [...this.all];
    this.all.length = 0;
    this.turns.clear();
    this.priorities = [];
    this.parked = [];
    this.lingering = [];
    this.activeOne = undefined;
    return all;
  }

  /**
   * Parked consumers that have room again rejoin their turn at the back. Called once per
   * delivery round: room only comes back between rounds (acks, qos, flow, a drained socket).
   */
  refresh(): void {
    if (this.parked.length === 0) return;
    const still: C[] = [];
    for (const c of this.parked) {
      if (c.canTake()) this.turnOf(c.priority).push(c);
      else still.push(c);
    }
    this.parked = still;
  }

  /** The consumer the next message goes to, or undefined when none can take it now. */
  next(): C | undefined {
    if (this.rules.singleActive) {
      const a = this.activeOne;
      return a?.canTake() ? a : undefined;
    }
    for (const p of this.priorities) {
      const turn = this.turns.get(p) as C[];
      while (turn.length > 0) {
        const c = turn[0] as C;
        turn.shift();
        if (c.canTake()) {
          turn.push(c);
          return c;
        }
        this.parked.push(c);
      }
    }
    return undefined;
  }

  private turnOf(priority: number): C[] {
    let turn = this.turns.get(priority);
    if (!turn) {
      turn = [];
      this.turns.set(priority, turn);
      this.priorities = [...this.priorities, priority].sort((a, b) => b - a);
    }
    return turn;
  }

  /** Who becomes single active consumer when the active one leaves. */
  private successor(): C | undefined {
    if (this.rules.type === "quorum") return this.all[0];
    let best: C | undefined;
    for (const c of this.all) if (!best || c.priority > best.priority) best = c;
    return best;
  }
}

function without<T>(list: T[], x: T): void {
  const i = list.indexOf(x);
  if (i >= 0) list.splice(i, 1);
}
