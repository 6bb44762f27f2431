/** An API error: an HTTP status and one message naming the problem (and the field, when there is one). */
export class ApiError extends Error {
  readonly status: number;
  readonly field: string | undefined;
  constructor(status: number, message: string, field?: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.field = field;
  }
}

export const badRequest = (message: string, field?: string): ApiError => new ApiError(400, message, field);
export const notFound = (message: string): ApiError => new ApiError(404, message);
export const conflict = (message: string): ApiError => new ApiError(409, message);
/** 412 (RFC 9110 §13.1.1): an `If-Match` that does not match the current representation. */
export const preconditionFailed = (message: string): ApiError => new ApiError(412, message);
export const forbidden = (message: string): ApiError => new ApiError(403, message);
