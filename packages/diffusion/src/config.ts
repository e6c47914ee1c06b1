/**
 * The pure parsers of model.json and its sections, without tfjs (`@diffq/diffusion/config`): what
 * `diffq launch` needs to validate a run. Loading tfjs would add a second to every command.
 */
export * from './model/model-json.ts';
export * from './nn/classifier-config.ts';
export * from './nn/config.ts';
export * from './schedule/beta-schedule.ts';
export * from './schedule/diffusion-config.ts';
export * from './schedule/respacing.ts';
