import { type KindRunner, NotImplemented } from '../case.ts';

export const run: KindRunner = async () => {
  throw new NotImplemented('kind training_loss is not implemented yet');
};
