// Build-time check of the linked in-page wasm (run by `make wasm-release` before the name section is
// stripped). Fails when wasm-ld linked the module "command-style", i.e. wrapped exports in
// `<name>.command_export` functions that re-run every static constructor (tract's `inventory`
// registrations) on each JS→wasm call; `src/model.rs` (`run_static_constructors_once`) prevents that.
// Usage: node bench/check-wasm.mjs FILE.wasm
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
if (!names.includes('__wasm_call_ctors')) { console.error('check-wasm: no __wasm_call_ctors in the module: tract\'s registrations would never run'); process.exit(1); }
console.log(`check-wasm: ${names.length} functions, no .command_export wrappers, __wasm_call_ctors present`);
