// nextclick — the command queue behind the global `nextclick(...)` function (as Segment's / gtag's).
// Pure module: no DOM, importable from node for tests.
//
// Before the runtime has loaded, the stub (loader.js, or the one-line snippet) records calls in
// `nextclick.q`. Each entry is either an `arguments` object (gtag-style stubs) or `[args, resolve, reject]`
// (our stub, so that `nextclick('predict', 5)` returns a promise even before loading). `installQueue`
// replaces the stub by a dispatcher, replays the queue in order, and marks the function `loaded` so that a
// second copy of the runtime does nothing (double-loading guard).

/** The stub: records calls and returns a promise settled once the runtime runs the command. */
export function makeStub() {
  const stub = function nextclick() {
    const args = Array.prototype.slice.call(arguments);
    return new Promise((resolve, reject) => {
      stub.q.push([args, resolve, reject]);
    });
  };
  stub.q = [];
  return stub;
}

/**
 * Installs the dispatcher on `win.nextclick`. `run(command, args)` executes one command and returns a
 * promise (or value). Returns the dispatcher; if a dispatcher is already installed, returns it untouched.
 * Commands never throw into the caller: failures reject the returned promise (and are logged by `run`).
 */
export function installQueue(win, run) {
  const existing = win.nextclick;
  if (typeof existing === "function" && existing.loaded) return existing;
  const dispatch = function nextclick(command, ...args) {
    let p;
    try {
      p = Promise.resolve(run(command, args));
    } catch (e) {
      p = Promise.reject(e);
    }
    // avoid "unhandled rejection" noise for fire-and-forget calls; callers who await still see it
    p.catch(() => {});
    return p;
  };
  dispatch.loaded = true;
  dispatch.q = { push: (entry) => replay(entry) };
  const pending = existing && Array.isArray(existing.q) ? existing.q.slice() : [];
  win.nextclick = dispatch;
  // scripts that captured the stub itself (`const nc = window.nextclick`) keep working: its queue now
  // forwards to the dispatcher
  if (existing && (typeof existing === "function" || typeof existing === "object")) existing.q = dispatch.q;
  function replay(entry) {
    let args, resolve, reject;
    if (Array.isArray(entry) && Array.isArray(entry[0])) [args, resolve, reject] = entry;
    else args = Array.prototype.slice.call(entry);
    const p = dispatch(...args);
    if (resolve) p.then(resolve, reject);
  }
  for (const entry of pending) replay(entry);
  return dispatch;
}
