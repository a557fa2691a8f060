// At most N requests open to one host at a time; the rest wait their turn in
// order. Bun's fetch keeps only 64 idle sockets per host: with more requests
// open than that, every answer beyond the 64th closes its socket and the next
// request opens a new TCP connection, and a burst of 250 sends to one
// receiver spends most of its time connecting. Held to the cap, connections
// are reused, under Deno too (BENCHMARKS.md, "What changed", 3).

export type HostGate = {
  /** Resolves when a request to `host` may start; false if `signal` aborted first. */
  enter(host: string, signal: AbortSignal): Promise<boolean>;
  leave(host: string): void;
};

type Lane = { open: number; waiting: (() => void)[] };

export function createHostGate(maxPerHost: number): HostGate {
  const lanes = new Map<string, Lane>();
  return {
    enter(host, signal) {
      let lane = lanes.get(host);
      if (!lane) lanes.set(host, lane = { open: 0, waiting: [] });
      if (lane.open < maxPerHost) {
        lane.open++;
        return Promise.resolve(true);
      }
      const queued = lane;
      return new Promise((resolve) => {
        const admit = () => {
          signal.removeEventListener("abort", abandon);
          queued.open++;
          resolve(true);
        };
        const abandon = () => {
          const at = queued.waiting.indexOf(admit);
          if (at >= 0) queued.waiting.splice(at, 1);
          resolve(false);
        };
        signal.addEventListener("abort", abandon, { once: true });
        queued.waiting.push(admit);
      });
    },
    leave(host) {
      const lane = lanes.get(host);
      if (!lane) return;
      lane.open--;
      const next = lane.waiting.shift();
      if (next) next();
      else if (lane.open === 0) lanes.delete(host);
    },
  };
}
