/**
 * model.json, the description half of a model directory (docs/design.md#model-directory): which network the weights
 * belong to and with which arguments. `model` is checked further by the architecture's own parser
 * (parseUNetConfig / parseClassifierConfig) and `diffusion` by the diffusion-config parser, so this
 * schema only fixes the envelope.
 */
import { parseWith } from '@diffq/contract';
import { z } from 'zod';
import { INCEPTION_PREPROCESS_MODES } from '../inception/inception-preprocess.ts';

export const MODEL_FORMAT = 'diffq-model/1';
export const ARCHITECTURES = ['adm-unet', 'adm-classifier', 'dit', 'fid-inception-v3', 'mnist-classifier', 'dinov2-vit-l14'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

const accepted = (values: readonly string[]) => `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;

const EnvelopeSchema = z
  .object({
    format: z.literal(MODEL_FORMAT, { errorMap: () => ({ message: accepted([MODEL_FORMAT]) }) }),
    architecture: z.enum(ARCHITECTURES, { errorMap: () => ({ message: accepted(ARCHITECTURES) }) }),
  })
  .passthrough();

const GuidanceSchema = z
  .object({
    /** The label index that means "no class" for classifier-free guidance; null when the model has none. */
    null_label: z.number({ invalid_type_error: 'must be a label index (an integer ≥ 0) or null' }).int().min(0).nullable().default(null),
  })
  .strict();

/**
 * A DiT's guidance: null_label defaults to the label table's null row (num_classes, when
 * class_dropout_prob > 0), so it is absent unless a user overrides it; null turns guidance off.
 */
const DiTGuidanceSchema = z
  .object({
    null_label: z.number({ invalid_type_error: 'must be a label index (an integer ≥ 0) or null' }).int().min(0).nullable().optional(),
  })
  .strict();

/**
 * How the model is evaluated by default (docs/evaluation-runs.md): a feature network directory and
 * stats npz files, each a path relative to the model directory (or absolute, or s3://). `diffq
 * launch --stats` uses them when --features / --ref are not given.
 */
const EvaluationSchema = z
  .object({
    features: z.string().min(1),
    /** The reference statistics (e.g. of held-out data) FID is measured against. */
    reference: z.string().min(1).optional(),
    /** Statistics of the training data: their FID to the reference is the floor a perfect model reaches. */
    floor: z.string().min(1).optional(),
  })
  .strict();

const ModelObject = z.record(z.unknown(), { invalid_type_error: 'must be an object of create_model / create_classifier arguments' });
const DiTModelObject = z.record(z.unknown(), { invalid_type_error: "must be an object of DiT's constructor arguments" });
const DiffusionObject = z.object({}, { invalid_type_error: 'must be an object of create_gaussian_diffusion arguments' }).passthrough();

export const ModelJsonSchema = z.discriminatedUnion('architecture', [
  z
    .object({
      format: z.literal(MODEL_FORMAT),
      architecture: z.literal('adm-unet'),
      model: ModelObject,
      diffusion: DiffusionObject,
      guidance: GuidanceSchema.default({}),
      evaluation: EvaluationSchema.optional(),
    })
    .strict(),
  z
    .object({
      format: z.literal(MODEL_FORMAT),
      architecture: z.literal('dit'),
      /** DiT's constructor arguments, checked by parseDiTConfig. */
      model: DiTModelObject,
      diffusion: DiffusionObject,
      guidance: DiTGuidanceSchema.default({}),
      evaluation: EvaluationSchema.optional(),
      /**
       * The autoencoder that turns sampled latents into images: a directory path relative to the model
       * directory (or absolute, or s3://), as `evaluation.features` names a feature network.
       */
      decoder: z
        .string({ invalid_type_error: 'must be the path of the autoencoder directory, relative to the model directory' })
        .min(1)
        .optional(),
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
  z
    .object({
      format: z.literal(MODEL_FORMAT),
      architecture: z.literal('fid-inception-v3'),
      /** The preprocessing used when the caller names none; see docs/feature-networks.md for which matches which reference. */
      preprocess: z
        .enum(INCEPTION_PREPROCESS_MODES, { errorMap: () => ({ message: accepted(INCEPTION_PREPROCESS_MODES) }) })
        .default('pytorch-fid'),
    })
    .strict(),
  z
    .object({
      format: z.literal(MODEL_FORMAT),
      architecture: z.literal('mnist-classifier'),
      /** The classifier's layer sizes, checked by parseMnistClassifierConfig. */
      model: ModelObject,
    })
    .strict(),
  z
    .object({
      format: z.literal(MODEL_FORMAT),
      architecture: z.literal('dinov2-vit-l14'),
      /** The hub entry point and (for test networks) smaller sizes, checked by parseDinov2Config; absent: the real dinov2_vitl14. */
      model: ModelObject.default({}),
    })
    .strict(),
]);

export type ModelJson = z.output<typeof ModelJsonSchema>;

/** Parses model.json's text. Errors name the field (`Invalid model.json: architecture must be one of …`). */
export function parseModelJson(text: string, where = 'model.json'): ModelJson {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where} is not valid JSON (${(e as Error).message})`);
  }
  // The envelope first, so a wrong format or architecture is the one problem reported.
  parseWith(EnvelopeSchema, raw, where);
  return parseWith(ModelJsonSchema, raw, where);
}

/**
 * Whether the model samples latents that an autoencoder turns into images (DiT) rather than pixels.
 * The one place that decides it: the default guided channels, the decode phase and the defaults that
 * differ for latents (x̂_0 is never clipped to [−1, 1]) all ask here.
 */
export function isLatentModel(json: Pick<ModelJson, 'architecture'>): boolean {
  return json.architecture === 'dit';
}
