'use strict';
// serverless loads local plugins only from inside the service directory.
module.exports = require('../..');
