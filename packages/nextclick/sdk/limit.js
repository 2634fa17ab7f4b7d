// nextclick — a token bucket for events coming from the page (pure: no DOM, importable from node).
//
// A shopper produces a few events per second at most; a page that floods `track` (a runaway loop, a
// hostile third-party script) must not make nextclick queue work or memory without bound. Each accepted
// event takes a token; tokens refill at `rate` per second up to `burst`. A refused event is dropped on
// the spot (nothing is queued) and counted.

/** `take(n)` → true (the n events may go on) or false (dropped, counted in `dropped`). */
export function createBucket({ rate = 50, burst = 200, now = () => Date.now() } = {}) {
  let tokens = burst;
  let at = now();
  const b = {
    rate,
    burst,
    dropped: 0,
    take(n = 1) {
      const t = now();
      if (t > at) {
        tokens = Math.min(burst, tokens + ((t - at) / 1000) * rate);
        at = t;
      }
      if (tokens >= n) {
        tokens -= n;
        return true;
      }
      b.dropped += n;
      return false;
    },
  };
  return b;
}
