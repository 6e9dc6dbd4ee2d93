/**
 * Fleet work items started per turn of the event loop. Each item is one agent request's main-thread work until its
 * next real wait (a trust-bundle poll: its store reads, acknowledgement and answer; a woken poll: its answer; a
 * certificate request: until its job goes to the signing worker), ~0.1-0.3 ms. Measured with 10,000 dataplanes
 * (npm run bench): 16 gave the operator's requests a p99 of 28-36 ms (status) and 40-56 ms (dry run), 32 gave 38
 * and 68 ms, with the same bundle propagation (p99 1.4-1.6 s) and re-issue time.
 */
export const FLEET_SLICE = 16;

/**
 * The dataplane fleet's lane on the main thread. Agents' requests (trust-bundle polls, certificate requests) and the
 * long-polls a rotation step wakes start here, at most FLEET_SLICE per turn of the event loop, in arrival order;
 * every other request — the operator's status page and dry runs, any admin call — never waits here. Without it, a
 * rotation step on a 10,000-dataplane fleet is ~20,000 agent requests (each woken poll answered, then polling
 * again), and an operator's request that arrives meanwhile waits behind every one that reached the main thread
 * first. In arrival order, the woken polls of a step are all answered before the polls they send next are served,
 * so the new bundle reaches the fleet sooner too.
 *
 * While nothing waits and the turn has room, work starts at once: a small fleet sees no delay.
 */
export class FleetTurns {
  private readonly waiting: Array<() => void> = [];
  /** Index of the first waiting item (a head index: shifting a 10,000-item array per turn would cost O(n)). */
  private head = 0;
  private startedThisTurn = 0;
  private turnScheduled = false;

  /** Starts `task` now when this turn has room and nothing waits; otherwise in a later turn, in arrival order. */
  run(task: () => void): void {
    if (this.takeRoom()) task();
    else this.enqueue(task);
  }

  /** Undefined when the caller may go on at once; otherwise a promise resolved on its turn. */
  turn(): Promise<void> | undefined {
    if (this.takeRoom()) return undefined;
    return new Promise((resolve) => this.enqueue(resolve));
  }

  /** Items waiting for a turn (a metric: how far behind the fleet's lane is). */
  get queued(): number {
    return this.waiting.length - this.head;
  }

  /** Counts one more start in this turn, if the turn has room and nothing waits before it. */
  private takeRoom(): boolean {
    if (this.queued > 0 || this.startedThisTurn >= FLEET_SLICE) return false;
    this.startedThisTurn++;
    this.scheduleTurn(); // the next turn gives the room back
    return true;
  }

  private enqueue(task: () => void): void {
    this.waiting.push(task);
    this.scheduleTurn();
  }

  private scheduleTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    setImmediate(() => this.nextTurn());
  }

  private nextTurn(): void {
    this.turnScheduled = false;
    const end = Math.min(this.waiting.length, this.head + FLEET_SLICE);
    const batch = this.waiting.slice(this.head, end);
    this.head = end;
    if (this.head === this.waiting.length) {
      this.waiting.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.waiting.length) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    }
    this.startedThisTurn = batch.length;
    for (const task of batch) task();
    // Another turn: to start what still waits, or to give this turn's room back to newcomers.
    if (this.startedThisTurn > 0) this.scheduleTurn();
  }
}
