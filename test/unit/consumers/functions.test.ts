import { describe, expect, it } from 'vitest';
import { CONSUMER_FUNCTIONS, consumerFunction, consumerTableProblems } from '../../../src/consumers';
import type { ConsumerRow } from '../../../src/consumers';
import { filterPatterns, startingPosition } from '../../../src/consumers/functions';
import { compileFilterPatterns } from '../../../infra/offline-msk/src/filter';

const events = consumerFunction('onHttpRequest').handler;
const row = (fields: Pick<ConsumerRow, 'name' | 'topic' | 'groupSuffix' | 'eventTypes' | 'role'> & Partial<ConsumerRow>): ConsumerRow => ({
  handler: events,
  writes: ['events', 'dlq'],
  errorEvents: true,
  description: fields.name,
  batchSize: 100,
  ...fields,
});

/** The rules' fixture: a table shaped as the service's (its rows may change; this one does not). */
const FIXTURE: readonly ConsumerRow[] = [
  row({ name: 'onHttpRequest', topic: 'requests', groupSuffix: 'http-request', eventTypes: { only: ['http_request'] }, role: 'catch-all' }),
  row({ name: 'onHttpResponse', topic: 'events', groupSuffix: 'http-response', eventTypes: { only: ['http_response'] }, role: 'filtered' }),
  row({
    name: 'onError',
    topic: 'events',
    groupSuffix: 'error',
    eventTypes: { only: ['error'] },
    role: 'filtered',
    writes: ['dlq'],
    errorEvents: false,
  }),
  row({
    name: 'onCommand',
    topic: 'commands',
    groupSuffix: 'commands',
    eventTypes: { except: [] },
    role: 'catch-all',
    handler: { kind: 'commands' },
  }),
  row({
    name: 'onCustomEvent',
    topic: 'events',
    groupSuffix: 'custom',
    eventTypes: { except: ['http_response', 'error'] },
    role: 'catch-all',
  }),
];
const fixture = (name: string): ConsumerRow => consumerFunction(name, FIXTURE);

/** A second function on the requests topic that counts http_request per path, as a new row would add it. */
const pathCounter = (role: ConsumerRow['role']): ConsumerRow =>
  row({ name: 'onHttpRequestPath', topic: 'requests', groupSuffix: 'http-request-path', eventTypes: { only: ['http_request'] }, role });

describe('the consumer function table', () => {
  it('keeps its rules (src/consumers/table-rules.ts)', () => {
    // Act, Assess
    expect(consumerTableProblems(CONSUMER_FUNCTIONS)).toEqual([]);
  });

  it('has exactly one catch-all (no filter) on every topic a function reads', () => {
    // Prepare
    const topics = new Set(CONSUMER_FUNCTIONS.map((f) => f.topic));

    // Act
    const catchAlls = [...topics].map((topic) => CONSUMER_FUNCTIONS.filter((f) => f.topic === topic && f.role === 'catch-all').length);

    // Assess
    expect(catchAlls.every((n) => n === 1)).toBe(true);
  });

  it('filters the others on value.event_type with patterns the event source accepts', () => {
    // Prepare
    const filtered = CONSUMER_FUNCTIONS.filter((f) => f.role !== 'catch-all');

    // Act
    const patterns = filtered.map((f) => filterPatterns(f));

    // Assess
    expect(filterPatterns(fixture('onHttpResponse'))).toEqual([{ value: { event_type: ['http_response'] } }]);
    expect(filterPatterns(fixture('onError'))).toEqual([{ value: { event_type: ['error'] } }]);
    for (const p of patterns) expect(() => compileFilterPatterns(p)).not.toThrow();
    expect(filterPatterns(consumerFunction('onCommand'))).toBeUndefined();
  });

  it('maps KAFKA_AUTO_OFFSET_RESET to the starting position', () => {
    // Prepare, Act, Assess
    expect(startingPosition({ autoOffsetReset: 'earliest' })).toBe('TRIM_HORIZON');
    expect(startingPosition({ autoOffsetReset: 'latest' })).toBe('LATEST');
  });

  it('refuses an unknown function name', () => {
    // Prepare, Act, Assess
    expect(() => consumerFunction('onNothing')).toThrow(/no consumer function named onNothing/);
  });
});

