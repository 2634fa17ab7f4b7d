// Test support: reads a nextclick catalog (docs/model-contract.md, "The catalog") and writes another for the
// same model with a chosen subset of its items in a chosen order — tomorrow's catalog of the e2e tests
// (products removed, reordered). Node only (node:crypto).
import { createHash } from "node:crypto";

const MAGIC = "NXCLCAT\0";

/** Parses catalog bytes into `{dtype, flags, d, sha, items: [{id, vec (bytes), scale?, meta?}]}`. */
export function parseCatalog(buf) {
  const b = Buffer.from(buf);
  if (b.toString("latin1", 0, 8) !== MAGIC) throw new Error("not a nextclick catalog");
  const dtype = b[10], flags = b[11], n = b.readUInt32LE(12), d = b.readUInt32LE(16);
  const sha = b.subarray(20, 52);
  let p = 52;
  const str = () => {
    const l = b.readUInt16LE(p);
    const s = b.toString("utf8", p + 2, p + 2 + l);
    p += 2 + l;
    return s;
  };
  const items = [];
  for (let i = 0; i < n; i++) items.push({ id: str() });
  if (dtype === 0) {
    for (const it of items) (it.vec = b.subarray(p, p + 4 * d)), (p += 4 * d);
  } else {
    for (const it of items) (it.scale = b.subarray(p, p + 4)), (p += 4);
    for (const it of items) (it.vec = b.subarray(p, p + d)), (p += d);
  }
  if (flags & 1) {
    for (const it of items) {
      const start = p;
      str(), str(), str();
      p += 8;
      it.meta = b.subarray(start, p);
    }
  }
  if (p !== b.length - 32) throw new Error(`catalog layout: ${b.length - 32 - p} bytes left over`);
  return { dtype, flags, d, sha, items };
}

/** Writes `cat` with the items of `ids` (in that order) only. */
export function subsetCatalog(buf, ids) {
  const cat = parseCatalog(buf);
  const byId = new Map(cat.items.map((it) => [it.id, it]));
  const items = ids.map((id) => {
    const it = byId.get(id);
    if (!it) throw new Error(`no item ${id}`);
    return it;
  });
  const head = Buffer.alloc(52);
  head.write(MAGIC, 0, "latin1");
  head.writeUInt16LE(1, 8);
  head[10] = cat.dtype;
  head[11] = cat.flags;
  head.writeUInt32LE(items.length, 12);
  head.writeUInt32LE(cat.d, 16);
  cat.sha.copy(head, 20);
  const parts = [head];
  for (const it of items) {
    const id = Buffer.from(it.id, "utf8");
    const l = Buffer.alloc(2);
    l.writeUInt16LE(id.length);
    parts.push(l, id);
  }
  if (cat.dtype !== 0) for (const it of items) parts.push(it.scale);
  for (const it of items) parts.push(it.vec);
  if (cat.flags & 1) for (const it of items) parts.push(it.meta);
  const body = Buffer.concat(parts);
  return new Uint8Array(Buffer.concat([body, createHash("sha256").update(body).digest()]));
}
