/**
 * src/provisioning/response-url.ts: only CloudFormation's pre-signed S3 URLs of its
 * response bucket in the function's region are answered to, in every form S3 documents for
 * that region (regional, dual-stack, FIPS, legacy, path style; amazonaws.com.cn in China).
 */
import { describe, expect, it } from 'vitest';
import { responseBucket, responseUrlRefusal } from '../../../src/provisioning/response-url';

const KEY = '/arn%3Aaws%3Acloudformation%3Aus-west-2%3A123456789012%3Astack/s/1%7CServiceTopics%7Cr1';
const SIGNED = '?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x&X-Amz-Signature=abc';

describe('responseUrlRefusal', () => {
  it("accepts CloudFormation's response bucket on every S3 endpoint of the region", () => {
    const accepted: Array<[string, string]> = [
      ['us-west-2', `https://cloudformation-custom-resource-response-uswest2.s3.us-west-2.amazonaws.com${KEY}${SIGNED}`],
      ['us-west-2', `https://cloudformation-custom-resource-response-uswest2.s3-us-west-2.amazonaws.com${KEY}${SIGNED}`],
      ['us-west-2', `https://cloudformation-custom-resource-response-uswest2.s3.dualstack.us-west-2.amazonaws.com${KEY}${SIGNED}`],
      ['us-west-2', `https://cloudformation-custom-resource-response-uswest2.s3-fips.us-west-2.amazonaws.com${KEY}${SIGNED}`],
      ['us-west-2', `https://cloudformation-custom-resource-response-uswest2.s3-fips.dualstack.us-west-2.amazonaws.com${KEY}${SIGNED}`],
      ['us-west-2', `https://s3.us-west-2.amazonaws.com/cloudformation-custom-resource-response-uswest2${KEY}${SIGNED}`],
      [
        'us-east-1',
        `https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com${KEY}?AWSAccessKeyId=A&Expires=1&Signature=abc`,
      ],
      ['us-gov-west-1', `https://cloudformation-custom-resource-response-usgovwest1.s3-fips.us-gov-west-1.amazonaws.com${KEY}${SIGNED}`],
      ['cn-north-1', `https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn${KEY}${SIGNED}`],
      ['cn-northwest-1', `https://cloudformation-custom-resource-response-cnnorthwest1.s3.cn-northwest-1.amazonaws.com.cn${KEY}${SIGNED}`],
    ];
    for (const [region, url] of accepted) expect(responseUrlRefusal(url, region), url).toBeUndefined();
  });

  it('refuses anything else, saying why', () => {
    const refused: Array<[string, unknown, RegExp]> = [
      ['us-west-2', 'http://cloudformation-custom-resource-response-uswest2.s3.us-west-2.amazonaws.com/x?X-Amz-Signature=1', /not HTTPS/],
      ['us-west-2', 'https://attacker.example/x?X-Amz-Signature=1', /host attacker.example is not CloudFormation's response bucket/],
      [
        'us-west-2',
        'https://cloudformation-custom-resource-response-uswest2.s3.us-west-2.amazonaws.com.attacker.example/x?X-Amz-Signature=1',
        /not CloudFormation's/,
      ],
      ['us-west-2', 'https://my-bucket.s3.us-west-2.amazonaws.com/x?X-Amz-Signature=1', /not CloudFormation's/],
      [
        'us-west-2',
        'https://cloudformation-custom-resource-response-useast1.s3.us-east-1.amazonaws.com/x?X-Amz-Signature=1',
        /not CloudFormation's response bucket for us-west-2/,
      ],
      ['us-west-2', 'https://s3.us-west-2.amazonaws.com/my-bucket/x?X-Amz-Signature=1', /not CloudFormation's/],
      [
        'us-west-2',
        'https://cloudformation-custom-resource-response-uswest2.s3.us-west-2.amazonaws.com:8443/x?X-Amz-Signature=1',
        /names a port/,
      ],
      [
        'us-west-2',
        'https://user:pw@cloudformation-custom-resource-response-uswest2.s3.us-west-2.amazonaws.com/x?X-Amz-Signature=1',
        /user information/,
      ],
      ['us-west-2', 'https://cloudformation-custom-resource-response-uswest2.s3.us-west-2.amazonaws.com/x', /not pre-signed/],
      [
        'cn-north-1',
        'https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com/x?X-Amz-Signature=1',
        /not CloudFormation's/,
      ],
      ['us-west-2', 'https://169.254.169.254/latest/meta-data/', /not CloudFormation's/],
      ['us-west-2', 'not a url', /not a URL/],
      ['us-west-2', undefined, /not a string/],
    ];
    for (const [region, url, why] of refused) expect(responseUrlRefusal(url, region), String(url)).toMatch(why);
  });

  it("names the region's bucket as CloudFormation does: the region without dashes", () => {
    expect(responseBucket('ap-southeast-2')).toBe('cloudformation-custom-resource-response-apsoutheast2');
  });
});
