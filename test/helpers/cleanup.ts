/**
 * Set-up file of the integration and reliability projects (vitest.config.mts): after
 * each test file, whether its tests passed or failed, the topics and consumer groups
 * named by that file's uniqueName calls (or made from those names) are deleted from the
 * test broker. Brokers of a test's own are deleted whole (test/helpers/private-broker.ts).
 */
import { afterAll } from 'vitest';
import { deleteOwn } from './broker-contents';
import { hasOwnNames, isOwnName } from './names';

afterAll(async () => {
  if (!hasOwnNames()) return;
  const deleted = await deleteOwn(isOwnName);
  if (deleted.topics.length + deleted.groups.length > 0) {
    console.log(`[cleanup] deleted ${deleted.topics.length} topic(s) and ${deleted.groups.length} consumer group(s) this file made`);
  }
}, 90_000);
