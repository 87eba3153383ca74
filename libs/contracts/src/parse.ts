import type { z } from 'zod';
import { InvalidEventError } from './errors.js';

const decoder = new TextDecoder();

/** Decode and validate a message body; a body that fails is an InvalidEventError (permanent). */
export function parseEvent<S extends z.ZodType>(schema: S, data: Uint8Array, subject: string): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(data));
  } catch (err) {
    throw new InvalidEventError(`message on ${subject} is not JSON`, { cause: err });
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new InvalidEventError(`message on ${subject} does not match its schema: ${issues}`);
  }
  return result.data;
}

/** Encode an event after checking it against its schema, so nothing invalid is ever published. */
export function encodeEvent<S extends z.ZodType>(schema: S, event: z.input<S>): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(schema.parse(event)));
}
