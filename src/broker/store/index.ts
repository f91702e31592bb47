/**
 * Durable storage of the embedded broker (`dataDir`): see store.ts for what is kept, log.ts
 * for group commit, records.ts for the on-disk format and recover.ts for reading it back.
 */
import { durableTopology, isStoredQueue, restoreTopology } from "../model/durable.js";
import type { VHost } from "../model/vhost.js";
import { Store } from "./store.js";

export { FORMAT_VERSION } from "./records.js";
export type { RecoveryReport } from "./store.js";
export { Store, StoreError } from "./store.js";

/** What opening storage needs from the broker. */
export interface StorageOwner {
  /** Storage failed: stop taking messages that cannot be kept. */
  storageFailed(err: Error): void;
}

export function openStore(
  options: { dataDir?: string; segmentSize?: number },
  owner: StorageOwner,
): Store {
  return new Store(options.dataDir as string, {
    ...(options.segmentSize === undefined ? {} : { segmentSize: options.segmentSize }),
    onError: (err) => owner.storageFailed(err),
  });
}

/** Put what storage kept back into the virtual host; new segments describe it from now on. */
export function restoreStore(store: Store, vhost: VHost): void {
  const r = store.takeRecovered();
  restoreTopology(vhost, r.topology, r.entries);
  store.describeWith(() => durableTopology(vhost));
  store.relocateWith((pick, move) => {
    for (const q of vhost.queues.values()) {
      if (isStoredQueue(q)) q.relocate(pick, (row, priority) => move(q.name, row, priority));
    }
  });
}
