import { describe, expect, it } from 'vitest';
import { decodeCommand } from '../../../src/commands/shape';
import { createEvent } from '../../../src/events';

const decode = (json: unknown) => decodeCommand(json, Buffer.from(JSON.stringify(json)));

describe('decodeCommand', () => {
  it('accepts the plain shape, with an id derived from its bytes', () => {
    // Prepare
    const json = {
      type: 'time.now',
      correlation_id: 'test-20260131123456',
      timestamp: '2026-01-31T12:34:56.123456',
      payload: { timezone: 'Europe/Paris' },
      source: 'other-service',
    };

    // Act
    const first = decode(json);
    const again = decode(json);

    // Assess
    expect(first).toMatchObject({
      ok: true,
      command: {
        type: 'time.now',
        correlationId: 'test-20260131123456',
        timestamp: '2026-01-31T12:34:56.123456',
        payload: { timezone: 'Europe/Paris' },
        source: 'other-service',
        shape: 'plain',
      },
    });
    expect(first.ok && again.ok && first.command.id === again.command.id).toBe(true);
  });

  it('accepts our envelope, keeping its id', () => {
    // Prepare
    const event = createEvent({ eventType: 'time.now', data: { format: 'unix' }, source: 'me', correlationId: 'c-1' });

    // Act
    const decoded = decode(event);

    // Assess
    expect(decoded).toMatchObject({
      ok: true,
      command: { id: event.id, type: 'time.now', correlationId: 'c-1', payload: { format: 'unix' }, shape: 'envelope' },
    });
  });

  it('defaults a missing payload in the plain shape to {}', () => {
    // Prepare, Act
    const decoded = decode({ type: 'time.now', correlation_id: 'c' });

    // Assess
    expect(decoded.ok && decoded.command.payload).toEqual({});
  });

  it.each([
    [{ type: 'time.now', payload: {} }, 'missing_correlation_id'],
    [{ type: 'time.now', correlation_id: '' }, 'missing_correlation_id'],
    [{ event_type: 'time.now', data: {} }, 'missing_correlation_id'],
    [{ type: 'time.now', correlation_id: 'has spaces' }, 'invalid_command'],
    [{ type: 'time.now', correlation_id: 'c', payload: 'now' }, 'invalid_command'],
    [{ event_type: 'time.now', correlation_id: 'c', data: {} }, 'invalid_envelope'],
    [{ command: 'time.now', correlation_id: 'c' }, 'invalid_command'],
    [[1, 2], 'invalid_command'],
    ['time.now', 'invalid_command'],
  ])('refuses %j (%s)', (json, reason) => {
    // Prepare, Act
    const decoded = decode(json);

    // Assess
    expect(decoded).toMatchObject({ ok: false, reason });
  });
});
