// Loaded first by bench/page.html and bench/vector-libs.html (a classic script, before any module).
// Record every wasm memory the page creates or instantiates (for "peak wasm memory": a wasm memory never
// shrinks, so its size at the end of a run is its peak). Installed before any library loads.
window.__memories = [];
const keep = (m) => { if (m instanceof WebAssembly.Memory && !window.__memories.includes(m)) window.__memories.push(m); };
const scan = (inst) => { for (const v of Object.values(inst.exports)) keep(v); };
const OrigMemory = WebAssembly.Memory;
WebAssembly.Memory = function (...a) { const m = new OrigMemory(...a); keep(m); return m; };
WebAssembly.Memory.prototype = OrigMemory.prototype;
const oi = WebAssembly.instantiate, ois = WebAssembly.instantiateStreaming;
WebAssembly.instantiate = async function (...a) {
  const r = await oi.apply(this, a); scan(r instanceof WebAssembly.Instance ? r : r.instance); return r;
};
if (ois) WebAssembly.instantiateStreaming = async function (...a) { const r = await ois.apply(this, a); scan(r.instance); return r; };
const OrigInstance = WebAssembly.Instance;
WebAssembly.Instance = function (...a) { const i = new OrigInstance(...a); scan(i); return i; };
WebAssembly.Instance.prototype = OrigInstance.prototype;
