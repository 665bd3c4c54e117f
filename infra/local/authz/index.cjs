'use strict';
/**
 * The local authorizing mode's serverless plugin (./plugin.ts), for serverless.yml's
 * `plugins`: the TypeScript runs through tsx's scoped require, which registers nothing
 * globally (as infra/offline-msk/index.cjs does).
 */
const path = require('node:path');
const { require: tsxRequire } = require('tsx/cjs/api');

module.exports = tsxRequire(path.join(__dirname, 'plugin.ts'), __filename).LocalKafkaAuthzPlugin;
