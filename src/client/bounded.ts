/**
 * No wait on the broker is unbounded: a broker that stopped answering (a silent link, a
 * blocked connection) never sends close-ok or cancel-ok.
 */

/** Wait for `promise` at most `ms`; it never rejects (a failure counts as done). */
export async function within(promise: Promise<unknown>, ms: number): Promise<"done" | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => "done" as const,
        () => "done" as const,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
