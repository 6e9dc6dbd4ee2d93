import { z } from 'zod';

/** Kuma's list answer: one page of items, the total, and the URL of the next page (null on the last). */
export function listOf<T extends z.ZodType>(item: T) {
  return z.object({ total: z.number().int(), items: z.array(item), next: z.string().nullable() });
}
