import { z } from 'zod';

/** The one error body of every 4xx/5xx (api.md): Kuma's current fields plus its legacy `details`/`causes`. */
export const ErrorBodySchema = z.object({
  type: z.string(),
  status: z.number().int(),
  title: z.string(),
  detail: z.string(),
  invalid_parameters: z.array(z.object({ field: z.string(), reason: z.string() })).optional(),
  details: z.string(),
  causes: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;
