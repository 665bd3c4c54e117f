/**
 * What serverless-esbuild leaves out of each bundle (serverless.yml, custom.esbuild.exclude).
 *
 * Always the AWS SDK v3, which the nodejs22.x runtime ships. Under `serverless offline`
 * (`npm start`, the tests) also the externals (custom.esbuild.external): the functions run
 * from the checkout, whose node_modules already holds them, so the build folder needs no
 * `npm ci` of its own at every start. `serverless package` and `deploy` still install them
 * beside each bundle, where the zip needs them.
 */
'use strict';

const ALWAYS = ['@aws-sdk/*'];
const EXTERNALS = ['aws-msk-iam-sasl-signer-js'];

/** Whether this serverless process runs `serverless offline` (its command, not an option's value). */
function offline(argv = process.argv) {
  return argv[2] === 'offline';
}

/** `${file(./infra/esbuild-exclude.cjs):exclude}` and `:external`. */
module.exports = () => ({ exclude: offline() ? [...ALWAYS, ...EXTERNALS] : ALWAYS, external: EXTERNALS });
module.exports.offline = offline;
