/**
 * What a broker holds (topics, consumer groups), and deleting the ones a test made.
 * Used after every test file (test/helpers/cleanup.ts) and around a whole run
 * (test/integration/global-setup.ts: the broker must hold afterwards what it held before).
 */
import type { Admin } from 'kafkajs';
import { loadConfig } from '../../src/config';
import { createKafka } from '../../src/kafka';

export interface BrokerContents {
  topics: string[];
  groups: string[];
}

/** The test broker: KAFKA_BROKERS, else the local stack's default. */
export function testBrokers(): string[] {
  return (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
}

async function withAdmin<T>(brokers: string[], use: (admin: Admin) => Promise<T>): Promise<T> {
  const config = loadConfig({ KAFKA_BROKERS: brokers.join(',') });
  // No logger: a retry here is not a test's concern.
  const admin = createKafka({ kafka: config.kafka, brokers, clientId: 'sts-test-cleanup' }).admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

/** The names of `b` not in `a`. */
function missingFrom(a: string[], b: string[]): string[] {
  const had = new Set(a);
  return b.filter((name) => !had.has(name));
}

/**
 * What a run changed on the broker, as error lines; undefined if nothing. Both ways count:
 * a topic or group left behind, and one that was there before and is gone (a developer's
 * running `npm start` groups joined by a test and left Dead when its topics went).
 */
export function cleanupProblem(brokers: string, before: BrokerContents, after: BrokerContents): string | undefined {
  const problems: string[] = [];
  const left = { topics: missingFrom(before.topics, after.topics), groups: missingFrom(before.groups, after.groups) };
  const gone = { topics: missingFrom(after.topics, before.topics), groups: missingFrom(after.groups, before.groups) };
  if (left.topics.length + left.groups.length > 0) {
    problems.push(
      `[cleanup] error: the tests left on ${brokers} what was not there before: topics [${left.topics.join(', ')}], consumer groups [${left.groups.join(', ')}]`,
    );
  }
  if (gone.topics.length + gone.groups.length > 0) {
    problems.push(
      `[cleanup] error: what was on ${brokers} before the tests is gone: topics [${gone.topics.join(', ')}], consumer groups [${gone.groups.join(', ')}] ` +
        "(tests use names of their own from uniqueName, test/helpers/names.ts, never the service's)",
    );
  }
  return problems.length > 0 ? problems.join('\n') : undefined;
}

export function brokerContents(brokers: string[] = testBrokers()): Promise<BrokerContents> {
  return withAdmin(brokers, async (admin) => {
    const topics = (await admin.listTopics()).filter((t) => !t.startsWith('__')).sort();
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).sort();
    return { topics, groups };
  });
}

/**
 * Deletes the groups, then the topics, whose names `isOwn` claims. A group still has
 * members for a moment after its consumers were stopped the hard way (until their
 * session times out): it is tried again for up to `groupWaitMs`.
 */
export async function deleteOwn(
  isOwn: (name: string) => boolean,
  { brokers = testBrokers(), groupWaitMs = 45_000 }: { brokers?: string[]; groupWaitMs?: number } = {},
): Promise<{ topics: string[]; groups: string[] }> {
  return withAdmin(brokers, async (admin) => {
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter(isOwn);
    let left = groups;
    const deadline = Date.now() + groupWaitMs;
    while (left.length > 0) {
      try {
        await admin.deleteGroups(left);
        left = [];
      } catch (error) {
        // kafkajs names each group's failure; keep those that still have members.
        const failed = (error as { groups?: Array<{ groupId: string; errorCode: number }> }).groups ?? [];
        left = failed.filter((g) => g.errorCode !== 0 && g.errorCode !== 69 /* GROUP_ID_NOT_FOUND */).map((g) => g.groupId);
        if (failed.length === 0) throw error;
        if (left.length > 0 && Date.now() > deadline) {
          throw new Error(`consumer groups still in use after ${groupWaitMs} ms, not deleted: ${left.join(', ')}`);
        }
        if (left.length > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
    const topics = (await admin.listTopics()).filter(isOwn);
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 15_000 });
    return { topics, groups };
  });
}
