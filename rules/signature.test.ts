import { describe, expect, it } from 'vitest';
import { errorSignature, routeTemplate } from './signature.js';

describe('errorSignature', () => {
  it.each([
    ['upstream timeout after 2000ms calling inventory (route=/cart)', 'upstream timeout after <n>ms calling inventory (route=/cart)'],
    ['order 81234 failed: id 3f2a9c1e-0b6d-4c8e-9a1f-2b3c4d5e6f70', 'order <n> failed: id <id>'],
    ['connect ECONNREFUSED 10.0.3.17:5432', 'connect ECONNREFUSED <ip>'],
    ['bad pointer 0xdeadbeef in frame 7', 'bad pointer <hex> in frame <n>'],
    ['user "alice@example.com" not found', 'user "…" not found'],
    ['cache key a3f9e2b7c1d4 missing', 'cache key <hex> missing'],
    ['  spaced   out\tmessage ', 'spaced out message'],
  ])('%s', (message, want) => {
    expect(errorSignature(message)).toBe(want);
  });

  it('makes the varying parts of one error one signature', () => {
    expect(errorSignature('timeout after 2003ms for order 81234')).toBe(errorSignature('timeout after 1998ms for order 99'));
  });

  it('keeps different errors apart and prefixes the error type', () => {
    expect(errorSignature('deadlock detected')).not.toBe(errorSignature('connection reset'));
    expect(errorSignature('boom 42', 'NullPointerException')).toBe('NullPointerException: boom <n>');
  });

  it('bounds the signature length whatever the message length', () => {
    expect(errorSignature('x'.repeat(100_000)).length).toBeLessThanOrEqual(161);
  });
});

describe('routeTemplate', () => {
  it.each([
    ['/cart', '/cart'],
    ['/users/42', '/users/:id'],
    ['/orders/3f2a9c1e-0b6d-4c8e-9a1f-2b3c4d5e6f70/items', '/orders/:id/items'],
    ['/search?q=1', '/search'],
    ['/v2/items', '/v2/items'],
  ])('%s -> %s', (route, want) => {
    expect(routeTemplate(route)).toBe(want);
  });
});
