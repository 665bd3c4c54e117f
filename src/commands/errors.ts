/** The errors of the commands function. */
import { ServiceError } from '../errors';

/** The command is understood but refused (bad payload); the sender gets command.rejected. */
export class CommandRejectedError extends ServiceError {
  constructor(
    readonly reason: string,
    readonly details: readonly string[] = [],
  ) {
    super(details.length > 0 ? `${reason}: ${details.join('; ')}` : reason);
  }
}
