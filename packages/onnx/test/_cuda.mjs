import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
console.log(ort.env.versions, typeof ort.listSupportedBackends === 'function' ? ort.listSupportedBackends() : 'no listSupportedBackends');
