/**
 * The two files of a model directory (docs/design.md#model-directory): what the network is, and
 * its PyTorch state_dict as safetensors. The loader, the model fetcher and the trainer all name them
 * from here.
 */
export const MODEL_JSON = 'model.json';
export const WEIGHTS_FILE = 'weights.safetensors';
