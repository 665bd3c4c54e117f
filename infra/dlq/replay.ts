/**
 * Sending dead letters back to where they came from (`npm run dlq -- replay`, infra/dlq.ts).
 * A replayed record goes to its source topic and partition with its original key, value
 * and headers, so it keeps its event id and every consumer drops it if it already
 * processed it (src/consumers/idempotency.ts).
 */
import type { ExactSender, RecordAck } from '../../src/kafka';
import { DeadLetterToolError, REPLAY_HEADERS, deadLetterName } from './dead-letters';
import type { DeadLetter, ReplayReceipt } from './dead-letters';

export interface ReplayOutcome {
  deadLetter: string;
  status: 'replayed' | 'already-replayed' | 'nothing-to-replay';
  sent: RecordAck[];
}

/**
 * Sends the selected dead letters back, in dead-letter-topic order: each original record
 * to its source topic and partition with its key, value and headers, then a receipt in
 * the dead-letter topic. A dead letter with a receipt is skipped, so running the same
 * replay twice sends each record once; should the tool stop between a record and its
 * receipt, running it again sends that record a second time with the same event id,
 * which the consumers drop.
 */
export async function replayDeadLetters(params: {
  sender: ExactSender;
  deadLetterTopic: string;
  letters: readonly DeadLetter[];
  replayed: ReadonlyMap<string, ReplayReceipt>;
  now?: () => Date;
}): Promise<ReplayOutcome[]> {
  const { sender, deadLetterTopic, letters, replayed } = params;
  const now = params.now ?? (() => new Date());
  const outcomes: ReplayOutcome[] = [];
  for (const letter of letters) {
    const name = deadLetterName(letter);
    if (replayed.has(name)) {
      outcomes.push({ deadLetter: name, status: 'already-replayed', sent: [] });
      continue;
    }
    if (letter.originals.length === 0) {
      outcomes.push({ deadLetter: name, status: 'nothing-to-replay', sent: [] });
      continue;
    }
    const sent: RecordAck[] = [];
    for (const original of letter.originals) {
      if (original.topic === deadLetterTopic) {
        throw new DeadLetterToolError(`${name} came from the dead-letter topic itself; it is not replayed`);
      }
      const { topic, partition, key, value, headers } = original;
      sent.push(await sender.send({ topic, partition, key, value, headers }));
    }
    await sender.send({
      topic: deadLetterTopic,
      key: name,
      value: JSON.stringify({ replayed_to: sent }),
      headers: [
        { name: REPLAY_HEADERS.of, value: name },
        { name: REPLAY_HEADERS.replayedAt, value: now().toISOString() },
      ],
    });
    outcomes.push({ deadLetter: name, status: 'replayed', sent });
  }
  return outcomes;
}
