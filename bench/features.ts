/**
 * The FID Inception network on the onnx engine: images per second through FeatureNetwork.extract
 * (resize to 299×299 and scaling included) at `--batch` (default 16) images of `--size` (default
 * 32) pixels, median of `--rounds` (default 5) after one warm-up; plus the one-off costs a worker
 * pays: generating the test weights, building the graph, opening the session. The weights follow the
 * golden cases' seeded rule: same shapes, hence same speed, as pytorch-fid's real file.
 */
import { availableParallelism } from 'node:os';
import { inceptionRuleWeights } from '@diffq/networks';
import { buildInceptionOnnx, InceptionOnnxNetwork, median } from '@diffq/onnx';
import { loadLine, numberOption } from './options.ts';

export async function benchFeatures(): Promise<void> {
  const batch = numberOption('batch', 16);
  const size = numberOption('size', 32);
  const rounds = numberOption('rounds', 5, 2);
  const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(1);

  let started = performance.now();
  const weights = inceptionRuleWeights(0);
  console.log(`features: rule weights (472 tensors, 23.9 M values) generated in ${seconds(started)} s`);
  started = performance.now();
  const graph = buildInceptionOnnx(weights);
  console.log(`features: graph built in ${seconds(started)} s (${(graph.length / 1e6).toFixed(1)} MB)`);
  started = performance.now();
  const network = await InceptionOnnxNetwork.create(graph, { preprocess: 'pytorch-fid' });
  console.log(`features: session opened in ${seconds(started)} s: ${network.description}`);
  try {
    const shape = [batch, size, size, 3] as const;
    const images = Uint8Array.from({ length: batch * size * size * 3 }, (_, i) => (i * 2654435761) >>> 24);
    await network.extract(images, shape);
    const times: number[] = [];
    const cpu = process.cpuUsage();
    for (let r = 0; r < rounds; r++) {
      started = performance.now();
      await network.extract(images, shape);
      times.push(performance.now() - started);
    }
    const used = process.cpuUsage(cpu);
    const ms = median(times);
    console.log(
      `features: batch ${batch} of ${size}×${size} (299×299 inside): ${ms.toFixed(0)} ms median of ${rounds}, ${((1000 * batch) / ms).toFixed(1)} images/s`,
    );
    // CPU time is what the work costs whoever else shares the cores: images per CPU-second times the
    // core count is the rate of an otherwise idle machine.
    const cpuSeconds = (used.user + used.system) / 1e6;
    console.log(
      `features: ${((batch * rounds) / cpuSeconds).toFixed(1)} images per CPU-second (${availableParallelism()} threads; ≈ ${((availableParallelism() * batch * rounds) / cpuSeconds).toFixed(1)} images/s on idle cores)`,
    );
    console.log(`features: ${loadLine()}`);
  } finally {
    network.dispose();
  }
}
