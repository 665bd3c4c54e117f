'use strict';
/**
 * The plugin's entry (serverless loads plugins with require()). An installed package runs
 * its compiled JavaScript (dist/, built by `npm pack` / `npm run build`); in a source
 * checkout, where src/ is present, it runs the TypeScript through tsx's scoped require,
 * which registers nothing globally.
 */
const fs = require('node:fs');
const path = require('node:path');

function load(name) {
  const source = path.join(__dirname, 'src', `${name}.ts`);
  if (fs.existsSync(source)) {
    const { require: tsxRequire } = require('tsx/cjs/api');
    return tsxRequire(source, __filename);
  }
  return require(path.join(__dirname, 'dist', `${name}.js`));
}

module.exports = load('plugin').OfflineMskPlugin;
