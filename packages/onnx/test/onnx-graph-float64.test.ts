import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadOrt, OnnxGraph } from '@diffq/onnx';

describe('OnnxGraph float64 values', () => {
  it('keeps float64 inputs, constants and initializers at full precision through onnxruntime', async () => {
    const ort = await loadOrt();
    const g = new OnnxGraph('f64', ['x', 'y']);
    const x = g.input('x', 'float64', [3]);
    // 0.1 and 1/3 are not float32 values: a float32 detour would change the sums in the 8th digit.
    const c = g.constant([0.1, 1 / 3, 1e-20], 'float64');
    const w = g.initializer('w', Float64Array.from([Math.PI, Math.E, Math.SQRT2]), [3], 'float64');
    g.output(g.node('Add', [g.node('Mul', [x, w]), c]), 'y', 'float64', [3]);
    const session = await ort.InferenceSession.create(g.toModel(17));
    const input = Float64Array.from([1 + 2 ** -40, -3, 7]);
    const { y } = await session.run({ x: new ort.Tensor('float64', input, [3]) });
    assert.deepEqual(Array.from(y.data as Float64Array), [
      input[0] * Math.PI + 0.1,
      input[1] * Math.E + 1 / 3,
      input[2] * Math.SQRT2 + 1e-20,
    ]);
  });
});
