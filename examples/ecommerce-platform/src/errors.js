// Errors the HTTP layer turns into responses: a status, a machine-readable code and a message.

/** An error with an HTTP status and a stable `code` for clients. */
export class HttpError extends Error {
  constructor(status, code, message, details = undefined) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export const badRequest = (code, message, details) => new HttpError(400, code, message, details);
export const notFound = (what) => new HttpError(404, 'not_found', `${what} not found`);
export const conflict = (code, message, details) => new HttpError(409, code, message, details);
