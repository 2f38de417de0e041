/**
 * A restricted pickle interpreter: reads the pickle opcodes of protocols 0–5 and builds plain
 * values (None, bools, ints, floats, strings, bytes, lists, tuples, dicts, sets), but resolves
 * only the globals the caller allow-lists, and the only functions it ever calls are the caller's
 * handlers for those globals. Any other global (`os.system`, `builtins.eval`, a user class, ...),
 * and extension-registry codes, stop the load with {@link PickleRefusedError} before anything
 * else happens — nothing from the file is ever executed.
 */

/** Base class for values an allow-listed handler builds (e.g. a torch tensor reference). */
export abstract class PickleCustom {
  /** Applies a BUILD opcode's state; by default BUILD is refused for custom values. */
  build(state: PickleValue): void {
    void state;
    throw new Error(`pickle: BUILD is not supported on ${this.constructor.name}`);
  }
}

/** A resolved, allow-listed global (`module.name`); it is only a name, never a live object. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get fullName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A dict or `collections.OrderedDict`, with the instance attributes set by BUILD. */
export class PickleDict extends Map<PickleValue, PickleValue> {
  /** Instance attributes (e.g. the `_metadata` torch attaches to state dicts). */
  readonly attributes = new Map<string, PickleValue>();
  constructor(readonly ordered = false) {
    super();
  }
}

/**
 * A value produced by {@link unpickle}. Lists are arrays; tuples are frozen arrays; Python ints
 * are numbers when they are safe integers and bigints otherwise; `bytes`/`bytearray` are
 * `Uint8Array`; sets and frozensets are `Set`s.
 */
export type PickleValue = null | boolean | number | bigint | string | Uint8Array | PickleValue[] | readonly PickleValue[] | PickleDict | Set<PickleValue> | PickleGlobal | PickleCustom;

/** What an allow-listed global may do. */
export interface AllowedGlobal {
  /**
   * Called for REDUCE, NEWOBJ, INST and OBJ on this global with the pickled arguments. A global
   * without `call` may only appear as a value (e.g. a storage class inside a persistent id).
   */
  call?: (args: readonly PickleValue[]) => PickleValue;
}

/** Options of {@link unpickle}. */
export interface UnpickleOptions {
  /** Allowed globals, keyed by `module.name`. Everything else is refused. */
  globals: ReadonlyMap<string, AllowedGlobal>;
  /** Resolves persistent ids (PERSID/BINPERSID); without it persistent ids are refused. */
  persistentLoad?: (pid: PickleValue) => PickleValue;
  /** Name of the input in error messages. */
  source?: string;
  /** Sentence appended to refusals, e.g. why the caller expects only certain globals. */
  refusalHint?: string;
}

/** Thrown when a pickle references something outside the allow-list. */
export class PickleRefusedError extends Error {
  constructor(
    message: string,
    /** The refused `module.name` (or a description such as `extension code 1`). */
    readonly global: string,
  ) {
    super(message);
    this.name = 'PickleRefusedError';
  }
}

/** Python 2 module names that Python 3's pickle writes for protocols < 3 (from `_compat_pickle`). */
const PY2_MODULES: Record<string, string> = {
  __builtin__: 'builtins',
  copy_reg: 'copyreg',
  commands: 'subprocess',
  cPickle: 'pickle',
  exceptions: 'builtins',
  UserDict: 'collections',
  urllib2: 'urllib.request',
};

/** Longest integer (LONG1/LONG4/text) we convert, in bytes; real pickles use a few. */
const MAX_LONG_BYTES = 1 << 16;

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

