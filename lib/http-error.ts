// An error that carries the HTTP status the API answers with; thrown by the routes and by the
// services they call (services/members.ts).
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}
