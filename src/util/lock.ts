/**
 * A first-come, first-served lock for async sections: callers that each
 * await several kernel requests must not interleave them.
 */
export class Lock {
  private tail: Promise<void> = Promise.resolve();
  private held = 0;

  /** Runs `fn` once every earlier holder is done; the lock passes on even if `fn` throws. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const before = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    this.held++;
    try {
      await before;
      return await fn();
    } finally {
      this.held--;
      release();
    }
  }

  /** Whether someone holds or waits for the lock. */
  get busy(): boolean {
    return this.held > 0;
  }
}
