/**
 * The service's topics as a CloudFormation custom resource (`Custom::ServiceTopics` in
 * serverless.yml): on Create and Update the topics function creates the topics that do
 * not exist yet and grows those with fewer partitions than asked for (../kafka/topics.ts,
 * idempotent, as `npm run topics`), so a deploy needs no machine inside the VPC. A topic
 * with more partitions keeps them (Kafka cannot remove partitions): the answer says so.
 * Delete leaves the topics and their records in place: they go with the cluster, or an
 * operator deletes them on purpose.
 *
 * CloudFormation waits for an answer PUT to the request's pre-signed `ResponseURL`; an
 * unanswered request holds the stack for its ServiceTimeout. So the work is bounded to what
 * the invocation has left less the time responding may take (./cloudformation-response.ts) and a margin to
 * return, and every outcome (including a timeout) is answered, with a reason that names the
 * failure. A request whose ResponseURL is not CloudFormation's (./response-url.ts) is
 * refused before anything is done or sent.
 * (docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html)
 */
import { TimeoutError, errorMessage } from '../errors';
import type { EnsureTopicsResult } from '../kafka';
import type { Logger } from '../logger';
import { withTimeout } from '../timeout';
import { RESPONSE_BUDGET_MS, sendResponseWithFetch } from './cloudformation-response';
import type { SendResponse } from './cloudformation-response';
import { responseUrlRefusal } from './response-url';

/** The part of a custom resource request that is used. */
export interface CustomResourceRequest {
  RequestType: 'Create' | 'Update' | 'Delete';
  ResponseURL: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  PhysicalResourceId?: string;
  ResourceProperties?: Record<string, unknown>;
}

export interface CustomResourceResponse {
  Status: 'SUCCESS' | 'FAILED';
  Reason?: string;
  PhysicalResourceId: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  Data?: Record<string, string>;
}

/** What the work did: the same as `npm run topics` reports. */
export type TopicsResult = EnsureTopicsResult;

/** CloudFormation reads at most 4 KB of a response; a reason is kept well under it. */
const MAX_REASON_LENGTH = 1000;
/** Left after answering, for the function to log and return before Lambda ends the invocation. */
export const RETURN_MARGIN_MS = 1_000;

/** What answering needs kept out of the work's budget. */
export const RESPONSE_RESERVE_MS = RESPONSE_BUDGET_MS + RETURN_MARGIN_MS;

/** The answer to a Create or Update whose work is done: what was created, grown, and left larger. */
function successOf(result: TopicsResult): Pick<CustomResourceResponse, 'Status' | 'Reason' | 'Data'> {
  const data = {
    Created: result.created.join(','),
    Existing: result.existing.join(','),
    Grown: result.grown.map((t) => `${t.topic}:${t.from}->${t.to}`).join(','),
    KeptLarger: result.larger.map((t) => `${t.topic}:${t.partitions}`).join(','),
    ReplicationFactor: String(result.replicationFactor),
  };
  if (result.larger.length === 0) return { Status: 'SUCCESS', Data: data };
  const kept = result.larger.map((t) => `${t.topic} keeps its ${t.partitions}`).join(', ');
  const reason = `asked for ${result.partitions} partitions, which Kafka cannot do by removing partitions: ${kept}`;
  return { Status: 'SUCCESS', Reason: reason.slice(0, MAX_REASON_LENGTH), Data: data };
}

async function work(params: {
  request: CustomResourceRequest;
  ensure: () => Promise<TopicsResult>;
  budgetMs: number;
  remainingMs: number;
}): Promise<Pick<CustomResourceResponse, 'Status' | 'Reason' | 'Data'>> {
  const { request, ensure, budgetMs, remainingMs } = params;
  if (request.RequestType === 'Delete') return { Status: 'SUCCESS', Data: { Created: '', Existing: '' } };
  if (budgetMs <= 0) {
    return {
      Status: 'FAILED',
      Reason: `the invocation had ${remainingMs} ms left, less than the ${RESPONSE_RESERVE_MS} ms answering CloudFormation may take`,
    };
  }
  try {
    return successOf(await withTimeout(ensure(), budgetMs, () => new TimeoutError(`the topics were not ready within ${budgetMs} ms`)));
  } catch (error) {
    return { Status: 'FAILED', Reason: `creating the service's topics failed: ${errorMessage(error)}`.slice(0, MAX_REASON_LENGTH) };
  }
}

/**
 * Answers one custom resource request. `ensure` does the work (on Create and Update) within
 * what `remainingMs()` leaves after RESPONSE_RESERVE_MS; `sendResponse` answers CloudFormation
 * by the invocation's end less RETURN_MARGIN_MS. Resolves once answered (or refused).
 */
export async function handleTopicsRequest(params: {
  request: CustomResourceRequest;
  physicalResourceId: string;
  ensure: () => Promise<TopicsResult>;
  /** The invocation's time left (context.getRemainingTimeInMillis). */
  remainingMs: () => number;
  /** The function's region: CloudFormation's response bucket is the stack's region's. */
  region: string;
  sendResponse?: SendResponse;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}): Promise<CustomResourceResponse> {
  const { request, physicalResourceId, logger } = params;
  const sendResponse = params.sendResponse ?? sendResponseWithFetch;
  const base = {
    StackId: request.StackId,
    RequestId: request.RequestId,
    LogicalResourceId: request.LogicalResourceId,
    // The id CloudFormation knows stays the same, so an Update never replaces (and deletes) it.
    PhysicalResourceId: request.PhysicalResourceId ?? physicalResourceId,
  };
  const refusal = responseUrlRefusal(request.ResponseURL, params.region);
  if (refusal !== undefined) {
    logger?.error("request refused: its ResponseURL is not CloudFormation's; nothing done, nothing sent", {
      request_type: request.RequestType,
      reason: refusal,
    });
    return { ...base, Status: 'FAILED', Reason: `refused: ${refusal}` };
  }
  const remainingMs = params.remainingMs();
  const response: CustomResourceResponse = {
    ...base,
    ...(await work({ ...params, budgetMs: remainingMs - RESPONSE_RESERVE_MS, remainingMs })),
  };
  const log = response.Reason !== undefined ? logger?.warn : logger?.info;
  log?.call(logger, 'answering CloudFormation', {
    request_type: request.RequestType,
    status: response.Status,
    reason: response.Reason,
    data: response.Data,
  });
  await sendResponse(request.ResponseURL, response, Date.now() + Math.max(0, params.remainingMs() - RETURN_MARGIN_MS));
  return response;
}
