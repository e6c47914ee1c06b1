/**
 * Trains the MNIST feature network: the 8,000 training digits (never the 2,000 held out), a fixed
 * number of steps, progress every k steps (loss, minibatch accuracy, learning rate, steps/s), then
 * the held-out accuracy of the EMA weights. Writes into the model directory: model.json,
 * weights.safetensors (the EMA), train-config.json (the command and every setting), train.log
 * (every line printed) and evaluation.json (the held-out accuracy).
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MNIST_SIDE, mnistDigits } from '@diffq/datasets';
import { MODEL_FORMAT, parseMnistClassifierConfig, type TensorToWrite, writeSafetensors } from '@diffq/networks';
import { countCorrect, MnistClassifierTrainer } from '@diffq/trainer';
import type { ClassifierPlan } from './classifier-flags.ts';

export const TRAIN_CONFIG_FILE = 'train-config.json';
export const TRAIN_LOG_FILE = 'train.log';
export const EVALUATION_FILE = 'evaluation.json';

export interface ClassifierRunSummary {
  steps: number;
  seconds: number;
  heldoutAccuracy: number;
  heldoutCorrect: number;
  heldoutCount: number;
  stoppedBy: 'steps' | 'signal';
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** `command`: the command line as typed, recorded in train-config.json. */
export async function runClassifierTraining(
  plan: ClassifierPlan,
  command: string,
  print: (line: string) => void,
  signal?: AbortSignal,
): Promise<ClassifierRunSummary> {
  const started = Date.now();
  mkdirSync(plan.out, { recursive: true });
  const logPath = join(plan.out, TRAIN_LOG_FILE);
  writeFileSync(logPath, '');
  const log = (line: string) => {
    print(line);
    appendFileSync(logPath, `${line}\n`);
  };
  const config = parseMnistClassifierConfig(plan.model);
  const train = await mnistDigits('train');
  const count = Math.min(plan.images ?? train.count, train.count);
  const perImage = MNIST_SIDE * MNIST_SIDE;
  const data = {
    images: train.images.subarray(0, count * perImage),
    shape: [count, MNIST_SIDE, MNIST_SIDE, 1] as [number, number, number, number],
    labels: train.labels.subarray(0, count),
  };
  writeJson(join(plan.out, TRAIN_CONFIG_FILE), {
    command,
    data: {
      package: 'mnist',
      split: 'train',
      images: count,
      heldout: '200 digits of each class at evenly spaced positions (isHeldOut), never trained on',
    },
    model: plan.model,
    settings: plan.settings,
    startedAt: new Date(started).toISOString(),
  });
  const s = plan.settings;
  const trainer = new MnistClassifierTrainer(config, data, s);
  try {
    log(
      `training the MNIST classifier on ${count} digits: stages [${config.stageChannels}] × ${config.convsPerStage} convs, hidden ${config.hidden}; ` +
        `batch ${s.batchSize}, lr ${s.lr} (warm-up ${s.warmupSteps}, cosine to 0 at step ${s.steps}), weight decay ${s.weightDecay}, ema ${s.emaRate}, ` +
        `shift ±${s.maxShift} px, rotation ±${s.maxRotation}°, scale ±${s.maxScale}, seed ${s.seed}`,
    );
    let window = { loss: 0, correct: 0, seen: 0, steps: 0, start: Date.now() };
    let stoppedBy: ClassifierRunSummary['stoppedBy'] = 'steps';
    while (trainer.step < s.steps) {
      if (signal?.aborted) {
        stoppedBy = 'signal';
        break;
      }
      const r = trainer.trainStep();
      if (!Number.isFinite(r.loss)) throw new Error(`loss is ${r.loss} at step ${r.step}; try a lower --lr`);
      window.loss += r.loss;
      window.correct += r.correct;
      window.seen += s.batchSize;
      window.steps += 1;
      if (r.step % plan.logEvery === 0 || r.step === s.steps) {
        const stepsPerSecond = window.steps / ((Date.now() - window.start) / 1000);
        log(
          `step ${r.step}/${s.steps}  loss ${(window.loss / window.steps).toFixed(4)}  acc ${((100 * window.correct) / window.seen).toFixed(2)} %  ` +
            `lr ${r.lr.toExponential(2)}  ${stepsPerSecond.toFixed(2)} steps/s  ${(stepsPerSecond * s.batchSize).toFixed(0)} img/s  ${duration(Date.now() - started)}`,
        );
        window = { loss: 0, correct: 0, seen: 0, steps: 0, start: Date.now() };
      }
      // Lets SIGINT / SIGTERM handlers run between steps (a step is synchronous).
      await new Promise((resolve) => setImmediate(resolve));
    }
    const tensors: Record<string, TensorToWrite> = {};
    for (const [key, t] of trainer.emaStateDict()) tensors[key] = { shape: t.shape, data: t.data as Float32Array };
    const metadata = { trainer: 'diffq-train classifier', step: String(trainer.step), weights: 'ema', ema_rate: String(s.emaRate) };
    writeFileSync(join(plan.out, 'weights.safetensors'), writeSafetensors(tensors, metadata));
    writeJson(join(plan.out, 'model.json'), { format: MODEL_FORMAT, architecture: 'mnist-classifier', model: plan.model });
    const heldout = await mnistDigits('heldout');
    const correct = countCorrect(trainer.emaLogits(heldout.images, heldout.shape), heldout.labels, config.numClasses);
    const summary: ClassifierRunSummary = {
      steps: trainer.step,
      seconds: (Date.now() - started) / 1000,
      heldoutAccuracy: correct / heldout.count,
      heldoutCorrect: correct,
      heldoutCount: heldout.count,
      stoppedBy,
    };
    writeJson(join(plan.out, EVALUATION_FILE), { split: 'heldout', ...summary });
    log(
      `held-out accuracy ${(100 * summary.heldoutAccuracy).toFixed(2)} % (${correct} of ${heldout.count}) after ${trainer.step} steps, ` +
        `${duration(Date.now() - started)}; wrote ${plan.out}`,
    );
    return summary;
  } finally {
    trainer.dispose();
  }
}
