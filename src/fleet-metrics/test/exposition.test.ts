/**
 * The text format written by pushes and GET /metrics: numbers as the Prometheus text
 * format reads them (and as the containers' prom-client writes them), escapes as defined.
 */
import { describe, expect, it } from 'vitest';
import { expositionText, formatNumber, parseNumber } from '../src/exposition';

describe('formatNumber', () => {
  it('writes integers in plain digits, other values in their shortest round-trip form, and the special values as the format spells them', () => {
    const cases: Array<[number, string]> = [
      [1_048_576, '1048576'],
      [0, '0'],
      [-0, '0'],
      [3, '3'],
      [2 ** 53 + 2, '9007199254740994'],
      [1e21, '1e+21'],
      [1.5e300, '1.5e+300'],
      [0.0005, '0.0005'],
      [1e-7, '1e-7'],
      [0.1 + 0.2, '0.30000000000000004'],
      [Number.NaN, 'NaN'],
      [Number.POSITIVE_INFINITY, '+Inf'],
      [Number.NEGATIVE_INFINITY, '-Inf'],
    ];
    for (const [value, text] of cases) expect(formatNumber(value)).toBe(text);
  });

  it("reads back the Pushgateway JSON API's spellings", () => {
    expect(parseNumber('1.048576e+06')).toBe(1_048_576);
    expect(formatNumber(parseNumber('1.048576e+06'))).toBe('1048576');
    expect(parseNumber('+Inf')).toBe(Number.POSITIVE_INFINITY);
    expect(parseNumber('-Inf')).toBe(Number.NEGATIVE_INFINITY);
    expect(Number.isNaN(parseNumber('NaN'))).toBe(true);
    expect(parseNumber('1.7961623583242779e+09')).toBe(1796162358.3242779);
  });
});

describe('expositionText', () => {
  it('escapes backslash, double quote and newline in label values, and backslash and newline in help', () => {
    const text = expositionText([
      { name: 'x_total', help: 'a \\ b\nc "q"', type: 'counter', series: [{ labels: [['route', 'a"b\\c\nd']], value: 1 }] },
    ]);
    expect(text).toBe('# HELP x_total a \\\\ b\\nc "q"\n# TYPE x_total counter\nx_total{route="a\\"b\\\\c\\nd"} 1\n');
  });
});
