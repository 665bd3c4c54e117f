/**
 * infra/esbuild-exclude.cjs: under `serverless offline` the externals are excluded too, so the
 * build folder gets no `npm ci` at every start; `serverless package` installs them beside
 * each bundle.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const load = createRequire(__filename);
const esbuildExclude = load('../../../infra/esbuild-exclude.cjs') as {
  (): { exclude: string[]; external: string[] };
  offline: (argv: string[]) => boolean;
};

describe('what serverless-esbuild leaves out of each bundle', () => {
  it('knows serverless offline from the command line, and only it', () => {
    expect(esbuildExclude.offline(['node', 'serverless', 'offline', 'start'])).toBe(true);
    expect(esbuildExclude.offline(['node', 'serverless', 'offline'])).toBe(true);
    expect(esbuildExclude.offline(['node', 'serverless', 'package', '--stage', 'prod'])).toBe(false);
    expect(esbuildExclude.offline(['node', 'serverless', 'deploy', '--stage', 'offline'])).toBe(false);
  });

  it('outside serverless offline, excludes the AWS SDK only and keeps the externals to install', () => {
    expect(esbuildExclude()).toEqual({ exclude: ['@aws-sdk/*'], external: ['aws-msk-iam-sasl-signer-js'] });
  });
});
