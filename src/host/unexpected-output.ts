/** Thrown by parsers when text does not have the expected shape; becomes unknown/unexpected_output. */
export class UnexpectedOutputError extends Error {
  readonly code = 'ERR_UNEXPECTED_OUTPUT';
}
