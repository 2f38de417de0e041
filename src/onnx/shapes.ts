/**
 * Build-time dtype and shape inference, one rule per op.
 *
 * Every rule checks what the op requires of its inputs (count, element types, ranks, matching
 * dimensions) and returns its outputs' dtypes and shapes. Symbolic dimensions flow through:
 * `Shape` of a `[batch, seq, 320]` tensor is known to hold `[batch, seq, 320]`, so a later
 * `Reshape` to it gets a precise shape. A rule that cannot tell a dimension leaves it `null`.
 */
import { type DType, dtypeFromCode, isFloat, isInteger, INDEX_DTYPES } from './dtype.js';
import { type Attr, type Attrs, type Dim, type Shape, GraphError, type Value, formatShape } from './graph.js';

export interface InferContext {
  nodeName: string;
  opType: string;
  domain: string;
  inputs: (Value | null)[];
  attrs: Attrs;
  numOutputs?: number;
  opset: number;
}

export interface InferredOutput {
  dtype: DType;
  shape: Shape | null;
  known?: Dim[];
}

type Rule = (c: Ctx) => InferredOutput[];

/** Inputs arity and the rule. `outputs` is the default output count; `maxOutputs` allows optional ones. */
interface OpSchema {
  minInputs: number;
  maxInputs: number;
  outputs?: number;
  maxOutputs?: number;
  rule: Rule;
}

const SCHEMAS = new Map<string, OpSchema>();

function key(domain: string, op: string): string {
  return domain ? `${domain}::${op}` : op;
}

/** Register an op's inference rule (also used by later modules for new contrib ops). */
export function registerOp(domain: string, opType: string, schema: OpSchema): void {
  SCHEMAS.set(key(domain, opType), schema);
}

export function isKnownOp(domain: string, opType: string): boolean {
  return SCHEMAS.has(key(domain, opType));
}

export function inferNode(ctx: InferContext): InferredOutput[] {
  const schema = SCHEMAS.get(key(ctx.domain, ctx.opType));
  const c: Ctx = new Ctx(ctx);
  if (!schema) {
    const where = ctx.domain ? `${ctx.domain}.${ctx.opType}` : ctx.opType;
    c.fail(`unknown op '${where}': balmkit has no inference rule for it (check the spelling and the domain)`);
  }
  const n = ctx.inputs.length;
  if (n < schema.minInputs || n > schema.maxInputs) {
    c.fail(`takes ${schema.minInputs === schema.maxInputs ? schema.minInputs : `${schema.minInputs} to ${schema.maxInputs}`} inputs, got ${n}`);
  }
  const outs = schema.rule(c);
  if (ctx.numOutputs !== undefined) {
    const max = schema.maxOutputs ?? outs.length;
    if (ctx.numOutputs < 1 || ctx.numOutputs > max) c.fail(`can have 1 to ${max} outputs, ${ctx.numOutputs} requested`);
    return outs.slice(0, ctx.numOutputs);
  }
  return outs.slice(0, schema.outputs ?? outs.length);
}

/** The rule's view of a node: inputs, attributes and an error that names the node. */
export class Ctx {
  constructor(readonly n: InferContext) {}

  fail(message: string): never {
    const ins = this.n.inputs.map((v, i) => (v ? `${v.name}: ${v.dtype}${formatShape(v.shape)}` : `#${i}: (none)`));
    const where = this.n.domain ? `${this.n.domain}.${this.n.opType}` : this.n.opType;
    throw new GraphError(`node '${this.n.nodeName}' (${where}): ${message}${ins.length ? `\n  inputs: ${ins.join('; ')}` : ''}`);
  }

  /** A required input. */
  in(i: number, what = `input ${i}`): Value {
    const v = this.n.inputs[i];
    if (!v) this.fail(`${what} is required but missing`);
    return v;
  }

  opt(i: number): Value | null {
    return this.n.inputs[i] ?? null;
  }

  attr(name: string): Attr | undefined {
    return this.n.attrs[name];
  }

  int(name: string, dflt?: number): number {
    const a = this.n.attrs[name];
    if (a === undefined) {
      if (dflt === undefined) this.fail(`attribute '${name}' is required`);
      return dflt;
    }
    if (a.type !== 'int') this.fail(`attribute '${name}' must be an int, got ${a.type}`);
    return a.value;
  }

  float(name: string, dflt: number): number {
    const a = this.n.attrs[name];
    if (a === undefined) return dflt;
    if (a.type !== 'float') this.fail(`attribute '${name}' must be a float, got ${a.type}`);
    return a.value;
  }

  ints(name: string): number[] | undefined {
    const a = this.n.attrs[name];
    if (a === undefined) return undefined;
    if (a.type !== 'ints') this.fail(`attribute '${name}' must be a list of ints, got ${a.type}`);
    return a.value;
  }

  str(name: string, dflt?: string): string {
    const a = this.n.attrs[name];
    if (a === undefined) {
      if (dflt === undefined) this.fail(`attribute '${name}' is required`);
      return dflt;
    }
    if (a.type !== 'string') this.fail(`attribute '${name}' must be a string, got ${a.type}`);
    return a.value;
  }

  float_(v: Value, what: string): void {
    if (!isFloat(v.dtype)) this.fail(`${what} '${v.name}' must be a floating-point tensor, got ${v.dtype}`);
  }

  index(v: Value, what: string): void {
    if (!INDEX_DTYPES.includes(v.dtype)) this.fail(`${what} '${v.name}' must be int64 or int32, got ${v.dtype}`);
  }

  dtype(v: Value, allowed: readonly DType[], what: string): void {
    if (!allowed.includes(v.dtype)) this.fail(`${what} '${v.name}' must be ${allowed.join(' or ')}, got ${v.dtype}`);
  }

  same(a: Value, b: Value, what: string): void {
    if (a.dtype !== b.dtype) this.fail(`${what}: element types differ (${a.name} is ${a.dtype}, ${b.name} is ${b.dtype})`);
  }

