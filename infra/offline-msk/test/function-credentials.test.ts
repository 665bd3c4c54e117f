/**
 * custom.offlineMsk.functions: credentials of a function's own for its mappings. Lambda's
 * event source mapping reads with the function's execution role, so each function's
 * mappings may log in as a principal of their own (and the destination writes go with them).
 */
import { describe, expect, it } from 'vitest';
import { readMappings, readPluginOptions } from '../src/options';
import type { ServiceLike } from '../src/options';

const ARN = 'arn:aws:kafka:eu-west-1:210987654321:cluster/c/1';

function service(custom: Record<string, unknown>): ServiceLike {
  const functions: Record<string, { events: unknown[] }> = {
    reader: { events: [{ msk: { arn: ARN, topic: 'a', consumerGroupId: 'g-a' } }] },
    other: { events: [{ msk: { arn: ARN, topic: 'b', consumerGroupId: 'g-b' } }] },
  };
  return {
    service: 'svc',
    provider: { region: 'eu-west-1', stage: 'dev' },
    custom,
    getAllFunctions: () => Object.keys(functions),
    getFunction: (key) => functions[key]!,
  };
}

describe('custom.offlineMsk.functions', () => {
  it("connects a function's mappings with its own credentials, the others as the options say", () => {
    // Prepare
    const svc = service({
      offlineMsk: {
        ssl: true,
        sasl: { mechanism: 'scram-sha-512', username: 'shared', password: 'p0' },
        functions: { reader: { sasl: { mechanism: 'scram-sha-512', username: 'reader@1.a', password: 'p1' } } },
      },
    });

    // Act
    const byFunction = Object.fromEntries(readMappings(svc, readPluginOptions(svc, {})).map((m) => [m.functionKey, m.connection]));

    // Assess
    expect(byFunction.reader).toEqual({ ssl: {}, sasl: { mechanism: 'scram-sha-512', username: 'reader@1.a', password: 'p1' } });
    expect(byFunction.other).toEqual({ ssl: {}, sasl: { mechanism: 'scram-sha-512', username: 'shared', password: 'p0' } });
  });

  it('needs no shared credentials when every function has its own', () => {
    // Prepare
    const own = (username: string) => ({ sasl: { mechanism: 'scram-sha-512', username, password: 'p' } });
    const svc = service({ offlineMsk: { ssl: true, functions: { reader: own('r'), other: own('o') } } });

    // Act
    const users = readMappings(svc, readPluginOptions(svc, {})).map((m) => m.connection.sasl?.username);

    // Assess
    expect(users).toEqual(['r', 'o']);
  });

  it('refuses a function the service does not have, and credentials that are not complete, naming each', () => {
    // Prepare
    const svc = service({
      offlineMsk: {
        functions: { nobody: { sasl: { username: 'u', password: 'p' } }, reader: { sasl: { username: '' } }, other: { tls: {} } },
      },
    });

    // Act / Assess
    expect(() => readPluginOptions(svc, {})).toThrow(
      new Error(
        [
          'offline-msk: invalid options:',
          '  custom.offlineMsk.functions.nobody: the service has no such function',
          '  custom.offlineMsk.functions.reader.sasl.username: required (a non-empty string)',
          '  custom.offlineMsk.functions.reader.sasl.password: required (a non-empty string)',
          '  custom.offlineMsk.functions.other.tls: unknown option (a function takes sasl only)',
        ].join('\n'),
      ),
    );
  });
});
