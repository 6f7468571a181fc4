// Gradient rules for elementwise ops. Binary ops broadcast, so each input gradient is summed
// back to that input's shape (unbroadcast against the forward output's shape).
import type { Value } from '../builder.js';
import { attr } from '../ir.js';
import { unbroadcast } from './broadcast.js';
import type { GradContext, GradRule } from './context.js';
import { add, div, mul, neg, reduceSum, scalar, scale, sub } from './emit.js';

/** Gradient for input i, computed only if somebody needs it. */
function per(ctx: GradContext, ...fns: ((() => Value | null) | null)[]): (Value | null)[] {
  return ctx.inputs.map((_, i) =>
    ctx.needs[i] && fns[i] ? (fns[i] as () => Value | null)() : null,
  );
}

/** Sum a gradient shaped like the output back to the shape of input i. */
function toInput(ctx: GradContext, i: number, d: Value): Value {
  return unbroadcast(ctx.g, d, ctx.y.shape, ctx.input(i), `${ctx.opType} '${ctx.node.name}'`);
}

/** dx = dy * f'(x) for a unary op, given the local derivative. */
function unary(deriv: (ctx: GradContext, x: Value) => Value): GradRule {
  return (ctx) => per(ctx, () => mul(ctx.g, ctx.dy, deriv(ctx, ctx.input(0))));
}

/** dy where the mask holds, else 0, in dy's shape. */
function masked(ctx: GradContext, mask: Value, whereTrue: boolean): Value {
  const zero = scalar(ctx.g, 0, ctx.dy.dtype);
  return ctx.g.op('Where', whereTrue ? [mask, ctx.dy, zero] : [mask, zero, ctx.dy]);
}

const oneMinus = (ctx: GradContext, v: Value): Value => sub(ctx.g, scalar(ctx.g, 1, v.dtype), v);

export const gradAdd: GradRule = (ctx) =>
  per(
    ctx,
    () => toInput(ctx, 0, ctx.dy),
    () => toInput(ctx, 1, ctx.dy),
  );

export const gradSub: GradRule = (ctx) =>
  per(
    ctx,
    () => toInput(ctx, 0, ctx.dy),
    () => toInput(ctx, 1, neg(ctx.g, ctx.dy)),
  );

export const gradMul: GradRule = (ctx) =>
  per(
    ctx,
    () => toInput(ctx, 0, mul(ctx.g, ctx.dy, ctx.input(1))),
    () => toInput(ctx, 1, mul(ctx.g, ctx.dy, ctx.input(0))),
  );

// y = a / b: da = dy / b, db = -dy * y / b
export const gradDiv: GradRule = (ctx) => {
  const { g } = ctx;
  const b = ctx.input(1);
  return per(
    ctx,
    () => toInput(ctx, 0, div(g, ctx.dy, b)),
    () => toInput(ctx, 1, neg(g, div(g, mul(g, ctx.dy, ctx.y), b))),
  );
};

// y = a ^ b: da = dy * b * a^(b-1), db = dy * y * ln(a). A constant b folds b-1 at build time.
export const gradPow: GradRule = (ctx) => {
  const { g } = ctx;
  const [a, b] = [ctx.input(0), ctx.input(1)];
  const bc = ctx.constant(1);
  return per(
    ctx,
    () => {
      if (bc && bc.length === 1) {
        const v = bc[0];
        if (v === 0) return null; // a⁰ = 1
        if (v === 1) return toInput(ctx, 0, ctx.dy);
        const local =
          v === 2 ? scale(g, a, 2) : scale(g, g.op('Pow', [a, scalar(g, v - 1, b.dtype)]), v);
        return toInput(ctx, 0, mul(g, ctx.dy, local));
      }
      const bm1 = sub(g, b, scalar(g, 1, b.dtype));
      const local = mul(g, g.cast(b, a.dtype), g.op('Pow', [a, bm1]));
      return toInput(ctx, 0, mul(g, ctx.dy, local));
    },
    () => toInput(ctx, 1, g.cast(mul(g, mul(g, ctx.dy, ctx.y), g.op('Log', [a])), b.dtype)),
  );
};

export const gradNeg: GradRule = (ctx) => per(ctx, () => neg(ctx.g, ctx.dy));
export const gradIdentity: GradRule = (ctx) => per(ctx, () => ctx.dy);
/** Piecewise-constant ops (Sign, Floor, Ceil, Round): the gradient is zero almost everywhere. */
export const gradZero: GradRule = (ctx) => ctx.inputs.map(() => null);

