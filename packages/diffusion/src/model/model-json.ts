/**
 * model.json, the description half of a model directory (DESIGN.md §5): which network the weights
 * belong to and with which arguments. `model` is checked further by the architecture's own parser
 * (parseUNetConfig / parseClassifierConfig) and `diffusion` by the diffusion-config parser, so this
 * schema only fixes the envelope.
 */
import { z } from 'zod';
import { formatZodError } from '../validation.ts';

export const MODEL_FORMAT = 'diffq-model/1';
export const ARCHITECTURES = ['adm-unet', 'adm-classifier'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

const accepted = (values: readonly string[]) => `accepted: ${values.map((v) => JSON.stringify(v)).join(', ')}`;

const EnvelopeSchema = z
  .object({
    format: z.literal(MODEL_FORMAT, { errorMap: () => ({ message: accepted([MODEL_FORMAT]) }) }),
    architecture: z.enum(ARCHITECTURES, { errorMap: () => ({ message: accepted(ARCHITECTURES) }) }),
  })
  .passthrough();

const GuidanceSchema = z
  .object({
    /** The label index that means "no class" for classifier-free guidance; null when the model has none. */
    null_label: z.number({ invalid_type_error: 'accepted: a label index (integer ≥ 0) or null' }).int().min(0).nullable().default(null),
  })
  .strict();

const ModelObject = z.record(z.unknown(), { invalid_type_error: 'accepted: an object of create_model / create_classifier arguments' });
const DiffusionObject = z.object({}, { invalid_type_error: 'accepted: an object of create_gaussian_diffusion arguments' }).passthrough();

export const ModelJsonSchema = z.discriminatedUnion('architecture', [
  z
    .object({
      format: z.literal(MODEL_FORMAT),
      architecture: z.literal('adm-unet'),
      model: ModelObject,
      diffusion: DiffusionObject,
      guidance: GuidanceSchema.default({}),
    })
    .strict(),
  z
    .object({
      format: z.literal(MODEL_FORMAT),
      architecture: z.literal('adm-classifier'),
      model: ModelObject,
      diffusion: DiffusionObject.optional(),
      guidance: GuidanceSchema.default({}),
    })
    .strict(),
]);

export type ModelJson = z.output<typeof ModelJsonSchema>;

/** Parses model.json's text. Errors name the field (`model.json.architecture: accepted: …`). */
export function parseModelJson(text: string, where = 'model.json'): ModelJson {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where} is not valid JSON (${(e as Error).message})`);
  }
  const envelope = EnvelopeSchema.safeParse(raw);
  if (!envelope.success) throw new Error(formatZodError(envelope.error, where));
  const parsed = ModelJsonSchema.safeParse(raw);
  if (!parsed.success) throw new Error(formatZodError(parsed.error, where));
  return parsed.data;
}
