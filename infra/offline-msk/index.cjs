'use strict';
/** The plugin's entry: serverless loads plugins with require(). */
module.exports = require('./load.cjs')('plugin').OfflineMskPlugin;
