import { z } from 'zod';

/** The chunk stages that consume events and can fail. */
export const Stage = z.enum(['matting', 'comparison']);
export type Stage = z.infer<typeof Stage>;
