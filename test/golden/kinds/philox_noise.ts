import { type KindRunner, NotImplemented } from '../case.ts';

export const run: KindRunner = async () => {
  throw new NotImplemented('kind philox_noise is not implemented yet');
};
