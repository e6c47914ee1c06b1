import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { parseUNetConfig, readSafetensors } from '@diffq/diffusion';
import { buildUNetOnnx } from '../src/unet-graph.ts';
for (const name of process.argv.slice(2)) {
  const dir = `/work/shared/golden/${name}`;
  const json = JSON.parse(readFileSync(`${dir}/case.json`, 'utf8'));
  const { tensors } = readSafetensors(new Uint8Array(readFileSync(`${dir}/tensors.safetensors`)));
  const w = new Map([...tensors].filter(([k]) => k.startsWith('model.')).map(([k, v]) => [k.slice(6), v]));
  const cfg = parseUNetConfig(json.model);
  const t0 = performance.now();
  const bytes = buildUNetOnnx(cfg, w, { dtype: (process.env.DT ?? 'float32') as 'float32' });
  console.log('built', bytes.length, performance.now() - t0);
  const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
  const x = tensors.get('x')!; const ts = tensors.get('timesteps')!;
  const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', x.data as Float32Array, x.shape), t: new ort.Tensor('float32', Float32Array.from(ts.data as any, Number), [x.shape[0]]) };
  if (tensors.get('y')) feeds.y = new ort.Tensor('int64', tensors.get('y')!.data as BigInt64Array, [x.shape[0]]);
  const out = (await s.run(feeds)).out.data as Float32Array;
  const ref = tensors.get('output')!.data as Float32Array;
  let d = 0, n = 0; for (let i = 0; i < ref.length; i++) { d += (out[i] - ref[i]) ** 2; n += ref[i] ** 2; }
  console.log(name, out.length, ref.length, 'rel', Math.sqrt(d / n));
}
