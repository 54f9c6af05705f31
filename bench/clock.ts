/**
 * Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one
 * machine (the writer process stamps commits, the bench process stamps replica arrivals).
 */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
