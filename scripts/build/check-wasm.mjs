// Build-time check of the linked in-page wasm (run by `make wasm-release` before the name section is
// stripped). Fails when wasm-ld linked the module "command-style", i.e. wrapped exports in
// `<name>.command_export` functions that re-run every static constructor (tract's `inventory`
// registrations) on each JS→wasm call; `src/model.rs` (`run_static_constructors_once`) prevents that.
// Also fails when the NNEF operator registry is linked again (the vendored tract-nnef patch fell off, e.g.
// after a tract bump without re-applying it: vendor/README.md): no function may come from `rustfft` or
// from tract-nnef's operator (de)serialisers.
// Usage: node scripts/build/check-wasm.mjs FILE.wasm
import fs from 'node:fs';

const file = process.argv[2];
const b = fs.readFileSync(file);
let p = 8;
const u32 = () => { let r = 0, s = 0, x; do { x = b[p++]; r |= (x & 0x7f) << s; s += 7; } while (x & 0x80); return r >>> 0; };
const names = [];
while (p < b.length) {
  const id = b[p++], size = u32(), end = p + size;
  if (id === 0) {
    const nl = u32(), name = b.toString('utf8', p, p + nl); p += nl;
    if (name === 'name') {
      while (p < end) {
        const sub = b[p++], ssize = u32(), send = p + ssize;
        if (sub === 1) { const n = u32(); for (let i = 0; i < n; i++) { u32(); const l = u32(); names.push(b.toString('utf8', p, p + l)); p += l; } }
        p = send;
      }
    }
  }
  p = end;
}
if (!names.length) { console.log(`check-wasm: ${file} has no function names (already stripped?), nothing checked`); process.exit(0); }
const wrapped = names.filter((n) => n.endsWith('.command_export'));
if (wrapped.length) {
  console.error(`check-wasm: ${wrapped.length} exports are wrapped in __wasm_call_ctors (command-style link), e.g. ${wrapped.slice(0, 3).join(', ')}`);
  console.error('check-wasm: every JS→wasm call would re-run all static constructors; see run_static_constructors_once in src/model.rs');
  process.exit(1);
}
// Demangled names look like `tract_nnef::ops::core::register::h…` or `<rustfft::…>`; mangled ones hold
// the crate name with its length (`10tract_nnef`, `7rustfft`).
const nnef = names.filter((n) => /tract_nnef(::|\.\.)ops|10tract_nnef3ops|rustfft/.test(n));
if (nnef.length) {
  console.error(`check-wasm: the NNEF operator registry is linked (${nnef.length} functions, e.g. ${nnef.slice(0, 3).join(', ')})`);
  console.error('check-wasm: the vendored tract-nnef patch is not in effect; see vendor/README.md');
  process.exit(1);
}
if (!names.includes('__wasm_call_ctors')) { console.error('check-wasm: no __wasm_call_ctors in the module: tract\'s registrations would never run'); process.exit(1); }
console.log(`check-wasm: ${names.length} functions, no .command_export wrappers, no NNEF operator registry, __wasm_call_ctors present`);
