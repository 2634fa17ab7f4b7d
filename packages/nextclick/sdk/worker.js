// nextclick — the module worker: runs the engine off the main thread.
// Protocol: main → worker `{id, op, args}`; worker → main `{id, ok: true, result}` or `{id, ok: false, error,
// fault, transient}` (`fault`: the wasm instance trapped and is out of use; `transient`: a network failure,
// try again later; see engine.js).
// Messages are handled strictly in order (each op awaits the previous one), so a `predict` sent after a
// `track` always sees that event.
import { createEngine } from "./engine.js";

/** This file runs as a module worker; the SDK is type-checked with the DOM lib, where `self` is a Window. */
const scope = /** @type {{ postMessage(message: unknown, transfer?: Transferable[]): void }} */ (/** @type {unknown} */ (self));
const engine = createEngine();
let chain = Promise.resolve();

self.onmessage = (ev) => {
  const { id, op, args } = ev.data || {};
  chain = chain.then(async () => {
    try {
      if (!Object.prototype.hasOwnProperty.call(engine, op)) throw new Error(`nextclick: unknown op ${op}`);
      const result = await engine[op](...(args || []));
      const transfer = result instanceof Uint8Array ? [result.buffer] : [];
      scope.postMessage({ id, ok: true, result }, transfer);
    } catch (e) {
      scope.postMessage({ id, ok: false, error: String(e && e.message ? e.message : e), fault: !!(e && e.fault), transient: !!(e && e.transient) });
    }
  });
};
