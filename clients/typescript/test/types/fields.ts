// Compile-time checks of the field maps (`@chatzz/client/fields`): a map that misses a key
// of its type, names a key the type lacks or puts a key in the wrong list does not compile.
import { fieldsOf, OBJECT_FIELDS, CLIENT_PAYLOADS, SERVER_DATA } from '@chatzz/client/fields';

interface Sample {
  a: string;
  b?: number;
  c: boolean | null;
  [extra: string]: unknown;
}

export const complete = fieldsOf<Sample>()({ required: ['a', 'c'], optional: ['b'] });
// @ts-expect-error: the optional key b is missing
fieldsOf<Sample>()({ required: ['a', 'c'], optional: [] });
// @ts-expect-error: the required key c is missing
fieldsOf<Sample>()({ required: ['a'], optional: ['b'] });
// @ts-expect-error: d is not a key of Sample
fieldsOf<Sample>()({ required: ['a', 'c', 'd'], optional: ['b'] });
// @ts-expect-error: a is required, not optional
fieldsOf<Sample>()({ required: ['c'], optional: ['a', 'b'] });
// @ts-expect-error: nested names a key Sample lacks
fieldsOf<Sample>()({ required: ['a', 'c'], optional: ['b'], nested: { d: 'Message' } });

export const listed: readonly string[] = [
  ...OBJECT_FIELDS.Message.required,
  ...OBJECT_FIELDS.Contact.optional,
  CLIENT_PAYLOADS['send-message'],
  SERVER_DATA['old-messages'],
];
