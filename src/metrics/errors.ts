/** The errors of the metrics boundary. */
import { RetriableError } from '../errors';

/** The Pushgateway could not be read or written; the next scheduled run tries again. */
export class PushgatewayError extends RetriableError {}