  rank(v: Value, allowed: number | number[], what: string): void {
    if (v.shape === null) return;
    const ok = Array.isArray(allowed) ? allowed.includes(v.shape.length) : v.shape.length === allowed;
    if (!ok) this.fail(`${what} '${v.name}' must have rank ${Array.isArray(allowed) ? allowed.join(' or ') : allowed}, got ${formatShape(v.shape)}`);
  }

  minRank(v: Value, r: number, what: string): void {
    if (v.shape !== null && v.shape.length < r) this.fail(`${what} '${v.name}' must have rank ≥ ${r}, got ${formatShape(v.shape)}`);
  }

  axis(axis: number, rank: number, what = 'axis'): number {
    if (axis < -rank || axis >= rank) this.fail(`${what} ${axis} is out of range for rank ${rank}`);
    return axis < 0 ? axis + rank : axis;
  }

  /** Two dims that must be equal: fails only when both are numbers and differ. */
  match(a: Dim, b: Dim, what: string): Dim {
    if (typeof a === 'number' && typeof b === 'number' && a !== b) this.fail(`${what}: ${a} ≠ ${b}`);
    return typeof a === 'number' ? a : typeof b === 'number' ? b : (a ?? b);
  }

  /** Content of a small integer input (axes, shapes, K) when known at build time. */
  known(v: Value | null): Dim[] | undefined {
    return v?.known;
  }

  /** Like {@link known}, when every entry is a number. */
  knownInts(v: Value | null): number[] | undefined {
    const k = v?.known;
    if (k === undefined || k.some((x) => typeof x !== 'number')) return undefined;
    return k as number[];
  }
}

// ---------------------------------------------------------------------------------------------
// shared shape arithmetic

export function broadcastShapes(c: Ctx, shapes: (Shape | null)[]): Shape | null {
  if (shapes.some((s) => s === null)) return null;
  const ss = shapes as Shape[];
  const rank = Math.max(...ss.map((s) => s.length));
  const out: Shape = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of ss) {
      const j = i - (rank - s.length);
      if (j < 0) continue;
      const e = s[j];
      if (e === 1) continue;
      if (d === 1) d = e;
      else if (typeof d === 'number' && typeof e === 'number' && d !== e) {
        c.fail(`shapes ${ss.map(formatShape).join(', ')} do not broadcast (axis ${i}: ${d} vs ${e})`);
      } else if (typeof e === 'number') d = e;
      else if (d === null) d = e;
    }
    out.push(d);
  }
  return out;
}

function numel(shape: Shape): number | null {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') return null;
    n *= d;
  }
  return n;
}

function same(v: Value, known?: Dim[]): InferredOutput {
  return { dtype: v.dtype, shape: v.shape && [...v.shape], known };
}

