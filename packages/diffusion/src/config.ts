/**
 * The pure parsers of the `diffusion` section of model.json, without tfjs (`@diffq/diffusion/config`):
 * what `diffq launch` needs to validate a run. Loading tfjs would add a second to every command.
 */
export * from './schedule/beta-schedule.ts';
export * from './schedule/diffusion-config.ts';
export * from './schedule/respacing.ts';
