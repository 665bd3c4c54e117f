/** The errors of the HTTP operations. */
import { SecretUnavailableError } from '../secrets';

/** The admin token's secret could not be read, or holds no usable token: answer 503, not 403. */
export class AdminTokenUnavailableError extends SecretUnavailableError {}
