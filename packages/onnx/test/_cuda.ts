import * as ort from 'onnxruntime-node';
import { OnnxGraph } from '../src/onnx-graph.ts';
const g = new OnnxGraph('id', ['x', 'out']);
const x = g.input('x', 'float32', ['N']);
g.output(g.node('Neg', [x]), 'out', 'float32', ['N']);
ort.env.logLevel = 'fatal';
try { const s = await ort.InferenceSession.create(g.toModel(17), { executionProviders: ['cuda'], logSeverityLevel: 4 }); console.log('ok', s.inputNames, (s as any).handler?.constructor?.name); } catch (e) { console.log('ERR', (e as Error).message); }
