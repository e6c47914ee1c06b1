import * as ort from 'onnxruntime-node';
import { OnnxGraph } from '../src/onnx-graph.ts';
import onnxProto from 'onnx-proto';
const C = 128, R = 16, N = 32;
const G = Float32Array.from({ length: C }, () => Math.random() + 0.5), B = Float32Array.from({ length: C }, () => Math.random());
function model(kind: string): Uint8Array {
  const g = new OnnxGraph('gn', ['x', 'out']);
  const x = g.input('x', 'float32', ['N', C, R, R]);
  const gamma = g.initializer('g', G, kind === 'gn' ? [C] : [C, 1, 1]);
  const beta = g.initializer('b', B, kind === 'gn' ? [C] : [C, 1, 1]);
  let y: string;
  if (kind === 'gn') y = g.node('GroupNormalization', [x, gamma, beta], { num_groups: 32, epsilon: { f: 1e-5 } });
  else if (kind === 'ln') {
    const L = (C / 32) * R * R;
    const r = g.node('Reshape', [x, g.constant([0, 32, -1], 'int64')]);
    const n = g.node('LayerNormalization', [r, g.initializer('ones', new Float32Array(L).fill(1), [L]), g.initializer('zeros', new Float32Array(L), [L])], { axis: -1, epsilon: { f: 1e-5 } });
    y = g.node('Add', [g.node('Mul', [g.node('Reshape', [n, g.constant([0, C, R, R], 'int64')]), gamma]), beta]);
  } else if (kind === 'plain') {
    y = g.node('Add', [g.node('Mul', [x, gamma]), beta]);
  } else {
    const r = g.node('Reshape', [x, g.constant([0, 32, -1], 'int64')]);
    const n = g.node('InstanceNormalization', [r, g.constant(Array(32).fill(1), 'float32'), g.constant(Array(32).fill(0), 'float32')], { epsilon: { f: 1e-5 } });
    y = g.node('Add', [g.node('Mul', [g.node('Reshape', [n, g.constant([0, C, R, R], 'int64')]), gamma]), beta]);
  }
  g.output(y, 'out', 'float32', ['N', C, R, R]);
  const bytes = g.toModel(kind === 'gn' ? 21 : 17);
  if (kind !== 'gn') return bytes;
  const m = onnxProto.onnx.ModelProto.decode(bytes); m.irVersion = 10; return onnxProto.onnx.ModelProto.encode(m).finish();
}
const xs = Float32Array.from({ length: N * C * R * R }, () => Math.random() * 3 + 1);
const ref = new Float64Array(xs.length); const L = (C / 32) * R * R;
for (let n = 0; n < N * 32; n++) { let m = 0; for (let i = 0; i < L; i++) m += xs[n * L + i]; m /= L; let v = 0; for (let i = 0; i < L; i++) v += (xs[n * L + i] - m) ** 2; v /= L; for (let i = 0; i < L; i++) { const c = Math.floor(((n * L + i) / (R * R))) % C; ref[n * L + i] = ((xs[n * L + i] - m) / Math.sqrt(v + 1e-5)) * G[c] + B[c]; } }
const sessions: Record<string, ort.InferenceSession> = {};
const kinds = ['in', 'gn', 'ln', 'plain'];
for (const k of kinds) sessions[k] = await ort.InferenceSession.create(model(k), { graphOptimizationLevel: 'all', intraOpNumThreads: 2 });
const x = new ort.Tensor('float32', xs, [N, C, R, R]);
const times: Record<string, number[]> = {};
for (let rep = 0; rep < 15; rep++) for (const k of kinds) { const a = performance.now(); const o = (await sessions[k].run({ x })).out.data as Float32Array; (times[k] ??= []).push(performance.now() - a); if (rep === 0 && k !== 'plain') { let d = 0; for (let i = 0; i < xs.length; i++) d = Math.max(d, Math.abs(o[i] - ref[i])); console.log(k, 'maxdiff vs f64 ref', d); } }
for (const k of kinds) { const t = times[k].sort((a, b) => a - b); console.log(k, 'min', t[0].toFixed(2), 'median', t[7].toFixed(2)); }