describe('the catch-all rule', () => {
  it('refuses a filtered second function on a type the catch-all handles, naming the rule and the two ways out', () => {
    // Prepare
    const table = [...FIXTURE, pathCounter('filtered')];

    // Act
    const problems = consumerTableProblems(table);

    // Assess
    expect(problems).toEqual([
      "the catch-all rule: onHttpRequestPath filters on http_request, which onHttpRequest, the catch-all of the requests topic, handles; a catch-all skips every type a filtered function takes, so onHttpRequest would silently stop handling it. To see these records beside onHttpRequest, make onHttpRequestPath an observer (role: 'observer'); to move the type to onHttpRequestPath, add it to onHttpRequest's eventTypes.except",
    ]);
  });

  it('takes an observer beside the catch-all without changing it', () => {
    // Prepare, Act, Assess
    expect(consumerTableProblems([...FIXTURE, pathCounter('observer')])).toEqual([]);
  });

  it('refuses a catch-all that excepts a type no filtered function takes (its records would be dead-lettered)', () => {
    // Prepare
    const table = FIXTURE.filter((fn) => fn.name !== 'onError');

    // Act, Assess
    expect(consumerTableProblems(table)).toEqual([
      "the catch-all rule: onCustomEvent, the catch-all of the events topic, excepts error, but no filtered function takes it, so its records would be dead-lettered as unhandled; remove it from onCustomEvent's eventTypes.except or add a filtered function for it",
    ]);
  });

  it('refuses a topic without a catch-all, or with two', () => {
    // Prepare
    const none: ConsumerRow[] = [...FIXTURE.filter((fn) => fn.name !== 'onCommand'), { ...fixture('onCommand'), role: 'filtered' }];
    const two = [...FIXTURE, { ...pathCounter('catch-all'), eventTypes: { except: [] } }];

    // Act, Assess
    expect(consumerTableProblems(none)).toEqual([expect.stringMatching(/^one catch-all per topic: the commands topic has none; /)]);
    expect(consumerTableProblems(two)).toEqual([
      expect.stringMatching(/^one catch-all per topic: the requests topic has onHttpRequest and onHttpRequestPath; /),
    ]);
  });

  it('refuses two filtered functions taking one type, and two rows sharing a name or a group', () => {
    // Prepare
    const twoOwners = [...FIXTURE, { ...fixture('onError'), name: 'onErrorToo', groupSuffix: 'error-too' }];
    const sameGroup = [...FIXTURE, { ...pathCounter('observer'), groupSuffix: 'http-request' }];

    // Act, Assess
    expect(consumerTableProblems(twoOwners)).toEqual([expect.stringMatching(/^one owner per type: onError and onErrorToo /)]);
    expect(consumerTableProblems(sameGroup)).toEqual([
      expect.stringMatching(/^one group per function: two rows use the group suffix http-request/),
    ]);
  });

  it('requires the topics each row writes: dlq always, events for error events and command answers', () => {
    // Prepare
    const table = FIXTURE.map((fn) => (fn.name === 'onCommand' ? { ...fn, writes: ['dlq'] as const, errorEvents: false } : fn));

    // Act, Assess
    expect(consumerTableProblems(table)).toEqual([
      'writes: onCommand must list events in writes (it answers commands there); without it its IAM role may not write there',
    ]);
    expect(consumerTableProblems([...FIXTURE.filter((fn) => fn.name !== 'onError'), { ...fixture('onError'), writes: [] }])).toEqual([
      "writes: onError must list dlq in writes (the event source mapping's on-failure destination writes there with the function's role); without it its IAM role may not write there",
    ]);
  });
});
