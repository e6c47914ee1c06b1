/**
 * The latest value of something the live pages show (the fleet snapshot, one run's detail), shared
 * by every page that follows it: one load per interval however many pages are open, none while
 * nobody looks. A load that fails is reported to the followers, which keep their last value.
 */
export class LiveFeed<T> {
  private latest: { at: number; value: T } | undefined;
  private pending: Promise<T> | undefined;
  private readonly listeners = new Map<(value: T) => void, ((error: Error) => void) | undefined>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly intervalMs: number,
    private readonly onValue: (value: T) => void = () => {},
  ) {}

  /** Followers now. */
  get size(): number {
    return this.listeners.size;
  }

  /** A value at most intervalMs old. */
  get(): Promise<T> {
    if (this.latest && Date.now() - this.latest.at < this.intervalMs) return Promise.resolve(this.latest.value);
    this.pending ??= this.load()
      .then((value) => {
        this.latest = { at: Date.now(), value };
        this.onValue(value);
        return value;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  /** Calls listener with each new value (onError with each failed load) until the returned function is called. */
  subscribe(listener: (value: T) => void, onError?: (error: Error) => void): () => void {
    this.listeners.set(listener, onError);
    if (!this.timer) this.tick();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
    };
  }

  private tick(): void {
    this.timer = setTimeout(async () => {
      try {
        const value = await this.get();
        for (const listener of this.listeners.keys()) listener(value);
      } catch (error) {
        for (const onError of this.listeners.values()) onError?.(error as Error);
      }
      if (this.listeners.size > 0) this.tick();
    }, this.intervalMs);
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }
}
