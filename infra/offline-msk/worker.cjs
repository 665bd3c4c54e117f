'use strict';
/** The entry of the thread that polls Kafka and runs the event source mappings (src/poller.ts). */
require('./load.cjs')('poller');
