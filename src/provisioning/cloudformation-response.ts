/**
 * Responding to CloudFormation: the custom resource's response, PUT to the request's
 * pre-signed S3 URL (docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html).
 * A PUT that fails or does not answer is tried again, each attempt bounded and all of them
 * within one deadline, so responding never takes more than RESPONSE_BUDGET_MS: the topics
 * function keeps that much of its invocation for it.
 */
import type { CustomResourceResponse } from './topics-resource';

export const RESPONSE_ATTEMPTS = 3;
export const RESPONSE_ATTEMPT_TIMEOUT_MS = 4_000;
export const RESPONSE_RETRY_PAUSE_MS = 500;
/** The longest responding may take: every attempt at its bound, and the pauses between them. */
export const RESPONSE_BUDGET_MS = RESPONSE_ATTEMPTS * RESPONSE_ATTEMPT_TIMEOUT_MS + (RESPONSE_ATTEMPTS - 1) * RESPONSE_RETRY_PAUSE_MS;

/** PUTs `body` to `url`; `deadline` (epoch ms) bounds every attempt. Rejects when none succeeded. */
export type SendResponse = (url: string, body: CustomResourceResponse, deadline: number) => Promise<void>;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** PUT to the pre-signed S3 URL: an empty content type, as the URL was signed without one. */
export const sendResponseWithFetch: SendResponse = async (url, body, deadline) => {
  const payload = JSON.stringify(body);
  let lastError: unknown = new Error('no time was left to try');
  let attempts = 0;
  while (attempts < RESPONSE_ATTEMPTS && deadline - Date.now() > 0) {
    if (attempts > 0) await pause(Math.min(RESPONSE_RETRY_PAUSE_MS, deadline - Date.now()));
    const left = deadline - Date.now();
    if (left <= 0) break;
    attempts++;
    try {
      const response = await fetch(url, {
        method: 'PUT',
        body: payload,
        headers: { 'content-type': '', 'content-length': String(Buffer.byteLength(payload)) },
        signal: AbortSignal.timeout(Math.min(RESPONSE_ATTEMPT_TIMEOUT_MS, left)),
      });
      if (response.ok) return;
      lastError = new Error(`the response URL answered ${response.status}`);
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`CloudFormation's response URL could not be reached (${attempts} attempt(s) before the deadline)`, { cause: lastError });
};
