/**
 * The pure parsers of model.json and its network sections, without tfjs (`@diffq/networks/config`):
 * what `diffq launch` needs to validate a run. Loading tfjs would add a second to every command.
 */
export * from './adm/classifier-config.ts';
export * from './adm/unet-config.ts';
export * from './dit/dit-config.ts';
export * from './model/model-json.ts';
export * from './vae/decoder-config.ts';
