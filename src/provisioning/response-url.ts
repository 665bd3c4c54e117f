/**
 * Whether a custom resource request's `ResponseURL` is CloudFormation's: the function PUTs
 * its answer there from inside the VPC, so whoever may invoke it must not be able to send
 * that PUT anywhere else.
 *
 * CloudFormation gives "a presigned S3 bucket URL"
 * (docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref.html) of its response
 * bucket in the stack's region, `cloudformation-custom-resource-response-<region without
 * dashes>` (the ServiceToken must be in the stack's region: the same region as this
 * function). Accepted: HTTPS on the default port, no user information, that bucket in
 * virtual-hosted or path style on an S3 endpoint of the region
 * (docs.aws.amazon.com/general/latest/gr/s3.html: `s3.<region>`, `s3-fips.<region>`,
 * `s3.dualstack.<region>`, `s3-fips.dualstack.<region>`, and the legacy `s3-<region>` and
 * `s3.amazonaws.com`, docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html),
 * under `amazonaws.com`, or `amazonaws.com.cn` in the China regions, and a pre-signed query
 * (`X-Amz-Signature`, or `Signature` for a SigV2 URL). Other partitions (the ISO regions)
 * are not recognised: their requests are refused.
 */

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The S3 endpoints of a region, as one pattern. */
function s3Endpoints(region: string): string {
  const suffix = region.startsWith('cn-') ? 'amazonaws\\.com\\.cn' : 'amazonaws\\.com';
  const r = escape(region);
  const regional = [`s3\\.${r}`, `s3-fips\\.${r}`, `s3\\.dualstack\\.${r}`, `s3-fips\\.dualstack\\.${r}`, `s3-${r}`];
  const legacyGlobal = region.startsWith('cn-') ? [] : ['s3', 's3-external-1'];
  return `(?:${[...regional, ...legacyGlobal].join('|')})\\.${suffix}`;
}

/** CloudFormation's response bucket for custom resources in `region`. */
export function responseBucket(region: string): string {
  return `cloudformation-custom-resource-response-${region.replace(/-/g, '')}`;
}

/** Why `url` is not CloudFormation's response URL for a stack in `region`, or undefined when it is. */
export function responseUrlRefusal(url: unknown, region: string): string | undefined {
  if (typeof url !== 'string') return 'ResponseURL is not a string';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'ResponseURL is not a URL';
  }
  if (parsed.protocol !== 'https:') return `ResponseURL is not HTTPS (${parsed.protocol})`;
  if (parsed.username !== '' || parsed.password !== '') return 'ResponseURL carries user information';
  if (parsed.port !== '') return `ResponseURL names a port (${parsed.port})`;
  const bucket = escape(responseBucket(region));
  const endpoint = s3Endpoints(region);
  const virtualHosted = new RegExp(`^${bucket}\\.${endpoint}$`).test(parsed.hostname);
  const pathStyle = new RegExp(`^${endpoint}$`).test(parsed.hostname) && parsed.pathname.startsWith(`/${responseBucket(region)}/`);
  if (!virtualHosted && !pathStyle) {
    return `ResponseURL's host ${parsed.hostname} is not CloudFormation's response bucket for ${region} on S3`;
  }
  if (!parsed.searchParams.has('X-Amz-Signature') && !parsed.searchParams.has('Signature')) return 'ResponseURL is not pre-signed';
  return undefined;
}
