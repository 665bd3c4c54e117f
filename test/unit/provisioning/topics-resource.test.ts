/**
 * src/provisioning/topics-resource.ts: the custom resource that creates the topics on
 * deploy answers CloudFormation in every case (success, failure, a hung broker), keeps
 * its physical id across updates, leaves topics alone on Delete, and PUTs the answer the
 * way a pre-signed S3 URL expects it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { handleTopicsRequest, sendResponseWithFetch } from '../../../src/provisioning/topics-resource';
import type { CustomResourceRequest, SendResponse, TopicsResult } from '../../../src/provisioning/topics-resource';

function request(type: CustomResourceRequest['RequestType'], physicalResourceId?: string): CustomResourceRequest {
  return {
    RequestType: type,
    ResponseURL: 'https://cloudformation-custom-resource-response.example/abc?X-Amz-Signature=1',
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/simple-time-service-dev/1',
    RequestId: 'req-1',
    LogicalResourceId: 'ServiceTopics',
    ...(physicalResourceId === undefined ? {} : { PhysicalResourceId: physicalResourceId }),
  };
}

const done: TopicsResult = { created: ['a', 'b'], existing: ['c'], replicationFactor: 3 };

describe('handleTopicsRequest', () => {
  it('creates the topics on Create and answers SUCCESS with what it did', async () => {
    const send = vi.fn<SendResponse>().mockResolvedValue();
    const ensure = vi.fn().mockResolvedValue(done);
    const response = await handleTopicsRequest({ request: request('Create'), physicalResourceId: 'svc-dev-topics', ensure, budgetMs: 1000, sendResponse: send });
    expect(ensure).toHaveBeenCalledTimes(1);
    expect(response).toEqual({
      Status: 'SUCCESS',
      PhysicalResourceId: 'svc-dev-topics',
      StackId: request('Create').StackId,
      RequestId: 'req-1',
      LogicalResourceId: 'ServiceTopics',
      Data: { Created: 'a,b', Existing: 'c', ReplicationFactor: '3' },
    });
    expect(send).toHaveBeenCalledWith(request('Create').ResponseURL, response);
  });

  it('keeps the physical id CloudFormation has on Update, so the resource is never replaced', async () => {
    const send = vi.fn<SendResponse>().mockResolvedValue();
    const response = await handleTopicsRequest({
      request: request('Update', 'the-old-id'),
      physicalResourceId: 'svc-dev-topics',
      ensure: () => Promise.resolve(done),
      budgetMs: 1000,
      sendResponse: send,
    });
    expect(response.PhysicalResourceId).toBe('the-old-id');
  });

  it('leaves the topics alone on Delete', async () => {
    const send = vi.fn<SendResponse>().mockResolvedValue();
    const ensure = vi.fn();
    const response = await handleTopicsRequest({ request: request('Delete', 'svc-dev-topics'), physicalResourceId: 'x', ensure, budgetMs: 1000, sendResponse: send });
    expect(ensure).not.toHaveBeenCalled();
    expect(response.Status).toBe('SUCCESS');
  });

  it('answers FAILED with the reason when the topics cannot be created', async () => {
    const send = vi.fn<SendResponse>().mockResolvedValue();
    const response = await handleTopicsRequest({
      request: request('Create'),
      physicalResourceId: 'svc-dev-topics',
      ensure: () => Promise.reject(new Error('Topic authorization failed')),
      budgetMs: 1000,
      sendResponse: send,
    });
    expect(response).toMatchObject({ Status: 'FAILED', Reason: "creating the service's topics failed: Topic authorization failed" });
    expect(send).toHaveBeenCalledTimes(1);
  });

  it('answers FAILED within its budget when the broker never answers', async () => {
    const send = vi.fn<SendResponse>().mockResolvedValue();
    const response = await handleTopicsRequest({
      request: request('Create'),
      physicalResourceId: 'svc-dev-topics',
      ensure: () => new Promise<TopicsResult>(() => undefined),
      budgetMs: 50,
      sendResponse: send,
    });
    expect(response.Reason).toMatch(/not ready within 50 ms/);
  });
});

describe('sendResponseWithFetch', () => {
  let server: http.Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  it('PUTs the JSON with an empty content type, and tries again after an error', async () => {
    const seen: Array<{ method?: string; type?: string; body: string }> = [];
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, type: req.headers['content-type'], body });
        res.statusCode = seen.length === 1 ? 500 : 200;
        res.end();
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/response`;
    const body = { Status: 'SUCCESS' as const, PhysicalResourceId: 'p', StackId: 's', RequestId: 'r', LogicalResourceId: 'l' };
    await sendResponseWithFetch(url, body);
    expect(seen).toHaveLength(2);
    expect(seen[1]).toEqual({ method: 'PUT', type: '', body: JSON.stringify(body) });
  });
});