/** Elementwise arithmetic on known integer content (shape computations). */
function knownBinary(a: Value, b: Value, f: (x: number, y: number) => number): Dim[] | undefined {
  if (!a.known || !b.known) return undefined;
  const n = Math.max(a.known.length, b.known.length);
  if (a.known.length !== n && a.known.length !== 1) return undefined;
  if (b.known.length !== n && b.known.length !== 1) return undefined;
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = a.known[a.known.length === 1 ? 0 : i];
    const y = b.known[b.known.length === 1 ? 0 : i];
    out.push(typeof x === 'number' && typeof y === 'number' ? f(x, y) : null);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// elementwise

const FLOAT_UNARY = ['Exp', 'Log', 'Sqrt', 'Erf', 'Tanh', 'Sigmoid', 'Sin', 'Cos', 'Reciprocal', 'Softplus', 'Floor', 'Ceil', 'Round'];
for (const op of FLOAT_UNARY) {
  registerOp('', op, {
    minInputs: 1,
    maxInputs: 1,
    rule: (c: Ctx) => {
      const x = c.in(0);
      c.float_(x, 'input');
      return [same(x)];
    },
  });
}

for (const op of ['Neg', 'Abs', 'Relu', 'Sign']) {
  registerOp('', op, {
    minInputs: 1,
    maxInputs: 1,
    rule: (c: Ctx) => {
      const x = c.in(0);
      if (x.dtype === 'bool') c.fail(`input '${x.name}' must be numeric, got bool`);
      return [same(x)];
    },
  });
}

registerOp('', 'Identity', { minInputs: 1, maxInputs: 1, rule: (c: Ctx) => [same(c.in(0), c.in(0).known)] });

registerOp('', 'Not', {
  minInputs: 1,
  maxInputs: 1,
  rule: (c: Ctx) => {
    c.dtype(c.in(0), ['bool'], 'input');
    return [same(c.in(0))];
  },
});

const ARITH: Record<string, (x: number, y: number) => number> = {
  Add: (x, y) => x + y,
  Sub: (x, y) => x - y,
  Mul: (x, y) => x * y,
  Div: (x, y) => Math.trunc(x / y),
  Max: Math.max,
  Min: Math.min,
  Mod: (x, y) => x % y,
};

for (const [op, f] of Object.entries(ARITH)) {
  registerOp('', op, {
    minInputs: 2,
    maxInputs: 2,
    rule: (c: Ctx) => {
      const a = c.in(0);
      const b = c.in(1);
      c.same(a, b, 'operands');
      if (a.dtype === 'bool') c.fail(`operands must be numeric, got bool`);
      const known = isInteger(a.dtype) ? knownBinary(a, b, f) : undefined;
      return [{ dtype: a.dtype, shape: broadcastShapes(c, [a.shape, b.shape]), known }];
    },
  });
}

registerOp('', 'Pow', {
  minInputs: 2,
  maxInputs: 2,
  rule: (c: Ctx) => {
    const a = c.in(0);
    const b = c.in(1);
    if (a.dtype === 'bool' || b.dtype === 'bool') c.fail('operands must be numeric');
    return [{ dtype: a.dtype, shape: broadcastShapes(c, [a.shape, b.shape]) }];
  },
});

for (const op of ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual']) {
  registerOp('', op, {
    minInputs: 2,
    maxInputs: 2,
    rule: (c: Ctx) => {
      const a = c.in(0);
      const b = c.in(1);
      c.same(a, b, 'operands');
      return [{ dtype: 'bool', shape: broadcastShapes(c, [a.shape, b.shape]) }];
    },
  });
}

for (const op of ['And', 'Or', 'Xor']) {
  registerOp('', op, {
    minInputs: 2,
    maxInputs: 2,
    rule: (c: Ctx) => {
      const a = c.in(0);
      const b = c.in(1);
      c.dtype(a, ['bool'], 'operand');
      c.dtype(b, ['bool'], 'operand');
      return [{ dtype: 'bool', shape: broadcastShapes(c, [a.shape, b.shape]) }];
    },
  });
}

registerOp('', 'Where', {
  minInputs: 3,
  maxInputs: 3,
  rule: (c: Ctx) => {
    const cond = c.in(0, 'condition');
    const x = c.in(1, 'X');
    const y = c.in(2, 'Y');
    c.dtype(cond, ['bool'], 'condition');
    c.same(x, y, 'X and Y');
    return [{ dtype: x.dtype, shape: broadcastShapes(c, [cond.shape, x.shape, y.shape]) }];
  },
});

registerOp('', 'Clip', {
  minInputs: 1,
  maxInputs: 3,
  rule: (c: Ctx) => {
    const x = c.in(0);
    for (const i of [1, 2]) {
      const b = c.opt(i);
      if (b) {
        c.same(x, b, 'input and bound');
        c.rank(b, 0, 'bound');
      }
    }
    return [same(x)];
  },
});

registerOp('', 'Cast', {
  minInputs: 1,
  maxInputs: 1,
  rule: (c: Ctx) => {
    const to = c.int('to');
    const x = c.in(0);
    const dtype = dtypeFromAttr(c, to);
    const known = isInteger(dtype) && isInteger(x.dtype) ? x.known : undefined;
    return [{ dtype, shape: x.shape && [...x.shape], known }];
  },
});

registerOp('', 'CastLike', {
  minInputs: 2,
  maxInputs: 2,
  rule: (c: Ctx) => [{ dtype: c.in(1).dtype, shape: c.in(0).shape && [...c.in(0).shape!] }],
});

function dtypeFromAttr(c: Ctx, code: number): DType {
  try {
    return dtypeFromCode(code);
  } catch (e) {
    c.fail((e as Error).message);
  }
}

// ---------------------------------------------------------------------------------------------
// linear algebra

registerOp('', 'MatMul', {
  minInputs: 2,
  maxInputs: 2,
  rule: (c: Ctx) => {
    const a = c.in(0, 'A');
    const b = c.in(1, 'B');
    c.same(a, b, 'A and B');
    if (a.dtype === 'bool') c.fail('MatMul needs numeric inputs');
    c.minRank(a, 1, 'A');
    c.minRank(b, 1, 'B');
    if (a.shape === null || b.shape === null) return [{ dtype: a.dtype, shape: null }];
    const sa = a.shape.length === 1 ? [1, a.shape[0]] : a.shape;
    const sb = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
    c.match(sa[sa.length - 1], sb[sb.length - 2], `inner dimensions of ${formatShape(a.shape)} × ${formatShape(b.shape)}`);
    const batch = broadcastShapes(c, [sa.slice(0, -2), sb.slice(0, -2)])!;
    const out: Shape = [...batch];
    if (a.shape.length > 1) out.push(sa[sa.length - 2]);
    if (b.shape.length > 1) out.push(sb[sb.length - 1]);
    return [{ dtype: a.dtype, shape: out }];
  },
});

registerOp('', 'Gemm', {
  minInputs: 2,
  maxInputs: 3,
  rule: (c: Ctx) => {
    const a = c.in(0, 'A');
    const b = c.in(1, 'B');
    c.same(a, b, 'A and B');
    c.rank(a, 2, 'A');
    c.rank(b, 2, 'B');
    const ta = c.int('transA', 0);
    const tb = c.int('transB', 0);
    const [m, ka] = ta ? [a.shape![1], a.shape![0]] : [a.shape![0], a.shape![1]];
    const [kb, n] = tb ? [b.shape![1], b.shape![0]] : [b.shape![0], b.shape![1]];
    c.match(ka, kb, `inner dimensions (transA=${ta}, transB=${tb})`);
    const bias = c.opt(2);
    if (bias) {
      c.same(a, bias, 'A and C');
      broadcastShapes(c, [[m, n], bias.shape]);
      if (bias.shape && bias.shape.length > 2) c.fail(`C must have rank ≤ 2`);
    }
    return [{ dtype: a.dtype, shape: [m, n] }];
  },
});

/** Einsum with explicit or implicit output and `...` broadcasting. */
registerOp('', 'Einsum', {
  minInputs: 1,
  maxInputs: 8,
  rule: (c: Ctx) => {
    const eq = c.str('equation').replace(/\s+/g, '');
    const [lhs, rhs] = eq.split('->') as [string, string | undefined];
    const terms = lhs.split(',');
    const ins = c.n.inputs;
    if (terms.length !== ins.length) c.fail(`equation '${eq}' has ${terms.length} operands, node has ${ins.length} inputs`);
    const dt = c.in(0).dtype;
    const sizes = new Map<string, Dim>();
    let ellipsis: Shape | null = [];
    const counts = new Map<string, number>();
    terms.forEach((term, i) => {
      const v = c.in(i);
      if (v.dtype !== dt) c.fail(`operand ${i} is ${v.dtype}, operand 0 is ${dt}`);
      const letters = term.replace('...', '');
      if (!/^[a-zA-Z]*$/.test(letters)) c.fail(`equation '${eq}': term '${term}' has characters other than letters and '...'`);
      if (v.shape === null) {
        ellipsis = null;
        return;
      }
      const hasEll = term.includes('...');
      const ellRank = v.shape.length - letters.length;
      if (hasEll ? ellRank < 0 : ellRank !== 0) {
        c.fail(`equation '${eq}': term '${term}' does not fit operand ${i} of shape ${formatShape(v.shape)}`);
      }
      const before = hasEll ? term.indexOf('...') : letters.length;
      if (hasEll && ellipsis) ellipsis = broadcastShapes(c, [ellipsis, v.shape.slice(before, before + ellRank)]);
      [...letters].forEach((ch, j) => {
        const d = v.shape![j < before ? j : j + ellRank];
        counts.set(ch, (counts.get(ch) ?? 0) + 1);
        const prev = sizes.get(ch);
        if (prev === undefined || prev === 1) sizes.set(ch, d);
        else if (d !== 1) sizes.set(ch, c.match(prev, d, `equation '${eq}': dimension '${ch}'`));
      });
    });
    const out =
      rhs ??
      (terms.some((t) => t.includes('...')) ? '...' : '') +
        [...counts.keys()]
          .filter((k) => counts.get(k) === 1)
          .sort()
          .join('');
    if (ellipsis === null && ins.some((v) => v?.shape === null)) return [{ dtype: dt, shape: null }];
    const shape: Shape = [];
    for (let i = 0; i < out.length; i++) {
      if (out.startsWith('...', i)) {
        shape.push(...(ellipsis ?? []));
        i += 2;
        continue;
      }
      const ch = out[i];
      if (!sizes.has(ch)) c.fail(`equation '${eq}': output letter '${ch}' is not in any input`);
      shape.push(sizes.get(ch)!);
    }
    return [{ dtype: dt, shape }];
  },
});

// ---------------------------------------------------------------------------------------------
// shape manipulation

registerOp('', 'Shape', {
  minInputs: 1,
  maxInputs: 1,
  rule: (c: Ctx) => {
    const x = c.in(0);
    if (x.shape === null) return [{ dtype: 'int64', shape: [null] }];
    const r = x.shape.length;
    const start = clampAxis(c.int('start', 0), r);
    const end = clampAxis(c.int('end', r), r);
    const known = x.shape.slice(start, Math.max(start, end));
    return [{ dtype: 'int64', shape: [known.length], known }];
  },
});

function clampAxis(a: number, r: number): number {
  const x = a < 0 ? a + r : a;
  return Math.min(Math.max(x, 0), r);
}

registerOp('', 'Size', { minInputs: 1, maxInputs: 1, rule: () => [{ dtype: 'int64', shape: [] }] });

registerOp('', 'Reshape', {
  minInputs: 2,
  maxInputs: 2,
  rule: (c: Ctx) => {
    const x = c.in(0, 'data');
    const s = c.in(1, 'shape');
    c.dtype(s, ['int64'], 'shape');
    c.rank(s, 1, 'shape');
    const allowzero = c.int('allowzero', 0);
    const target = c.known(s);
    if (!target) {
      const r = s.shape?.[0];
      return [{ dtype: x.dtype, shape: typeof r === 'number' ? new Array<Dim>(r).fill(null) : null }];
    }
    const out: Shape = target.map((d, i) => {
      if (d === 0 && !allowzero) {
        if (x.shape && i >= x.shape.length) c.fail(`shape ${formatShape(target)} copies dim ${i} (0) but data has rank ${x.shape.length}`);
        return x.shape ? x.shape[i] : null;
      }
      return d;
    });
    const neg = out.filter((d) => d === -1).length;
    if (neg > 1) c.fail(`shape ${formatShape(target)} has more than one -1`);
    if (out.some((d) => typeof d === 'number' && d < -1)) c.fail(`shape ${formatShape(target)} has a negative dimension`);
    const total = x.shape ? numel(x.shape) : null;
    if (neg === 1) {
      const rest = numel(out.filter((d) => d !== -1));
      const i = out.indexOf(-1);
      if (total !== null && rest !== null) {
        if (rest === 0 || total % rest !== 0) c.fail(`cannot reshape ${formatShape(x.shape)} (${total} elements) to ${formatShape(target)}`);
        out[i] = total / rest;
      } else out[i] = sameSymbolicQuotient(x.shape, out);
    } else if (total !== null) {
      const n = numel(out);
      if (n !== null && n !== total) c.fail(`cannot reshape ${formatShape(x.shape)} (${total} elements) to ${formatShape(target)} (${n} elements)`);
    }
    return [{ dtype: x.dtype, shape: out }];
  },
});

/**
 * The -1 of a reshape when symbols are involved: cancel the dims both sides share
 * ([b,s,20,16] → [b,s,-1] gives 320; [b,s,320] → [b,s,20,-1] gives 16).
 */
function sameSymbolicQuotient(from: Shape | null, to: Shape): Dim {
  if (!from) return null;
  const a = [...from];
  const b = to.filter((d) => d !== -1);
  for (let i = b.length - 1; i >= 0; i--) {
    const j = a.findIndex((d) => d === b[i] && d !== null);
    if (j >= 0) {
      a.splice(j, 1);
      b.splice(i, 1);
    }
  }
  const na = numel(a);
  const nb = numel(b);
  if (na !== null && nb !== null && nb !== 0 && na % nb === 0) return na / nb;
  if (b.length === 0 && a.length === 1) return a[0];
  return null;
}

registerOp('', 'Flatten', {
  minInputs: 1,
  maxInputs: 1,
  rule: (c: Ctx) => {
    const x = c.in(0);
    if (!x.shape) return [{ dtype: x.dtype, shape: [null, null] }];
    const axis = c.int('axis', 1);
    const a = axis < 0 ? axis + x.shape.length : axis;
    if (a < 0 || a > x.shape.length) c.fail(`axis ${axis} out of range for rank ${x.shape.length}`);
    const n1 = numel(x.shape.slice(0, a));
    const n2 = numel(x.shape.slice(a));
    return [{ dtype: x.dtype, shape: [n1, n2] }];
  },
});

registerOp('', 'Transpose', {
  minInputs: 1,
  maxInputs: 1,
  rule: (c: Ctx) => {
    const x = c.in(0);
    const perm = c.ints('perm');
    if (!x.shape) return [{ dtype: x.dtype, shape: perm ? new Array<Dim>(perm.length).fill(null) : null }];
    const r = x.shape.length;
    const p = perm ?? [...Array(r).keys()].reverse();
    if (p.length !== r || [...p].sort((a, b) => a - b).some((v, i) => v !== i)) {
      c.fail(`perm [${p.join(',')}] is not a permutation of the ${r} axes of ${formatShape(x.shape)}`);
    }
    return [{ dtype: x.dtype, shape: p.map((i) => x.shape![i]) }];
  },
});

registerOp('', 'Concat', {
  minInputs: 1,
  maxInputs: 1 << 16,
  rule: (c: Ctx) => {
    const ins = c.n.inputs.map((_, i) => c.in(i));
    const first = ins[0];
    for (const v of ins) c.same(first, v, 'Concat inputs');
    const ranked = ins.find((v) => v.shape !== null);
    if (!ranked) return [{ dtype: first.dtype, shape: null }];
    const r = ranked.shape!.length;
    const axis = c.axis(c.int('axis'), r);
    const out: Shape = [...ranked.shape!];
    let total: Dim = 0;
    for (const v of ins) {
      if (!v.shape) {
        total = null;
        continue;
      }
      if (v.shape.length !== r) c.fail(`inputs have different ranks (${ins.map((u) => formatShape(u.shape)).join(', ')})`);
      v.shape.forEach((d, i) => {
        if (i !== axis) out[i] = c.match(out[i], d, `dimension ${i} of the concatenated inputs`);
      });
      const d = v.shape[axis];
      total = typeof total === 'number' && typeof d === 'number' ? total + d : null;
    }
    out[axis] = total;
    const known = r === 1 && ins.every((v) => v.known) ? ins.flatMap((v) => v.known!) : undefined;
    return [{ dtype: first.dtype, shape: out, known }];
  },
});

registerOp('', 'Split', {
  minInputs: 1,
  maxInputs: 2,
  outputs: undefined,
  maxOutputs: 1 << 16,
  rule: (c: Ctx) => {
    const x = c.in(0);
    const splitIn = c.opt(1);
    if (splitIn) c.dtype(splitIn, ['int64'], 'split');
    const sizes = c.knownInts(splitIn);
    const n = sizes?.length ?? c.n.numOutputs ?? c.fail('Split needs either known split sizes or a number of outputs');
    if (!x.shape) return Array.from({ length: n }, () => ({ dtype: x.dtype, shape: null }));
    const axis = c.axis(c.int('axis', 0), x.shape.length);
    const d = x.shape[axis];
    let parts: Dim[];
    if (sizes) {
      const sum = sizes.reduce((a, b) => a + b, 0);
      if (typeof d === 'number' && sum !== d) c.fail(`split sizes [${sizes.join(',')}] sum to ${sum}, axis ${axis} has ${d}`);
      parts = sizes;
    } else {
      if (typeof d === 'number' && d % n !== 0) c.fail(`axis ${axis} of size ${d} does not split evenly into ${n}`);
      parts = new Array<Dim>(n).fill(typeof d === 'number' ? d / n : null);
    }
    return parts.map((p) => {
      const s = [...x.shape!];
      s[axis] = p;
      return { dtype: x.dtype, shape: s };
    });
  },
});

registerOp('', 'Slice', {
  minInputs: 3,
  maxInputs: 5,
  rule: (c: Ctx) => {
    const x = c.in(0, 'data');
    for (const i of [1, 2, 3, 4]) {
      const v = c.opt(i);
      if (v) {
        c.index(v, ['starts', 'ends', 'axes', 'steps'][i - 1]);
        c.rank(v, 1, ['starts', 'ends', 'axes', 'steps'][i - 1]);
      }
    }
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    const r = x.shape.length;
    const starts = c.known(c.in(1));
    const ends = c.known(c.in(2));
    const axesV = c.opt(3);
    const stepsV = c.opt(4);
    const axes = axesV ? c.knownInts(axesV) : [...Array(starts?.length ?? r).keys()];
    const steps = stepsV ? c.knownInts(stepsV) : axes?.map(() => 1);
    if (!axes) return [{ dtype: x.dtype, shape: new Array<Dim>(r).fill(null) }];
    const nAxes = c.in(1).shape?.[0];
    if (typeof nAxes === 'number' && nAxes !== axes.length) c.fail(`starts has ${nAxes} entries, axes has ${axes.length}`);
    const out: Shape = [...x.shape];
    axes.forEach((a0, i) => {
      const a = c.axis(a0, r, 'slice axis');
      const d = x.shape![a];
      const s = starts?.[i];
      const e = ends?.[i];
      const st = steps?.[i];
      if (st === 0) c.fail(`slice step on axis ${a} is 0`);
      if (typeof d === 'number' && typeof s === 'number' && typeof e === 'number' && typeof st === 'number') {
        out[a] = sliceLength(d, s, e, st);
      } else if (typeof s === 'number' && typeof e === 'number' && st === 1 && s >= 0 && e >= s && e < 2 ** 31) {
        out[a] = typeof d === 'number' ? Math.max(0, Math.min(e, d) - s) : null;
      } else if (s === 0 && typeof e === 'number' && e >= 2 ** 31 && st === 1) {
        out[a] = d; // x[0:] keeps the dimension, symbolic or not
      } else out[a] = null;
    });
    let known: Dim[] | undefined;
    if (r === 1 && x.known && typeof out[0] === 'number') {
      const s = starts?.[0];
      const st = steps?.[0];
      if (typeof s === 'number' && st === 1) {
        const s0 = s < 0 ? Math.max(0, s + x.known.length) : Math.min(s, x.known.length);
        known = x.known.slice(s0, s0 + out[0]);
      }
    }
    return [{ dtype: x.dtype, shape: out, known }];
  },
});

function sliceLength(d: number, s: number, e: number, st: number): number {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let start = s < 0 ? s + d : s;
  let end = e < 0 ? e + d : e;
  if (st > 0) {
    start = clamp(start, 0, d);
    end = clamp(end, 0, d);
    return Math.max(0, Math.ceil((end - start) / st));
  }
  start = clamp(start, -1, d - 1);
  end = clamp(end, -1, d - 1);
  return Math.max(0, Math.ceil((end - start) / st));
}

registerOp('', 'Unsqueeze', {
  minInputs: 2,
  maxInputs: 2,
  rule: (c: Ctx) => {
    const x = c.in(0, 'data');
    const axesV = c.in(1, 'axes');
    c.dtype(axesV, ['int64'], 'axes');
    const axes = c.knownInts(axesV);
    if (!axes) c.fail(`axes '${axesV.name}' must be known at build time (use a constant)`);
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    const r = x.shape.length + axes.length;
    const norm = axes.map((a) => c.axis(a, r, 'unsqueeze axis'));
    if (new Set(norm).size !== norm.length) c.fail(`axes [${axes.join(',')}] repeat an axis`);
    const out: Shape = [];
    let j = 0;
    for (let i = 0; i < r; i++) out.push(norm.includes(i) ? 1 : x.shape[j++]);
    const known = x.known && x.shape.length === 0 ? x.known : undefined;
    return [{ dtype: x.dtype, shape: out, known }];
  },
});

registerOp('', 'Squeeze', {
  minInputs: 1,
  maxInputs: 2,
  rule: (c: Ctx) => {
    const x = c.in(0, 'data');
    const axesV = c.opt(1);
    if (axesV) c.dtype(axesV, ['int64'], 'axes');
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    const r = x.shape.length;
    let axes: number[];
    if (axesV) {
      const k = c.knownInts(axesV);
      if (!k) c.fail(`axes '${axesV.name}' must be known at build time`);
      axes = k.map((a) => c.axis(a, r, 'squeeze axis'));
      for (const a of axes) {
        const d = x.shape[a];
        if (typeof d === 'number' && d !== 1) c.fail(`cannot squeeze axis ${a} of size ${d}`);
      }
    } else {
      if (x.shape.some((d) => typeof d !== 'number')) c.fail('Squeeze without axes needs a fully known shape');
      axes = x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
    }
    const known = x.known && r === 1 ? x.known : undefined;
    return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !axes.includes(i)), known }];
  },
});