export const gradCast: GradRule = (ctx) => per(ctx, () => ctx.g.cast(ctx.dy, ctx.input(0).dtype));

export const gradSqrt: GradRule = (ctx) =>
  per(ctx, () => div(ctx.g, scale(ctx.g, ctx.dy, 0.5), ctx.y));
export const gradExp: GradRule = (ctx) => per(ctx, () => mul(ctx.g, ctx.dy, ctx.y));
export const gradLog: GradRule = (ctx) => per(ctx, () => div(ctx.g, ctx.dy, ctx.input(0)));
export const gradReciprocal: GradRule = (ctx) =>
  per(ctx, () => neg(ctx.g, mul(ctx.g, ctx.dy, mul(ctx.g, ctx.y, ctx.y))));
export const gradSigmoid: GradRule = unary((ctx) => mul(ctx.g, ctx.y, oneMinus(ctx, ctx.y)));
export const gradTanh: GradRule = unary((ctx) => oneMinus(ctx, mul(ctx.g, ctx.y, ctx.y)));
export const gradSoftplus: GradRule = unary((ctx, x) => ctx.g.op('Sigmoid', [x]));
export const gradSin: GradRule = unary((ctx, x) => ctx.g.op('Cos', [x]));
export const gradCos: GradRule = unary((ctx, x) => neg(ctx.g, ctx.g.op('Sin', [x])));
export const gradAbs: GradRule = unary((ctx, x) => ctx.g.op('Sign', [x]));

export const gradRelu: GradRule = (ctx) =>
  per(ctx, () =>
    masked(ctx, ctx.g.op('Greater', [ctx.input(0), scalar(ctx.g, 0, ctx.dy.dtype)]), true),
  );

export const gradLeakyRelu: GradRule = (ctx) => {
  const { g } = ctx;
  const alpha = ctx.float('alpha', 0.01);
  const x = ctx.input(0);
  return per(ctx, () =>
    g.op('Where', [g.op('Greater', [x, scalar(g, 0, x.dtype)]), ctx.dy, scale(g, ctx.dy, alpha)]),
  );
};

// erf'(x) = 2/√π · exp(-x²)
export const gradErf: GradRule = unary((ctx, x) => {
  const { g } = ctx;
  return scale(g, g.op('Exp', [neg(g, mul(g, x, x))]), 2 / Math.sqrt(Math.PI));
});

// Gelu(x) = x·Φ(x): d = Φ(x) + x·φ(x). With approximate='tanh', Φ is 0.5(1 + tanh(u)),
// u = √(2/π)(x + 0.044715x³): d = 0.5(1 + t) + 0.5x(1 - t²)·√(2/π)(1 + 3·0.044715x²).
export const gradGelu: GradRule = unary((ctx, x) => {
  const { g } = ctx;
  const approx = ctx.str('approximate', 'none');
  const dt = x.dtype;
  const one = scalar(g, 1, dt);
  const x2 = mul(g, x, x);
  if (approx === 'none') {
    const cdf = scale(g, add(g, one, g.op('Erf', [scale(g, x, Math.SQRT1_2)])), 0.5);
    const pdf = scale(g, g.op('Exp', [scale(g, x2, -0.5)]), 1 / Math.sqrt(2 * Math.PI));
    return add(g, cdf, mul(g, x, pdf));
  }
  if (approx !== 'tanh') throw ctx.error(`approximate='${approx}' is not one of 'none', 'tanh'`);
  const c = Math.sqrt(2 / Math.PI);
  const k = 0.044715;
  const inner = mul(g, x, add(g, one, scale(g, x2, k)));
  const t = g.op('Tanh', [scale(g, inner, c)]);
  const du = scale(g, add(g, one, scale(g, x2, 3 * k)), c);
  const left = scale(g, add(g, one, t), 0.5);
  const right = mul(g, scale(g, x, 0.5), mul(g, oneMinus(ctx, mul(g, t, t)), du));
  return add(g, left, right);
});

// Max/Min (variadic): the gradient goes to the first input that holds the result (ties are not
// double-counted).
export const gradMaxMin: GradRule = (ctx) => {
  const { g } = ctx;
  let taken: Value | undefined;
  return ctx.inputs.map((x, i) => {
    if (!x) return null;
    const last = i === ctx.inputs.length - 1;
    const hit = g.op('Equal', [x, ctx.y]);
    const mask = taken
      ? last
        ? g.op('Not', [taken])
        : g.op('And', [hit, g.op('Not', [taken])])
      : hit;
    taken = taken ? g.op('Or', [taken, mask]) : mask;
    return ctx.needs[i] ? toInput(ctx, i, masked(ctx, mask, true)) : null;
  });
};

