import { initBackend } from '@diffq/diffusion';
import * as tf from '@tensorflow/tfjs';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
await initBackend();
console.log('threads', wasm.getThreadsCount(), tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT'), tf.env().getBool('WASM_HAS_SIMD_SUPPORT'));