registerOp('', 'Expand', {
  minInputs: 2,
  maxInputs: 2,
  rule: (c: Ctx) => {
    const x = c.in(0);
    const s = c.in(1, 'shape');
    c.dtype(s, ['int64'], 'shape');
    c.rank(s, 1, 'shape');
    const target = c.known(s);
    if (!target) {
      const r = s.shape?.[0];
      if (typeof r !== 'number' || !x.shape) return [{ dtype: x.dtype, shape: null }];
      return [{ dtype: x.dtype, shape: new Array<Dim>(Math.max(r, x.shape.length)).fill(null) }];
    }
    return [{ dtype: x.dtype, shape: broadcastShapes(c, [x.shape, target]) }];
  },
});

registerOp('', 'Tile', {
  minInputs: 2,
  maxInputs: 2,
  rule: (c: Ctx) => {
    const x = c.in(0);
    const reps = c.knownInts(c.in(1));
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    if (!reps) return [{ dtype: x.dtype, shape: x.shape.map(() => null) }];
    if (reps.length !== x.shape.length) c.fail(`repeats has ${reps.length} entries for rank ${x.shape.length}`);
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (typeof d === 'number' ? d * reps[i] : reps[i] === 1 ? d : null)) }];
  },
});

registerOp('', 'ConstantOfShape', {
  minInputs: 1,
  maxInputs: 1,
  rule: (c: Ctx) => {
    const s = c.in(0, 'shape');
    c.dtype(s, ['int64'], 'shape');
    const v = c.attr('value');
    if (v && v.type !== 'tensor') c.fail(`attribute 'value' must be a tensor`);
    const dtype: DType = v && v.type === 'tensor' ? v.value.dtype : 'float32';
    const target = c.known(s);
    const r = s.shape?.[0];
    return [{ dtype, shape: target ? [...target] : typeof r === 'number' ? new Array<Dim>(r).fill(null) : null }];
  },
});