export const gradSum: GradRule = (ctx) =>
  ctx.inputs.map((_, i) => (ctx.needs[i] ? toInput(ctx, i, ctx.dy) : null));

export const gradMean: GradRule = (ctx) => {
  const share = scale(ctx.g, ctx.dy, 1 / ctx.inputs.length);
  return ctx.inputs.map((_, i) => (ctx.needs[i] ? toInput(ctx, i, share) : null));
};

export const gradWhere: GradRule = (ctx) => {
  const c = ctx.input(0);
  return per(
    ctx,
    null,
    () => toInput(ctx, 1, masked(ctx, c, true)),
    () => toInput(ctx, 2, masked(ctx, c, false)),
  );
};

// Clip(x, lo, hi): x gets dy inside [lo, hi]; lo/hi (scalars) get the sum of dy outside.
export const gradClip: GradRule = (ctx) => {
  const { g } = ctx;
  const [x, lo, hi] = [ctx.input(0), ctx.inputs[1], ctx.inputs[2]];
  const all = x.shape.map((_, i) => i);
  const below = lo ? g.op('Less', [x, lo]) : undefined;
  const above = hi ? g.op('Greater', [x, hi]) : undefined;
  return per(
    ctx,
    () => {
      const out = below && above ? g.op('Or', [below, above]) : (below ?? above);
      return out ? masked(ctx, out, false) : ctx.dy;
    },
    () => reduceSum(g, masked(ctx, below as Value, true), all, false),
    () => reduceSum(g, masked(ctx, above as Value, true), all, false),
  );
};

// Trilu keeps a triangle: the gradient is the same triangle of dy.
export const gradTrilu: GradRule = (ctx) =>
  per(ctx, () =>
    ctx.g.op('Trilu', [ctx.dy, ctx.inputs[1] ?? null], { upper: attr.int(ctx.int('upper', 1)) }),
  );

export const gradCastLike: GradRule = (ctx) => [
  ctx.needs[0] ? ctx.g.cast(ctx.dy, ctx.input(0).dtype) : null,
  null,
];

// Elu: x for x > 0, α(eˣ − 1) below, whose slope there is y + α.
export const gradElu: GradRule = (ctx) => {
  const { g } = ctx;
  const x = ctx.input(0);
  const below = mul(g, ctx.dy, add(g, ctx.y, scalar(g, ctx.float('alpha', 1), x.dtype)));
  return per(ctx, () =>
    g.op('Where', [g.op('Greater', [x, scalar(g, 0, x.dtype)]), ctx.dy, below]),
  );
};

// HardSigmoid: clamp(αx + β, 0, 1) has slope α strictly inside the ramp.
export const gradHardSigmoid: GradRule = (ctx) => {
  const { g } = ctx;
  const x = ctx.input(0);
  const alpha = ctx.float('alpha', 0.2);
  const z = add(g, scale(g, x, alpha), scalar(g, ctx.float('beta', 0.5), x.dtype));
  const inside = g.op('And', [
    g.op('Greater', [z, scalar(g, 0, x.dtype)]),
    g.op('Less', [z, scalar(g, 1, x.dtype)]),
  ]);
  return per(ctx, () => scale(g, masked(ctx, inside, true), alpha));
};

// HardSwish: x·clamp(x/6 + ½, 0, 1): slope 0 below −3, 1 above 3, x/3 + ½ between.
export const gradHardSwish: GradRule = (ctx) => {
  const { g } = ctx;
  const x = ctx.input(0);
  const ramp = add(g, scale(g, x, 1 / 3), scalar(g, 0.5, x.dtype));
  const upper = g.op('Where', [
    g.op('Greater', [x, scalar(g, 3, x.dtype)]),
    scalar(g, 1, x.dtype),
    ramp,
  ]);
  const slope = g.op('Where', [
    g.op('Less', [x, scalar(g, -3, x.dtype)]),
    scalar(g, 0, x.dtype),
    upper,
  ]);
  return per(ctx, () => mul(g, ctx.dy, slope));
};

// Mish: x·tanh(softplus(x)): d = t + x·(1 − t²)·σ(x), t = tanh(softplus(x)).
export const gradMish: GradRule = unary((ctx, x) => {
  const { g } = ctx;
  const t = g.op('Tanh', [g.op('Softplus', [x])]);
  return add(g, t, mul(g, x, mul(g, oneMinus(ctx, mul(g, t, t)), g.op('Sigmoid', [x]))));
});
