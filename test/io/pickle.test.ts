import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { PickleDict, PickleGlobal, PickleRefusedError, unpickle, type PickleValue } from '../../src/io/pickle.js';
import { fixture } from './helpers.js';

const NONE = { globals: new Map() };
const bytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

describe('restricted unpickler: plain data in every protocol', () => {
  it.each([0, 1, 2, 3, 4, 5])('protocol %i', (proto) => {
    const v = unpickle(readFileSync(fixture(`plain_p${proto}.pkl`)), NONE);
    expect(v).toBeInstanceOf(PickleDict);
    const d = v as PickleDict;
    expect(d.get('int')).toBe(1);
    expect(d.get('neg')).toBe(-2);
    expect(d.get('i16')).toBe(40000);
    expect(d.get('i32')).toBe(-(2 ** 31));
    expect(d.get('big')).toBe(2 ** 40);
    expect(d.get('huge')).toBe(-(2n ** 80n));
    expect(d.get('float')).toBe(1.5);
    expect(d.get('negf')).toBe(-2.25e-300);
    expect(d.get('str')).toBe('h\u00e9llo\n\\ \u{1f9ec}');
    expect(d.get('none')).toBeNull();
    expect(d.get('bools')).toEqual([true, false]);
    expect(d.get('tuple')).toEqual([1, 'a']);
    expect(Object.isFrozen(d.get('tuple'))).toBe(true);
    expect(d.get('empty_tuple')).toEqual([]);
    expect(d.get('one')).toEqual([7]);
    const nested = d.get('nested') as PickleDict;
    expect((nested.get('a') as PickleDict).get('b')).toEqual([1, [2, 3]]);
    expect(d.get(1)).toBe('int key');
    const shared = d.get('shared') as PickleValue[];
    expect(shared[0]).toBe(shared[1]); // memo keeps identity
    const cycle = d.get('cycle') as PickleValue[];
    expect(cycle[0]).toBe(cycle);
    if (proto >= 3) expect(d.get('bytes')).toEqual(new Uint8Array([0, 255]));
    if (proto >= 4) {
      expect(d.get('set')).toEqual(new Set([1, 2]));
      expect(d.get('frozen')).toEqual(new Set([3]));
    }
  });
});

describe('restricted unpickler: refusals and malformed input', () => {
  it('calls only allow-listed handlers', () => {
    const calls: PickleValue[][] = [];
    const globals = new Map([['m.f', { call: (args: readonly PickleValue[]) => (calls.push([...args]), 42) }]]);
    expect(unpickle(bytes('\x80\x02cm\nf\nK\x05\x85R.'), { globals })).toBe(42);
    expect(calls).toEqual([[5]]);
    // A value-only global can be named but not called.
    const valueOnly = new Map([['m.C', {}]]);
    expect(unpickle(bytes('cm\nC\n.'), { globals: valueOnly })).toEqual(new PickleGlobal('m', 'C'));
    expect(() => unpickle(bytes('cm\nC\n)R.'), { globals: valueOnly })).toThrow(PickleRefusedError);
  });

  const refused: [string, string, string][] = [
    ['GLOBAL', 'cos\nsystem\n(Vx\ntR.', 'os.system'],
    ['STACK_GLOBAL', '\x80\x04\x8c\x05posix\x8c\x06system\x93.', 'posix.system'],
    ['INST', '(Vtouch x\nios\nsystem\n.', 'os.system'],
    ['NEWOBJ of a user class', '\x80\x02c__main__\nEvil\n)\x81.', '__main__.Evil'],
    ['py2 builtins', 'c__builtin__\neval\n.', '__builtin__.eval'],
    ['EXT1', '\x80\x02\x82\x01.', 'extension code 1'],
    ['EXT2', '\x80\x02\x83\x01\x02.', 'extension code 513'],
    ['persistent id without loader', '\x80\x02K\x01Q.', 'persistent id'],
    ['out-of-band buffer', '\x80\x05\x97.', 'out-of-band buffer'],
  ];
  it.each(refused)('refuses %s', (_name, src, global) => {
    let err: unknown;
    try {
      unpickle(bytes(src), { ...NONE, refusalHint: 'HINT' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PickleRefusedError);
    expect((err as PickleRefusedError).global).toBe(global);
    expect((err as Error).message).toMatch(/HINT$/);
  });

  const malformed: [string, string, RegExp][] = [
    ['empty input', '', /ended without STOP/],
    ['no STOP', '\x80\x02K\x01', /ended without STOP/],
    ['truncated BININT', '\x80\x02J\x01\x02', /needs 4 more bytes/],
    ['huge BINUNICODE', '\x80\x02X\xff\xff\xff\x7fabc.', /needs 2147483647 more bytes/],
    ['huge BINUNICODE8', '\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7f.', /is larger than the pickle/],
    ['unknown opcode', '\x80\x02\xff.', /unknown opcode 0xff/],
    ['stack underflow', '\x80\x02R.', /stack underflow/],
    ['missing memo', '\x80\x02h\x05.', /memo entry 5 is not defined/],
    ['two values at STOP', '\x80\x02K\x01K\x02.', /STOP with 2 values/],
    ['APPEND to a tuple', '\x80\x02)K\x01a.', /APPEND\(S\) on a tuple/],
    ['SETITEM on a list', '\x80\x02]K\x01K\x02s.', /SETITEM\(S\) on a list/],
    ['REDUCE of a non-global', '\x80\x02K\x01)R.', /REDUCE of a number, not a global/],
    ['protocol 6', '\x80\x06N.', /newer than 5/],
    ['TUPLE without MARK', '\x80\x02K\x01t.', /MARK expected/],
  ];
  it.each(malformed)('rejects %s', (_name, src, message) => {
    expect(() => unpickle(bytes(src), NONE)).toThrow(message);
  });
});
