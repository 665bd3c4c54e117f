/** The errors of the consumer functions. */
import { RetriableError } from '../errors';

/**
 * Records of the batch failed and the event source cannot be told which: the invocation
 * fails so the whole batch is delivered again (processed ids keep effects from repeating).
 */
export class BatchRedeliveryError extends RetriableError {}
