// Polling that is gentle with a server under a ticket drop: a steady pace while answers come,
// exponential back-off (never sooner than Retry-After) while they fail, and a slow pace while
// the tab is hidden; coming back to the tab polls at once.

/**
 * Run `fn` now and then repeatedly. `fn` may return a number (ms until the next run) or
 * `false` (stop polling). Returns {stop(), now()}.
 */
export function poll(fn, { interval = 2000, hiddenInterval = 15000, maxBackoff = 30000, onError } = {}) {
  let timer = null;
  let stopped = false;
  let running = false;
  let failures = 0;

  function schedule(delay) {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(tick, delay);
  }

  async function tick() {
    timer = null;
    if (stopped || running) return;
    running = true;
    let delay = interval;
    try {
      const result = await fn();
      failures = 0;
      if (result === false) return stop();
      if (typeof result === "number") delay = result;
    } catch (err) {
      if (err?.name === "AbortError") return stop();
      failures += 1;
      delay = Math.min(maxBackoff, interval * 2 ** failures);
      if (err?.retryAfter) delay = Math.max(delay, err.retryAfter * 1000);
      onError?.(err, failures, delay);
    } finally {
      running = false;
    }
    if (document.hidden) delay = Math.max(delay, hiddenInterval);
    // A little jitter so thousands of tabs opened together do not poll in lockstep.
    schedule(delay * (0.9 + Math.random() * 0.2));
  }

  function onVisibility() {
    if (!document.hidden && !running) schedule(0);
  }

  function stop() {
    stopped = true;
    clearTimeout(timer);
    document.removeEventListener("visibilitychange", onVisibility);
  }

  document.addEventListener("visibilitychange", onVisibility);
  schedule(0);
  return { stop, now: () => !running && schedule(0) };
}

/** Call fn every second (for countdowns); returns a stop function. */
export function everySecond(fn) {
  fn();
  const id = setInterval(fn, 1000);
  return () => clearInterval(id);
}
