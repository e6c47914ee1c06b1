import { type KindRunner, NotImplemented } from '../case.ts';

export const run: KindRunner = async () => {
  throw new NotImplemented('kind schedule is not implemented yet');
};
