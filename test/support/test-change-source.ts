import type {SourceEvent} from '../../src/replication/change-maker.js';
import type {ChangeSource} from '../../src/replication/pg-change-source.js';

/**
 * A change source the test feeds (the Postgres side is tested elsewhere): `push` queues events,
 * `acked` lists the positions acknowledged, in order. It ends when `signal` aborts.
 */
export interface TestChangeSource {
  source: ChangeSource;
  push(events: SourceEvent[]): void;
  acked: bigint[];
}

export function testChangeSource(signal: AbortSignal): TestChangeSource {
  const queue: SourceEvent[] = [];
  const acked: bigint[] = [];
  let wake: (() => void) | undefined;
  const push = (events: SourceEvent[]) => {
    queue.push(...events);
    wake?.();
  };
  const source: ChangeSource = {
    async *[Symbol.asyncIterator]() {
      while (!signal.aborted) {
        const e = queue.shift();
        if (e) yield e;
        else await new Promise<void>((r) => (wake = r));
      }
    },
    ack: (e) => void acked.push(e.ackLsn),
    close: async () => {},
  };
  return {source, push, acked};
}
