import { type KindRunner, NotImplemented } from '../case.ts';

export const run: KindRunner = async () => {
  throw new NotImplemented('kind unet_forward is not implemented yet');
};
