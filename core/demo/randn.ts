// Standard normal samples from a uniform PRNG (Box–Muller), for the demo model's training noise.
export function randn(n: number, next: () => number, out = new Float32Array(n)): Float32Array {
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(next(), 1e-12);
    const r = Math.sqrt(-2 * Math.log(u));
    const a = 2 * Math.PI * next();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}
