/** What an HTTP use case answers: a status, a JSON body and headers; handlers/ turns it into a response. */
export interface JsonResponse {
  statusCode: number;
  body: unknown;
  headers: Record<string, string>;
}

export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): JsonResponse {
  return { statusCode, body, headers };
}
