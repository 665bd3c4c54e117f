/**
 * src/provisioning/topics-resource.ts: the custom resource that creates the topics on
 * deploy answers CloudFormation in every case (success, failure, a hung broker) within the
 * invocation's time, keeps its physical id across updates, leaves topics alone on Delete,
 * says so when a topic keeps more partitions than asked for, and refuses a request whose
 * ResponseURL is not CloudFormation's without doing or sending anything.
 */
import { describe, expect, it, vi } from 'vitest';
import { RESPONSE_BUDGET_MS } from '../../../src/provisioning/cloudformation-response';
import type { SendResponse } from '../../../src/provisioning/cloudformation-response';
import { RESPONSE_RESERVE_MS, RETURN_MARGIN_MS, handleTopicsRequest } from '../../../src/provisioning/topics-resource';
import type { CustomResourceRequest, TopicsResult } from '../../../src/provisioning/topics-resource';

const REGION = 'eu-west-1';
const RESPONSE_URL =
  'https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/arn%3Aaws%3Acloudformation%3Aeu-west-1%3A123456789012%3Astack/simple-time-service-dev/1%7CServiceTopics%7Creq-1?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc';

function request(type: CustomResourceRequest['RequestType'], physicalResourceId?: string): CustomResourceRequest {
  return {
    RequestType: type,
    ResponseURL: RESPONSE_URL,
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/simple-time-service-dev/1',
    RequestId: 'req-1',
    LogicalResourceId: 'ServiceTopics',
    ...(physicalResourceId === undefined ? {} : { PhysicalResourceId: physicalResourceId }),
  };
}

const done: TopicsResult = { created: ['a', 'b'], existing: ['c'], grown: [], larger: [], partitions: 3, replicationFactor: 3 };
const plenty = () => 60_000;
const handle = (params: Partial<Parameters<typeof handleTopicsRequest>[0]> & { sendResponse: SendResponse }) =>
  handleTopicsRequest({
    request: request('Create'),
    physicalResourceId: 'svc-dev-topics',
    ensure: () => Promise.resolve(done),
    remainingMs: plenty,
    region: REGION,
    ...params,
  });

describe('handleTopicsRequest', () => {
  it('creates the topics on Create and answers SUCCESS with what it did, by the end of the invocation less its margin', async () => {
    const send = vi.fn<SendResponse>().mockResolvedValue();
    const ensure = vi.fn().mockResolvedValue(done);
    const before = Date.now();
    const response = await handle({ ensure, sendResponse: send });
    expect(ensure).toHaveBeenCalledTimes(1);
    expect(response).toEqual({
      Status: 'SUCCESS',
      PhysicalResourceId: 'svc-dev-topics',
      StackId: request('Create').StackId,
      RequestId: 'req-1',
      LogicalResourceId: 'ServiceTopics',
      Data: { Created: 'a,b', Existing: 'c', Grown: '', KeptLarger: '', ReplicationFactor: '3' },
    });
    const [url, body, deadline] = send.mock.calls[0]!;
    expect([url, body]).toEqual([RESPONSE_URL, response]);
    expect(deadline).toBeGreaterThanOrEqual(before + 60_000 - RETURN_MARGIN_MS);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 60_000 - RETURN_MARGIN_MS);
  });

  it('keeps the physical id CloudFormation has on Update, so the resource is never replaced', async () => {
    const response = await handle({ request: request('Update', 'the-old-id'), sendResponse: vi.fn<SendResponse>().mockResolvedValue() });
    expect(response.PhysicalResourceId).toBe('the-old-id');
  });

  it('leaves the topics alone on Delete', async () => {
    const ensure = vi.fn();
    const response = await handle({
      request: request('Delete', 'svc-dev-topics'),
      ensure,
      sendResponse: vi.fn<SendResponse>().mockResolvedValue(),
    });
    expect(ensure).not.toHaveBeenCalled();
    expect(response.Status).toBe('SUCCESS');
  });

  it('answers FAILED with the reason when the topics cannot be created', async () => {
    const send = vi.fn<SendResponse>().mockResolvedValue();
    const response = await handle({ ensure: () => Promise.reject(new Error('Topic authorization failed')), sendResponse: send });
    expect(response).toMatchObject({ Status: 'FAILED', Reason: "creating the service's topics failed: Topic authorization failed" });
    expect(send).toHaveBeenCalledTimes(1);
  });

  it('bounds the work to what the invocation has left less what answering may take', async () => {
    const send = vi.fn<SendResponse>().mockResolvedValue();
    const started = Date.now();
    const response = await handle({
      ensure: () => new Promise<TopicsResult>(() => undefined),
      remainingMs: () => RESPONSE_RESERVE_MS + 50,
      sendResponse: send,
    });
    expect(response.Reason).toMatch(/not ready within 50 ms/);
    expect(Date.now() - started).toBeLessThan(RESPONSE_RESERVE_MS);
  });

  it('answers FAILED at once, without starting the work, when the invocation has less left than answering may take', async () => {
    const ensure = vi.fn();
    const response = await handle({
      ensure,
      remainingMs: () => RESPONSE_RESERVE_MS - 1,
      sendResponse: vi.fn<SendResponse>().mockResolvedValue(),
    });
    expect(ensure).not.toHaveBeenCalled();
    expect(response.Reason).toBe(
      `the invocation had ${RESPONSE_RESERVE_MS - 1} ms left, less than the ${RESPONSE_RESERVE_MS} ms answering CloudFormation may take`,
    );
    expect(RESPONSE_RESERVE_MS).toBe(RESPONSE_BUDGET_MS + RETURN_MARGIN_MS);
  });

  it('says in its answer, and still succeeds, when a topic keeps more partitions than asked for', async () => {
    const larger: TopicsResult = { ...done, grown: [{ topic: 'a', from: 1, to: 3 }], larger: [{ topic: 'c', partitions: 6 }] };
    const warn = vi.fn();
    const response = await handle({
      ensure: () => Promise.resolve(larger),
      sendResponse: vi.fn<SendResponse>().mockResolvedValue(),
      logger: { info: vi.fn(), warn, error: vi.fn() },
    });
    expect(response).toMatchObject({
      Status: 'SUCCESS',
      Reason: 'asked for 3 partitions, which Kafka cannot do by removing partitions: c keeps its 6',
      Data: { Grown: 'a:1->3', KeptLarger: 'c:6' },
    });
    expect(warn).toHaveBeenCalledWith('answering CloudFormation', expect.objectContaining({ reason: response.Reason }));
  });

  it("refuses a request whose ResponseURL is not CloudFormation's: nothing done, nothing sent, an error logged", async () => {
    const send = vi.fn<SendResponse>();
    const ensure = vi.fn();
    const error = vi.fn();
    for (const ResponseURL of ['https://attacker.example/x?X-Amz-Signature=1', 'http://169.254.169.254/latest/meta-data/', undefined]) {
      const response = await handle({
        request: { ...request('Create'), ResponseURL: ResponseURL as string },
        ensure,
        sendResponse: send,
        logger: { info: vi.fn(), warn: vi.fn(), error },
      });
      expect(response, String(ResponseURL)).toMatchObject({
        Status: 'FAILED',
        Reason: expect.stringMatching(/^refused: ResponseURL/) as unknown,
      });
    }
    expect(ensure).not.toHaveBeenCalled();
    expect(send).not.toHaveBeenCalled();
    expect(error).toHaveBeenCalledTimes(3);
  });
});
