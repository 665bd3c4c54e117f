/**
 * The service's topics as a CloudFormation custom resource (`Custom::ServiceTopics` in
 * serverless.yml): on Create and Update the topics function creates the topics that do
 * not exist yet (../kafka/topics.ts, idempotent, as `npm run topics`), so a deploy needs
 * no machine inside the VPC. Delete leaves the topics and their records in place: they go
 * with the cluster, or an operator deletes them on purpose.
 *
 * CloudFormation waits for an answer PUT to the request's pre-signed `ResponseURL`; an
 * unanswered request holds the stack for an hour. So the work is bounded to what the
 * invocation has left minus a margin, and every outcome (including a timeout) is
 * answered, with a reason that names the failure.
 * (docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html)
 */
import { TimeoutError, errorMessage } from '../errors';
import { withTimeout } from '../timeout';

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

export type SendResponse = (url: string, body: CustomResourceResponse) => Promise<void>;

/** CloudFormation reads at most 4 KB of a response; a reason is kept well under it. */
const MAX_REASON_LENGTH = 1000;
const RESPONSE_TIMEOUT_MS = 10_000;
const RESPONSE_ATTEMPTS = 3;

/** PUT to the pre-signed S3 URL: an empty content type, as the URL was signed without one. */
export const sendResponseWithFetch: SendResponse = async (url, body) => {
  const payload = JSON.stringify(body);
  let lastError: unknown;
  for (let attempt = 1; attempt <= RESPONSE_ATTEMPTS; attempt++) {
    try {
      const response = await fetch(url, {
        method: 'PUT',
        body: payload,
        headers: { 'content-type': '', 'content-length': String(Buffer.byteLength(payload)) },
        signal: AbortSignal.timeout(RESPONSE_TIMEOUT_MS),
      });
      if (response.ok) return;
      lastError = new Error(`the response URL answered ${response.status}`);
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`CloudFormation's response URL could not be reached (${RESPONSE_ATTEMPTS} attempts)`, { cause: lastError });
};

export interface TopicsResult {
  created: string[];
  existing: string[];
  replicationFactor: number;
}

/**
 * Answers one custom resource request. `ensure` does the work (on Create and Update);
 * `budgetMs` bounds it; `sendResponse` answers CloudFormation. Resolves once answered.
 */
export async function handleTopicsRequest(params: {
  request: CustomResourceRequest;
  physicalResourceId: string;
  ensure: () => Promise<TopicsResult>;
  budgetMs: number;
  sendResponse?: SendResponse;
  log?: (message: string, extra: Record<string, unknown>) => void;
}): Promise<CustomResourceResponse> {
  const { request, physicalResourceId, budgetMs } = params;
  const sendResponse = params.sendResponse ?? sendResponseWithFetch;
  const base = {
    StackId: request.StackId,
    RequestId: request.RequestId,
    LogicalResourceId: request.LogicalResourceId,
    // The id CloudFormation knows stays the same, so an Update never replaces (and deletes) it.
    PhysicalResourceId: request.PhysicalResourceId ?? physicalResourceId,
  };
  let response: CustomResourceResponse;
  if (request.RequestType === 'Delete') {
    response = { ...base, Status: 'SUCCESS', Data: { Created: '', Existing: '' } };
  } else {
    try {
      const result = await withTimeout(params.ensure(), budgetMs, () => new TimeoutError(`the topics were not ready within ${budgetMs} ms`));
      response = {
        ...base,
        Status: 'SUCCESS',
        Data: { Created: result.created.join(','), Existing: result.existing.join(','), ReplicationFactor: String(result.replicationFactor) },
      };
    } catch (error) {
      const reason = errorMessage(error);
      response = { ...base, Status: 'FAILED', Reason: `creating the service's topics failed: ${reason}`.slice(0, MAX_REASON_LENGTH) };
    }
  }
  params.log?.('answering CloudFormation', { request_type: request.RequestType, status: response.Status, reason: response.Reason, data: response.Data });
  await sendResponse(request.ResponseURL, response);
  return response;
}
