/** The check after an integration run: the broker holds what it held before, no more and no less. */
import { describe, expect, it } from 'vitest';
import { cleanupProblem } from '../../helpers/broker-contents';

const before = {
  topics: ['simple-time-service-events', 'simple-time-service-requests'],
  groups: ['simple-time-service-group-http-request', 'simple-time-service-group-command'],
};

describe('cleanupProblem', () => {
  it('says nothing when the broker holds what it held before', () => {
    expect(cleanupProblem('127.0.0.1:9092', before, { topics: [...before.topics], groups: [...before.groups] })).toBeUndefined();
  });

  it('names what the run left behind', () => {
    const after = { topics: [...before.topics, 'sts-left-topic'], groups: [...before.groups, 'sts-left-group'] };
    expect(cleanupProblem('127.0.0.1:9092', before, after)).toMatch(/left .*sts-left-topic.*sts-left-group/);
  });

  it("names what was there before the run and is gone (a developer's own groups, deleted or left Dead)", () => {
    const after = { topics: [...before.topics], groups: ['simple-time-service-group-command'] };
    const problem = cleanupProblem('127.0.0.1:9092', before, after);
    expect(problem).toBeDefined();
    expect(problem).toContain('simple-time-service-group-http-request');
  });
});