registerOp('', 'Range', {
  minInputs: 3,
  maxInputs: 3,
  rule: (c: Ctx) => {
    const [s, l, d] = [c.in(0, 'start'), c.in(1, 'limit'), c.in(2, 'delta')];
    c.same(s, l, 'start and limit');
    c.same(s, d, 'start and delta');
    for (const v of [s, l, d]) c.rank(v, 0, 'Range bound');
    const ks = s.known?.[0];
    const kl = l.known?.[0];
    const kd = d.known?.[0];
    let n: Dim = null;
    if (typeof ks === 'number' && typeof kl === 'number' && typeof kd === 'number' && kd !== 0) n = Math.max(0, Math.ceil((kl - ks) / kd));
    else if (ks === 0 && kd === 1 && typeof kl === 'string') n = kl;
    return [{ dtype: s.dtype, shape: [n] }];
  },
});

registerOp('', 'Trilu', {
  minInputs: 1,
  maxInputs: 2,
  rule: (c: Ctx) => {
    const x = c.in(0);
    c.minRank(x, 2, 'input');
    const k = c.opt(1);
    if (k) {
      c.dtype(k, ['int64'], 'k');
      c.rank(k, 0, 'k');
    }
    return [same(x)];
  },
});

registerOp('', 'Pad', {
  minInputs: 2,
  maxInputs: 4,
  rule: (c: Ctx) => {
    const x = c.in(0);
    const pads = c.knownInts(c.in(1, 'pads'));
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    if (c.opt(3)) return [{ dtype: x.dtype, shape: x.shape.map(() => null) }];
    if (!pads) return [{ dtype: x.dtype, shape: x.shape.map(() => null) }];
    const r = x.shape.length;
    if (pads.length !== 2 * r) c.fail(`pads has ${pads.length} entries, rank ${r} needs ${2 * r}`);
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (typeof d === 'number' ? d + pads[i] + pads[i + r] : pads[i] + pads[i + r] === 0 ? d : null)) }];
  },
});

