/**
 * The rules the consumer table (./functions.ts) keeps, each with what to do when a row
 * breaks it. The table is checked when it loads, so a row that breaks one fails every
 * function, test and `serverless package` at once, with the rule's name and the fix
 * (README, "Consumers", "Adding a consumer function").
 */
import type { Topics } from '../config';
import type { ConsumerRow } from './functions';

/** Whether the function handles records of that event type. */
export function handlesType(fn: Pick<ConsumerRow, 'eventTypes'>, eventType: string): boolean {
  return 'only' in fn.eventTypes ? fn.eventTypes.only.includes(eventType) : !fn.eventTypes.except.includes(eventType);
}

type Row = Pick<ConsumerRow, 'name' | 'topic' | 'groupSuffix' | 'eventTypes' | 'role' | 'handler' | 'writes' | 'errorEvents'>;

function duplicates(values: readonly string[]): string[] {
  return [...new Set(values.filter((v, i) => values.indexOf(v) !== i))];
}

function uniqueness(rows: readonly Row[]): string[] {
  return [
    ...duplicates(rows.map((r) => r.name)).map((name) => `unique names: two rows are named ${name}; rename one`),
    ...duplicates(rows.map((r) => r.groupSuffix)).map(
      (suffix) =>
        `one group per function: two rows use the group suffix ${suffix}; a shared group would split the topic's records between them`,
    ),
  ];
}

/** One catch-all per topic: records no filter can match reach only a function without one. */
function oneCatchAll(rows: readonly Row[]): string[] {
  const topics = [...new Set(rows.map((r) => r.topic))];
  return topics.flatMap((topic) => {
    const catchAlls = rows.filter((r) => r.topic === topic && r.role === 'catch-all').map((r) => r.name);
    if (catchAlls.length === 1) return [];
    return [
      `one catch-all per topic: the ${topic} topic has ${catchAlls.length === 0 ? 'none' : catchAlls.join(' and ')}; exactly one function of a topic has role 'catch-all' (no filter), so records no filter can match are still dead-lettered`,
    ];
  });
}

/** The types a filtered function takes that the catch-all would handle too (a pattern on `except` takes all but a few). */
function overlap(filtered: Row, catchAll: Row): string[] {
  if ('only' in filtered.eventTypes) return filtered.eventTypes.only.filter((t) => handlesType(catchAll, t));
  if ('only' in catchAll.eventTypes) return catchAll.eventTypes.only.filter((t) => handlesType(filtered, t));
  return ['every type neither excepts'];
}

/**
 * The catch-all rule: a catch-all skips every type a filtered sibling takes, so a filtered
 * function must take only types its catch-all does not handle (it lists them in `except`),
 * and every type a catch-all excepts is taken by a filtered sibling (or it would be
 * dead-lettered as unhandled). An observer changes nobody.
 */
function catchAllRule(rows: readonly Row[]): string[] {
  const problems: string[] = [];
  for (const catchAll of rows.filter((r) => r.role === 'catch-all')) {
    const filtered = rows.filter((r) => r.topic === catchAll.topic && r.role === 'filtered');
    for (const fn of filtered) {
      for (const type of overlap(fn, catchAll)) {
        problems.push(
          `the catch-all rule: ${fn.name} filters on ${type}, which ${catchAll.name}, the catch-all of the ${catchAll.topic} topic, handles; a catch-all skips every type a filtered function takes, so ${catchAll.name} would silently stop handling it. To see these records beside ${catchAll.name}, make ${fn.name} an observer (role: 'observer'); to move the type to ${fn.name}, add it to ${catchAll.name}'s eventTypes.except`,
        );
      }
    }
    const excepted = 'except' in catchAll.eventTypes ? catchAll.eventTypes.except : [];
    for (const type of excepted.filter((t) => !filtered.some((fn) => handlesType(fn, t)))) {
      problems.push(
        `the catch-all rule: ${catchAll.name}, the catch-all of the ${catchAll.topic} topic, excepts ${type}, but no filtered function takes it, so its records would be dead-lettered as unhandled; remove it from ${catchAll.name}'s eventTypes.except or add a filtered function for it`,
      );
    }
  }
  return problems;
}

/** One owner per type: two filtered functions taking one type would both handle (or dead-letter) its records. */
function oneOwner(rows: readonly Row[]): string[] {
  const filtered = rows.filter((r) => r.role === 'filtered');
  return filtered.flatMap((fn, i) =>
    filtered
      .slice(i + 1)
      .filter((other) => other.topic === fn.topic && 'only' in fn.eventTypes && fn.eventTypes.only.some((t) => handlesType(other, t)))
      .map(
        (other) =>
          `one owner per type: ${fn.name} and ${other.name} both take a type of the ${fn.topic} topic; make one of them an observer (role: 'observer')`,
      ),
  );
}

/** The topics a function writes are its permissions: each reason to write needs its topic. */
function writes(rows: readonly Row[]): string[] {
  return rows.flatMap((fn) => {
    const needed: Array<{ topic: keyof Topics; applies: boolean; why: string }> = [
      { topic: 'dlq', applies: true, why: "the event source mapping's on-failure destination writes there with the function's role" },
      { topic: 'events', applies: fn.errorEvents, why: 'it publishes error events' },
      { topic: 'events', applies: fn.handler.kind === 'commands', why: 'it answers commands there' },
    ];
    return needed
      .filter(({ topic, applies }) => applies && !fn.writes.includes(topic))
      .map(({ topic, why }) => `writes: ${fn.name} must list ${topic} in writes (${why}); without it its IAM role may not write there`);
  });
}

/** Every rule the table breaks, one line each; empty when it keeps them all. */
export function consumerTableProblems(rows: readonly Row[]): string[] {
  return [...uniqueness(rows), ...oneCatchAll(rows), ...catchAllRule(rows), ...oneOwner(rows), ...writes(rows)];
}

export function assertConsumerTable(rows: readonly Row[]): void {
  const problems = consumerTableProblems(rows);
  if (problems.length > 0) {
    throw new Error(`src/consumers/functions.ts breaks the consumer table's rules (README, "Consumers"):\n- ${problems.join('\n- ')}`);
  }
}
