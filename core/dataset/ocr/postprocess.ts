// From the DB detector's probability map to text boxes and the share of the image they cover.
// Follows PaddleOCR's DBPostProcess where it matters for a yes/no "has text" filter: binarise at
// `threshold` (0.3), one candidate per connected region (8-connected, like OpenCV's contours),
// drop regions thinner than `minSide` (3 px), score = mean probability (≥ `boxThreshold`, 0.6),
// then "unclip": DB predicts a shrunk text kernel, and grows it back by
// D = area × unclipRatio / perimeter (1.5) on every side. Differences, on purpose: boxes are
// axis-aligned (enough for an area ratio; no polygon clipping library), and the score averages the
// region's own pixels rather than its bounding rectangle, so slanted text is not under-scored.

export interface TextBox {
  /** Left/top edge and size, in pixels of the map (or of the image, once scaled). */
  x: number;
  y: number;
  width: number;
  height: number;
  /** Mean text probability of the region. */
  score: number;
  /** What the recognizer read, and its score (when boxes were verified). */
  text?: string;
  textScore?: number;
}

export interface BoxOptions {
  /** Probability above which a pixel is text (default 0.3). */
  threshold?: number;
  /** Least mean probability of a kept region (default 0.6). */
  boxThreshold?: number;
  /** Least side of a region before unclip, map pixels (default 3). */
  minSide?: number;
  /** Growth of the shrunk kernel back to the text outline (default 1.5; 0 = none). */
  unclipRatio?: number;
  /** Most regions kept, highest score first (default 1000). */
  maxCandidates?: number;
}

export function findTextBoxes(
  prob: Float32Array,
  width: number,
  height: number,
  opts: BoxOptions = {},
): TextBox[] {
  const threshold = opts.threshold ?? 0.3;
  const boxThreshold = opts.boxThreshold ?? 0.6;
  const minSide = opts.minSide ?? 3;
  const unclipRatio = opts.unclipRatio ?? 1.5;
  const maxCandidates = opts.maxCandidates ?? 1000;
  const n = width * height;
  if (prob.length !== n)
    throw new Error(
      `probability map has ${prob.length} values, expected ${width}×${height} = ${n}`,
    );

  // 0 = background, 1 = text not yet visited, 2 = visited.
  const state = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (prob[i] > threshold) state[i] = 1;
  const stack = new Int32Array(n);
  const boxes: TextBox[] = [];
  for (let seed = 0; seed < n; seed++) {
    if (state[seed] !== 1) continue;
    // Flood fill one region (explicit stack: regions can be far larger than the call stack).
    let top = 0;
    stack[top++] = seed;
    state[seed] = 2;
    let minX = width;
    let minY = height;
    let maxX = -1;
    let maxY = -1;
    let sum = 0;
    let count = 0;
    while (top > 0) {
      const i = stack[--top];
      const x = i % width;
      const y = (i - x) / width;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
      sum += prob[i];
      count++;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const j = ny * width + nx;
          if (state[j] === 1) {
            state[j] = 2;
            stack[top++] = j;
          }
        }
      }
    }
    const w = maxX - minX + 1;
    const h = maxY - minY + 1;
    const score = sum / count;
    if (Math.min(w, h) < minSide || score < boxThreshold) continue;
    const d = (w * h * unclipRatio) / (2 * (w + h));
    const x0 = Math.max(0, minX - d);
    const y0 = Math.max(0, minY - d);
    const x1 = Math.min(width, maxX + 1 + d);
    const y1 = Math.min(height, maxY + 1 + d);
    boxes.push({ x: x0, y: y0, width: x1 - x0, height: y1 - y0, score });
  }
  boxes.sort((a, b) => b.score - a.score);
  return boxes.slice(0, maxCandidates);
}

/** Share of a width × height area covered by the union of the boxes (overlaps counted once). */
export function coveredRatio(boxes: readonly TextBox[], width: number, height: number): number {
  if (!boxes.length) return 0;
  const mask = new Uint8Array(width * height);
  let covered = 0;
  for (const b of boxes) {
    const x0 = Math.max(0, Math.floor(b.x));
    const y0 = Math.max(0, Math.floor(b.y));
    const x1 = Math.min(width, Math.ceil(b.x + b.width));
    const y1 = Math.min(height, Math.ceil(b.y + b.height));
    for (let y = y0; y < y1; y++)
      for (let x = x0; x < x1; x++) {
        const i = y * width + x;
        if (!mask[i]) {
          mask[i] = 1;
          covered++;
        }
      }
  }
  return covered / (width * height);
}

/** Boxes from map pixels to image pixels (the map is the image stretched to the input size). */
export function scaleBoxes(boxes: readonly TextBox[], sx: number, sy: number): TextBox[] {
  return boxes.map((b) => ({
    ...b,
    x: b.x * sx,
    y: b.y * sy,
    width: b.width * sx,
    height: b.height * sy,
  }));
}