// ---------------------------------------------------------------------------------------------
// indexing

registerOp('', 'Gather', {
  minInputs: 2,
  maxInputs: 2,
  rule: (c: Ctx) => {
    const x = c.in(0, 'data');
    const idx = c.in(1, 'indices');
    c.index(idx, 'indices');
    if (!x.shape || !idx.shape) return [{ dtype: x.dtype, shape: null }];
    c.minRank(x, 1, 'data');
    const axis = c.axis(c.int('axis', 0), x.shape.length);
    const out = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
    let known: Dim[] | undefined;
    const ki = c.knownInts(idx);
    if (x.known && x.shape.length === 1 && ki) known = ki.map((i) => x.known![i < 0 ? i + x.known!.length : i] ?? null);
    return [{ dtype: x.dtype, shape: out, known }];
  },
});

registerOp('', 'GatherElements', {
  minInputs: 2,
  maxInputs: 2,
  rule: (c: Ctx) => {
    const x = c.in(0, 'data');
    const idx = c.in(1, 'indices');
    c.index(idx, 'indices');
    if (x.shape && idx.shape) {
      if (x.shape.length !== idx.shape.length) c.fail(`data and indices must have the same rank (${formatShape(x.shape)} vs ${formatShape(idx.shape)})`);
      const axis = c.axis(c.int('axis', 0), x.shape.length);
      idx.shape.forEach((d, i) => {
        if (i !== axis) c.match(d, x.shape![i], `indices and data, dimension ${i}`);
      });
    }
    return [{ dtype: x.dtype, shape: idx.shape && [...idx.shape] }];
  },
});

