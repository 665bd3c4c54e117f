/** What an HTTP use case answers: a status, a JSON body and headers; handlers/ turns it into a response. */
export interface JsonAnswer {
  statusCode: number;
  body: unknown;
  headers: Record<string, string>;
}

export function answer(statusCode: number, body: unknown, headers: Record<string, string> = {}): JsonAnswer {
  return { statusCode, body, headers };
}