/**
 * Interprets `bytes` as a pickle and returns the object it builds.
 * @throws {@link PickleRefusedError} for a global outside `options.globals` or an extension code;
 * `Error` for malformed input (truncation, bad opcode, stack underflow, missing memo entry).
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): PickleValue {
  const src = options.source ?? 'pickle';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: PickleValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PickleValue>();
  let pos = 0;

  const fail = (msg: string): never => {
    throw new Error(`${src}: bad pickle at byte ${pos}: ${msg}`);
  };
  const refuse = (what: string, detail: string): never => {
    const hint = options.refusalHint ? ` ${options.refusalHint}` : '';
    throw new PickleRefusedError(`${src}: refusing to unpickle ${detail}.${hint}`, what);
  };
  const need = (n: number): void => {
    if (n < 0 || pos + n > bytes.length) fail(`needs ${n} more bytes, ${bytes.length - pos} left (truncated?)`);
  };
  const take = (n: number): Uint8Array => {
    need(n);
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++];
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(bytes.length)) fail(`length ${v} is larger than the pickle`);
    return Number(v);
  };
  const line = (): string => {
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) fail('missing newline');
    const s = latin1.decode(bytes.subarray(pos, nl));
    pos = nl + 1;
    return s;
  };

  const base = (): number => (marks.length ? marks[marks.length - 1] : 0);
  const push = (v: PickleValue): void => {
    stack.push(v);
  };
  const pop = (): PickleValue => {
    if (stack.length <= base()) fail('stack underflow');
    return stack.pop() as PickleValue;
  };
  const top = (): PickleValue => {
    if (stack.length <= base()) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): PickleValue[] => {
    const m = marks.pop();
    if (m === undefined) fail('MARK expected');
    return stack.splice(m as number);
  };
  const tuple = (items: PickleValue[]): readonly PickleValue[] => Object.freeze(items);

  const resolve = (module: string, name: string): PickleGlobal => {
    const full = `${module}.${name}`;
    if (!options.globals.has(full)) {
      // Protocol 0-2 pickles written by Python 3 use Python 2 module names (fix_imports).
      const py3 = PY2_MODULES[module];
      const alias = py3 ? ` (Python 3: ${py3}.${name})` : '';
      refuse(full, `global '${full}'${alias}: it is not on the allow-list`);
    }
    return new PickleGlobal(module, name);
  };
  const call = (fn: PickleValue, args: readonly PickleValue[], how: string): PickleValue => {
    if (!(fn instanceof PickleGlobal)) fail(`${how} of a ${describe(fn)}, not a global`);
    const g = fn as PickleGlobal;
    const handler = options.globals.get(g.fullName)?.call;
    if (!handler) refuse(g.fullName, `a call of '${g.fullName}' (${how}): it may appear only as a value`);
    return (handler as NonNullable<AllowedGlobal['call']>)(args);
  };
  const asArgs = (v: PickleValue, what: string): readonly PickleValue[] => {
    if (!Array.isArray(v)) fail(`${what} arguments are a ${describe(v)}, not a tuple`);
    return v as readonly PickleValue[];
  };
  const setItems = (d: PickleValue, items: PickleValue[]): void => {
    if (!(d instanceof PickleDict)) fail(`SETITEM(S) on a ${describe(d)}`);
    if (items.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) (d as PickleDict).set(items[i], items[i + 1]);
  };
  const appendItems = (l: PickleValue, items: PickleValue[]): void => {
    if (!Array.isArray(l) || Object.isFrozen(l)) fail(`APPEND(S) on a ${describe(l)}`);
    (l as PickleValue[]).push(...items);
  };
  const persistent = (pid: PickleValue): PickleValue => {
    if (!options.persistentLoad) refuse('persistent id', 'a persistent id: no persistent loader was given');
    return (options.persistentLoad as NonNullable<UnpickleOptions['persistentLoad']>)(pid);
  };
  const intFromText = (s: string): number | bigint => {
    const t = s.trim().replace(/L$/, '');
    if (!/^[+-]?\d+$/.test(t) || t.length > MAX_LONG_BYTES) fail(`'${s}' is not an integer`);
    const b = BigInt(t);
    return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
  };
  const longFromBytes = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    if (b.length > MAX_LONG_BYTES) fail(`integer of ${b.length} bytes is too long`);
    let hex = '';
    for (let i = b.length - 1; i >= 0; i--) hex += b[i].toString(16).padStart(2, '0');
    let v = BigInt('0x' + hex);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length); // two's complement
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    if (pos >= bytes.length) fail('ended without STOP');
    const op = bytes[pos++];
    switch (op) {
      // --- framing and control
      case 0x80: // PROTO
        if (u8() > 5) fail('pickle protocol newer than 5');
        break;
      case 0x95: // FRAME: an 8-byte frame length; frames are only a buffering hint
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length) fail(`STOP with ${stack.length} values on the stack`);
        return stack[0];
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        if (stack.length > base()) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;

      // --- atoms
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4a: // BININT
        need(4);
        push(view.getInt32(pos, true));
        pos += 4;
        break;
      case 0x4b: // BININT1
        push(u8());
        break;
      case 0x4d: // BININT2
        push(u16());
        break;
      case 0x8a: // LONG1
        push(longFromBytes(take(u8())));
        break;
      case 0x8b: {
        // LONG4
        need(4);
        const n = view.getInt32(pos, true);
        pos += 4;
        if (n < 0) fail('negative LONG4 length');
        push(longFromBytes(take(n)));
        break;
      }
      case 0x49: {
        // INT (text); "00"/"01" are protocol 0's False/True
        const s = line();
        push(s === '00' ? false : s === '01' ? true : intFromText(s));
        break;
      }
      case 0x4c: // LONG (text)
        push(intFromText(line()));
        break;
      case 0x47: // BINFLOAT (big endian)
        need(8);
        push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x46: {
        // FLOAT (text)
        const s = line().trim();
        const v = Number(s);
        if (s === '' || (Number.isNaN(v) && !/^[+-]?nan$/i.test(s))) fail(`'${s}' is not a float`);
        push(/^[+-]?inf$/i.test(s) ? (s.startsWith('-') ? -Infinity : Infinity) : v);
        break;
      }

      // --- strings and bytes
      case 0x58: // BINUNICODE
        push(utf8.decode(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(utf8.decode(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        push(utf8.decode(take(u64())));
        break;
      case 0x56: // UNICODE (raw-unicode-escape text)
        push(rawUnicodeUnescape(line()));
        break;
      case 0x54: {
        // BINSTRING (Python 2 str, decoded as UTF-8 like torch.load does)
        need(4);
        const n = view.getInt32(pos, true);
        pos += 4;
        if (n < 0) fail('negative BINSTRING length');
        push(utf8.decode(take(n)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        push(utf8.decode(take(u8())));
        break;
      case 0x53: {
        // STRING (a quoted Python 2 repr)
        const s = line();
        const q = s[0];
        if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q) fail('STRING is not quoted');
        push(pyEscapeDecode(s.slice(1, -1)));
        break;
      }
      case 0x42: // BINBYTES
        push(new Uint8Array(take(u32()))); // copy: Buffer.slice would alias the input
        break;
      case 0x43: // SHORT_BINBYTES
        push(new Uint8Array(take(u8())));
        break;
      case 0x8e: // BINBYTES8
        push(new Uint8Array(take(u64())));
        break;
      case 0x96: // BYTEARRAY8
        push(new Uint8Array(take(u64())));
        break;
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        refuse('out-of-band buffer', 'an out-of-band buffer (pickle protocol 5 buffers are not supported)');
        break;

      // --- containers
      case 0x29: // EMPTY_TUPLE
        push(tuple([]));
        break;
      case 0x74: // TUPLE
        push(tuple(popMark()));
        break;
      case 0x85: // TUPLE1
        push(tuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        push(tuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        push(tuple([a, b, c]));
        break;
      }
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x6c: // LIST
        push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        push(new PickleDict());
        break;
      case 0x64: {
        // DICT
        const d = new PickleDict();
        setItems(d, popMark());
        push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        push(new Set<PickleValue>());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail(`ADDITEMS on a ${describe(s)}`);
        for (const it of items) (s as Set<PickleValue>).add(it);
        break;
      }
      case 0x91: // FROZENSET
        push(new Set<PickleValue>(popMark()));
        break;

      // --- memo
      case 0x70: // PUT
        memo.set(Number(intFromText(line())), top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const i = op === 0x67 ? Number(intFromText(line())) : op === 0x68 ? u8() : u32();
        if (!memo.has(i)) fail(`memo entry ${i} is not defined`);
        push(memo.get(i) as PickleValue);
        break;
      }

      // --- globals and calls: only allow-listed names ever resolve, and only their handlers run
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        push(resolve(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        push(resolve(module as string, name as string));
        break;
      }
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: {
        // EXT4
        const code = op === 0x82 ? u8() : op === 0x83 ? u16() : u32();
        refuse(`extension code ${code}`, `extension code ${code} (copyreg extension registry): globals must be named`);
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        push(call(fn, asArgs(args, 'REDUCE'), 'REDUCE'));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        push(call(cls, asArgs(args, 'NEWOBJ'), 'NEWOBJ'));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX (keyword arguments are not supported by any allowed global)
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(kwargs instanceof PickleDict) || kwargs.size) {
          if (cls instanceof PickleGlobal) refuse(cls.fullName, `a call of '${cls.fullName}' with keyword arguments`);
          fail('NEWOBJ_EX with keyword arguments');
        }
        push(call(cls, asArgs(args, 'NEWOBJ_EX'), 'NEWOBJ_EX'));
        break;
      }
      case 0x69: {
        // INST: module and name inline, arguments since the mark
        const module = line();
        const name = line();
        const g = resolve(module, name);
        push(call(g, popMark(), 'INST'));
        break;
      }
      case 0x6f: {
        // OBJ: class and arguments since the mark
        const items = popMark();
        if (!items.length) fail('OBJ without a class');
        push(call(items[0], items.slice(1), 'OBJ'));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        if (obj instanceof PickleDict) buildDict(obj, state, fail);
        else if (obj instanceof PickleCustom) obj.build(state);
        else fail(`BUILD on a ${describe(obj)}`);
        break;
      }
      case 0x51: // BINPERSID
        push(persistent(pop()));
        break;
      case 0x50: // PERSID
        push(persistent(line()));
        break;

      default:
        pos--;
        fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}

/** BUILD on a dict sets instance attributes (`inst.__dict__.update(state)`), with optional slots. */
function buildDict(d: PickleDict, state: PickleValue, fail: (msg: string) => never): void {
  const apply = (s: PickleValue): void => {
    if (s === null) return;
    if (!(s instanceof PickleDict)) fail(`BUILD state is a ${describe(s)}, not a dict`);
    for (const [k, v] of s) {
      if (typeof k !== 'string') fail('BUILD state has a non-string attribute name');
      d.attributes.set(k, v);
    }
  };
  if (Array.isArray(state) && Object.isFrozen(state) && state.length === 2) {
    apply(state[0]);
    apply(state[1]);
  } else {
    apply(state);
  }
}

/** Short description of a value's type for error messages. */
export function describe(v: PickleValue | undefined): string {
  if (v === null) return 'None';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return Object.isFrozen(v) ? 'tuple' : 'list';
  if (v instanceof PickleDict) return v.ordered ? 'OrderedDict' : 'dict';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof Set) return 'set';
  if (v instanceof PickleGlobal) return `global ${v.fullName}`;
  if (v instanceof PickleCustom) return v.constructor.name;
  return typeof v;
}

function rawUnicodeUnescape(s: string): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, a: string | undefined, b: string | undefined) => String.fromCodePoint(parseInt(a ?? (b as string), 16)));
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  n: '\n',
  t: '\t',
  r: '\r',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  '\n': '',
};

/** Decodes the body of a Python 2 string literal (`\\n`, `\\xhh`, octal escapes). */
function pyEscapeDecode(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|[\s\S])/g, (_m, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8) & 0xff);
    return SIMPLE_ESCAPES[e] ?? '\\' + e;
  });
}