registerOp('', 'GatherND', {
  minInputs: 2,
  maxInputs: 2,
  rule: (c: Ctx) => {
    const x = c.in(0, 'data');
    const idx = c.in(1, 'indices');
    c.dtype(idx, ['int64'], 'indices');
    const b = c.int('batch_dims', 0);
    if (!x.shape || !idx.shape) return [{ dtype: x.dtype, shape: null }];
    c.minRank(idx, 1, 'indices');
    const k = idx.shape[idx.shape.length - 1];
    if (typeof k !== 'number') c.fail(`the last dimension of indices must be known`);
    if (b + k > x.shape.length) c.fail(`batch_dims ${b} + index depth ${k} exceeds data rank ${x.shape.length}`);
    for (let i = 0; i < b; i++) c.match(x.shape[i], idx.shape[i], `batch dimension ${i}`);
    return [{ dtype: x.dtype, shape: [...idx.shape.slice(0, -1), ...x.shape.slice(b + k)] }];
  },
});

registerOp('', 'NonZero', {
  minInputs: 1,
  maxInputs: 1,
  rule: (c: Ctx) => {
    const x = c.in(0, 'X');
    // int64 [rank, number of non-zero elements]: the count is known only when the graph runs.
    return [{ dtype: 'int64', shape: x.shape ? [x.shape.length, null] : null }];
  },
});

registerOp('', 'ScatterND', {
  minInputs: 3,
  maxInputs: 3,
  rule: (c: Ctx) => {
    const x = c.in(0, 'data');
    const idx = c.in(1, 'indices');
    const upd = c.in(2, 'updates');
    c.dtype(idx, ['int64'], 'indices');
    c.same(x, upd, 'data and updates');
    if (x.shape && idx.shape && upd.shape) {
      const k = idx.shape[idx.shape.length - 1];
      if (typeof k !== 'number') c.fail(`the last dimension of indices must be known`);
      if (k > x.shape.length) c.fail(`index depth ${k} exceeds data rank ${x.shape.length}`);
      const expect = [...idx.shape.slice(0, -1), ...x.shape.slice(k)];
      if (upd.shape.length !== expect.length) c.fail(`updates must have shape ${formatShape(expect)}, got ${formatShape(upd.shape)}`);
      expect.forEach((d, i) => c.match(d, upd.shape![i], `updates dimension ${i}`));
    }
    return [same(x)];
  },
});

registerOp('', 'ScatterElements', {
  minInputs: 3,
  maxInputs: 3,
  rule: (c: Ctx) => {
    const x = c.in(0, 'data');
    const idx = c.in(1, 'indices');
    const upd = c.in(2, 'updates');
    c.index(idx, 'indices');
    c.same(x, upd, 'data and updates');
    if (x.shape && idx.shape && x.shape.length !== idx.shape.length) c.fail('data and indices must have the same rank');
    return [same(x)];
  },
});

registerOp('', 'OneHot', {
  minInputs: 3,
  maxInputs: 3,
  rule: (c: Ctx) => {
    const idx = c.in(0, 'indices');
    const depth = c.knownInts(c.in(1, 'depth'));
    const vals = c.in(2, 'values');
    if (!idx.shape) return [{ dtype: vals.dtype, shape: null }];
    const r = idx.shape.length + 1;
    const axis = c.axis(c.int('axis', -1), r);
    const out: Shape = [...idx.shape];
    out.splice(axis, 0, depth ? depth[0] : null);
    return [{ dtype: vals.dtype, shape: out }];
  },
});

// ---------------------------------------------------------------------------------------------
// normalisation and reductions

for (const op of ['Softmax', 'LogSoftmax']) {
  registerOp('', op, {
    minInputs: 1,
    maxInputs: 1,
    rule: (c: Ctx) => {
      const x = c.in(0);
      c.float_(x, 'input');
      if (x.shape) c.axis(c.int('axis', -1), x.shape.length);
      return [same(x)];
    },
  });
}

registerOp('', 'LayerNormalization', {
  minInputs: 2,
  maxInputs: 3,
  outputs: 1,
  maxOutputs: 3,
  rule: (c: Ctx) => {
    const x = c.in(0, 'X');
    const scale = c.in(1, 'Scale');
    const bias = c.opt(2);
    c.float_(x, 'X');
    c.same(x, scale, 'X and Scale');
    if (bias) c.same(x, bias, 'X and B');
    if (!x.shape) return [same(x), { dtype: 'float32', shape: null }, { dtype: 'float32', shape: null }];
    const r = x.shape.length;
    const axis = c.axis(c.int('axis', -1), r);
    const normShape = x.shape.slice(axis);
    for (const [v, what] of [
      [scale, 'Scale'],
      [bias, 'B'],
    ] as const) {
      if (!v || !v.shape) continue;
      if (v.shape.length > normShape.length) c.fail(`${what} ${formatShape(v.shape)} does not fit the normalised dims ${formatShape(normShape)}`);
      v.shape.forEach((d, i) => c.match(d, normShape[normShape.length - v.shape!.length + i], `${what} vs normalised dims of X`));
    }
    const statShape = [...x.shape.slice(0, axis), ...normShape.map(() => 1)];
    return [same(x), { dtype: 'float32', shape: statShape }, { dtype: 'float32', shape: statShape }];
  },
});

