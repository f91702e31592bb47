/** Bounded waits for tests: nothing waits on a broker or a process without a deadline. */

/** Resolve with the promise, or fail after `ms` naming `what`. */
export async function within<T>(p: Promise<T>, what: string, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(t);
  }
}
