import { type KindRunner, NotImplemented } from '../case.ts';

export const run: KindRunner = async () => {
  throw new NotImplemented('kind sample_loop is not implemented yet');
};