registerOp('', 'RMSNormalization', {
  minInputs: 2,
  maxInputs: 2,
  rule: (c: Ctx) => {
    if (c.n.opset < 23) c.fail(`RMSNormalization needs opset 23 (graph has ${c.n.opset}); use the decomposed RMSNorm helper`);
    return [same(c.in(0))];
  },
});

const REDUCE = ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL2', 'ReduceSumSquare', 'ReduceLogSumExp', 'ReduceL1'];
for (const op of REDUCE) {
  registerOp('', op, {
    minInputs: 1,
    maxInputs: 2,
    rule: (c: Ctx) => {
      const x = c.in(0, 'data');
      if (x.dtype === 'bool') c.fail('cannot reduce a bool tensor');
      // Since opset 18 every Reduce* takes axes as an input; at 17 only ReduceSum does.
      const axesAsInput = op === 'ReduceSum' || c.n.opset >= 18;
      let axes: number[] | undefined;
      if (axesAsInput) {
        if (c.attr('axes')) c.fail(`at opset ${c.n.opset}, ${op} takes axes as its second input, not an attribute`);
        const a = c.opt(1);
        if (a) {
          c.dtype(a, ['int64'], 'axes');
          axes = c.knownInts(a);
          if (!axes) c.fail(`axes '${a.name}' must be known at build time`);
        }
      } else {
        if (c.opt(1)) c.fail(`at opset ${c.n.opset}, ${op} takes axes as an attribute, not an input`);
        axes = c.ints('axes');
      }
      const keep = c.int('keepdims', 1);
      const noop = c.int('noop_with_empty_axes', 0);
      if (!x.shape) return [{ dtype: x.dtype, shape: null }];
      const r = x.shape.length;
      if (!axes || axes.length === 0) {
        if (noop) return [same(x)];
        axes = [...Array(r).keys()];
      }
      const norm = axes.map((a) => c.axis(a, r, 'reduce axis'));
      const out: Shape = [];
      x.shape.forEach((d, i) => {
        if (!norm.includes(i)) out.push(d);
        else if (keep) out.push(1);
      });
      return [{ dtype: x.dtype, shape: out }];
    },
  });
}

for (const op of ['ArgMax', 'ArgMin']) {
  registerOp('', op, {
    minInputs: 1,
    maxInputs: 1,
    rule: (c: Ctx) => {
      const x = c.in(0);
      if (!x.shape) return [{ dtype: 'int64', shape: null }];
      const axis = c.axis(c.int('axis', 0), x.shape.length);
      const keep = c.int('keepdims', 1);
      const out = x.shape.flatMap((d, i) => (i === axis ? (keep ? [1] : []) : [d]));
      return [{ dtype: 'int64', shape: out }];
    },
  });
}

registerOp('', 'TopK', {
  minInputs: 2,
  maxInputs: 2,
  rule: (c: Ctx) => {
    const x = c.in(0, 'X');
    const k = c.in(1, 'K');
    c.dtype(k, ['int64'], 'K');
    c.rank(k, 1, 'K');
    if (k.shape && typeof k.shape[0] === 'number' && k.shape[0] !== 1) c.fail(`K must hold one value, has shape ${formatShape(k.shape)}`);
    if (!x.shape)
      return [
        { dtype: x.dtype, shape: null },
        { dtype: 'int64', shape: null },
      ];
    const axis = c.axis(c.int('axis', -1), x.shape.length);
    const kv = k.known?.[0] ?? null;
    const d = x.shape[axis];
    if (typeof kv === 'number' && typeof d === 'number' && kv > d) c.fail(`K = ${kv} exceeds axis ${axis} of size ${d}`);
    const out = [...x.shape];
    out[axis] = kv;
    return [
      { dtype: x.dtype, shape: out },
      { dtype: 'int64', shape: [...out] },
    ];
  },
});

registerOp('', 'CumSum', {
  minInputs: 2,
  maxInputs: 2,
  rule: (c: Ctx) => {
    const x = c.in(0);
    const a = c.in(1, 'axis');
    c.index(a, 'axis');
    c.rank(a, [0, 1], 'axis');
    return [same(x)];
  },
});

registerOp('', 'DequantizeLinear', {
  minInputs: 2,
  maxInputs: 3,
  rule: (c: Ctx) => {
    const x = c.in(0, 'x');
    const scale = c.in(1, 'x_scale');
    const zp = c.opt(2);
    c.dtype(x, ['int8', 'uint8', 'int32', 'int16', 'uint16'], 'x');
    c.float_(scale, 'x_scale');
    if (zp) c.same(x, zp, 'x and x_zero_point');
    if (x.shape && scale.shape && scale.shape.length === 1) {
      const axis = c.axis(c.int('axis', 1), Math.max(x.shape.length, 1));
      if (x.shape.length > 0) c.match(scale.shape[0], x.shape[axis], `x_scale length vs x axis ${axis}`);
    } else if (scale.shape && scale.shape.length > 1 && c.n.opset < 21) {
      c.fail(`blocked quantisation (x_scale of rank ${scale.shape.length}) needs opset 21`);
    }
    return [{ dtype: scale.dtype, shape: x.shape && [...x.shape] }];
  },
});

registerOp('', 'QuantizeLinear', {
  minInputs: 2,
  maxInputs: 3,
  rule: (c: Ctx) => {
    const x = c.in(0, 'x');
    c.float_(x, 'x');
    const zp = c.opt(2);
    return [{ dtype: zp ? zp.dtype : 'uint8', shape: x.shape && [...x.shape] }];
  },
});
